// Read-modify-write of an object that many rollouts share -- a flags ConfigMap of 50
// rollouts' entries, a FeatureFlag of many flags -- with the edits that queue up while one
// write of the object is in flight folded into the next write (group commit).
//
// Why: each rollout used to read, change and PUT the object on its own. Workers that
// reconcile rollouts of the same object at once then raced each other: all but one PUT
// answered 409 Conflict, each loser read again and slept a backoff, holding its worker
// idle. At 10,000 rollouts sharing ConfigMaps fifty to one, the first pass made about two
// ConfigMap PUTs per flag change (docs/benchmarks.md). Here edits of one object never race
// each other: one caller writes, the others wait for it and are written together by the
// next caller, in one read and one PUT. A 409 now means a writer outside this process (a
// person, another replica) and is retried as before (conflict_retry.h).
//
// Each edit keeps its own outcome: an edit its change refuses (a key another rollout owns,
// say) fails alone and leaves the object as it was, the others of its batch are written; a
// failed read or write fails every edit of the batch. A waiting caller is bounded by the
// write in flight (the client's timeouts times the retries), as it was by its own.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.h"
#include "controllers/conflict_retry.h"
#include "kube/client.h"

namespace agentrollout::controllers {

struct ObjectEdit {
  kube::ResourceRef resource;
  std::string namespace_;
  std::string name;
  // When the object is missing: false = nothing to do (the edit succeeds); true = the
  // edit is applied to `new_object` and the object created.
  bool create = false;
  nlohmann::json new_object;  // apiVersion, kind and metadata.name at least
  // Changes the object in place; whether anything changed. An error refuses this edit
  // alone (the object it changed is thrown away).
  std::function<Result<bool>(nlohmann::json& object)> change;
  std::string where;  // "configmap ns/name key k": the context of this edit's errors
};

class SharedObjectEditor {
 public:
  SharedObjectEditor(kube::Client& client, ConflictRetry retry);
  SharedObjectEditor(const SharedObjectEditor&) = delete;
  SharedObjectEditor& operator=(const SharedObjectEditor&) = delete;

  // Applies `edit` to the object it names, with any other edits of that object waiting
  // then; returns this edit's outcome. Thread-safe; blocks until the write that carries
  // the edit has finished.
  Status Edit(const ObjectEdit& edit);

  // Edits waiting for the write in flight of their object, over all objects.
  std::size_t QueuedEdits() const;

 private:
  struct Pending {
    const ObjectEdit* edit;
    Status result = OkStatus();
    bool done = false;
  };
  struct Queue {
    std::vector<Pending*> waiting;
    bool writing = false;
  };

  // Writes `batch` (every edit names the same object), retrying on conflict; sets each
  // edit's result.
  void Write(const std::vector<Pending*>& batch);
  // Every edit of `batch` fails with `what` (Write threw).
  static void FailBatch(const std::vector<Pending*>& batch, const char* what);
  // One read, every change, one write. Refused edits get their result here; the return
  // value is the outcome of the read and write, shared by the others.
  Status WriteOnce(const std::vector<Pending*>& batch, std::vector<bool>& refused);

  kube::Client& client_;
  const ConflictRetry retry_;
  mutable std::mutex mu_;
  std::condition_variable written_;
  std::map<std::string, Queue> queues_;  // "resource/namespace/name" -> its edits
};

}  // namespace agentrollout::controllers
