#include "kube/event_recorder.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>

#include "api/time.h"
#include "common/text.h"

namespace agentrollout::kube {

namespace {

using nlohmann::json;

const char* TypeName(EventType type) { return type == EventType::kWarning ? "Warning" : "Normal"; }

}  // namespace

EventCorrelator::EventCorrelator(std::size_t capacity, std::chrono::milliseconds window)
    : capacity_(capacity == 0 ? 1 : capacity), window_(window) {}

std::string EventCorrelator::Key(const ObjectReference& object, EventType type,
                                 const std::string& reason, const std::string& message) {
  const char sep = '\x1f';  // cannot occur in names
  std::string key;
  for (const std::string* part : {&object.api_version, &object.kind, &object.namespace_,
                                  &object.name, &object.uid, &reason, &message}) {
    key += *part;
    key += sep;
  }
  key += TypeName(type);
  return key;
}

EventCorrelator::Decision EventCorrelator::Decide(const ObjectReference& object, EventType type,
                                                  const std::string& reason,
                                                  const std::string& message,
                                                  std::chrono::system_clock::time_point now) {
  auto it = index_.find(Key(object, type, reason, message));
  if (it != index_.end()) {
    const Decision& seen = it->second->second;
    if (now - seen.last_timestamp <= window_) {
      Decision repeat = seen;
      repeat.create = false;
      repeat.count = seen.count + 1;
      repeat.last_timestamp = now;
      return repeat;
    }
  }
  Decision fresh;
  fresh.namespace_ = object.namespace_.empty() ? "default" : object.namespace_;
  std::int64_t nanos =
      std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  nanos = std::max(nanos, last_name_nanos_ + 1);
  last_name_nanos_ = nanos;
  char suffix[32];
  std::snprintf(suffix, sizeof(suffix), ".%llx", static_cast<unsigned long long>(nanos));
  fresh.name = object.name + suffix;  // as client-go names Events
  fresh.first_timestamp = now;
  fresh.last_timestamp = now;
  return fresh;
}

void EventCorrelator::Written(const ObjectReference& object, EventType type,
                              const std::string& reason, const std::string& message,
                              const Decision& decision) {
  const std::string key = Key(object, type, reason, message);
  auto it = index_.find(key);
  if (it != index_.end()) lru_.erase(it->second);
  lru_.emplace_front(key, decision);
  lru_.front().second.create = false;
  index_[key] = lru_.begin();
  while (lru_.size() > capacity_) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

void EventCorrelator::Forget(const ObjectReference& object, EventType type,
                             const std::string& reason, const std::string& message) {
  auto it = index_.find(Key(object, type, reason, message));
  if (it == index_.end()) return;
  lru_.erase(it->second);
  index_.erase(it);
}

std::string EventMessage(std::string_view message) {
  return CleanServerText(message, {}, kMaxEventMessageBytes);
}

json MakeEvent(const ObjectReference& object, EventType type, const std::string& reason,
               const std::string& message, const EventCorrelator::Decision& decision,
               const EventRecorderOptions& options) {
  json involved = {
      {"apiVersion", object.api_version}, {"kind", object.kind}, {"name", object.name}};
  if (!object.namespace_.empty()) involved["namespace"] = object.namespace_;
  if (!object.uid.empty()) involved["uid"] = object.uid;
  if (!object.resource_version.empty()) involved["resourceVersion"] = object.resource_version;
  json source = {{"component", options.component}};
  if (!options.instance.empty()) source["host"] = options.instance;
  json event = {{"apiVersion", "v1"},
                {"kind", "Event"},
                {"metadata", {{"name", decision.name}, {"namespace", decision.namespace_}}},
                {"involvedObject", involved},
                {"reason", reason},
                {"message", message},
                {"type", TypeName(type)},
                {"source", source},
                {"reportingComponent", options.component},
                {"count", decision.count},
                {"firstTimestamp", api::FormatTime(decision.first_timestamp)},
                {"lastTimestamp", api::FormatTime(decision.last_timestamp)}};
  if (!options.instance.empty()) event["reportingInstance"] = options.instance;
  return event;
}

EventRecorder::EventRecorder(ClientPtr client, EventRecorderOptions options)
    : client_(std::move(client)),
      options_(std::move(options)),
      correlator_(options_.cache_capacity, options_.aggregation_window),
      thread_([this] { Run(); }) {}

EventRecorder::~EventRecorder() { Stop(); }

void EventRecorder::Record(const ObjectReference& object, EventType type, std::string reason,
                           std::string message) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stop_ || queue_.size() >= options_.queue_capacity) {
    ++dropped_;
    return;
  }
  queue_.push_back({object, type, std::move(reason), EventMessage(message)});
  ++enqueued_;
  cv_.notify_all();
}

void EventRecorder::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  const std::uint64_t target = enqueued_;
  cv_.wait(lock, [&] { return finished_ >= target || !thread_.joinable(); });
}

void EventRecorder::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

std::uint64_t EventRecorder::dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_;
}

std::uint64_t EventRecorder::failed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failed_;
}

void EventRecorder::Run() {
  while (true) {
    Pending pending;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopped and drained
      pending = std::move(queue_.front());
      queue_.pop_front();
    }
    Send(pending);
    std::lock_guard<std::mutex> lock(mu_);
    ++finished_;
    cv_.notify_all();
  }
}

void EventRecorder::Send(const Pending& p) {
  const auto now = options_.clock->WallNow();
  EventCorrelator::Decision decision =
      correlator_.Decide(p.object, p.type, p.reason, p.message, now);
  if (!decision.create) {
    json patch = {{"count", decision.count},
                  {"lastTimestamp", api::FormatTime(decision.last_timestamp)},
                  {"message", p.message}};
    auto patched =
        client_->Patch(kEvents, decision.namespace_, decision.name, PatchType::kMerge, patch);
    if (patched.ok()) {
      correlator_.Written(p.object, p.type, p.reason, p.message, decision);
      return;
    }
    if (!IsNotFound(patched.error())) {
      spdlog::warn("event {} {}/{}: {}", p.reason, decision.namespace_, decision.name,
                   patched.error().ToString());
      std::lock_guard<std::mutex> lock(mu_);
      ++failed_;
      return;
    }
    // The Event expired or was deleted: start a new one.
    correlator_.Forget(p.object, p.type, p.reason, p.message);
    decision = correlator_.Decide(p.object, p.type, p.reason, p.message, now);
  }
  auto created =
      client_->Create(kEvents, decision.namespace_,
                      MakeEvent(p.object, p.type, p.reason, p.message, decision, options_));
  if (created.ok()) {
    correlator_.Written(p.object, p.type, p.reason, p.message, decision);
    return;
  }
  spdlog::warn("event {} about {}/{}: {}", p.reason, p.object.namespace_, p.object.name,
               created.error().ToString());
  std::lock_guard<std::mutex> lock(mu_);
  ++failed_;
}

}  // namespace agentrollout::kube
