// A Client that answers Get of chosen resources from watch caches (informers), as
// client-go's cache-backed client does for controller-runtime reconcilers. The flag stores
// and traffic routers read their object on every evaluation to re-assert it; read from the
// API server, that was two of an evaluation's three requests and most of the operator's
// steady CPU at 10,000 rollouts (docs/benchmarks.md). Everything else, writes included,
// goes to the live client.
//
// - A resource's informer starts at its first Get, so only the kinds that rollouts
//   reference are watched; until it has synced, Gets go to the server. The watch's scope
//   is `namespace_` (the operator's); a Get in another namespace, or of a subresource
//   (a Deployment's scale), goes to the server.
// - A cached read may be stale by the watch's latency. That is safe for the readers here:
//   they write with the resourceVersion read (a stale one answers 409 Conflict and they
//   read again), and a change they miss is found by their next reconcile. Two rules keep
//   the staleness from repeating: after a write through this client (its own or a 409),
//   Gets of that object go to the server until the cache holds the resourceVersion the
//   write produced, or the server's answer shows that the cache is current.
// - Memory: the cache holds every object of the resource in the scope (a cluster's
//   ConfigMaps, say, when the operator watches all namespaces), without its
//   managedFields, as MessagePack bytes decoded on each Get; docs/operations.md.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kube/client.h"
#include "kube/informer.h"

namespace agentrollout::kube {

struct ReadCacheOptions {
  std::vector<ResourceRef> resources;  // whose Gets are served from a cache
  std::string namespace_;              // the caches' scope; "" = all namespaces
  InformerOptions informer;            // its reflector.resource and namespace_ are set per cache
};

class ReadCacheClient final : public Client {
 public:
  ReadCacheClient(ClientPtr live, ReadCacheOptions options);
  ~ReadCacheClient() override;
  ReadCacheClient(const ReadCacheClient&) = delete;
  ReadCacheClient& operator=(const ReadCacheClient&) = delete;

  // Stops the informers (Gets go to the server from then on). Idempotent.
  void Stop();

  struct Stats {
    long cache_reads = 0;  // Gets answered from a cache
    long live_reads = 0;   // Gets of cached resources that went to the server
  };
  Stats stats() const;

  struct CachedObject;  // one object, compact (read_cache_client.cc)

  ApiResult<nlohmann::json> Get(const ResourceRef& resource, std::string_view ns,
                                std::string_view name, const GetOptions& options = {}) override;
  ApiResult<ObjectList> List(const ResourceRef& resource, std::string_view ns,
                             const ListOptions& options) override;
  ApiResult<std::string> ListText(const ResourceRef& resource, std::string_view ns,
                                  const ListOptions& options) override;
  ApiResult<nlohmann::json> Create(const ResourceRef& resource, std::string_view ns,
                                   const nlohmann::json& object,
                                   const WriteOptions& options) override;
  ApiResult<nlohmann::json> Update(const ResourceRef& resource, std::string_view ns,
                                   const nlohmann::json& object,
                                   const WriteOptions& options) override;
  ApiResult<nlohmann::json> UpdateStatus(const ResourceRef& resource, std::string_view ns,
                                         const nlohmann::json& object,
                                         const WriteOptions& options) override;
  ApiResult<nlohmann::json> Patch(const ResourceRef& resource, std::string_view ns,
                                  std::string_view name, PatchType type,
                                  const nlohmann::json& patch,
                                  const PatchOptions& options) override;
  ApiResult<nlohmann::json> Delete(const ResourceRef& resource, std::string_view ns,
                                   std::string_view name, const DeleteOptions& options) override;
  ApiResult<WatchStreamPtr> Watch(const ResourceRef& resource, std::string_view ns,
                                  const WatchOptions& options) override;

 private:
  using Cache = Informer<CachedObject>;

  // The resource's cache, started on first use; nullptr when its Gets are not cached.
  Cache* CacheFor(const ResourceRef& resource, std::string_view ns);
  // After a write of the object: `written` is what the server answered, or the error.
  void NoteWrite(const ResourceRef& resource, std::string_view ns, std::string_view name,
                 const ApiResult<nlohmann::json>& written);

  const ClientPtr live_;
  const ReadCacheOptions options_;
  mutable std::mutex mu_;
  bool stopped_ = false;                                  // guarded by mu_
  std::map<std::string, std::unique_ptr<Cache>> caches_;  // by resource; guarded by mu_
  // Objects written through this client, by "resource/namespace/name": the
  // resourceVersion the write produced ("" when unknown, after a failed write). Guarded
  // by mu_.
  std::map<std::string, std::string> written_;
  Stats stats_;  // guarded by mu_
};

}  // namespace agentrollout::kube
