#include "kube/reflector.h"

#include <spdlog/spdlog.h>

namespace agentrollout::kube {

namespace {

std::string ResourceVersionOf(const nlohmann::json& object) {
  if (!object.is_object()) return "";
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return "";
  auto rv = metadata->find("resourceVersion");
  return rv != metadata->end() && rv->is_string() ? rv->get<std::string>() : "";
}

}  // namespace

Reflector::Reflector(ClientPtr client, ReflectorOptions options, ReflectorSink& sink)
    : client_(std::move(client)),
      options_(std::move(options)),
      sink_(sink),
      random_(std::random_device{}()),
      backoff_(options_.initial_backoff) {}

Reflector::~Reflector() { Stop(); }

void Reflector::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || stop_) return;
  thread_ = std::thread([this] { Run(); });
}

void Reflector::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    if (current_watch_ != nullptr) current_watch_->Stop();
    cv_.notify_all();
  }
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

bool Reflector::stopped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stop_;
}

std::string Reflector::LastSyncResourceVersion() const {
  std::lock_guard<std::mutex> lock(mu_);
  return resource_version_;
}

Reflector::Stats Reflector::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

bool Reflector::WaitFor(Clock::Duration duration) {
  std::unique_lock<std::mutex> lock(mu_);
  const Clock::TimePoint deadline = options_.clock->Now() + duration;
  while (!stop_ && options_.clock->Now() < deadline) {
    options_.clock->WaitUntil(cv_, lock, deadline);
  }
  return !stop_;
}

Clock::Duration Reflector::NextBackoff() {
  const Clock::Duration current = backoff_;
  backoff_ = std::min(backoff_ * 2, options_.max_backoff);
  return current;
}

Status Reflector::List() {
  ListOptions list_options;
  list_options.label_selector = options_.label_selector;
  list_options.field_selector = options_.field_selector;
  list_options.limit = options_.page_size;
  ListPageHandler handler;
  handler.page = [this](std::vector<nlohmann::json> items) { sink_.ListPage(std::move(items)); };
  handler.restart = [this] { sink_.ListAbandoned(); };
  auto listed = ListPages(*client_, options_.resource, options_.namespace_, list_options, handler);
  if (!listed.ok()) {
    sink_.ListAbandoned();
    return listed.error();
  }
  {
    // Counted before the sink hears of it: ListDone marks the informer synced, and whoever
    // waited for that may read the stats at once.
    std::lock_guard<std::mutex> lock(mu_);
    resource_version_ = *listed;
    stats_.lists++;
  }
  sink_.ListDone(*listed);
  return OkStatus();
}

Reflector::WatchEnd Reflector::WatchOnce() {
  WatchOptions watch_options;
  watch_options.label_selector = options_.label_selector;
  watch_options.field_selector = options_.field_selector;
  watch_options.resource_version = LastSyncResourceVersion();
  watch_options.allow_bookmarks = true;
  std::uniform_int_distribution<std::int64_t> timeout(options_.min_watch_timeout.count(),
                                                      options_.max_watch_timeout.count());
  watch_options.timeout = std::chrono::seconds(timeout(random_));
  const std::string what = "watch " + options_.resource.ToString();

  auto opened = client_->Watch(options_.resource, options_.namespace_, watch_options);
  if (!opened.ok()) {
    if (IsGone(opened.error())) return WatchEnd::kRelist;
    spdlog::warn("{}: {}", what, opened.error().ToString());
    return WatchEnd::kFailed;
  }
  WatchStreamPtr stream = std::move(opened).value();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return WatchEnd::kStopped;
    current_watch_ = stream.get();
    stats_.watches++;
  }
  WatchEnd end = WatchEnd::kRewatch;
  while (true) {
    auto next = stream->Next();
    if (stopped()) {
      end = WatchEnd::kStopped;
      break;
    }
    if (!next.ok()) {
      spdlog::warn("{}: stream broke: {}", what, next.error().ToString());
      end = WatchEnd::kFailed;
      break;
    }
    if (!*next) break;  // the server ended the watch (timeoutSeconds): watch again
    WatchEvent& event = **next;
    if (event.type == WatchEvent::Type::kError) {
      ApiStatus status = StatusFromJson(event.object, 500);
      if (status.code == 410 || status.reason == "Expired" || status.reason == "Gone") {
        end = WatchEnd::kRelist;
      } else {
        spdlog::warn("{}: error event: {}", what, ErrorFromStatus(status).ToString());
        end = WatchEnd::kFailed;
      }
      break;
    }
    const std::string rv = ResourceVersionOf(event.object);
    if (event.type != WatchEvent::Type::kBookmark) sink_.Apply(event.type, std::move(event.object));
    backoff_ = options_.initial_backoff;  // the watch works
    if (!rv.empty()) {
      std::lock_guard<std::mutex> lock(mu_);
      resource_version_ = rv;
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  current_watch_ = nullptr;
  if (end == WatchEnd::kFailed) stats_.failures++;
  return end;
}

void Reflector::Run() {
  bool need_list = true;
  while (!stopped()) {
    if (need_list) {
      Status listed = List();
      if (!listed.ok()) {
        spdlog::warn("list {}: {}", options_.resource.ToString(), listed.error().ToString());
        {
          std::lock_guard<std::mutex> lock(mu_);
          stats_.failures++;
        }
        if (!WaitFor(NextBackoff())) return;
        continue;
      }
      need_list = false;
      backoff_ = options_.initial_backoff;
    }
    switch (WatchOnce()) {
      case WatchEnd::kRewatch:
        break;
      case WatchEnd::kRelist: {
        std::lock_guard<std::mutex> lock(mu_);
        stats_.relists_on_gone++;
        need_list = true;
        break;
      }
      case WatchEnd::kFailed:
        if (!WaitFor(NextBackoff())) return;
        break;
      case WatchEnd::kStopped:
        return;
    }
  }
}

}  // namespace agentrollout::kube
