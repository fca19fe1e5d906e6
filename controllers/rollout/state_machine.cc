#include "controllers/rollout/state_machine.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "analysis/table.h"
#include "api/duration.h"
#include "api/names.h"
#include "api/time.h"
#include "api/validate.h"
#include "controllers/rollout/conditions.h"

namespace agentrollout::controllers {
namespace {

using api::RolloutPhase;
using api::Verdict;

constexpr char kNormal[] = "Normal";
constexpr char kWarning[] = "Warning";

enum class Action { kPromote, kAbort, kPause, kResume, kRetry, kUnknown };

Action ParseAction(const std::string& text) {
  if (text == "promote") return Action::kPromote;
  if (text == "abort") return Action::kAbort;
  if (text == "pause") return Action::kPause;
  if (text == "resume") return Action::kResume;
  if (text == "retry") return Action::kRetry;
  return Action::kUnknown;
}

// Whole seconds: what metav1.Time keeps, so a persisted status compares as written.
api::Timestamp WholeSeconds(api::Timestamp time) {
  return std::chrono::time_point_cast<api::Timestamp::duration>(
      std::chrono::floor<std::chrono::seconds>(time));
}

// A phase where the operator analyses and may advance.
bool IsLive(RolloutPhase phase) {
  return phase == RolloutPhase::kProgressing || phase == RolloutPhase::kPaused ||
         phase == RolloutPhase::kAwaitingApproval;
}

std::string Str(RolloutPhase phase) { return std::string(api::Name(phase)); }
std::string Str(api::EventReason reason) { return std::string(api::Name(reason)); }

// "rolled back ...: reason" reads as one sentence: drop the reason's own full stop.
std::string Clause(std::string text) {
  while (!text.empty() && (text.back() == '.' || text.back() == ' ')) text.pop_back();
  return text;
}

std::string Percents(const api::CurrentPhaseStatus& phase) {
  return std::to_string(phase.flag_percent) + "% flag, " + std::to_string(phase.traffic_weight) +
         "% traffic";
}

// The flags a phase leaves on: the rollout's own key at the phase's percentage (pins
// apply), and every key of phases[].flags at its latest value up to this phase. Keys that
// only later phases switch are written off, so the rollout owns the whole set from the
// start and stepping back undoes what the failed phase switched on. Extra flags carry no
// pins: API.md §2 says 100 is on for everyone and 0 is off.
std::vector<flag::FlagState> FlagsAt(const api::AgentRolloutSpec& spec, std::size_t index,
                                     bool off) {
  std::vector<flag::FlagState> flags;
  const api::FlagSpec& own = *spec.flag;
  flags.push_back({own.key, !off, off ? 0 : spec.phases[index].flag_percent, own.enabled_tenants,
                   own.disabled_tenants});
  std::map<std::string, flag::FlagState> extra;
  for (std::size_t i = 0; i < spec.phases.size(); ++i) {
    for (const auto& [key, percent] : spec.phases[i].flags) {
      flag::FlagState& state = extra[key];
      state.key = key;
      if (!off && i <= index) {
        state.enabled = true;
        state.percentage = percent;
      }
    }
  }
  for (auto& [key, state] : extra) flags.push_back(std::move(state));
  return flags;
}

// The input's own spec, decoded and validated.
Status CheckSpec(const Input& input) {
  if (input.spec_error) return *input.spec_error;
  if (input.spec.phases.empty()) return InvalidArgument("spec.phases: must not be empty");
  return api::ValidateSpec(input.spec);
}

// The phase the rollout is in, seen through a Failed that interrupted it.
RolloutPhase UnderlyingPhase(const api::AgentRolloutStatus& status) {
  return status.phase == RolloutPhase::kFailed ? status.interrupted_phase : status.phase;
}

// The status' Ready reason when a write failed (API.md §6: TrafficTargetNotFound when the
// router object or its backends are missing; §5: FlagTargetNotFound when the flag store's
// target is: flag.postgres's table, column or row, flag.deploymentEnv's Deployment or
// container).
std::string BlockedReason(const BlockedWrite& blocked) {
  if (blocked.error.code() != ErrorCode::kNotFound) return "WriteFailed";
  switch (blocked.stage) {
    case WriteStage::kTraffic:
      return Str(api::EventReason::kTrafficTargetNotFound);
    case WriteStage::kFlag:
      return Str(api::EventReason::kFlagTargetNotFound);
    case WriteStage::kFinalizer:
      break;
  }
  return "WriteFailed";
}

std::string BlockedText(const BlockedWrite& blocked) {
  const std::string reason = BlockedReason(blocked);
  if (reason == Str(api::EventReason::kTrafficTargetNotFound)) {
    return "traffic target not found: " + blocked.error.message();
  }
  if (reason == Str(api::EventReason::kFlagTargetNotFound)) {
    return "flag target not found: " + blocked.error.message();
  }
  switch (blocked.stage) {
    case WriteStage::kFlag:
      return "the flag store write failed and is retried: " + blocked.error.message();
    case WriteStage::kTraffic:
      return "the traffic router write failed and is retried: " + blocked.error.message();
    case WriteStage::kFinalizer:
      return std::string("adding the finalizer ") + api::kRollbackOnDeleteFinalizer +
             " (onDelete rollback) failed and is retried: " + blocked.error.message();
  }
  return blocked.error.message();
}

class Decider {
 public:
  explicit Decider(const Input& input)
      : in_(input), spec_(input.spec), now_(WholeSeconds(input.now)), s_(input.status) {}

  Decision Run() {
    if (in_.metadata.deletion_timestamp) {
      Delete();
      return FinishDeletion();
    }
    s_.observed_generation = in_.metadata.generation;
    TakeAction();
    const Status valid = CheckSpec(in_);
    d_.spec_invalid = !valid.ok() || in_.invalid_edit.has_value();
    if (!valid.ok()) {
      // The safety net is never suspended (API.md §4.8): with no valid table to analyse
      // with, an exposed canary is taken down -- through the targets the spec names, which
      // a decode failure leaves unknown.
      if (Exposed() && !in_.spec_error) {
        RollBackForInvalidSpec(valid.error());
      } else {
        FailSpec(valid.error());
      }
      return Finish();
    }
    if (s_.phase == RolloutPhase::kFailed) {  // the spec is valid again
      s_.phase = s_.interrupted_phase;
      s_.interrupted_phase = RolloutPhase::kNone;
    }
    if (in_.invalid_edit && !IsLive(s_.phase) && s_.phase != RolloutPhase::kRollingBack) {
      FailSpec(*in_.invalid_edit);  // nothing exposed to guard: as any invalid spec
      return Finish();
    }
    if (in_.blocked && StartReason()) {  // API.md §6: it does not start while a target fails
      HoldBlocked();
      return Finish();
    }
    StartIfNeeded();
    Normalize();
    Act();
    Fold();
    RollBackIfNeeded();
    if (IsLive(s_.phase)) Progress();
    if (in_.blocked && !d_.rolls_back && !d_.steps_back) HoldBlocked();
    if (in_.invalid_edit && IsLive(s_.phase) && !d_.steps_back) HoldInvalidEdit();
    return Finish();
  }

 private:
  // ---- deletion (API.md §2 onDelete)

  void Delete() {
    d_.release = ReleaseMode::kOwnerOnly;  // what the decisions below that write nothing say
    // Releasing the owner is best effort: when it failed (Input::blocked) it is not
    // written again by this decision, and it holds nothing.
    const bool release_owner = !in_.blocked;
    if (!HasRollbackFinalizer(in_.metadata)) {
      if (release_owner) ReleaseFlags(ReleaseMode::kOwnerOnly);
      return;
    }
    d_.finalizer = FinalizerChange::kRemove;
    if (in_.spec_error) {
      return GiveUp("the spec does not decode, so the flag and route it names are unknown: " +
                    Clause(in_.spec_error->message()));
    }
    if (spec_.on_delete == api::DeletePolicy::kKeep) {
      if (release_owner) ReleaseFlags(ReleaseMode::kOwnerOnly);
      return;
    }
    if (in_.blocked) {
      const api::Timestamp give_up_at =
          WholeSeconds(*in_.metadata.deletion_timestamp + in_.rollback_on_delete_timeout);
      if (now_ >= give_up_at) return GiveUp(BlockedText(*in_.blocked));
      d_.finalizer = FinalizerChange::kNone;
      const std::string text = "deleting with onDelete rollback: " + BlockedText(*in_.blocked) +
                               "; gives up and lets the object go at " +
                               api::FormatTime(give_up_at);
      if (!in_.status.message.starts_with("deleting with onDelete rollback")) {
        Emit(kWarning, "WriteFailed", text);
      }
      s_.message = text;
      d_.requeue_after = std::chrono::duration_cast<api::Duration>(give_up_at - now_);
      return;
    }
    ReleaseFlags(ReleaseMode::kWithState);
    if (spec_.traffic) d_.traffic = TrafficTarget{in_.metadata.namespace_, *spec_.traffic, 0};
    Emit(kNormal, Str(api::EventReason::kRolledBack),
         "deleted with onDelete rollback: flag off, canary traffic 0; the object goes");
  }

  // Every flag the rollout set, released; with kWithState in its off state.
  void ReleaseFlags(ReleaseMode mode) {
    d_.release = mode;
    if (in_.spec_error || !spec_.flag) return;
    DesiredFlags flags;
    flags.namespace_ = in_.metadata.namespace_;
    flags.config_map = spec_.flag->config_map;
    flags.feature_flag = spec_.flag->feature_flag;
    flags.postgres = spec_.flag->postgres;
    flags.deployment_env = spec_.flag->deployment_env;
    flags.rollout = in_.metadata.namespace_ + "/" + in_.metadata.name;
    flags.phase = s_.current_phase ? s_.current_phase->name : "";
    flags.updated_at = now_;
    flags.flags = FlagsAt(spec_, 0, /*off=*/true);
    d_.flags = std::move(flags);
  }

  void GiveUp(const std::string& why) {
    d_.flags.reset();
    d_.traffic.reset();
    Emit(kWarning, "WriteFailed",
         "onDelete rollback gave up and let the object go, leaving what it could not write as "
         "it was: " +
             why);
  }

  Decision FinishDeletion() {
    d_.status = std::move(s_);
    return std::move(d_);
  }

  // ---- manual actions (API.md §7)

  void TakeAction() {
    const auto it = in_.metadata.annotations.find(api::kActionAnnotation);
    if (it == in_.metadata.annotations.end()) {
      s_.handled_action.clear();  // the annotation of the last action is gone
      return;
    }
    d_.remove_action_annotation = true;
    if (it->second == s_.handled_action) return;  // acted on already; only remove it
    s_.handled_action = it->second;
    action_text_ = it->second;
    action_ = ParseAction(it->second);
  }

  void Reject(const std::string& why) {
    Emit(kWarning, "InvalidAction", "action " + action_text_ + " ignored: " + why);
  }

  void Act() {
    if (!action_) return;
    const Action action = *action_;
    action_.reset();
    const bool live = IsLive(s_.phase);
    const std::string phase = Str(s_.phase);
    switch (action) {
      case Action::kPromote:
        if (!live) return Reject("nothing to promote while " + phase);
        s_.current_phase->promoted = true;
        s_.pause_reason.clear();
        Emit(kNormal, Str(api::EventReason::kPromoted),
             "promote: " + s_.current_phase->name +
                 " may advance at the next Go, without further bake time or approval");
        return;
      case Action::kAbort:
        if (s_.phase == RolloutPhase::kRollingBack) return;  // already going down fully
        if (!live && s_.phase != RolloutPhase::kSucceeded) {
          return Reject("nothing to abort while " + phase);
        }
        abort_ = true;
        return;
      case Action::kPause:
        if (!live) return Reject("nothing to pause while " + phase);
        if (!s_.pause_reason.empty()) return Reject("already paused (" + s_.pause_reason + ")");
        s_.pause_reason = kPauseAction;
        Emit(kNormal, Str(api::EventReason::kPaused),
             "pause: holding in " + s_.current_phase->name + " until resume or promote");
        return;
      case Action::kResume:
        if (!s_.pause_reason.empty()) {
          s_.pause_reason.clear();
          Emit(kNormal, Str(api::EventReason::kResumed),
               "resume: " + s_.current_phase->name + " may advance again");
          return;
        }
        return Reject(spec_.paused ? "paused by spec.paused; set it to false to resume"
                                   : "not paused");
      case Action::kRetry:
        return Reject("retry starts a rolled back rollout again; this one is " + phase);
      case Action::kUnknown:
        return Reject("unknown action; expected promote, abort, pause, resume or retry");
    }
  }

  // ---- InvalidSpec

  void FailSpec(const Error& error) {
    if (s_.phase != RolloutPhase::kFailed) s_.interrupted_phase = s_.phase;
    s_.phase = RolloutPhase::kFailed;
    s_.message = "invalid spec, nothing written: " + Clause(error.message());
    const bool reported = in_.status.phase == RolloutPhase::kFailed &&
                          in_.status.message == s_.message &&
                          in_.status.observed_generation == in_.metadata.generation;
    if (!reported) Emit(kWarning, Str(api::EventReason::kInvalidSpec), s_.message);
    if (action_) {
      Reject("the spec is invalid");
      action_.reset();
    }
  }

  // ---- the safety net (API.md §4.8)

  // The canary is exposed: a live (or unfinished rollback) phase with flag or weight up.
  bool Exposed() const {
    const RolloutPhase phase = UnderlyingPhase(s_);
    if (!IsLive(phase) && phase != RolloutPhase::kRollingBack) return false;
    return s_.current_phase &&
           (s_.current_phase->flag_percent > 0 || s_.current_phase->traffic_weight > 0);
  }

  void RollBackForInvalidSpec(const Error& error) {
    if (s_.phase == RolloutPhase::kFailed) {
      s_.phase = s_.interrupted_phase;
      s_.interrupted_phase = RolloutPhase::kNone;
    }
    if (action_ && *action_ != Action::kAbort) Reject("the spec is invalid");
    action_.reset();  // an abort is what happens anyway
    if (s_.phase == RolloutPhase::kRollingBack) return FinishRollback();
    api::RollbackTrigger trigger;
    trigger.kind = api::RollbackTrigger::Kind::kAbort;
    trigger.reason = "the spec is invalid and no valid go/no-go table is known to analyse with: " +
                     Clause(error.message());
    Emit(kWarning, Str(api::EventReason::kInvalidSpec), trigger.reason);
    RollBackFully(trigger);
  }

  // The spec was edited into an invalid one: hold the phase (analysis and rollback go on
  // with the last valid table).
  void HoldInvalidEdit() {
    const std::string text =
        "invalid spec, holding in " + s_.current_phase->name +
        " and analysing with the last valid go/no-go table: " + Clause(in_.invalid_edit->message());
    message_override_ = text;
    ready_reason_ = Str(api::EventReason::kInvalidSpec);
    const api::Condition* ready = FindCondition(in_.status, kReady);
    if (!ready || ready->reason != ready_reason_ ||
        in_.status.observed_generation != in_.metadata.generation) {
      Emit(kWarning, Str(api::EventReason::kInvalidSpec), text);
    }
  }

  // The writes of this input's decision failed (Input::blocked): nothing is written, the
  // status shows why, and whatever was folded stays folded.
  void HoldBlocked() {
    if (s_.phase == RolloutPhase::kNone) s_.phase = RolloutPhase::kPending;
    const std::string where = s_.current_phase ? " in " + s_.current_phase->name : "";
    std::string text = "holding" + where + ": " + BlockedText(*in_.blocked);
    if (IsLive(s_.phase) && analysis::HasTable(spec_.analysis)) text += "; " + AnalysisClause();
    message_override_ = text;
    ready_reason_ = BlockedReason(*in_.blocked);
    const api::Condition* ready = FindCondition(in_.status, kReady);
    if (!ready || ready->reason != ready_reason_) Emit(kWarning, ready_reason_, text);
  }

  // ---- start (API.md §4.1, §4.6)

  // Why this decision starts the rollout at phase 0, if it does.
  std::optional<std::string> StartReason() const {
    if (s_.phase == RolloutPhase::kNone || s_.phase == RolloutPhase::kPending) {
      return "started revision " + Quoted(spec_.revision);
    }
    if (s_.revision != spec_.revision) {
      return "revision changed from " + Quoted(s_.revision) + " to " + Quoted(spec_.revision) +
             ": restarted";
    }
    if (!s_.current_phase) return "status had no current phase: restarted";
    if (action_ == Action::kRetry && s_.phase == RolloutPhase::kRolledBack) {
      return "retry: restarted revision " + Quoted(spec_.revision);
    }
    return std::nullopt;
  }

  void StartIfNeeded() {
    const std::optional<std::string> why = StartReason();
    if (!why) return;
    if (action_ == Action::kRetry) action_.reset();  // a start is what retry asks for
    Start(*why);
  }

  static std::string Quoted(const std::string& text) { return "\"" + text + "\""; }

  void Start(const std::string& why) {
    const std::string from = s_.current_phase ? s_.current_phase->name : "";
    s_.revision = spec_.revision;
    s_.current_phase = PhaseAt(0);
    s_.phase = RolloutPhase::kProgressing;
    s_.verdict = Verdict::kNone;
    s_.analysis = {};
    s_.rollback.reset();
    s_.pause_reason.clear();
    AddHistory(from, s_.current_phase->name, Str(api::EventReason::kPhaseStarted));
    Emit(kNormal, Str(api::EventReason::kPhaseStarted),
         why + " at phase " + s_.current_phase->name + " (" + Percents(*s_.current_phase) + ")");
    transitioned_ = true;
  }

  api::CurrentPhaseStatus PhaseAt(std::size_t index) const {
    const api::PhaseSpec& phase = spec_.phases[index];
    return {static_cast<std::int32_t>(index),
            phase.name,
            now_,
            phase.flag_percent,
            phase.traffic_weight,
            false};
  }

  // The spec may have changed under a running rollout (same revision): follow its phase
  // list and percentages. A shortened list moves the rollout to its new last phase.
  void Normalize() {
    if (!s_.current_phase) return;
    api::CurrentPhaseStatus& current = *s_.current_phase;
    const auto last = static_cast<std::int32_t>(spec_.phases.size()) - 1;
    current.index = std::clamp(current.index, 0, last);
    if (s_.phase == RolloutPhase::kRolledBack || s_.phase == RolloutPhase::kRollingBack) return;
    const api::PhaseSpec& phase = spec_.phases[static_cast<std::size_t>(current.index)];
    current.name = phase.name;
    current.flag_percent = phase.flag_percent;
    current.traffic_weight = phase.traffic_weight;
  }

  // ---- analysis (API.md §3.1)

  void Fold() {
    // An empty table advances on time alone: an evaluation of metrics the spec no longer
    // has (made before an edit emptied the table) is no evidence either way.
    if (!IsLive(s_.phase) || !in_.evaluation || abort_ || !analysis::HasTable(spec_.analysis))
      return;
    const api::Evaluation& evaluation = *in_.evaluation;
    const api::Timestamp at = WholeSeconds(evaluation.at);
    if (s_.analysis.last_evaluated && at <= *s_.analysis.last_evaluated) return;  // folded
    // Made in an earlier phase (or the second this one began): not evidence about it.
    if (at <= s_.current_phase->started_at) return;
    // Evidence is fresh (API.md §3.1): a Go resting on an answer measured before this phase
    // began may not advance it. (A No-Go rolls back however old its answers are.)
    if (evaluation.verdict == Verdict::kGo &&
        evaluation.measured_from < s_.current_phase->started_at) {
      return;
    }
    const Verdict previous = s_.verdict;
    analysis::TableOutcome outcome = analysis::Accumulate(spec_.analysis, s_.analysis, evaluation);
    s_.analysis = std::move(outcome.status);
    s_.analysis.last_evaluated = at;
    s_.verdict = evaluation.verdict;
    trigger_ = std::move(outcome.trigger);
    if (s_.verdict == Verdict::kNoGo) {
      Emit(kWarning, Str(api::EventReason::kAnalysisNoGo),
           "No-Go in " + s_.current_phase->name + ": " + MetricsIn(Verdict::kNoGo));
    } else if (s_.verdict == Verdict::kHold && previous != Verdict::kHold) {
      Emit(kNormal, Str(api::EventReason::kAnalysisHold),
           "holding in " + s_.current_phase->name + ": " + MetricsIn(Verdict::kHold));
    }
  }

  // "latency-p95-ms 912 is not < 800 (go), error-rate no data" for the metrics (not
  // dryRun) with that verdict.
  std::string MetricsIn(Verdict verdict) const {
    std::string text;
    for (const api::MetricStatus& metric : s_.analysis.metrics) {
      if (metric.dry_run || metric.verdict != verdict) continue;
      if (!text.empty()) text += ", ";
      text += metric.name + " ";
      text += !metric.message.empty() ? metric.message
              : !metric.value.empty() ? metric.value
                                      : "no data";
    }
    return text.empty() ? "the go/no-go table" : text;
  }

  // ---- rollback (API.md §4.4, §4.5)

  void RollBackIfNeeded() {
    if (abort_) {
      api::RollbackTrigger trigger;
      trigger.kind = api::RollbackTrigger::Kind::kAbort;
      trigger.reason = "the abort action was set";
      RollBackFully(trigger);
    } else if (s_.phase == RolloutPhase::kRollingBack) {
      FinishRollback();
    } else if (trigger_) {
      const bool total = trigger_->kind == api::RollbackTrigger::Kind::kAbort ||
                         spec_.rollback_mode == api::RollbackMode::kTotal ||
                         s_.current_phase->index == 0;
      if (total) {
        RollBackFully(*trigger_);
      } else {
        StepBack(*trigger_);
      }
    }
  }

  api::RollbackStatus Record(const api::RollbackTrigger& trigger, std::string reason) const {
    return {now_,          s_.current_phase->name, trigger.metric,
            trigger.value, trigger.line,           std::move(reason)};
  }

  void RollBackFully(const api::RollbackTrigger& trigger) {
    s_.rollback = Record(trigger, Clause(trigger.reason));
    Emit(kWarning, Str(api::EventReason::kRollingBack),
         "rolling back fully from " + s_.current_phase->name + ": " + s_.rollback->reason);
    FinishRollback();
  }

  // Flag off, traffic 0 (the writes of this decision), then RolledBack.
  void FinishRollback() {
    api::CurrentPhaseStatus& current = *s_.current_phase;
    current.flag_percent = 0;
    current.traffic_weight = 0;
    current.promoted = false;
    s_.phase = RolloutPhase::kRolledBack;
    s_.pause_reason.clear();
    AddHistory(current.name, Str(RolloutPhase::kRolledBack), Str(api::EventReason::kRolledBack));
    Emit(kWarning, Str(api::EventReason::kRolledBack),
         "rolled back from " + current.name + ": flag off, canary traffic 0");
    d_.rolls_back = true;
  }

  void StepBack(const api::RollbackTrigger& trigger) {
    const std::string from = s_.current_phase->name;
    const auto to_index = static_cast<std::size_t>(s_.current_phase->index - 1);
    const std::string to = spec_.phases[to_index].name;
    s_.rollback = Record(trigger, Clause(trigger.reason));
    s_.current_phase = PhaseAt(to_index);
    s_.phase = RolloutPhase::kPaused;
    s_.pause_reason = kSteppedBack;
    s_.verdict = Verdict::kNone;
    s_.analysis.consecutive_no_go = 0;
    s_.analysis.consecutive_errors = 0;
    AddHistory(from, to, kSteppedBack);
    Emit(kWarning, Str(api::EventReason::kRollingBack),
         "stepping back from " + from + " to " + to + " (" + Percents(*s_.current_phase) +
             "): " + Clause(trigger.reason));
    transitioned_ = true;
    d_.steps_back = true;
  }

  // ---- phases (API.md §4.2, §4.3)

  void Progress() {
    const api::CurrentPhaseStatus& current = *s_.current_phase;
    const api::PhaseSpec& phase = spec_.phases[static_cast<std::size_t>(current.index)];
    const bool baked = now_ - current.started_at >= phase.duration || current.promoted;
    const bool held = spec_.paused || !s_.pause_reason.empty();
    const bool needs_approval = phase.approval && !current.promoted;
    const bool was_awaiting = s_.phase == RolloutPhase::kAwaitingApproval;
    // One transition per decision: a phase this decision entered (start, retry, step back)
    // is written and persisted before it may be left, so its flag and traffic reach the
    // world (§4.1 "write flag + traffic for phase 0, then Progressing") even with a zero
    // bake and an empty table.
    // Nor is a phase left while its own writes fail (Input::blocked).
    const bool may_leave = !transitioned_ && !in_.blocked && !in_.invalid_edit;
    if (held) {
      s_.phase = RolloutPhase::kPaused;
    } else if (baked && needs_approval && (IsGo() || was_awaiting)) {
      s_.phase = RolloutPhase::kAwaitingApproval;
      if (!was_awaiting) {
        Emit(kNormal, Str(api::EventReason::kAwaitingApproval),
             current.name + " has baked with Go: awaiting approval (annotate " +
                 std::string(api::kActionAnnotation) + "=promote)");
      }
    } else if (baked && may_leave && !needs_approval && IsGo()) {
      if (current.index + 1 == static_cast<std::int32_t>(spec_.phases.size())) {
        Succeed();
      } else {
        Advance();
      }
    } else {
      s_.phase = RolloutPhase::kProgressing;
    }
  }

  // The latest verdict is Go and comes from an evaluation made in this phase; with an
  // empty table, time alone advances.
  bool IsGo() const {
    if (!analysis::HasTable(spec_.analysis)) return true;
    return s_.verdict == Verdict::kGo && s_.analysis.last_evaluated &&
           *s_.analysis.last_evaluated > s_.current_phase->started_at;
  }

  void Advance() {
    const api::CurrentPhaseStatus from = *s_.current_phase;
    s_.current_phase = PhaseAt(static_cast<std::size_t>(from.index + 1));
    s_.phase = RolloutPhase::kProgressing;
    s_.verdict = Verdict::kNone;
    s_.analysis.consecutive_no_go = 0;
    s_.analysis.consecutive_errors = 0;
    AddHistory(from.name, s_.current_phase->name, Str(api::EventReason::kPhaseAdvanced));
    Emit(kNormal, Str(api::EventReason::kPhaseAdvanced),
         "advanced from " + from.name + " to " + s_.current_phase->name + " (" +
             Percents(*s_.current_phase) + ")" + (from.promoted ? " on promote" : ""));
    transitioned_ = true;
  }

  void Succeed() {
    s_.phase = RolloutPhase::kSucceeded;
    AddHistory(s_.current_phase->name, Str(RolloutPhase::kSucceeded),
               Str(api::EventReason::kSucceeded));
    Emit(kNormal, Str(api::EventReason::kSucceeded),
         "revision " + Quoted(spec_.revision) + " rolled out: " + s_.current_phase->name + " (" +
             Percents(*s_.current_phase) + ")");
  }

  // ---- the decision

  Decision Finish() {
    Writes();
    d_.finalizer = FinalizerFor();
    DescribeOrDefer();
    d_.analyse = IsLive(s_.phase) && analysis::HasTable(spec_.analysis);
    d_.requeue_after = RequeueAfter();
    d_.status = std::move(s_);
    return std::move(d_);
  }

  // The message and conditions. When the only news are status.analysis values not worth
  // a write yet (status_refresh.h) and nothing is said (an Event is explained by the status
  // written before it), the status stays as persisted, values included, so that nothing
  // is written; else everything is written fresh.
  void DescribeOrDefer() {
    if (d_.events.empty() && s_.analysis != in_.status.analysis &&
        !AnalysisWorthWriting(in_.status.analysis, s_.analysis, in_.status_refresh)) {
      api::AgentRolloutStatus fresh = s_;
      s_.analysis = in_.status.analysis;
      Describe();
      if (s_ == in_.status) return;
      s_ = std::move(fresh);
    }
    Describe();
  }

  void Describe() {
    s_.message = message_override_.empty() ? Message() : message_override_;
    SetConditions(s_, in_.metadata.generation, now_, analysis::HasTable(spec_.analysis),
                  ready_reason_);
  }

  void Writes() {
    if (s_.phase == RolloutPhase::kFailed || !s_.current_phase) return;
    // A blocked decision writes only what takes exposure away.
    if (in_.blocked && !d_.rolls_back && !d_.steps_back) return;
    const bool off = s_.phase == RolloutPhase::kRolledBack;
    const auto index = static_cast<std::size_t>(s_.current_phase->index);
    if (spec_.flag) {
      DesiredFlags flags;
      flags.namespace_ = in_.metadata.namespace_;
      flags.config_map = spec_.flag->config_map;
      flags.feature_flag = spec_.flag->feature_flag;
      flags.postgres = spec_.flag->postgres;
      flags.deployment_env = spec_.flag->deployment_env;
      flags.rollout = in_.metadata.namespace_ + "/" + in_.metadata.name;
      flags.phase = s_.current_phase->name;
      flags.updated_at = now_;
      flags.flags = FlagsAt(spec_, index, off);
      d_.flags = std::move(flags);
    }
    if (spec_.traffic) {
      d_.traffic = TrafficTarget{in_.metadata.namespace_, *spec_.traffic,
                                 off ? 0 : spec_.phases[index].traffic_weight};
    }
  }

  // The onDelete `rollback` finalizer follows the spec (a spec that does not decode leaves
  // it as it is).
  FinalizerChange FinalizerFor() const {
    if (in_.spec_error) return FinalizerChange::kNone;
    const bool wanted = spec_.on_delete == api::DeletePolicy::kRollback;
    const bool present = HasRollbackFinalizer(in_.metadata);
    if (wanted == present) return FinalizerChange::kNone;
    return wanted ? FinalizerChange::kAdd : FinalizerChange::kRemove;
  }

  std::optional<api::Duration> RequeueAfter() const {
    if (s_.phase != RolloutPhase::kProgressing) return std::nullopt;
    const api::CurrentPhaseStatus& current = *s_.current_phase;
    const api::Duration bake = spec_.phases[static_cast<std::size_t>(current.index)].duration;
    const auto elapsed = std::chrono::duration_cast<api::Duration>(now_ - current.started_at);
    if (!current.promoted && elapsed < bake) return bake - elapsed;
    // Baked: an empty table advances at once; otherwise the next evaluation decides, and
    // this wake-up only guards against a lost one.
    if (!analysis::HasTable(spec_.analysis) || transitioned_) return api::Duration::zero();
    return spec_.analysis.interval;
  }

  // One sentence: what the operator is doing or waiting for, and why (API.md §8).
  std::string Message() const {
    if (s_.phase == RolloutPhase::kFailed) return s_.message;
    const api::CurrentPhaseStatus& current = *s_.current_phase;
    const std::string& name = current.name;
    switch (s_.phase) {
      case RolloutPhase::kSucceeded:
        return "revision " + Quoted(spec_.revision) + " rolled out: " + name + " at " +
               Percents(current);
      case RolloutPhase::kRolledBack:
        return "rolled back from " + name + ": " + RollbackReason() +
               "; retry or a new spec.revision starts again at phase 0";
      case RolloutPhase::kAwaitingApproval: {
        std::string text = "awaiting approval to leave " + name + ": annotate " +
                           std::string(api::kActionAnnotation) + "=promote";
        if (s_.verdict != Verdict::kGo) text += "; " + AnalysisClause();
        return text;
      }
      case RolloutPhase::kPaused: {
        std::string text;
        if (s_.pause_reason == kSteppedBack) {
          text = "stepped back " + (s_.rollback ? "from " + s_.rollback->from_phase + " " : "") +
                 "to " + name + " (" + Percents(current) + "): " + RollbackReason() +
                 "; resume or promote to advance again, abort to roll back fully";
        } else if (s_.pause_reason == kPauseAction) {
          text = "paused in " + name + " by the pause action; resume to continue";
        } else {
          text = "paused in " + name + " by spec.paused";
        }
        if (analysis::HasTable(spec_.analysis)) text += "; " + AnalysisClause();
        return text;
      }
      default:
        break;
    }
    // Progressing.
    const api::PhaseSpec& phase = spec_.phases[static_cast<std::size_t>(current.index)];
    const auto elapsed = std::chrono::duration_cast<api::Duration>(now_ - current.started_at);
    const bool baked = current.promoted || elapsed >= phase.duration;
    // The bake's end as a time, not a countdown: a countdown would be untrue (or need a
    // status write) every minute; the time stays true until the bake is done.
    std::string bake = current.promoted ? "promoted, bake skipped"
                       : baked
                           ? "bake time done"
                           : "bake ends at " + api::FormatTime(current.started_at + phase.duration);
    if (!analysis::HasTable(spec_.analysis)) {
      return (baked ? "advancing from " : "baking in ") + name + " (" + Percents(current) + "); " +
             bake;
    }
    std::string text;
    switch (s_.verdict) {
      case Verdict::kNone:
        text = "waiting for the first analysis in " + name;
        break;
      case Verdict::kGo:
        text = "analysis is Go in " + name;
        break;
      case Verdict::kHold:
        text = "holding in " + name + ": " + MetricsIn(Verdict::kHold);
        break;
      case Verdict::kNoGo:
        text = "No-Go in " + name + ": " + MetricsIn(Verdict::kNoGo) + ", " +
               std::to_string(s_.analysis.consecutive_no_go) + " of " +
               std::to_string(spec_.analysis.failure_limit) + " tolerated by failureLimit";
        break;
      case Verdict::kError:
        text = "analysis failed in " + name + ": " + MetricsIn(Verdict::kError) + ", " +
               std::to_string(s_.analysis.consecutive_errors) + " of " +
               std::to_string(spec_.analysis.error_limit) + " tolerated by errorLimit";
        break;
    }
    return text + "; " + bake;
  }

  std::string AnalysisClause() const {
    switch (s_.verdict) {
      case Verdict::kNone:
        return "no analysis in this phase yet";
      case Verdict::kGo:
        return "analysis is Go";
      case Verdict::kHold:
        return "holding: " + MetricsIn(Verdict::kHold);
      case Verdict::kNoGo:
        return "No-Go: " + MetricsIn(Verdict::kNoGo);
      case Verdict::kError:
        return "analysis failed: " + MetricsIn(Verdict::kError);
    }
    return {};
  }

  // ---- helpers

  std::string RollbackReason() const {
    return s_.rollback ? s_.rollback->reason : "a rollback was requested";
  }

  void Emit(const char* type, std::string reason, std::string message) {
    d_.events.push_back({type, std::move(reason), std::move(message)});
  }

  void AddHistory(std::string from, std::string to, std::string reason) {
    s_.history.push_back({now_, std::move(from), std::move(to), std::move(reason)});
    if (s_.history.size() > api::kMaxHistory) {
      s_.history.erase(
          s_.history.begin(),
          s_.history.begin() + static_cast<std::ptrdiff_t>(s_.history.size() - api::kMaxHistory));
    }
  }

  const Input& in_;
  const api::AgentRolloutSpec& spec_;
  const api::Timestamp now_;
  api::AgentRolloutStatus s_;
  Decision d_;
  std::optional<Action> action_;
  std::string action_text_;
  bool abort_ = false;
  bool transitioned_ = false;
  std::string message_override_;  // the message when the usual one does not apply
  std::string ready_reason_;      // Ready's reason when not the phase's
  std::optional<api::RollbackTrigger> trigger_;
};

}  // namespace

Decision Decide(const Input& input) { return Decider(input).Run(); }

bool HasRollbackFinalizer(const api::ObjectMeta& metadata) {
  return std::find(metadata.finalizers.begin(), metadata.finalizers.end(),
                   api::kRollbackOnDeleteFinalizer) != metadata.finalizers.end();
}

void UseLastValidSpec(Input& input, const api::AgentRolloutSpec& last_valid) {
  const RolloutPhase phase = UnderlyingPhase(input.status);
  if (!IsLive(phase) && phase != RolloutPhase::kRollingBack) return;
  const Status valid = CheckSpec(input);
  if (valid.ok()) return;
  input.invalid_edit = valid.error();
  input.spec = last_valid;
  input.spec_error.reset();
}

WriteFailure FailedWrite(const Input& input, const Decision& decision, WriteStage stage,
                         const Error& error) {
  const api::Timestamp now = WholeSeconds(input.now);
  const bool has_metrics = analysis::HasTable(input.spec.analysis);
  const std::string failed = BlockedText(BlockedWrite{stage, error});
  WriteFailure failure;
  api::AgentRolloutStatus& status = failure.status;
  status = decision.status;
  if (decision.rolls_back) {
    // Keep the decision (the rollback record, the folded evaluation) but not its
    // history entry: the decision that finishes the rollback adds it.
    status.history = input.status.history;
    status.phase = RolloutPhase::kRollingBack;
    status.message = "rolling back from " + status.current_phase->name + ": " +
                     (status.rollback ? status.rollback->reason : "a rollback was requested") +
                     "; " + failed;
    SetConditions(status, input.metadata.generation, now, has_metrics);
    // Said once per rollback: the retries that fail the same way change nothing.
    if (input.status.phase != RolloutPhase::kRollingBack) {
      failure.events.push_back({kWarning, Str(api::EventReason::kRollingBack), status.message});
    }
    return failure;
  }
  // A step back is persisted as decided: the lower phase is where the rollout now is, and
  // the next decision re-asserts its values until the failed write lands.
  status.message += "; " + failed;
  SetConditions(status, input.metadata.generation, now, has_metrics, BlockedReason({stage, error}));
  failure.events = decision.events;
  failure.events.push_back({kWarning, BlockedReason({stage, error}), status.message});
  return failure;
}

}  // namespace agentrollout::controllers
