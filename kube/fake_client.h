// An in-memory kube::Client for unit tests of controllers, informers, leader election and
// event recording. It behaves like the API server where controllers depend on it:
// - resourceVersions come from one global counter; an Update/UpdateStatus/Patch carrying a
//   stale metadata.resourceVersion fails with 409 Conflict (IsConflict); an Update without
//   one is unconditional; Create of an existing name is 409 AlreadyExists; missing objects
//   are 404 NotFound, with the API server's messages.
// - uid, creationTimestamp, namespace (namespaced resources) are set on create; with
//   EnableStatusSubresource, generation starts at 1 and grows on every change outside
//   metadata and status, Update ignores status, UpdateStatus and /status patches change
//   only status, and Create drops status.
// - apps/v1 deployments, replicasets and statefulsets serve the scale subresource: Get and
//   Patch of an autoscaling/v1 Scale (spec.replicas, defaulted to 1; status.replicas) that
//   carries the workload's resourceVersion, a stale one failing with 409; a patched Scale
//   writes the workload's spec.replicas.
// - List filters by namespace, label selector (=, ==, !=, in, notin, key, !key) and field
//   selector (metadata.name, metadata.namespace), sorts by namespace/name and paginates
//   with limit/continue.
// - Watch replays the history after the requested resourceVersion (or, for "" / "0",
//   sends ADDED for every current object) and then streams live changes; a version older
//   than the last Compact() gets an ERROR event with 410 Expired, like the API server.
// Not modelled: field ownership of server-side apply (an apply is an upsert by merge
// patch), strategic merge, admission, finalizers, garbage collection, defaulting.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "kube/client.h"
#include "kube/clock.h"

namespace agentrollout::kube {

class FakeClient final : public Client {
 public:
  struct Action {
    std::string verb;  // get, list, create, update, update-status, patch, delete, watch
    ResourceRef resource;
    std::string namespace_;
    std::string name;
    std::string subresource;
    nlohmann::json object;         // the object sent, or the patch
    std::string resource_version;  // list and watch: the resourceVersion asked for
  };
  // Runs before every call. nullopt: the call proceeds. A failure: the call fails with it.
  // A value: Get/Create/Update/UpdateStatus/Patch/Delete return it without touching the
  // store (List and Watch ignore values).
  using Reactor = std::function<std::optional<ApiResult<nlohmann::json>>(const Action&)>;

  explicit FakeClient(ClockPtr clock = RealClock());
  ~FakeClient() override;

  ApiResult<nlohmann::json> Get(const ResourceRef& resource, std::string_view ns,
                                std::string_view name, const GetOptions& options = {}) override;
  ApiResult<ObjectList> List(const ResourceRef& resource, std::string_view ns,
                             const ListOptions& options = {}) override;
  // List's page as JSON text, its members in the API server's order (items before the
  // list's metadata).
  ApiResult<std::string> ListText(const ResourceRef& resource, std::string_view ns,
                                  const ListOptions& options = {}) override;
  ApiResult<nlohmann::json> Create(const ResourceRef& resource, std::string_view ns,
                                   const nlohmann::json& object,
                                   const WriteOptions& options = {}) override;
  ApiResult<nlohmann::json> Update(const ResourceRef& resource, std::string_view ns,
                                   const nlohmann::json& object,
                                   const WriteOptions& options = {}) override;
  ApiResult<nlohmann::json> UpdateStatus(const ResourceRef& resource, std::string_view ns,
                                         const nlohmann::json& object,
                                         const WriteOptions& options = {}) override;
  ApiResult<nlohmann::json> Patch(const ResourceRef& resource, std::string_view ns,
                                  std::string_view name, PatchType type,
                                  const nlohmann::json& patch,
                                  const PatchOptions& options = {}) override;
  ApiResult<nlohmann::json> Delete(const ResourceRef& resource, std::string_view ns,
                                   std::string_view name,
                                   const DeleteOptions& options = {}) override;
  ApiResult<WatchStreamPtr> Watch(const ResourceRef& resource, std::string_view ns,
                                  const WatchOptions& options) override;

  void EnableStatusSubresource(const ResourceRef& resource);
  void AddReactor(Reactor reactor);
  std::vector<Action> Actions() const;
  void ClearActions();

  // The current (global) resourceVersion.
  std::string ResourceVersion() const;
  // Forgets all history, as an etcd compaction does: watches from older versions get 410.
  void Compact();
  // Ends every open watch normally (what the server does at timeoutSeconds).
  void CloseWatches();
  // Ends every open watch with a broken connection.
  void BreakWatches();
  // Sends an ERROR event with 410 Expired on every open watch, then ends it.
  void ExpireWatches();
  // Sends a BOOKMARK with the current resourceVersion on watches that allow bookmarks.
  void SendBookmarks();
  std::size_t OpenWatches() const;
  // A watch that lags behind the store, as one on a busy API server does: events newer
  // than `resource_version` wait in every watch (open and future) until a later call lets
  // them through; nullopt delivers everything again. An informer's cache stays at that
  // version meanwhile.
  void DeliverWatchEventsThrough(std::optional<std::string> resource_version);

 private:
  struct HistoryEvent {
    std::int64_t resource_version;
    WatchEvent::Type type;
    nlohmann::json object;
  };
  struct Bucket {
    std::map<std::pair<std::string, std::string>, nlohmann::json> objects;  // (ns, name)
    std::deque<HistoryEvent> history;
    std::int64_t compacted = 0;  // history holds every event after this version
    bool status_subresource = false;
  };
  class WatchState;
  class FakeWatchStream;

  std::optional<ApiResult<nlohmann::json>> React(Action action);
  Bucket& BucketFor(const ResourceRef& resource);
  std::string NextResourceVersion();
  // Stores `object` (already versioned) and tells watchers.
  void Record(const ResourceRef& resource, Bucket& bucket, WatchEvent::Type type,
              const nlohmann::json* before, const nlohmann::json& after);
  ApiResult<nlohmann::json> CreateLocked(const ResourceRef& resource, std::string_view ns,
                                         const nlohmann::json& object, bool dry_run);
  ApiResult<nlohmann::json> Write(const ResourceRef& resource, std::string_view ns,
                                  const std::string& name, nlohmann::json updated,
                                  const std::string& expected_version, bool status_only);
  // Sets the workload's spec.replicas from a patched Scale; answers the Scale written.
  ApiResult<nlohmann::json> WriteScale(const ResourceRef& resource, std::string_view ns,
                                       const std::string& name, const nlohmann::json& scale);

  const ClockPtr clock_;
  mutable std::mutex mu_;
  std::int64_t resource_version_ = 1000;
  std::int64_t uid_counter_ = 0;
  std::map<std::string, Bucket> buckets_;  // by ResourceRef::ToString()
  std::vector<std::shared_ptr<WatchState>> watches_;
  std::vector<std::shared_ptr<Reactor>> reactors_;  // shared: a reactor may keep state
  std::vector<Action> actions_;
  std::optional<std::int64_t> deliver_watch_events_through_;
};

}  // namespace agentrollout::kube
