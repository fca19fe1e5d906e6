// Carries out one Decision of the state machine (state_machine.h) against the cluster, in
// the order its header fixes, so that a crash between any two steps is repaired by the
// next decision:
//   1. traffic check: a router object that is missing (or lacks its backends) holds the
//      rollout with nothing written (API.md §6) -- except for a rollback or step back,
//      which takes down whatever it can reach. When a decision's writes fail it is decided
//      again with Input::blocked, which still folds the evaluation and may roll back
//      (API.md §4.8: the safety net is never suspended);
//   2. flag store;  3. traffic router (a rollback writes 2 and 3 at the same time: both
//      only take exposure away, and the sooner both are down the better);
//   4. status, through the /status subresource with the resourceVersion it was decided
//      from. A 409 means the object changed under the decision: read it again, decide
//      again (same evaluation, same time) and start over, a bounded number of times. When
//      the flag or traffic write failed, FailedWrite() says what to persist instead;
//   5. Events (and notifications for those the rollout subscribes to), only once the
//      status that explains them is persisted, so a retried decision never says twice;
//   6. removal of the `rollouts.agentops.dev/action` annotation (a merge patch guarded by
//      the resourceVersion after the status write, so an action set meanwhile survives).
// Every write is idempotent: re-executing the same decision changes nothing. Steps 1-3 are
// skipped when this rollout carried out the same writes moments ago (recent_writes.h).
//
// The onDelete finalizer (API.md §2) is added or removed (Decision::finalizer) before step
// 1, so a rollout that chose `rollback` is never exposed without it. A decision on an
// object being deleted (Decision::release) replaces steps 1-3 with ReleaseWrites (flags
// released, canary weight 0, each on its own); when they fail it is decided again with
// Input::blocked (hold, or give up after the timeout). Steps 4 and 5 follow, and last the
// finalizer is removed, letting the object go.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "controllers/flagstore/flag_store.h"
#include "controllers/notify/notifier.h"
#include "controllers/rollout/recent_writes.h"
#include "controllers/rollout/state_machine.h"
#include "controllers/traffic/traffic_router.h"
#include "kube/client.h"
#include "kube/event_recorder.h"

namespace agentrollout::controllers {

// The AgentRollout resource of the kube client.
inline const kube::ResourceRef kAgentRollouts{api::kGroup, api::kVersion, api::kPlural, true};

struct ExecutorOptions {
  // Decisions made per Execute: the first plus one per 409 on the status write.
  int max_attempts = 4;
  std::string field_manager = "agentrollout-operator";
  // A decision whose flag and traffic writes this rollout carried out less than this long
  // ago skips them (recent_writes.h); 0 re-asserts them on every decision.
  api::Duration skip_repeated_writes_for = std::chrono::seconds(30);
  // How long a deletion under the onDelete `rollback` finalizer retries failed writes
  // before it lets the object go (Input::rollback_on_delete_timeout).
  api::Duration rollback_on_delete_timeout = std::chrono::minutes(2);
  // How often status.analysis values that say nothing new are written
  // (Input::status_refresh); zero writes every evaluation.
  StatusRefresh status_refresh;
};

// What one Execute did.
struct Execution {
  Input input;        // the observation the last decision was made from (re-read after a 409)
  Decision decision;  // that decision
  // The object's status now: the decision's, FailedWrite()'s, or the input's when the
  // status write itself failed.
  api::AgentRolloutStatus status;
  std::string resource_version;  // the object's resourceVersion after the writes
  // resourceVersions that this execution's own writes replaced, oldest first. An informer
  // cache still showing one of them is behind; deciding from it would undo these writes.
  std::vector<std::string> superseded;
  // The flag or traffic write that failed: the decision was then made again with
  // Input::blocked, or (for a rollback or step back) FailedWrite()'s status persisted.
  std::optional<WriteStage> failed_stage;
  bool status_written = false;
  bool deleted = false;  // the object is gone (404): nothing more to do for it
  // OK when the decision was carried out completely; else why the rollout must be
  // reconciled again soon (a failed write, conflicts on every attempt).
  Status result;
};

class Executor {
 public:
  // `client` reads and writes the AgentRollout; the others must outlive the executor and
  // be safe to call from several workers at once.
  Executor(kube::ClientPtr client, FlagStore& flags, TrafficRouter& traffic,
           kube::EventRecorder& events, Notifier& notifier, ExecutorOptions options = {});

  // Decides on `input` and carries the decision out. Thread-safe; callers serialize per
  // object (the workqueue hands one key to one worker at a time). `last_valid_spec`, when
  // given, is the object's last valid spec: used if its spec turned invalid while live
  // (UseLastValidSpec), also after a re-read.
  Execution Execute(Input input, const api::AgentRolloutSpec* last_valid_spec = nullptr);

 private:
  struct WriteError {
    WriteStage stage;
    Error error;
  };
  // Steps 1-3; the first failure.
  std::optional<WriteError> ApplyWrites(const Decision& decision);
  // A deletion's writes (Decision::release): the flags released, the weight set; each
  // carried out even when the other failed, a target that is gone counting as done. The
  // first failure, with the other's error added to its message.
  std::optional<WriteError> ReleaseWrites(const Decision& decision);
  // Adds or removes the onDelete finalizer, keeping every other one (guarded by
  // metadata.resource_version); the object's new resourceVersion.
  Result<std::string> ChangeFinalizer(const api::ObjectMeta& metadata, FinalizerChange change);
  // The object read again after a 409, as the state machine's input.
  Result<Input> Reread(const Input& input);
  // ApplyWrites unless this rollout carried out the same writes moments ago.
  std::optional<WriteError> WriteOnce(const std::string& uid, const Decision& decision,
                                      api::Timestamp now);
  // Steps 5: Events and notifications for `events`, about the object at `resource_version`.
  void Announce(const Input& input, const api::AgentRolloutStatus& status,
                const std::vector<Event>& events, const std::string& resource_version);
  // Step 6.
  Result<std::string> RemoveActionAnnotation(const api::ObjectMeta& metadata,
                                             const std::string& resource_version);

  const kube::ClientPtr client_;
  FlagStore& flags_;
  TrafficRouter& traffic_;
  kube::EventRecorder& events_;
  Notifier& notifier_;
  const ExecutorOptions options_;
  RecentWrites recent_writes_;
};

// The metric that decided an AnalysisNoGo / AnalysisHold (the first, not dryRun, with that
// verdict) or a rollback (status.rollback); nullopt for other reasons.
std::optional<DecidingMetric> DecidingMetricOf(const api::AgentRolloutStatus& status,
                                               api::EventReason reason);

// The payload of a notification's `rollout` member (notifier.h) for this status.
nlohmann::json NotificationRollout(const Input& input, const api::AgentRolloutStatus& status,
                                   api::EventReason reason);

}  // namespace agentrollout::controllers
