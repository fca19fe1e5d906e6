// The Notifier that sends notifications to their targets (API.md §10), each in the form
// of its kind (channel.h: slack, pagerduty, alertmanager, webhook).
//
// Notify() asks each target's channel what it is told (its `events`, plus the kind's own
// rules) and queues one delivery per target told something; worker threads of the
// notifier's own send them through http::Client, so the caller never waits on the network.
//
// - Order: a rollout's deliveries to one target are sent one at a time, in the order they
//   were queued, retries included (a resolve never overtakes its trigger); other
//   deliveries go past one that waits for a retry.
// - Bounded queue: at most `queue_capacity` deliveries wait (including those waiting for a
//   retry); when it is full the oldest is dropped and counted.
// - URL: `secretRef` wins over `url`, which wins over the kind's default (PagerDuty's
//   Events API). Secrets (the URL's, routingKeySecretRef's) are read (kube::Client::Get,
//   the rollout's namespace) at every attempt, so a rotated value is picked up; they must
//   carry the label rollouts.agentops.dev/use: "true".
// - Retries: connection failures, timeouts, 429 and 5xx are retried with exponential
//   backoff and jitter (Retry-After honoured, capped at max_backoff) up to `max_attempts`
//   attempts; other statuses (4xx) and unusable URLs or Secrets fail at once.
// - Webhook URLs and routing keys are credentials (Slack's path is the secret): logs and
//   errors name only scheme://host[:port] of a URL and the Secret's name and key, never a
//   URL path or a Secret's value.
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
#include "controllers/notify/channel.h"
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
  // The channel of each kind (channel.h); tests may replace one with a fake.
  Channels channels = DefaultChannels();
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

// The wait before attempt `attempt + 1` (attempt >= 1 failed): initial * 2^(attempt-1),
// capped at `max`, then scaled by `jitter` in [0, 1] into [delay/2, delay].
std::chrono::milliseconds BackoffDelay(int attempt, std::chrono::milliseconds initial,
                                       std::chrono::milliseconds max, double jitter);

// The value held by a Secret's data key (base64; a webhook URL, a routing key), trimmed,
// or an error naming the Secret and key (never the value). The Secret must carry the
// label rollouts.agentops.dev/use: "true" (kube::LabelledSecretData); without it the error
// names the Secret and the label.
Result<std::string> SecretValue(const nlohmann::json& secret, std::string_view key);

}  // namespace agentrollout::controllers
