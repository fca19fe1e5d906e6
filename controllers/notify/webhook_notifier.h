// The Notifier that POSTs Slack-compatible JSON to webhooks (API.md §2 `notifications[]`).
//
// Notify() expands a notification into one delivery per subscribed target (a target whose
// `events` is empty or lists the reason) and queues them; worker threads of the notifier's
// own send them through http::Client, so the caller never waits on the network.
//
// - Bounded queue: at most `queue_capacity` deliveries wait (including those waiting for a
//   retry); when it is full the oldest is dropped and counted.
// - URL: `secretRef` wins over `url`. The Secret is read (kube::Client::Get, the rollout's
//   namespace) at every attempt, so a rotated URL is picked up; its data value is base64.
// - Retries: connection failures, timeouts, 429 and 5xx are retried with exponential
//   backoff and jitter (Retry-After honoured, capped at max_backoff) up to `max_attempts`
//   attempts; other statuses (4xx) and unusable URLs or Secrets fail at once.
// - Webhook URLs are credentials (Slack's path is the secret): logs and errors name only
//   scheme://host[:port] of a webhook, never its path or query.
// - Shutdown (and the destructor) stops taking notifications, lets the workers send what is
//   queued for up to `shutdown_grace`, counts the rest as dropped and returns. A worker still
//   blocked on a hung webhook then is left to finish on its own (bounded by
//   request_timeout); it keeps the state it uses alive, so nothing dangles.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "api/types.h"
#include "common/result.h"
#include "controllers/notify/notifier.h"
#include "http/transport.h"
#include "kube/client.h"

namespace spdlog {
class logger;
}

namespace agentrollout::controllers {

struct WebhookNotifierOptions {
  std::size_t queue_capacity = 1000;  // deliveries waiting, including those waiting to retry
  int workers = 2;                    // concurrent POSTs (a hung webhook holds one)
  int max_attempts = 5;               // including the first
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{60000};
  std::chrono::milliseconds request_timeout{10000};  // per POST, connect to last byte
  std::chrono::milliseconds shutdown_grace{5000};
  // Clients (connection pools) kept for the origins posted to last; the least recently
  // used is dropped beyond this.
  std::size_t max_clients = 32;
  // Makes the client of one webhook origin (scheme://host[:port]); tests may replace it.
  std::function<Result<http::ClientPtr>(const http::ClientConfig&)> new_http_client =
      http::NewClient;
  // Where to log; nullptr = spdlog's default logger.
  std::shared_ptr<spdlog::logger> logger;
};

// Counters for /metrics. Every delivery (one notification to one target) ends as exactly
// one of sent, failed or dropped; in-flight and queued deliveries are none of them yet.
struct WebhookStats {
  std::uint64_t sent = 0;     // a webhook answered 2xx
  std::uint64_t failed = 0;   // given up: attempts exhausted, a 4xx, an unusable URL or Secret
  std::uint64_t dropped = 0;  // never finished: pushed out of a full queue, or left at shutdown
  std::uint64_t retries = 0;  // attempts repeated after a retryable failure
  friend bool operator==(const WebhookStats&, const WebhookStats&) = default;
};

class WebhookNotifier final : public Notifier {
 public:
  // `kube` reads Secrets named by secretRef; it may be null when no target uses one.
  explicit WebhookNotifier(kube::ClientPtr kube, WebhookNotifierOptions options = {});
  ~WebhookNotifier() override;
  WebhookNotifier(const WebhookNotifier&) = delete;
  WebhookNotifier& operator=(const WebhookNotifier&) = delete;

  void Notify(Notification notification) override;
  WebhookStats Stats() const;
  // See the file comment. Idempotent; Notify() afterwards counts deliveries as dropped.
  void Shutdown();

  struct State;  // shared by the notifier and its workers (webhook_notifier.cc)

 private:
  std::shared_ptr<State> state_;
  std::vector<std::thread> workers_;
};

// ------------------------------------------------------------- pieces, exposed for tests

// A webhook URL split for http::Client: `origin` (scheme://host[:port], safe to log) and
// `target` (path and query, the secret part; "/" when empty).
struct WebhookUrl {
  std::string origin;
  std::string target;
};
// Accepts http:// and https:// URLs without userinfo. Errors never quote the URL.
Result<WebhookUrl> ParseWebhookUrl(std::string_view url);

// Whether `target` wants notifications with `reason` (empty `events` = every event).
bool Subscribed(const api::NotificationSpec& target, api::EventReason reason);

// The POST body: {"text": ..., "rollout": {...}}. `rollout` gets namespace, name and
// reason from the notification when the caller left them out. The text is cleaned like
// an Event message (kube::EventMessage: valid UTF-8, one line, at most 1 KiB).
nlohmann::json WebhookBody(const Notification& notification);

// The wait before attempt `attempt + 1` (attempt >= 1 failed): initial * 2^(attempt-1),
// capped at `max`, then scaled by `jitter` in [0, 1] into [delay/2, delay].
std::chrono::milliseconds BackoffDelay(int attempt, std::chrono::milliseconds initial,
                                       std::chrono::milliseconds max, double jitter);

// The webhook URL held by a Secret's data value (base64), or an error naming the Secret
// and key (never the value). The Secret must carry the label rollouts.agentops.dev/use:
// "true" (kube::LabelledSecretData); without it the error names the Secret and the label.
Result<std::string> WebhookUrlFromSecret(const nlohmann::json& secret, std::string_view key);

}  // namespace agentrollout::controllers
