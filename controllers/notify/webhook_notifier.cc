#include "controllers/notify/webhook_notifier.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <list>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <utility>

#include "api/names.h"
#include "kube/secret_data.h"

namespace agentrollout::controllers {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kMaxResponseBytes = 64 * 1024;  // webhooks answer "ok" or a short error

// Who a notification is about, for log lines.
struct Subject {
  std::string namespace_;
  std::string name;
  std::string reason;
};

// One notification to one target.
struct Delivery {
  std::uint64_t seq = 0;  // enqueue order; the queue is sorted by it
  std::shared_ptr<const Subject> subject;
  std::shared_ptr<const Channel> channel;
  nlohmann::json message;  // what channel->Message made for this target
  api::NotificationSpec target;
  std::size_t target_index = 0;  // in spec.notifications, for messages
  int attempts = 0;              // attempts made so far
  SteadyClock::time_point not_before{};
};

struct Outcome {
  enum class Kind { kSent, kRetry, kFail };
  Kind kind = Kind::kFail;
  std::string where;    // "http://host:port" or the Secret, never a URL path
  std::string message;  // why it failed, scrubbed of the URL
  std::optional<milliseconds> retry_after;
};

bool IsTransient(const Error& error) {
  switch (error.code()) {
    case ErrorCode::kUnavailable:
    case ErrorCode::kDeadlineExceeded:
    case ErrorCode::kCancelled:
    case ErrorCode::kResourceExhausted:  // kube: 429 after the client's own retries
    case ErrorCode::kInternal:           // kube: 5xx after the client's own retries
      return true;
    default:
      return false;
  }
}

void ReplaceAll(std::string& text, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  for (std::size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

// The transport's messages quote "METHOD base_url+target": keep only the origin.
std::string Scrub(std::string message, std::string_view url, const WebhookUrl& parsed) {
  ReplaceAll(message, url, parsed.origin);
  if (parsed.target != "/") ReplaceAll(message, parsed.target, "");
  return message;
}

std::optional<milliseconds> RetryAfter(const http::Response& response) {
  const std::optional<std::string> value = response.Header("Retry-After");
  if (!value) return std::nullopt;
  long long seconds = 0;
  const char* end = value->data() + value->size();
  auto [ptr, ec] = std::from_chars(value->data(), end, seconds);
  if (ec != std::errc() || ptr != end || seconds < 0) return std::nullopt;  // HTTP-date: ignored
  return std::chrono::duration_cast<milliseconds>(std::chrono::seconds(seconds));
}

std::string Trim(std::string_view text) {
  const auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return std::string(text);
}

}  // namespace

// ------------------------------------------------------------- pure pieces

Result<WebhookUrl> ParseWebhookUrl(std::string_view url) {
  for (char c : url) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f) {
      return InvalidArgument("webhook URL: must not contain spaces or control characters");
    }
  }
  const std::size_t scheme_end = url.find("://");
  std::string scheme(url.substr(0, scheme_end == std::string_view::npos ? 0 : scheme_end));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (scheme_end == std::string_view::npos || (scheme != "http" && scheme != "https")) {
    return InvalidArgument("webhook URL: must start with http:// or https://");
  }
  std::string_view rest = url.substr(scheme_end + 3);
  const std::size_t authority_end = rest.find_first_of("/?#");
  const std::string_view authority = rest.substr(0, authority_end);
  if (authority.empty()) return InvalidArgument("webhook URL: host is missing");
  if (authority.find('@') != std::string_view::npos) {
    return InvalidArgument("webhook URL: user info (user@host) is not supported");
  }
  std::string_view target =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  target = target.substr(0, target.find('#'));  // fragments are not sent
  WebhookUrl out;
  out.origin = scheme + "://" + std::string(authority);
  out.target =
      target.empty() || target.front() != '/' ? "/" + std::string(target) : std::string(target);
  return out;
}

milliseconds BackoffDelay(int attempt, milliseconds initial, milliseconds max, double jitter) {
  milliseconds delay = std::max(initial, milliseconds(1));
  for (int i = 1; i < attempt && delay < max; ++i) delay *= 2;
  delay = std::min(delay, max);
  jitter = std::clamp(jitter, 0.0, 1.0);
  const auto half = delay.count() / 2;
  return milliseconds(
      half + static_cast<milliseconds::rep>(static_cast<double>(delay.count() - half) * jitter));
}

Result<std::string> SecretValue(const nlohmann::json& secret, std::string_view key) {
  Result<std::string> value = kube::LabelledSecretData(secret, key);
  if (!value.ok()) return value.error();
  std::string trimmed = Trim(*value);  // `echo url | base64` leaves a newline
  if (trimmed.empty()) return InvalidArgument("data[" + std::string(key) + "] is empty");
  return trimmed;
}

// ------------------------------------------------------------- the notifier

struct WebhookNotifier::State {
  State(kube::ClientPtr kube_client, WebhookNotifierOptions opts)
      : kube(std::move(kube_client)), options(std::move(opts)), rng(std::random_device{}()) {}

  spdlog::logger& Log() const {
    return options.logger ? *options.logger : *spdlog::default_logger_raw();
  }

  // The worker loop; see the file comment of the header for the shutdown rules.
  void Run();
  Outcome Attempt(const Delivery& delivery);
  // Reads a Secret's value (labelled, trimmed) into `value`; the outcome when it cannot.
  std::optional<Outcome> ReadSecret(const Delivery& delivery, const api::SecretKeyRef& ref,
                                    std::string& value);
  Outcome Send(const Delivery& delivery, const std::string& url, const Credentials& credentials);
  Result<std::shared_ptr<http::Client>> ClientFor(const std::string& origin);
  void Finish(Delivery delivery, const Outcome& outcome);  // with mu held
  void PushBounded(Delivery delivery);                     // with mu held

  const kube::ClientPtr kube;
  const WebhookNotifierOptions options;

  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<Delivery> queue;  // sorted by seq
  std::uint64_t next_seq = 0;
  WebhookStats stats;
  bool stopping = false;
  SteadyClock::time_point deadline{};
  int running = 0;
  std::mt19937_64 rng;
  // OrderKey of each delivery a worker is attempting now.
  std::set<std::string> in_flight;

  // The clients of the origins posted to last, most recent first, at most
  // options.max_clients: targets come and go with the rollouts, so the map is bounded.
  // A client evicted while a worker posts with it lives until that post ends.
  using ClientList = std::list<std::pair<std::string, std::shared_ptr<http::Client>>>;
  std::mutex clients_mu;
  ClientList clients;
  std::map<std::string, ClientList::iterator> clients_by_origin;
};

namespace {

std::string Describe(const Subject& subject) {
  return subject.namespace_ + "/" + subject.name + " (" + subject.reason + ")";
}

// Deliveries with the same key (one rollout, one target) are sent one at a time, in order.
std::string OrderKey(const Delivery& delivery) {
  return delivery.subject->namespace_ + "/" + delivery.subject->name + "#" +
         std::to_string(delivery.target_index);
}

}  // namespace

void WebhookNotifier::State::PushBounded(Delivery delivery) {
  auto at = std::upper_bound(queue.begin(), queue.end(), delivery.seq,
                             [](std::uint64_t seq, const Delivery& d) { return seq < d.seq; });
  queue.insert(at, std::move(delivery));
  const std::size_t capacity = std::max<std::size_t>(options.queue_capacity, 1);
  while (queue.size() > capacity) {
    const Delivery& oldest = queue.front();
    Log().warn("webhook queue full ({} deliveries): dropped the oldest, for {}", capacity,
               Describe(*oldest.subject));
    ++stats.dropped;
    queue.pop_front();
  }
}

Result<std::shared_ptr<http::Client>> WebhookNotifier::State::ClientFor(const std::string& origin) {
  std::lock_guard<std::mutex> lock(clients_mu);
  if (const auto found = clients_by_origin.find(origin); found != clients_by_origin.end()) {
    clients.splice(clients.begin(), clients, found->second);
    return clients.front().second;
  }
  http::ClientConfig config;
  config.base_url = origin;
  config.default_timeout = options.request_timeout;
  Result<http::ClientPtr> made = options.new_http_client(config);
  if (!made.ok()) return made.error();
  clients.emplace_front(origin, std::shared_ptr<http::Client>(std::move(made).value()));
  clients_by_origin[origin] = clients.begin();
  while (clients.size() > std::max<std::size_t>(options.max_clients, 1)) {
    clients_by_origin.erase(clients.back().first);
    clients.pop_back();
  }
  return clients.front().second;
}

std::optional<Outcome> WebhookNotifier::State::ReadSecret(const Delivery& delivery,
                                                          const api::SecretKeyRef& ref,
                                                          std::string& value) {
  const std::string where =
      "Secret " + delivery.subject->namespace_ + "/" + ref.name + " key " + ref.key;
  if (!kube) return Outcome{Outcome::Kind::kFail, where, "no Kubernetes client to read it", {}};
  kube::ApiResult<nlohmann::json> secret =
      kube->Get(kube::kSecrets, delivery.subject->namespace_, ref.name);
  if (!secret.ok()) {
    return Outcome{IsTransient(secret.error()) ? Outcome::Kind::kRetry : Outcome::Kind::kFail,
                   where,
                   secret.error().ToString(),
                   {}};
  }
  Result<std::string> read = SecretValue(*secret, ref.key);
  if (!read.ok()) return Outcome{Outcome::Kind::kFail, where, read.error().message(), {}};
  value = std::move(read).value();
  return std::nullopt;
}

Outcome WebhookNotifier::State::Attempt(const Delivery& delivery) {
  const api::NotificationSpec& target = delivery.target;
  const std::string index = "notifications[" + std::to_string(delivery.target_index) + "]";
  Credentials credentials;
  if (target.routing_key_secret_ref) {
    if (auto failed =
            ReadSecret(delivery, *target.routing_key_secret_ref, credentials.routing_key)) {
      return *failed;
    }
  }
  std::string url;
  std::string where;
  if (target.secret_ref) {
    const api::SecretKeyRef& ref = *target.secret_ref;
    if (auto failed = ReadSecret(delivery, ref, url)) return *failed;
    where = "Secret " + delivery.subject->namespace_ + "/" + ref.name + " key " + ref.key;
  } else if (!target.url.empty()) {
    url = target.url;
    where = index + ".url";
  } else {
    url = std::string(delivery.channel->DefaultUrl());
    if (url.empty()) return {Outcome::Kind::kFail, index, "neither url nor secretRef is set", {}};
  }
  Outcome outcome = Send(delivery, url, credentials);
  if (outcome.where.empty()) outcome.where = where.empty() ? index : where;
  return outcome;
}

Outcome WebhookNotifier::State::Send(const Delivery& delivery, const std::string& url,
                                     const Credentials& credentials) {
  Result<WebhookUrl> parsed = ParseWebhookUrl(url);
  if (!parsed.ok()) return {Outcome::Kind::kFail, "", parsed.error().message(), {}};
  Result<std::shared_ptr<http::Client>> client = ClientFor(parsed->origin);
  if (!client.ok()) {
    return {
        Outcome::Kind::kFail, parsed->origin, Scrub(client.error().message(), url, *parsed), {}};
  }
  const SendRequest send = [&](http::Request request) {
    request.headers = {{"User-Agent", "agentrollout"}};
    if (!request.body.empty()) request.headers.emplace_back("Content-Type", "application/json");
    request.timeout = options.request_timeout;
    request.max_body_bytes = kMaxResponseBytes;
    return (*client)->Send(request);
  };
  Result<http::Response> response =
      delivery.channel->Deliver(delivery.message, credentials, parsed->target, send);
  if (!response.ok()) {
    std::string message = Scrub(response.error().ToString(), url, *parsed);
    if (!credentials.routing_key.empty()) {
      ReplaceAll(message, credentials.routing_key, "<redacted>");
    }
    return {IsTransient(response.error()) ? Outcome::Kind::kRetry : Outcome::Kind::kFail,
            parsed->origin,
            std::move(message),
            {}};
  }
  const int status = response->status;
  if (status >= 200 && status < 300) return {Outcome::Kind::kSent, parsed->origin, "", {}};
  const bool retryable = status == 429 || status >= 500;
  return {retryable ? Outcome::Kind::kRetry : Outcome::Kind::kFail, parsed->origin,
          "HTTP " + std::to_string(status), retryable ? RetryAfter(*response) : std::nullopt};
}

void WebhookNotifier::State::Finish(Delivery delivery, const Outcome& outcome) {
  const std::string subject = Describe(*delivery.subject);
  const std::string where = outcome.where.empty() ? std::string("webhook") : outcome.where;
  if (outcome.kind == Outcome::Kind::kSent) {
    ++stats.sent;
    Log().debug("webhook {} for {}: sent", where, subject);
    return;
  }
  if (outcome.kind == Outcome::Kind::kFail || delivery.attempts >= options.max_attempts) {
    ++stats.failed;
    Log().error("webhook {} for {}: given up after {} attempt(s): {}", where, subject,
                delivery.attempts, outcome.message);
    return;
  }
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  milliseconds delay =
      BackoffDelay(delivery.attempts, options.initial_backoff, options.max_backoff, unit(rng));
  if (outcome.retry_after)
    delay = std::max(delay, std::min(*outcome.retry_after, options.max_backoff));
  delivery.not_before = SteadyClock::now() + delay;
  if (stopping && delivery.not_before > deadline) {
    ++stats.dropped;
    Log().warn("webhook {} for {}: attempt {} failed ({}); not retried, shutting down", where,
               subject, delivery.attempts, outcome.message);
    return;
  }
  ++stats.retries;
  Log().warn("webhook {} for {}: attempt {}/{} failed: {}; retrying in {}ms", where, subject,
             delivery.attempts, options.max_attempts, outcome.message, delay.count());
  PushBounded(std::move(delivery));
}

void WebhookNotifier::State::Run() {
  std::unique_lock<std::mutex> lock(mu);
  while (true) {
    const SteadyClock::time_point now = SteadyClock::now();
    if (stopping) {
      const bool any_due = std::any_of(queue.begin(), queue.end(),
                                       [&](const Delivery& d) { return d.not_before <= deadline; });
      if (now >= deadline || !any_due) break;
    }
    // The first due delivery whose order key has no earlier delivery in flight or waiting
    // for a retry: a rollout's messages reach a target in the order they happened (a
    // resolve never overtakes the trigger it resolves).
    std::set<std::string> waiting = in_flight;
    auto ready = queue.end();
    std::optional<SteadyClock::time_point> wake;
    for (auto it = queue.begin(); it != queue.end(); ++it) {
      const std::string key = OrderKey(*it);
      if (waiting.contains(key)) continue;
      if (it->not_before <= now) {
        ready = it;
        break;
      }
      waiting.insert(key);
      wake = wake ? std::min(*wake, it->not_before) : it->not_before;
    }
    if (ready == queue.end()) {
      // Deliveries held back by one in flight are woken by its end (notify_all below).
      if (stopping) wake = wake ? std::min(*wake, deadline) : deadline;
      if (wake) {
        cv.wait_until(lock, *wake);
      } else {
        cv.wait(lock);
      }
      continue;
    }
    Delivery delivery = std::move(*ready);
    queue.erase(ready);
    ++delivery.attempts;
    const std::string key = OrderKey(delivery);
    in_flight.insert(key);
    lock.unlock();
    const Outcome outcome = Attempt(delivery);
    lock.lock();
    in_flight.erase(key);
    Finish(std::move(delivery), outcome);
    cv.notify_all();
  }
  --running;
  cv.notify_all();
}

WebhookNotifier::WebhookNotifier(kube::ClientPtr kube, WebhookNotifierOptions options)
    : state_(std::make_shared<State>(std::move(kube), std::move(options))) {
  const int workers = std::max(state_->options.workers, 1);
  state_->running = workers;
  for (int i = 0; i < workers; ++i) {
    workers_.emplace_back([state = state_] { state->Run(); });
  }
}

WebhookNotifier::~WebhookNotifier() { Shutdown(); }

void WebhookNotifier::Notify(Notification notification) {
  auto subject = std::make_shared<Subject>(Subject{notification.namespace_, notification.name,
                                                   std::string(api::Name(notification.reason))});
  std::vector<Delivery> deliveries;
  for (std::size_t i = 0; i < notification.targets.size(); ++i) {
    const api::NotificationSpec& target = notification.targets[i];
    const auto channel = state_->options.channels.find(target.type);
    if (channel == state_->options.channels.end() || !channel->second) {
      state_->Log().error("notification for {}: no channel for type {} (notifications[{}])",
                          Describe(*subject), api::Name(target.type), i);
      continue;
    }
    std::optional<nlohmann::json> message = channel->second->Message(notification, target);
    if (!message) continue;
    Delivery delivery;
    delivery.subject = subject;
    delivery.channel = channel->second;
    delivery.message = std::move(*message);
    delivery.target = target;
    delivery.target_index = i;
    deliveries.push_back(std::move(delivery));
  }
  if (deliveries.empty()) return;

  std::lock_guard<std::mutex> lock(state_->mu);
  if (state_->stopping) {
    state_->stats.dropped += deliveries.size();
    return;
  }
  for (Delivery& delivery : deliveries) {
    delivery.seq = state_->next_seq++;
    state_->PushBounded(std::move(delivery));
  }
  state_->cv.notify_all();
}

WebhookStats WebhookNotifier::Stats() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->stats;
}

void WebhookNotifier::Shutdown() {
  bool all_stopped = false;
  {
    std::unique_lock<std::mutex> lock(state_->mu);
    if (!state_->stopping) {
      state_->stopping = true;
      state_->deadline = SteadyClock::now() + state_->options.shutdown_grace;
      state_->cv.notify_all();
    }
    state_->cv.wait_until(lock, state_->deadline, [&] { return state_->running == 0; });
    all_stopped = state_->running == 0;
    if (!state_->queue.empty()) {
      state_->Log().warn("webhook notifier stopped with {} deliveries unsent",
                         state_->queue.size());
      state_->stats.dropped += state_->queue.size();
      state_->queue.clear();
    }
  }
  for (std::thread& worker : workers_) {
    if (!worker.joinable()) continue;
    if (all_stopped) {
      worker.join();
    } else {
      worker.detach();  // blocked on a hung webhook; it holds its own reference to state_
    }
  }
}

}  // namespace agentrollout::controllers
