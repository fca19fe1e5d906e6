// The rollout state machine of API.md §4, §7 and §8 as one pure function: what the
// operator should write, show and say, given what it observed. No I/O, no clock.
//
// Decisions are level-based: every decision carries the complete desired flag and traffic
// state for the status it leads to, not a delta, so re-applying one is harmless and a
// decision computed after a crash repairs whatever prefix of an earlier one was applied.
// The executor (executor.h) applies a decision in this order: traffic check, flag,
// traffic, status, events, annotation removal. Status is the only memory; hence:
// - a phase advance is written flag -> traffic -> status: a crash before the status write
//   leaves the status in the old phase, and the next decision re-asserts that phase's
//   state (or advances again on the same evidence, writing the same values);
// - a total rollback takes flag and traffic down before the status says RolledBack;
//   when those writes fail, FailedWrite() persists RollingBack so the rollback is
//   finished by the next decision even if the evaluation that caused it is gone;
// - the safety net is never suspended (API.md §4.8): when the writes of a decision that
//   holds or moves forward fail (a route deleted, a flag store refusing), the executor
//   decides again with Input::blocked: that decision writes nothing forward but still
//   folds the evaluation into the counters and rolls back (or steps back) when they say
//   so -- a rollback or step back writes flag and traffic each on its own, so a missing
//   route never keeps the flag up and a refused flag write never keeps the route up;
// - a live rollout whose spec is edited into an invalid one keeps analysing with the last
//   valid spec the caller saw (Input::invalid_edit) and rolls back on its No-Go; without
//   one (after a restart) an exposed rollout is rolled back totally;
// - a Go advances a phase only when every answer behind it was measured after the phase
//   started (Evaluation::measured_from, API.md §3.1); a No-Go rolls back whenever measured;
// - an evaluation is folded into the counters once: one made at or before
//   status.analysis.lastEvaluated is a duplicate and ignored;
// - a manual action is acted on once: status.handledAction remembers it until its
//   annotation is seen removed;
// - deletion (API.md §2 onDelete): with `rollback` the finalizer is added before anything
//   is exposed (Decision::finalizer, carried out before the writes) and removed when the
//   spec says `keep` again. Once metadata.deletionTimestamp is set nothing moves forward:
//   under the finalizer the decision releases every flag the rollout set in its off state
//   and sets the canary weight to 0, then removes the finalizer; when those writes fail
//   (Input::blocked) it holds, saying so in status, until rollback_on_delete_timeout after
//   the deletion, and then gives up with a Warning Event and lets the object go. Without
//   the finalizer (`keep`) the decision only releases the flag entries' owner. Status is
//   left as it is unless a failure has to be shown.
// - status.analysis values that say nothing new (status_refresh.h) are left as persisted
//   when they are all the status would change: a steady rollout is written when its
//   phase, verdict, counters, message or conditions change, and its values at most every
//   Input::status_refresh. The message names the bake's end as a time, not a countdown,
//   so that it stays true without being rewritten.
// Times written to status are whole seconds (metav1.Time precision), so that a status
// read back after a restart compares exactly as the one that was written.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "api/types.h"
#include "common/result.h"
#include "controllers/flagstore/flag_store.h"
#include "controllers/rollout/status_refresh.h"
#include "controllers/traffic/traffic_router.h"

namespace agentrollout::controllers {

// status.pauseReason values.
inline constexpr char kPauseAction[] = "PauseAction";
inline constexpr char kSteppedBack[] = "SteppedBack";

// Which write of a decision failed. kFinalizer: adding the onDelete `rollback` finalizer,
// without which nothing is exposed (Decision::finalizer).
enum class WriteStage { kFlag, kTraffic, kFinalizer };

// The write of a decision that could not be carried out, and why.
struct BlockedWrite {
  WriteStage stage = WriteStage::kFlag;
  Error error;
};

struct Input {
  api::ObjectMeta metadata;  // name, namespace, generation, annotations
  api::AgentRolloutSpec spec;
  api::AgentRolloutStatus status;  // as last persisted
  // Set when the object's spec could not be decoded; `spec` is then meaningless. Decide
  // runs api::ValidateSpec itself on a decoded spec.
  std::optional<Error> spec_error;
  // The latest evaluation of the go/no-go table not yet folded into `status` (the caller
  // passes it again until a persisted status shows lastEvaluated >= its time).
  std::optional<api::Evaluation> evaluation;
  api::Timestamp now{};
  // The object's current spec failed semantic validation with this error, and `spec` is
  // the last valid spec of the same object the caller saw: the rollout holds its phase,
  // keeps analysing with that spec's table and rolls back on its No-Go (API.md §4.8).
  std::optional<Error> invalid_edit;
  // The writes of the decision made from this input (without `blocked`) failed: decide
  // what can be decided without them -- fold the evaluation, roll back or step back if it
  // says so, show the failure -- and move nowhere else.
  std::optional<BlockedWrite> blocked;
  // A rollout being deleted under the onDelete `rollback` finalizer retries failed writes
  // this long from metadata.deletionTimestamp, then lets the object go (API.md §2).
  api::Duration rollback_on_delete_timeout = std::chrono::minutes(2);
  // How often status.analysis values that say nothing new are written (status_refresh.h).
  StatusRefresh status_refresh;
};

// What a decision does to the onDelete `rollback` finalizer (api::kRollbackOnDeleteFinalizer).
enum class FinalizerChange { kNone, kAdd, kRemove };

struct Event {
  std::string type;    // "Normal" | "Warning"
  std::string reason;  // an api::EventReason name, or "InvalidAction"
  std::string message;
  friend bool operator==(const Event&, const Event&) = default;
};

struct Decision {
  std::optional<DesiredFlags> flags;     // written first (absent: no flag, or Failed)
  std::optional<TrafficTarget> traffic;  // written second (absent: no router, or Failed)
  // Written last, when it differs from the input's: a status that would change only
  // values not worth a write yet (status_refresh.h) is the input's, values included.
  api::AgentRolloutStatus status;
  std::vector<Event> events;              // emitted after the status write
  bool remove_action_annotation = false;  // after the status write
  // The writes take the rollout down fully (total rollback). A traffic router that is gone
  // does not stop them, and a failure persists RollingBack (FailedWrite()).
  bool rolls_back = false;
  // The writes step back to the previous phase's values (rollback mode stepBack): carried
  // out like a rollback's, each even when the other failed.
  bool steps_back = false;
  // Whether the analysis scheduler should keep evaluating this rollout.
  bool analyse = false;
  // Reconcile again after this long even if nothing changes (bake time ending).
  std::optional<api::Duration> requeue_after;
  // The object's own spec did not decode or validate (the decision may still have been
  // made with the last valid one, Input::invalid_edit).
  bool spec_invalid = false;
  // Added before the writes, so that no exposure is left uncovered; removed after them.
  FinalizerChange finalizer = FinalizerChange::kNone;
  // Set when the object is being deleted: `flags` are released (FlagStore::Release) in
  // this mode instead of applied, and `traffic` (weight 0) is written only for `rollback`;
  // a router or flag object that is gone counts as done. Nothing else is written but
  // status, events and the finalizer.
  std::optional<ReleaseMode> release;
};

// Whether `metadata` carries the onDelete `rollback` finalizer.
bool HasRollbackFinalizer(const api::ObjectMeta& metadata);

// The decision for this observation. Never fails: bad input becomes status Failed.
Decision Decide(const Input& input);

// API.md §4.8: when `input`'s own spec does not decode or validate while its status is
// live (or rolling back), decide with `last_valid` -- the last valid spec the caller saw
// for this object -- instead, and record why in input.invalid_edit.
void UseLastValidSpec(Input& input, const api::AgentRolloutSpec& last_valid);

struct WriteFailure {
  api::AgentRolloutStatus status;  // to persist instead of the decision's
  std::vector<Event> events;
};

// What to persist and say when the executor could not carry out all of the writes of a
// decision that takes exposure away (rolls_back or steps_back): a rollback becomes
// RollingBack (finished by the next decision, which retries every write); a step back is
// persisted as decided (the next decision re-asserts the lower phase's values) with the
// failed part in the message. Any other decision is decided again with Input::blocked.
WriteFailure FailedWrite(const Input& input, const Decision& decision, WriteStage stage,
                         const Error& error);

}  // namespace agentrollout::controllers
