#include "kube/informer.h"

#include <spdlog/spdlog.h>

#include <utility>

namespace agentrollout::kube {

std::string MetaString(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return "";
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return "";
  auto it = metadata->find(key);
  return it != metadata->end() && it->is_string() ? it->get<std::string>() : "";
}

std::string ObjectKey(std::string_view ns, std::string_view name) {
  return ns.empty() ? std::string(name) : std::string(ns) + "/" + std::string(name);
}

std::pair<std::string, std::string> SplitObjectKey(std::string_view key) {
  const std::size_t slash = key.find('/');
  if (slash == std::string_view::npos) return {"", std::string(key)};
  return {std::string(key.substr(0, slash)), std::string(key.substr(slash + 1))};
}

InformerCore::InformerCore(ClientPtr client, InformerOptions options, Decode decode)
    : options_(std::move(options)),
      decode_(std::move(decode)),
      reflector_(std::move(client), options_.reflector, *this) {}

InformerCore::~InformerCore() { Stop(); }

void InformerCore::AddEventHandlers(Handlers handlers) {
  std::lock_guard<std::mutex> dispatch(dispatch_mu_);
  if (handlers.on_add) {
    for (const Object& object : List()) handlers.on_add(object);
  }
  handlers_.push_back(std::move(handlers));
}

void InformerCore::Start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    if (options_.resync_period.count() > 0 && !resync_thread_.joinable()) {
      // The schedule starts now, not whenever the thread gets to run.
      const Clock::TimePoint first = options_.reflector.clock->Now() + options_.resync_period;
      resync_thread_ = std::thread([this, first] { ResyncLoop(first); });
    }
  }
  reflector_.Start();
}

void InformerCore::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    cv_.notify_all();
  }
  reflector_.Stop();
  if (resync_thread_.joinable()) resync_thread_.join();
}

bool InformerCore::HasSynced() const {
  std::lock_guard<std::mutex> lock(mu_);
  return synced_;
}

bool InformerCore::WaitForSync(std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [this] { return synced_ || stopped_; });
  return synced_;
}

InformerCore::Object InformerCore::Get(std::string_view ns, std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = items_.find(ObjectKey(ns, name));
  return it == items_.end() ? nullptr : it->second.object;
}

std::vector<InformerCore::Object> InformerCore::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Object> out;
  out.reserve(items_.size());
  for (const auto& [key, entry] : items_) out.push_back(entry.object);
  return out;
}

std::vector<InformerCore::Object> InformerCore::ListNamespace(std::string_view ns) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Object> out;
  auto index = by_namespace_.find(ns);
  if (index == by_namespace_.end()) return out;
  out.reserve(index->second.size());
  for (const std::string& key : index->second) out.push_back(items_.at(key).object);
  return out;
}

std::vector<std::string> InformerCore::Keys() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  out.reserve(items_.size());
  for (const auto& [key, entry] : items_) out.push_back(key);
  return out;
}

std::size_t InformerCore::Size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return items_.size();
}

std::string InformerCore::LastSyncResourceVersion() const {
  return reflector_.LastSyncResourceVersion();
}

Reflector::Stats InformerCore::ReflectorStats() const { return reflector_.stats(); }

void InformerCore::InsertLocked(const std::string& key, Entry entry) {
  by_namespace_[entry.ns].insert(key);
  items_[key] = std::move(entry);
}

void InformerCore::EraseLocked(const std::string& key) {
  auto it = items_.find(key);
  if (it == items_.end()) return;
  auto index = by_namespace_.find(it->second.ns);
  if (index != by_namespace_.end()) {
    index->second.erase(key);
    if (index->second.empty()) by_namespace_.erase(index);
  }
  items_.erase(it);
}

void InformerCore::Dispatch(const std::vector<Change>& changes) {
  for (const Change& change : changes) {
    for (const Handlers& handlers : handlers_) {
      switch (change.kind) {
        case Change::Kind::kAdd:
          if (handlers.on_add) handlers.on_add(change.new_object);
          break;
        case Change::Kind::kUpdate:
          if (handlers.on_update) handlers.on_update(change.old_object, change.new_object);
          break;
        case Change::Kind::kDelete:
          if (handlers.on_delete) handlers.on_delete(change.old_object);
          break;
      }
    }
  }
}

void InformerCore::ListPage(std::vector<nlohmann::json> items) {
  // Decoded as each page arrives, outside every lock, so that at most one page of JSON is
  // alive at a time and readers are never blocked by decoding.
  for (nlohmann::json& item : items) {
    Entry entry;
    entry.ns = MetaString(item, "namespace");
    entry.resource_version = MetaString(item, "resourceVersion");
    std::string key = ObjectKey(entry.ns, MetaString(item, "name"));
    auto decoded = decode_(item);
    item = nullptr;  // its memory can serve the next item's decoding
    if (!decoded.ok()) {
      listed_rejected_.emplace_back(std::move(key), decoded.error());
      continue;
    }
    entry.object = std::move(decoded).value();
    listed_.insert_or_assign(std::move(key), std::move(entry));
  }
}

void InformerCore::ListAbandoned() {
  listed_.clear();
  listed_rejected_.clear();
}

void InformerCore::ListDone(const std::string&) {
  std::lock_guard<std::mutex> dispatch(dispatch_mu_);
  std::map<std::string, Entry> fresh = std::exchange(listed_, {});
  std::vector<std::pair<std::string, Error>> rejected = std::exchange(listed_rejected_, {});
  std::vector<Change> changes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [key, entry] : fresh) {
      auto old = items_.find(key);
      if (old == items_.end()) {
        changes.push_back({Change::Kind::kAdd, nullptr, entry.object});
      } else if (old->second.resource_version != entry.resource_version) {
        changes.push_back({Change::Kind::kUpdate, old->second.object, entry.object});
      } else {
        entry.object = old->second.object;  // unchanged: keep the object readers may hold
      }
    }
    for (const auto& [key, old] : items_) {
      // Deleted while we were not watching: tell handlers with the last object we saw.
      if (fresh.count(key) == 0) changes.push_back({Change::Kind::kDelete, old.object, nullptr});
    }
    items_.clear();
    by_namespace_.clear();
    for (auto& [key, entry] : fresh) InsertLocked(key, std::move(entry));
  }
  for (const auto& [key, error] : rejected) {
    spdlog::warn("{} {}: cannot decode: {}", options_.reflector.resource.ToString(), key,
                 error.ToString());
    if (options_.on_decode_error) options_.on_decode_error(key, error);
  }
  Dispatch(changes);
  std::lock_guard<std::mutex> lock(mu_);
  synced_ = true;
  cv_.notify_all();
}

void InformerCore::Apply(WatchEvent::Type type, nlohmann::json object) {
  std::lock_guard<std::mutex> dispatch(dispatch_mu_);
  Entry entry;
  entry.ns = MetaString(object, "namespace");
  entry.resource_version = MetaString(object, "resourceVersion");
  const std::string key = ObjectKey(entry.ns, MetaString(object, "name"));
  auto decoded = decode_(object);
  std::vector<Change> changes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto old = items_.find(key);
    Object old_object = old == items_.end() ? nullptr : old->second.object;
    if (type == WatchEvent::Type::kDeleted || !decoded.ok()) {
      if (old_object) {
        // The final state from the DELETED event when it decodes, else the cached one.
        Object last = type == WatchEvent::Type::kDeleted && decoded.ok() ? *decoded : old_object;
        changes.push_back({Change::Kind::kDelete, last, nullptr});
        EraseLocked(key);
      }
    } else {
      entry.object = *decoded;
      changes.push_back(old_object ? Change{Change::Kind::kUpdate, old_object, entry.object}
                                   : Change{Change::Kind::kAdd, nullptr, entry.object});
      EraseLocked(key);
      InsertLocked(key, std::move(entry));
    }
  }
  if (type != WatchEvent::Type::kDeleted && !decoded.ok()) {
    spdlog::warn("{} {}: cannot decode: {}", options_.reflector.resource.ToString(), key,
                 decoded.error().ToString());
    if (options_.on_decode_error) options_.on_decode_error(key, decoded.error());
  }
  Dispatch(changes);
}

void InformerCore::ResyncLoop(Clock::TimePoint due) {
  const ClockPtr& clock = options_.reflector.clock;
  for (;; due += options_.resync_period) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      while (!stopped_ && clock->Now() < due) clock->WaitUntil(cv_, lock, due);
      if (stopped_) return;
    }
    std::lock_guard<std::mutex> dispatch(dispatch_mu_);
    std::vector<Change> changes;
    for (const Object& object : List()) changes.push_back({Change::Kind::kUpdate, object, object});
    Dispatch(changes);
  }
}

}  // namespace agentrollout::kube
