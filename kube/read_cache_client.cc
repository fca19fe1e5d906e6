#include "kube/read_cache_client.h"

#include <algorithm>
#include <utility>

namespace agentrollout::kube {
namespace {

using json = nlohmann::json;

std::string ResourceVersionOf(const json& object) { return MetaString(object, "resourceVersion"); }

}  // namespace

// The cached copy of an object, as MessagePack bytes, decoded again on every Get. A tree
// of nlohmann::json keeps each key in a std::map node: an HTTPRoute of 1.3 KB of text
// took 4.1 KB of heap as a tree, and one per rollout was most of the read caches' memory
// (docs/benchmarks.md). The bytes are about a fifth of that, and decoding them costs
// microseconds per Get, once per evaluation. managedFields are left out: often as large
// as the rest of the object, and never needed by the readers. A PUT without them keeps
// the server's (the API server resets them only when sent a list holding one empty
// entry). The router PUTs the whole object back, so no other field can be dropped.
struct ReadCacheClient::CachedObject {
  std::string resource_version;
  std::string msgpack;
};

namespace {

Result<ReadCacheClient::CachedObject> Compact(const json& object) {
  json copy = object;
  if (const auto metadata = copy.find("metadata");
      metadata != copy.end() && metadata->is_object()) {
    metadata->erase("managedFields");
  }
  std::string bytes;
  json::to_msgpack(copy, bytes);
  bytes.shrink_to_fit();
  return ReadCacheClient::CachedObject{ResourceVersionOf(copy), std::move(bytes)};
}

std::string WrittenKey(const ResourceRef& resource, std::string_view ns, std::string_view name) {
  return resource.ToString() + "/" + ObjectKey(ns, name);
}

}  // namespace

ReadCacheClient::ReadCacheClient(ClientPtr live, ReadCacheOptions options)
    : live_(std::move(live)), options_(std::move(options)) {}

ReadCacheClient::~ReadCacheClient() { Stop(); }

void ReadCacheClient::Stop() {
  std::map<std::string, std::unique_ptr<Cache>> caches;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    caches.swap(caches_);
  }
  for (auto& [resource, cache] : caches) cache->Stop();
}

ReadCacheClient::Stats ReadCacheClient::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

ReadCacheClient::Cache* ReadCacheClient::CacheFor(const ResourceRef& resource,
                                                  std::string_view ns) {
  if (!options_.namespace_.empty() && ns != options_.namespace_) return nullptr;
  if (std::find(options_.resources.begin(), options_.resources.end(), resource) ==
      options_.resources.end()) {
    return nullptr;
  }
  std::lock_guard lock(mu_);
  if (stopped_) return nullptr;
  std::unique_ptr<Cache>& cache = caches_[resource.ToString()];
  if (!cache) {
    InformerOptions informer = options_.informer;
    informer.reflector.resource = resource;
    informer.reflector.namespace_ = options_.namespace_;
    cache = std::make_unique<Cache>(live_, std::move(informer), Compact);
    cache->Start();
  }
  return cache.get();
}

ApiResult<json> ReadCacheClient::Get(const ResourceRef& resource, std::string_view ns,
                                     std::string_view name, const GetOptions& options) {
  if (!options.subresource.empty()) return live_->Get(resource, ns, name, options);
  Cache* cache = CacheFor(resource, ns);
  if (!cache || !cache->HasSynced()) {
    if (cache) {
      std::lock_guard lock(mu_);
      ++stats_.live_reads;
    }
    return live_->Get(resource, ns, name);
  }
  const Cache::Ptr cached = cache->Get(ns, name);
  const std::string cached_version = cached ? cached->resource_version : "";
  const std::string key = WrittenKey(resource, ns, name);
  bool read_live = false;
  {
    std::lock_guard lock(mu_);
    const auto written = written_.find(key);
    if (written != written_.end()) {
      // The cache has caught up with the write when it holds the version written.
      read_live = !(cached && written->second == cached_version);
      if (!read_live) written_.erase(written);
    }
    ++(read_live ? stats_.live_reads : stats_.cache_reads);
  }
  if (read_live) {
    auto current = live_->Get(resource, ns, name);
    // The server agrees with the cache (another write came after ours, or the object is
    // gone in both): the cache is current again.
    const bool agrees = current.ok() ? cached && ResourceVersionOf(*current) == cached_version
                                     : IsNotFound(current.error()) && !cached;
    if (agrees) {
      std::lock_guard lock(mu_);
      written_.erase(key);
    }
    return current;
  }
  if (!cached) {
    return StatusError(404, "NotFound",
                       resource.resource + " \"" + std::string(name) + "\" not found");
  }
  return json::from_msgpack(cached->msgpack);
}

void ReadCacheClient::NoteWrite(const ResourceRef& resource, std::string_view ns,
                                std::string_view name, const ApiResult<json>& written) {
  if (!CacheFor(resource, ns)) return;
  // A failed write may have changed the object (a timeout after the server applied it) or
  // shown that the cache is behind (409 Conflict): the next read goes to the server.
  std::string version = written.ok() ? ResourceVersionOf(*written) : "";
  std::lock_guard lock(mu_);
  written_[WrittenKey(resource, ns, name)] = std::move(version);
}

ApiResult<ObjectList> ReadCacheClient::List(const ResourceRef& resource, std::string_view ns,
                                            const ListOptions& options) {
  return live_->List(resource, ns, options);
}

ApiResult<std::string> ReadCacheClient::ListText(const ResourceRef& resource, std::string_view ns,
                                                 const ListOptions& options) {
  return live_->ListText(resource, ns, options);
}

ApiResult<json> ReadCacheClient::Create(const ResourceRef& resource, std::string_view ns,
                                        const json& object, const WriteOptions& options) {
  auto created = live_->Create(resource, ns, object, options);
  if (!options.dry_run) NoteWrite(resource, ns, MetaString(object, "name"), created);
  return created;
}

ApiResult<json> ReadCacheClient::Update(const ResourceRef& resource, std::string_view ns,
                                        const json& object, const WriteOptions& options) {
  auto updated = live_->Update(resource, ns, object, options);
  if (!options.dry_run) NoteWrite(resource, ns, MetaString(object, "name"), updated);
  return updated;
}

ApiResult<json> ReadCacheClient::UpdateStatus(const ResourceRef& resource, std::string_view ns,
                                              const json& object, const WriteOptions& options) {
  auto updated = live_->UpdateStatus(resource, ns, object, options);
  if (!options.dry_run) NoteWrite(resource, ns, MetaString(object, "name"), updated);
  return updated;
}

ApiResult<json> ReadCacheClient::Patch(const ResourceRef& resource, std::string_view ns,
                                       std::string_view name, PatchType type, const json& patch,
                                       const PatchOptions& options) {
  auto patched = live_->Patch(resource, ns, name, type, patch, options);
  if (!options.dry_run) NoteWrite(resource, ns, name, patched);
  return patched;
}

ApiResult<json> ReadCacheClient::Delete(const ResourceRef& resource, std::string_view ns,
                                        std::string_view name, const DeleteOptions& options) {
  auto deleted = live_->Delete(resource, ns, name, options);
  // Whatever the answer (the object, a Status, or an error), its version is not the cache's
  // next one: read from the server until the cache agrees.
  NoteWrite(resource, ns, name, ApiResult<json>(json::object()));
  return deleted;
}

ApiResult<WatchStreamPtr> ReadCacheClient::Watch(const ResourceRef& resource, std::string_view ns,
                                                 const WatchOptions& options) {
  return live_->Watch(resource, ns, options);
}

}  // namespace agentrollout::kube
