// An informer: a reflector (reflector.h) feeding a thread-safe cache of TYPED objects, with
// a namespace index, add/update/delete handlers and periodic resync, as client-go's
// SharedIndexInformer. Objects are decoded once, when they arrive, by a caller-supplied
// decoder (for AgentRollout: api::DecodeAgentRollout), and shared as
// std::shared_ptr<const T>: readers never copy them and never see them change.
//
// Handlers run on the informer's threads, one at a time, in the order the changes
// happened; they should be quick (typically: enqueue the object's key in a WorkQueue) and
// must not call AddEventHandlers. The delete handler receives the last known object:
// the final state from a DELETED event, or the cached object when the deletion was missed
// while disconnected and is discovered by a re-LIST. Resync calls the update handler with
// (object, object) for every cached object every resync_period.
//
// An object the decoder rejects is left out of the cache (and removed, with a delete
// notification, if an older version was cached); on_decode_error hears about it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/result.h"
#include "kube/client.h"
#include "kube/reflector.h"

namespace agentrollout::kube {

// "namespace/name", or "name" for cluster-scoped objects (client-go's MetaNamespaceKeyFunc).
std::string ObjectKey(std::string_view ns, std::string_view name);
// The inverse: {namespace, name}.
std::pair<std::string, std::string> SplitObjectKey(std::string_view key);
// metadata.<key> of an object when it is a string, else "".
std::string MetaString(const nlohmann::json& object, const char* key);

struct InformerOptions {
  ReflectorOptions reflector;
  std::chrono::milliseconds resync_period{0};  // 0 = no resync
  // Called (on the informer's thread) for objects the decoder rejects.
  std::function<void(const std::string& key, const Error& error)> on_decode_error;
};

// The type-erased machinery behind Informer<T>.
class InformerCore final : public ReflectorSink {
 public:
  using Object = std::shared_ptr<const void>;
  using Decode = std::function<Result<Object>(const nlohmann::json&)>;
  struct Handlers {
    std::function<void(const Object&)> on_add;
    std::function<void(const Object& old_object, const Object& new_object)> on_update;
    std::function<void(const Object& last_known)> on_delete;
  };

  InformerCore(ClientPtr client, InformerOptions options, Decode decode);
  ~InformerCore() override;

  // Handlers added after the cache has content first get an add for every cached object.
  void AddEventHandlers(Handlers handlers);
  void Start();
  void Stop();
  bool HasSynced() const;
  // Waits (real time) until synced; false on timeout or after Stop.
  bool WaitForSync(std::chrono::milliseconds timeout) const;

  Object Get(std::string_view ns, std::string_view name) const;
  std::vector<Object> List() const;
  std::vector<Object> ListNamespace(std::string_view ns) const;
  std::vector<std::string> Keys() const;
  std::size_t Size() const;
  std::string LastSyncResourceVersion() const;
  Reflector::Stats ReflectorStats() const;

  void ListPage(std::vector<nlohmann::json> items) override;
  void ListDone(const std::string& resource_version) override;
  void ListAbandoned() override;
  void Apply(WatchEvent::Type type, nlohmann::json object) override;

 private:
  struct Entry {
    Object object;
    std::string ns;
    std::string resource_version;
  };
  struct Change {
    enum class Kind { kAdd, kUpdate, kDelete } kind;
    Object old_object;
    Object new_object;
  };

  void Dispatch(const std::vector<Change>& changes);
  void InsertLocked(const std::string& key, Entry entry);
  void EraseLocked(const std::string& key);
  void ResyncLoop(Clock::TimePoint first);

  const InformerOptions options_;
  const Decode decode_;
  Reflector reflector_;

  // A LIST in progress, decoded page by page (only the reflector's thread touches these).
  std::map<std::string, Entry> listed_;
  std::vector<std::pair<std::string, Error>> listed_rejected_;

  // Serializes cache changes with their handler calls, so handlers see changes in order.
  std::mutex dispatch_mu_;
  std::vector<Handlers> handlers_;  // guarded by dispatch_mu_

  mutable std::mutex mu_;  // guards the cache below
  mutable std::condition_variable cv_;
  std::map<std::string, Entry> items_;
  std::map<std::string, std::set<std::string>, std::less<>> by_namespace_;
  bool synced_ = false;
  bool stopped_ = false;
  std::thread resync_thread_;
};

template <typename T>
using Decoder = std::function<Result<T>(const nlohmann::json&)>;

template <typename T>
struct EventHandlers {
  std::function<void(const std::shared_ptr<const T>&)> on_add;
  std::function<void(const std::shared_ptr<const T>& old_object,
                     const std::shared_ptr<const T>& new_object)>
      on_update;
  std::function<void(const std::shared_ptr<const T>& last_known)> on_delete;
};

template <typename T>
class Informer {
 public:
  using Ptr = std::shared_ptr<const T>;

  Informer(ClientPtr client, InformerOptions options, Decoder<T> decode)
      : core_(std::move(client), std::move(options),
              [decode = std::move(decode)](const nlohmann::json& json) -> Result<Object> {
                auto decoded = decode(json);
                if (!decoded.ok()) return decoded.error();
                return Object(std::make_shared<const T>(std::move(decoded).value()));
              }) {}

  void AddEventHandlers(EventHandlers<T> handlers) {
    InformerCore::Handlers erased;
    if (handlers.on_add) {
      erased.on_add = [f = std::move(handlers.on_add)](const Object& o) { f(Cast(o)); };
    }
    if (handlers.on_update) {
      erased.on_update = [f = std::move(handlers.on_update)](const Object& a, const Object& b) {
        f(Cast(a), Cast(b));
      };
    }
    if (handlers.on_delete) {
      erased.on_delete = [f = std::move(handlers.on_delete)](const Object& o) { f(Cast(o)); };
    }
    core_.AddEventHandlers(std::move(erased));
  }

  void Start() { core_.Start(); }
  void Stop() { core_.Stop(); }
  bool HasSynced() const { return core_.HasSynced(); }
  bool WaitForSync(std::chrono::milliseconds timeout) const { return core_.WaitForSync(timeout); }

  // nullptr when absent.
  Ptr Get(std::string_view ns, std::string_view name) const { return Cast(core_.Get(ns, name)); }
  std::vector<Ptr> List() const { return CastAll(core_.List()); }
  std::vector<Ptr> ListNamespace(std::string_view ns) const {
    return CastAll(core_.ListNamespace(ns));
  }
  std::vector<std::string> Keys() const { return core_.Keys(); }
  std::size_t Size() const { return core_.Size(); }
  std::string LastSyncResourceVersion() const { return core_.LastSyncResourceVersion(); }
  Reflector::Stats ReflectorStats() const { return core_.ReflectorStats(); }

 private:
  using Object = InformerCore::Object;
  static Ptr Cast(const Object& object) { return std::static_pointer_cast<const T>(object); }
  static std::vector<Ptr> CastAll(const std::vector<Object>& objects) {
    std::vector<Ptr> out;
    out.reserve(objects.size());
    for (const Object& object : objects) out.push_back(Cast(object));
    return out;
  }

  InformerCore core_;
};

}  // namespace agentrollout::kube
