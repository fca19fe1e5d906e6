// The state machine (API.md §4, §7, §8) driven by thousands of seeded random sequences
// against a simulated cluster: a flag store, a traffic weight, the AgentRollout object
// (spec, annotations, persisted status) and an operator whose memory (the latest
// evaluation) is lost whenever it crashes. Each step may let time pass, evaluate the
// go/no-go table (Go, Hold, NoGo, Error, an abort-line hit), set the action annotation
// (promote, abort, pause, resume, retry, or a bogus value), toggle spec.paused, change
// spec.revision, break or fix the spec, crash the operator, and reconcile. A reconcile
// applies the decision as executor.h does -- traffic check, flag, traffic, status,
// events, annotation removal -- with a fault injected at random: a crash between any two
// steps, a failed flag or traffic write (the decision is made again with Input::blocked,
// which still folds and may roll back; FailedWrite() says what a failed rollback or step
// back persists), or a
// user edit that makes the status write conflict (decide again, same evaluation and time)
// or keeps the annotation (its removal is resourceVersion-guarded).
//
// Invariants checked after every decision and every persisted status:
// - world bound: the canary weight and the rollout's own flag percentage never exceed the
//   values of the phase the persisted status is in, except for the writes of a decision
//   whose status is not (yet) persisted -- a crash or failure between the flag write and
//   the status write -- and such a decision is at most one phase ahead of the persisted
//   status; and for a rollback persisted as RollingBack (or a step back persisted) after a
//   failed write, which may leave the world where the status it started from allowed. A decision
//   whose writes all succeeded and whose status was persisted makes the bound exact again.
// - status tells the truth: a decision writes exactly the flag and weight of the phase
//   its status names (all off and weight 0 once RolledBack; nothing while Failed);
// - never advances twice, never skips an analysis: a decision moves at most one phase
//   (forward, or back one as a stepBack), a start or retry goes to phase 0; leaving a phase
//   needs its bake elapsed (or a promote), the approval granted when asked, no pause, and
//   -- with a non-empty table -- the latest folded evaluation Go and made in that phase;
//   one evaluation justifies at most one persisted advance; every new evaluation made in a
//   live phase is folded, and a folded one is never folded again;
// - RolledBack is terminal until a retry or a new spec.revision;
// - a manual action is acted on at most once: an annotation instance is consumed by at
//   most one persisted status and reported by at most one event; a promote grant, a
//   pause, a resume and an abort rollback happen only when such an action is consumed;
// - status bookkeeping: history <= 20 entries, newest last; conditions consistent with
//   the phase (Ready True iff Succeeded; Reconciling while Pending, Progressing, Paused,
//   AwaitingApproval, RollingBack; Stalled iff RolledBack or Failed; Healthy False iff
//   the verdict is NoGo or Error) and with observedGeneration; Paused iff held; counters
//   within failureLimit/errorLimit while live; `analyse` iff live with a table;
// - Decide is pure (same input, same decision) and a settled status is a fixed point
//   (decided again with nothing new: same status, same writes, no events);
// - deletion (API.md §2 onDelete), decided from every observed state with and without
//   the finalizer, for keep and rollback, with and without failed writes: nothing moves
//   forward (status unchanged but for its message, no analysis, no annotation removal,
//   flags only released -- off when released with their state -- and the weight only set
//   to 0, and only under the finalizer with rollback); the finalizer is never added,
//   removed once the writes succeed or the timeout passed, and kept only while failed
//   writes are retried within it.
//
// Reproduce a failure with the seed it prints:
//   AGENTROLLOUT_RANDOM_SEED=<seed> AGENTROLLOUT_RANDOM_ITERATIONS=1 <this binary>
// Long runs: AGENTROLLOUT_RANDOM_ITERATIONS=200000 (the default is a few thousand).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "api/duration.h"
#include "api/names.h"
#include "api/validate.h"
#include "controllers/rollout/conditions.h"
#include "controllers/rollout/state_machine.h"
#include "controllers/rollout/test_support.h"

namespace agentrollout::controllers {
namespace {

using api::RolloutPhase;
using api::Verdict;
using std::chrono::milliseconds;
using namespace fixtures;  // NOLINT: the builders of test_support.h

constexpr std::uint64_t kDefaultSeed = 20261122;
#if defined(__SANITIZE_ADDRESS__)
// ASan slows a sequence about 40 times: 3,000 took 220 s of ctest's 300 s timeout on the CI
// machine. The sanitizer run is for memory errors; the normal build runs all 3,000.
constexpr int kDefaultIterations = 500;
#else
constexpr int kDefaultIterations = 3000;
#endif
constexpr char kAbortReason[] = "the abort action was set";

std::uint64_t EnvNumber(const char* name, std::uint64_t fallback) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  return std::strtoull(text, nullptr, 10);
}

class Random {
 public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}
  std::size_t Below(std::size_t n) { return static_cast<std::size_t>(engine_() % n); }
  bool Chance(std::size_t percent) { return Below(100) < percent; }
  template <typename T>
  T Pick(const std::vector<T>& items) {
    return items[Below(items.size())];
  }

 private:
  std::mt19937_64 engine_;
};

// Whole seconds, as the state machine keeps times.
api::Timestamp Floor(api::Timestamp time) {
  return std::chrono::time_point_cast<api::Timestamp::duration>(
      std::chrono::floor<std::chrono::seconds>(time));
}

bool IsLive(RolloutPhase phase) {
  return phase == RolloutPhase::kProgressing || phase == RolloutPhase::kPaused ||
         phase == RolloutPhase::kAwaitingApproval;
}

bool IsTerminal(const api::AgentRolloutStatus& status) {
  return status.phase == RolloutPhase::kRolledBack ||
         (status.phase == RolloutPhase::kFailed &&
          status.interrupted_phase == RolloutPhase::kRolledBack);
}

bool HasEvent(const Decision& decision, const std::string& reason) {
  return std::any_of(decision.events.begin(), decision.events.end(),
                     [&](const Event& event) { return event.reason == reason; });
}

// A rollout the generator may produce: 1..5 phases with non-decreasing percentages, bake
// times, approvals, extra flags; a table of two metrics (or none); limits; either mode;
// flag-only, traffic-only or both.
nlohmann::json RandomSpecJson(Random& random) {
  nlohmann::json spec = VoiceSpecJson();
  const std::size_t count = 1 + random.Below(5);
  nlohmann::json phases = nlohmann::json::array();
  int flag_percent = 0;
  int weight = 0;
  bool extra_flags = false;
  for (std::size_t i = 0; i < count; ++i) {
    flag_percent = std::min(100, flag_percent + random.Pick<int>({0, 5, 10, 25, 50}));
    weight = std::min(100, weight + random.Pick<int>({0, 5, 10, 25, 50}));
    if (i + 1 == count && random.Chance(50)) flag_percent = weight = 100;
    nlohmann::json phase = {{"name", "p" + std::to_string(i)},
                            {"flagPercent", flag_percent},
                            {"trafficWeight", weight}};
    const std::string duration = random.Pick<std::string>({"", "", "30s", "5m", "1h"});
    if (!duration.empty()) phase["duration"] = duration;
    if (random.Chance(20)) phase["approval"] = true;
    if (random.Chance(25)) {
      phase["flags"][random.Pick<std::string>({"telemetry", "voucher_creation"})] =
          random.Pick<int>({0, 50, 100});
      extra_flags = true;
    }
    phases.push_back(std::move(phase));
  }
  spec["phases"] = std::move(phases);
  if (random.Chance(15)) {
    spec["analysis"].erase("metrics");
    spec["analysis"].erase("prometheus");
  }
  spec["analysis"]["failureLimit"] = random.Below(3);
  spec["analysis"]["errorLimit"] = random.Below(3);
  spec["rollback"]["mode"] = random.Chance(50) ? "stepBack" : "total";
  if (random.Chance(20)) {
    spec.erase("traffic");
  } else if (!extra_flags && random.Chance(15)) {
    spec.erase("flag");
  }
  return spec;
}

// The rollout's own flag percentage (0 when disabled) and the canary weight.
struct Values {
  int flag = 0;
  int weight = 0;
  friend bool operator==(const Values&, const Values&) = default;
};

Values Max(const Values& a, const Values& b) {
  return {std::max(a.flag, b.flag), std::max(a.weight, b.weight)};
}

bool AtMost(const Values& value, const Values& bound) {
  return value.flag <= bound.flag && value.weight <= bound.weight;
}

std::string Show(const Values& values) {
  return std::to_string(values.flag) + "% flag, weight " + std::to_string(values.weight);
}

std::string Show(const api::AgentRolloutStatus& status) {
  std::string text = std::string(api::Name(status.phase));
  if (status.current_phase) text += " #" + std::to_string(status.current_phase->index);
  if (!status.pause_reason.empty()) text += " (" + status.pause_reason + ")";
  return text;
}

// Where the executor is cut off or fails while carrying out a decision.
enum class Fault {
  kNone,
  kCrashBeforeWrites,
  kCrashAfterFlag,
  kCrashBeforeStatus,
  kCrashAfterStatus,
  kCrashAfterEvents,
  kCheckFails,        // the traffic router's pre-check
  kFlagFails,         // the flag store write
  kTrafficFails,      // the traffic router write
  kEditBeforeStatus,  // a user edit: the status write conflicts (409), decide again
  kEditAfterStatus,   // a user edit: the annotation removal conflicts, it stays
};

const char* Name(Fault fault) {
  switch (fault) {
    case Fault::kNone:
      return "ok";
    case Fault::kCrashBeforeWrites:
      return "crash before writes";
    case Fault::kCrashAfterFlag:
      return "crash after flag";
    case Fault::kCrashBeforeStatus:
      return "crash before status";
    case Fault::kCrashAfterStatus:
      return "crash after status";
    case Fault::kCrashAfterEvents:
      return "crash after events";
    case Fault::kCheckFails:
      return "traffic check fails";
    case Fault::kFlagFails:
      return "flag write fails";
    case Fault::kTrafficFails:
      return "traffic write fails";
    case Fault::kEditBeforeStatus:
      return "edit before status (409)";
    case Fault::kEditAfterStatus:
      return "edit after status";
  }
  return "?";
}

// What the random sequences reached, summed over a run: a generator that stopped
// reaching these would make the invariants vacuous.
struct Coverage {
  int decisions = 0;
  int advances = 0;
  int successes = 0;
  int total_rollbacks = 0;
  int step_backs = 0;
  int restarts = 0;
  int awaiting_approval = 0;
  int promotes = 0;
  int crashes = 0;
  int failed_writes = 0;
  int blocked_folds = 0;   // evaluations folded by a decision whose writes had failed
  int waiting_values = 0;  // evaluations whose values waited for the refresh interval
  int rolling_back_persisted = 0;
  int conflicts = 0;
  int invalid_actions = 0;
  int failed_specs = 0;
  int fixed_points = 0;
  int full_histories = 0;
};

class Simulation {
 public:
  Simulation(std::uint64_t seed, Coverage& coverage)
      : seed_(seed), random_(seed), coverage_(coverage), now_(At()) {
    meta_ = VoiceMeta();
    spec_ = DecodeSpecOrDie(RandomSpecJson(random_));
    bad_ = random_.Pick<std::size_t>({3, 10, 30});
    // Half the sequences write status.analysis values at most every 5 minutes, as the
    // operator does by default (status_refresh.h); half write every evaluation.
    refresh_.every = random_.Chance(50) ? minutes(5) : api::Duration::zero();
    const Status valid = api::ValidateSpec(spec_);
    if (!valid.ok()) Fail("the generated spec is invalid: " + valid.error().ToString());
    Log("spec: " + std::to_string(spec_.phases.size()) + " phases, " +
        std::to_string(spec_.analysis.metrics.size()) + " metrics, failureLimit " +
        std::to_string(spec_.analysis.failure_limit) + ", errorLimit " +
        std::to_string(spec_.analysis.error_limit) + ", " + std::to_string(bad_) + "% bad, " +
        std::string(api::Name(spec_.rollback_mode)) + (spec_.flag ? ", flag" : "") +
        (refresh_.every > api::Duration::zero() ? ", values refreshed every 5m" : "") +
        (spec_.traffic ? ", traffic" : ""));
  }

  void Run(int steps) {
    for (step_ = 0; step_ < steps && !failed_; ++step_) Step();
  }

 private:
  // ------------------------------------------------------------------ the world

  void Step() {
    now_ += random_.Pick<api::Duration>({api::Duration::zero(), milliseconds(350), seconds(1),
                                         seconds(30), minutes(1), minutes(10), hours(1), hours(4),
                                         hours(30)});
    if (random_.Chance(60)) Evaluate();
    if (random_.Chance(12)) UserEdit();
    if (random_.Chance(3)) Crash("idle");
    if (!random_.Chance(85)) return;
    // A decision asking to be reconciled at once (a zero bake) is, a few times.
    for (int round = 0; round < 3 && !failed_; ++round) {
      if (!Reconcile()) break;
    }
  }

  // The scheduler: one evaluation of the table, at most one per second, sometimes
  // delivered late (made before a transition it is then no evidence for).
  void Evaluate() {
    const api::Timestamp at =
        now_ - random_.Pick<api::Duration>(
                   {api::Duration::zero(), milliseconds(400), seconds(3), seconds(40)});
    if (last_evaluation_ && Floor(at) <= *last_evaluation_) return;
    last_evaluation_ = Floor(at);
    api::Evaluation evaluation;
    std::string what;
    // Out of 100: abort-line hits, Errors and NoGos by the sequence's health, a fifth Hold,
    // the rest Go.
    const std::size_t roll = random_.Below(100);
    if (roll < bad_ / 8) {
      evaluation = Abort(at);
      what = "abort-line";
    } else if (roll < bad_ / 2) {
      evaluation = Errored(at);
      what = "Error";
    } else if (roll < bad_) {
      evaluation = NoGo(at);
      what = "NoGo";
    } else if (roll < bad_ + 20) {
      evaluation = Hold(at);
      what = "Hold";
    } else {
      evaluation = Go(at);
      what = "Go";
    }
    verdicts_[Floor(at)] = evaluation.verdict;
    evaluation_ = std::move(evaluation);
    Log("evaluated " + what + " at " + Clock(at));
  }

  // What a person or GitOps does to the object.
  void UserEdit() {
    switch (random_.Below(10)) {
      case 0:
        spec_.paused = !spec_.paused;
        ++meta_.generation;
        Log(std::string("spec.paused = ") + (spec_.paused ? "true" : "false"));
        return;
      case 1:
        spec_.revision = "r" + std::to_string(++revisions_);
        ++meta_.generation;
        Log("spec.revision = " + spec_.revision);
        return;
      case 2:
        if (spec_error_) {
          spec_error_.reset();
        } else {
          spec_error_ = InvalidArgument("spec.phases[0].trafficWeight: must be 0..100, got 140");
        }
        ++meta_.generation;
        Log(spec_error_ ? "spec broken" : "spec fixed");
        return;
      default: {
        const std::string action = random_.Pick<std::string>(
            {"promote", "promote", "abort", "pause", "resume", "resume", "retry", "jump", ""});
        meta_.annotations[api::kActionAnnotation] = action;
        annotation_id_ = ++annotations_;
        Log("annotate action=\"" + action + "\" (#" + std::to_string(annotation_id_) + ")");
        return;
      }
    }
  }

  // The operator restarts: whatever evaluation it held is gone.
  void Crash(const std::string& where) {
    ++coverage_.crashes;
    evaluation_.reset();
    Log("crash (" + where + ")");
    CheckBound("after a crash");
  }

  // The rollout's own flag and canary weight in the world.
  Values World() const {
    Values values;
    if (spec_.flag) {
      const auto it = flags_.find(spec_.flag->key);
      if (it != flags_.end() && it->second.enabled) values.flag = it->second.percentage;
    }
    values.weight = weight_;
    return values;
  }

  // The values of the phase a status is in (its index; RollingBack keeps the index of the
  // phase it rolls back from).
  Values Ceiling(const api::AgentRolloutStatus& status) const {
    if (!status.current_phase) return {};
    return PhaseValues(status.current_phase->index);
  }

  Values PhaseValues(std::int32_t index) const {
    const auto last = static_cast<std::int32_t>(spec_.phases.size()) - 1;
    const api::PhaseSpec& phase =
        spec_.phases[static_cast<std::size_t>(std::clamp(index, 0, last))];
    return {spec_.flag ? phase.flag_percent : 0, spec_.traffic ? phase.traffic_weight : 0};
  }

  // The values a decision writes.
  Values Written(const Decision& decision) const {
    Values values;
    if (decision.flags) {
      for (const flag::FlagState& state : decision.flags->flags) {
        if (state.key == spec_.flag->key && state.enabled) values.flag = state.percentage;
      }
    }
    if (decision.traffic) values.weight = decision.traffic->weight;
    return values;
  }

  // ------------------------------------------------------------------ the executor

  struct Observation {
    Input input;
    int annotation_id = 0;
  };

  // The object as the operator reads it, with the evaluation it holds until a persisted
  // status shows it folded.
  Observation Observe() const {
    Observation observation;
    Input& input = observation.input;
    input.metadata = meta_;
    input.spec = spec_;
    input.status = status_;
    input.spec_error = spec_error_;
    const auto& folded = status_.analysis.last_evaluated;
    if (evaluation_ && (!folded || Floor(evaluation_->at) > *folded))
      input.evaluation = evaluation_;
    input.now = now_;
    input.status_refresh = refresh_;
    observation.annotation_id =
        meta_.annotations.count(api::kActionAnnotation) ? annotation_id_ : 0;
    return observation;
  }

  Fault PickFault(bool may_conflict) {
    if (random_.Chance(70)) return Fault::kNone;
    const std::vector<Fault> faults = {Fault::kCrashBeforeWrites, Fault::kCrashAfterFlag,
                                       Fault::kCrashBeforeStatus, Fault::kCrashAfterStatus,
                                       Fault::kCrashAfterEvents,  Fault::kCheckFails,
                                       Fault::kFlagFails,         Fault::kTrafficFails,
                                       Fault::kEditBeforeStatus,  Fault::kEditAfterStatus};
    const Fault fault = random_.Pick(faults);
    return !may_conflict && fault == Fault::kEditBeforeStatus ? Fault::kNone : fault;
  }

  // One Execute of executor.h. Returns whether the operator asks to be reconciled again at
  // once (a decision fully carried out with requeue_after 0).
  bool Reconcile() {
    constexpr int kMaxAttempts = 4;
    Observation observation = Observe();
    for (int attempt = 1; attempt <= kMaxAttempts && !failed_; ++attempt) {
      const Input& input = observation.input;
      Decision decision = Decide(input);
      ++coverage_.decisions;
      Log("reconcile at " + Clock(now_) + ": " + Show(input.status) + " -> " +
          Show(decision.status) + " " + Events(decision));
      CheckDecision(observation, decision);
      if (failed_) return false;
      const Fault fault = PickFault(attempt < kMaxAttempts);
      log_.back() += std::string(" [") + Name(fault) + "]";
      if (fault == Fault::kCrashBeforeWrites) {
        Crash(Name(fault));
        return false;
      }

      // Steps 1-3. The world may reach this decision's values before its status is
      // persisted: the bound allows them until a status is persisted after all of a
      // decision's writes succeeded.
      const bool writes = decision.flags || decision.traffic;
      if (writes) excess_ = excess_ ? Max(*excess_, Written(decision)) : Written(decision);
      std::optional<WriteStage> failed_stage;
      if (decision.rolls_back || decision.steps_back) {
        failed_stage = WriteIndependently(decision, fault);
        if (fault == Fault::kCrashAfterFlag) return CrashMidway(fault);
      } else if (decision.traffic && fault == Fault::kCheckFails) {
        failed_stage = WriteStage::kTraffic;
      } else {
        if (decision.flags) {
          if (fault == Fault::kFlagFails) {
            failed_stage = WriteStage::kFlag;
          } else {
            WriteFlags(*decision.flags);
          }
        }
        if (fault == Fault::kCrashAfterFlag) return CrashMidway(fault);
        if (decision.traffic && !failed_stage) {
          if (fault == Fault::kTrafficFails) {
            failed_stage = WriteStage::kTraffic;
          } else {
            weight_ = decision.traffic->weight;
          }
        }
      }
      // A decision that holds or moves forward and could not write is decided again
      // knowing it (executor.h): it folds, and may roll back or step back, whose writes
      // are then carried out (each on its own; this time without a fault).
      std::optional<WriteStage> blocked_stage;
      if (failed_stage && !decision.rolls_back && !decision.steps_back) {
        ++coverage_.failed_writes;
        blocked_stage = std::exchange(failed_stage, std::nullopt);
        Input blocked = input;
        blocked.blocked = BlockedWrite{*blocked_stage, WriteError(*blocked_stage)};
        Decision held = Decide(blocked);
        CheckBlocked(observation, decision, held, *blocked.blocked);
        if (failed_) return false;
        if (held.status.analysis.last_evaluated != input.status.analysis.last_evaluated) {
          ++coverage_.blocked_folds;
        }
        decision = std::move(held);
        if (decision.rolls_back || decision.steps_back) {
          excess_ = excess_ ? Max(*excess_, Ceiling(status_)) : Ceiling(status_);
          WriteIndependently(decision, Fault::kNone);
        }
      }
      CheckBound("after the writes");
      if (fault == Fault::kCrashBeforeStatus) return CrashMidway(fault);

      // Step 4.
      api::AgentRolloutStatus status = decision.status;
      std::vector<Event> events = decision.events;
      if (failed_stage) {
        ++coverage_.failed_writes;
        WriteFailure failure =
            FailedWrite(input, decision, *failed_stage, WriteError(*failed_stage));
        CheckFailure(input, decision, failure);
        status = std::move(failure.status);
        events = std::move(failure.events);
      }
      if (fault == Fault::kEditBeforeStatus) {
        ++coverage_.conflicts;
        UserEdit();
        const std::optional<api::Evaluation> evaluation = input.evaluation;
        observation = Observe();
        observation.input.evaluation = evaluation;  // decided again on the same evidence
        observation.input.now = input.now;
        continue;
      }
      if (status != status_) {
        // A failed rollback persists RollingBack before the world is down: until a
        // decision's writes all succeed, the world may stay where the status it started
        // from allowed (a start in the same decision may have moved the index to 0).
        // A rollback or step back persisted before all of its writes landed: the world may
        // stay where the status it started from allowed until a decision's writes all land.
        if (failed_stage) {
          excess_ = excess_ ? Max(*excess_, Ceiling(status_)) : Ceiling(status_);
          reduction_unfinished_ = true;
        }
        Persist(observation, decision, failed_stage || blocked_stage, status);
      }
      if (writes && !failed_stage && !blocked_stage) {
        excess_.reset();
        reduction_unfinished_ = false;
      }
      CheckBound("after the status write");
      if (fault == Fault::kCrashAfterStatus) return CrashMidway(fault);

      // Step 5.
      Announce(observation, events);
      if (fault == Fault::kCrashAfterEvents) return CrashMidway(fault);

      // Step 6.
      bool edited = false;
      if (fault == Fault::kEditAfterStatus) {
        UserEdit();  // the guarded removal conflicts: the annotation stays as edited
        edited = true;
      } else if (!failed_stage && decision.remove_action_annotation) {
        meta_.annotations.erase(api::kActionAnnotation);
        annotation_id_ = 0;
      }
      if (!failed_stage && !blocked_stage && !edited) CheckFixedPoint(input, decision);
      return !failed_stage && !blocked_stage && decision.requeue_after == api::Duration::zero();
    }
    return false;
  }

  static Error WriteError(WriteStage stage) {
    return stage == WriteStage::kFlag ? Unavailable("configmaps \"feature-flags\": etcd timeout")
                                      : Unavailable("httproutes \"voice-agent\": connection reset");
  }

  // A rollback's or step back's writes: each carried out even when the other fails.
  std::optional<WriteStage> WriteIndependently(const Decision& decision, Fault fault) {
    std::optional<WriteStage> failed;
    if (decision.flags) {
      if (fault == Fault::kFlagFails) {
        failed = WriteStage::kFlag;
      } else {
        WriteFlags(*decision.flags);
      }
    }
    if (decision.traffic) {
      if (fault == Fault::kTrafficFails) {
        if (!failed) failed = WriteStage::kTraffic;
      } else {
        weight_ = decision.traffic->weight;
      }
    }
    return failed;
  }

  bool CrashMidway(Fault fault) {
    Crash(Name(fault));
    return false;
  }

  void WriteFlags(const DesiredFlags& desired) {
    for (const flag::FlagState& state : desired.flags) flags_[state.key] = state;
  }

  // ------------------------------------------------------------------ invariants

  // The world never goes above the persisted phase, but for a decision in flight or cut
  // off before its status write -- and that one is at most one phase ahead -- and for a
  // rollback persisted as RollingBack before its writes succeeded.
  void CheckBound(const std::string& when) {
    const Values world = World();
    const Values bound = excess_ ? Max(Ceiling(status_), *excess_) : Ceiling(status_);
    if (!AtMost(world, bound)) {
      return Fail("world bound " + when + ": the world has " + Show(world) + ", the persisted " +
                  Show(status_) + " allows " + Show(Ceiling(status_)) +
                  (excess_ ? " (a cut-off decision " + Show(*excess_) + ")" : ""));
    }
    const std::int32_t index = status_.current_phase ? status_.current_phase->index : -1;
    if (excess_ && !reduction_unfinished_ && !AtMost(*excess_, PhaseValues(index + 1))) {
      return Fail("a cut-off decision wrote " + Show(*excess_) + ", more than one phase ahead of " +
                  Show(status_));
    }
    if (!excess_ && status_.phase == RolloutPhase::kRolledBack) {
      for (const auto& [key, state] : flags_) {
        if (state.enabled || state.percentage != 0) {
          return Fail("RolledBack, but flag " + key + " is on at " +
                      std::to_string(state.percentage) + "%");
        }
      }
      if (weight_ != 0)
        return Fail("RolledBack, but the canary weight is " + std::to_string(weight_));
    }
  }

  // The decisions on this observation had the object been deleted (Input::metadata's
  // deletionTimestamp set) some time ago, in every combination that matters.
  void CheckDeletion(const Input& live) {
    // Derived from the decision count, not drawn: the sequences stay those of the seed.
    const auto since = std::chrono::seconds((coverage_.decisions * 37) % 240);
    for (const bool finalizer : {false, true}) {
      for (const auto policy : {api::DeletePolicy::kKeep, api::DeletePolicy::kRollback}) {
        for (const bool blocked : {false, true}) {
          Input input = live;
          input.spec.on_delete = policy;
          if (finalizer) input.metadata.finalizers = {api::kRollbackOnDeleteFinalizer};
          input.metadata.deletion_timestamp = Floor(input.now) - since;
          if (blocked) input.blocked = BlockedWrite{WriteStage::kFlag, Unavailable("refused")};
          const Decision d = Decide(input);
          const std::string what = std::string("deleted ") + Clock(input.now - since) +
                                   (finalizer ? " under the finalizer" : "") + ", onDelete " +
                                   std::string(api::Name(policy)) + (blocked ? ", blocked" : "");
          api::AgentRolloutStatus status = d.status;
          status.message = input.status.message;
          if (status != input.status) return Fail(what + ": changed the status");
          if (d.analyse || d.remove_action_annotation || d.rolls_back || d.steps_back) {
            return Fail(what + ": acts as a live rollout");
          }
          if (!d.release) return Fail(what + ": no release mode");
          if (d.finalizer == FinalizerChange::kAdd) return Fail(what + ": adds the finalizer");
          const bool takes_down =
              finalizer && policy == api::DeletePolicy::kRollback && !input.spec_error && !blocked;
          if (d.traffic && (!takes_down || d.traffic->weight != 0)) {
            return Fail(what + ": sets the weight to " + std::to_string(d.traffic->weight));
          }
          if (takes_down && input.spec.traffic && !d.traffic) {
            return Fail(what + ": leaves the canary weight");
          }
          if (d.flags && *d.release == ReleaseMode::kWithState) {
            if (!takes_down) return Fail(what + ": writes flag state");
            for (const flag::FlagState& state : d.flags->flags) {
              if (state.enabled || state.percentage != 0) {
                return Fail(what + ": leaves flag " + state.key + " on");
              }
            }
          }
          if (blocked && (d.flags || d.traffic)) return Fail(what + ": writes again at once");
          const bool timed_out = since >= input.rollback_on_delete_timeout;
          const bool holds = finalizer && policy == api::DeletePolicy::kRollback &&
                             !input.spec_error && blocked && !timed_out;
          const FinalizerChange expected = !finalizer ? FinalizerChange::kNone
                                           : holds    ? FinalizerChange::kNone
                                                      : FinalizerChange::kRemove;
          if (d.finalizer != expected) return Fail(what + ": wrong finalizer change");
          const Decision again = Decide(input);
          if (again.status != d.status || again.flags != d.flags || again.traffic != d.traffic ||
              again.finalizer != d.finalizer || again.release != d.release ||
              again.events != d.events) {
            return Fail(what + ": Decide is not deterministic");
          }
        }
      }
    }
  }

  // Properties of every decision, applied or not.
  void CheckDecision(const Observation& observation, const Decision& decision) {
    const Input& input = observation.input;
    const api::AgentRolloutStatus& before = input.status;
    const api::AgentRolloutStatus& after = decision.status;

    // Pure: the same input, the same decision.
    const Decision again = Decide(input);
    if (again.status != decision.status || again.events != decision.events ||
        again.flags != decision.flags || again.traffic != decision.traffic ||
        again.rolls_back != decision.rolls_back ||
        again.remove_action_annotation != decision.remove_action_annotation ||
        again.analyse != decision.analyse || again.requeue_after != decision.requeue_after) {
      return Fail("Decide is not deterministic");
    }

    CheckDeletion(input);
    if (failed_) return;
    CheckStatus(after, "decided");
    if (failed_) return;
    if (after.observed_generation != input.metadata.generation) {
      return Fail("observedGeneration " + std::to_string(after.observed_generation));
    }
    if (decision.rolls_back && after.phase != RolloutPhase::kRolledBack) {
      return Fail("rolls_back but the status is " + Show(after));
    }
    if (after.phase == RolloutPhase::kNone || after.phase == RolloutPhase::kPending ||
        after.phase == RolloutPhase::kRollingBack) {
      return Fail("Decide left the status " + Show(after));
    }

    // Failed writes nothing; otherwise the writes are exactly what the status names.
    if (after.phase == RolloutPhase::kFailed) {
      if (decision.flags || decision.traffic) return Fail("Failed but writes");
      if (!input.spec_error && api::ValidateSpec(input.spec).ok()) {
        return Fail("Failed with a valid spec");
      }
      if (decision.analyse) return Fail("Failed but analyses");
      return CheckActionsOnce(observation, decision);
    }
    if (input.spec_error) return Fail("an undecodable spec did not fail");
    if (!after.current_phase) return Fail("no current phase in " + Show(after));
    if (after.revision != spec_.revision) return Fail("status.revision " + after.revision);
    const api::CurrentPhaseStatus& current = *after.current_phase;
    const bool off = after.phase == RolloutPhase::kRolledBack;
    const Values expected = off ? Values{} : PhaseValues(current.index);
    if (!off && (current.flag_percent !=
                     spec_.phases[static_cast<std::size_t>(current.index)].flag_percent ||
                 current.traffic_weight !=
                     spec_.phases[static_cast<std::size_t>(current.index)].traffic_weight)) {
      return Fail("currentPhase percentages differ from phase " + std::to_string(current.index));
    }
    if (off && (current.flag_percent != 0 || current.traffic_weight != 0)) {
      return Fail("RolledBack but currentPhase shows " + std::to_string(current.flag_percent) +
                  "% / " + std::to_string(current.traffic_weight));
    }
    if (spec_.flag.has_value() != decision.flags.has_value() ||
        spec_.traffic.has_value() != decision.traffic.has_value()) {
      return Fail("the writes do not match the spec's flag/traffic");
    }
    if (Written(decision) != expected) {
      return Fail("writes " + Show(Written(decision)) + " but " + Show(after) + " means " +
                  Show(expected));
    }
    if (decision.flags) {
      for (const flag::FlagState& state : decision.flags->flags) {
        if (off && (state.enabled || state.percentage != 0)) {
          return Fail("RolledBack leaves flag " + state.key + " on");
        }
        if (!off && state.key == spec_.flag->key && !state.enabled) {
          return Fail("the rollout's flag is disabled in " + Show(after));
        }
      }
    }

    // Phase moves: one per decision.
    const bool restart = HasEvent(decision, "PhaseStarted");
    const std::int32_t from = before.current_phase ? before.current_phase->index : -1;
    if (restart) {
      if (current.index != 0)
        return Fail("a start lands in phase " + std::to_string(current.index));
    } else if (from < 0) {
      return Fail("a first phase without a PhaseStarted event");
    } else if (current.index == from - 1) {
      if (spec_.rollback_mode != api::RollbackMode::kStepBack ||
          after.pause_reason != kSteppedBack || after.phase != RolloutPhase::kPaused) {
        return Fail("moved back a phase without a step back: " + Show(after));
      }
    } else if (current.index != from && current.index != from + 1) {
      return Fail("moved from phase " + std::to_string(from) + " to " +
                  std::to_string(current.index));
    }
    if (after.phase == RolloutPhase::kSucceeded &&
        current.index + 1 != static_cast<std::int32_t>(spec_.phases.size())) {
      return Fail("Succeeded before the last phase");
    }
    const bool advanced = !restart && current.index == from + 1;
    const bool succeeded = after.phase == RolloutPhase::kSucceeded &&
                           before.phase != RolloutPhase::kSucceeded &&
                           before.interrupted_phase != RolloutPhase::kSucceeded;
    if (advanced || succeeded) CheckLeave(input, decision);
    if (failed_) return;

    // RolledBack is terminal until retry or a new revision; nothing else starts over.
    const std::string consumed = Consumed(input);
    // A persisted RollingBack is finished by the next decision, evaluation or not.
    if (before.phase == RolloutPhase::kRollingBack && !restart && !decision.rolls_back) {
      return Fail("RollingBack not finished: " + Show(after));
    }
    if (IsTerminal(before) && !IsTerminal(after) && !restart) {
      return Fail("left RolledBack without retry or a new revision: " + Show(after));
    }
    const bool first_start = !before.current_phase || before.phase == RolloutPhase::kNone ||
                             before.phase == RolloutPhase::kPending;
    if (restart && !first_start && before.revision == spec_.revision &&
        !(IsTerminal(before) && consumed == "retry")) {
      return Fail("started over from " + Show(before) + " without retry or a new revision");
    }

    // Effects only from a consumed action.
    const bool same_phase = !restart && current.index == from;
    if (current.promoted && !(same_phase && before.current_phase->promoted) &&
        consumed != "promote") {
      return Fail("promoted without a promote action");
    }
    if (after.pause_reason == kPauseAction && before.pause_reason != kPauseAction &&
        consumed != "pause") {
      return Fail("paused without a pause action");
    }
    if (!before.pause_reason.empty() && after.pause_reason.empty() && IsLive(after.phase) &&
        !restart && consumed != "resume" && consumed != "promote") {
      return Fail("un-paused (" + before.pause_reason + ") without resume or promote");
    }
    // An action's report says what happened -- unless the analysis rolled the rollout
    // back right after it in the same decision (the action was taken first).
    if (!HasEvent(decision, "RollingBack")) {
      if (HasEvent(decision, "Resumed") &&
          (before.pause_reason.empty() || !after.pause_reason.empty())) {
        return Fail("Resumed, but " + Show(before) + " -> " + Show(after));
      }
      if (HasEvent(decision, "Paused") && after.pause_reason != kPauseAction) {
        return Fail("Paused, but " + Show(after));
      }
      if (HasEvent(decision, "Promoted") && !current.promoted && !advanced && !succeeded) {
        return Fail("Promoted, but neither granted nor advanced: " + Show(after));
      }
    }
    if (after.rollback && after.rollback->reason == kAbortReason &&
        (!before.rollback || *before.rollback != *after.rollback) && consumed != "abort") {
      return Fail("an abort rollback without an abort action");
    }

    // Analysis: a new evaluation of a live phase is folded; a folded one never again.
    const bool was_live = IsLive(before.phase) || (before.phase == RolloutPhase::kFailed &&
                                                   IsLive(before.interrupted_phase));
    if (input.evaluation && !restart && before.current_phase) {
      const api::Timestamp at = Floor(input.evaluation->at);
      const auto& folded = before.analysis.last_evaluated;
      const bool is_new = !folded || at > *folded;
      const bool in_phase = at > before.current_phase->started_at;
      if (is_new && in_phase && was_live && consumed != "abort" &&
          !spec_.analysis.metrics.empty() && after.analysis.last_evaluated != at) {
        if (!ValuesWait(input, decision)) {
          return Fail("a new evaluation of " + Clock(at) + " was not folded");
        }
        ++coverage_.waiting_values;
      }
      if (!is_new && (after.analysis.last_evaluated != folded ||
                      after.analysis.consecutive_no_go > before.analysis.consecutive_no_go ||
                      after.analysis.consecutive_errors > before.analysis.consecutive_errors)) {
        return Fail("an evaluation of " + Clock(at) + " was folded again");
      }
    }
    if (IsLive(after.phase)) {
      if (after.analysis.consecutive_no_go > spec_.analysis.failure_limit ||
          after.analysis.consecutive_errors > spec_.analysis.error_limit) {
        return Fail("live past failureLimit/errorLimit: " +
                    std::to_string(after.analysis.consecutive_no_go) + " NoGo, " +
                    std::to_string(after.analysis.consecutive_errors) + " errors");
      }
      if (after.verdict != Verdict::kNone &&
          (!after.analysis.last_evaluated ||
           *after.analysis.last_evaluated <= current.started_at)) {
        return Fail("verdict " + std::string(api::Name(after.verdict)) +
                    " not from an evaluation made in this phase");
      }
      const bool held = spec_.paused || !after.pause_reason.empty();
      if (held != (after.phase == RolloutPhase::kPaused)) {
        return Fail("Paused is not the same as held: " + Show(after));
      }
    }
    if (decision.analyse != (IsLive(after.phase) && !spec_.analysis.metrics.empty())) {
      return Fail("analyse is " + std::string(decision.analyse ? "true" : "false") + " while " +
                  Show(after));
    }
    if (after.phase == RolloutPhase::kProgressing && !decision.requeue_after) {
      return Fail("Progressing without a requeue");
    }
    CheckActionsOnce(observation, decision);
  }

  // The evaluation's values were left unwritten (status_refresh.h): only when the status is
  // left exactly as persisted, nothing is said, the evaluation repeats the persisted
  // verdict without moving a counter, and the persisted values are younger than the
  // refresh interval -- so a restart folding it again (or deciding without it) decides
  // as the operator that held it would have.
  bool ValuesWait(const Input& input, const Decision& decision) const {
    const api::AgentRolloutStatus& before = input.status;
    const api::Evaluation& evaluation = *input.evaluation;
    const auto& folded = before.analysis.last_evaluated;
    return refresh_.every > api::Duration::zero() && decision.status == before &&
           decision.events.empty() && evaluation.verdict == before.verdict &&
           (evaluation.verdict == Verdict::kGo || evaluation.verdict == Verdict::kHold) &&
           before.analysis.consecutive_no_go == 0 && before.analysis.consecutive_errors == 0 &&
           folded && Floor(evaluation.at) - *folded < refresh_.every;
  }

  // Leaving a phase (advance or success): baked or promoted, approved when asked, not
  // held, and the latest folded evaluation Go and made in the phase left.
  void CheckLeave(const Input& input, const Decision& decision) {
    const api::AgentRolloutStatus& before = input.status;
    const api::CurrentPhaseStatus& left = *before.current_phase;
    const api::PhaseSpec& phase = spec_.phases[static_cast<std::size_t>(left.index)];
    const bool promoted = left.promoted || HasEvent(decision, "Promoted");
    const std::string what = "left phase " + std::to_string(left.index) + " ";
    if (spec_.paused) return Fail(what + "while spec.paused");
    if (!before.pause_reason.empty() && !HasEvent(decision, "Resumed") && !promoted) {
      return Fail(what + "while paused (" + before.pause_reason + ")");
    }
    if (Floor(input.now) - left.started_at < phase.duration && !promoted) {
      return Fail(what + "before its bake time");
    }
    if (phase.approval && !promoted) return Fail(what + "without approval");
    if (spec_.analysis.metrics.empty()) return;
    const auto& evidence = decision.status.analysis.last_evaluated;
    if (!evidence || *evidence <= left.started_at) {
      return Fail(what + "without an evaluation made in it");
    }
    const auto verdict = verdicts_.find(*evidence);
    if (verdict == verdicts_.end() || verdict->second != Verdict::kGo) {
      return Fail(what + "on a latest verdict that is not Go");
    }
  }

  // The action the decision consumes: the annotation's value when it is not the one
  // already handled.
  static std::string Consumed(const Input& input) {
    const auto it = input.metadata.annotations.find(api::kActionAnnotation);
    if (it == input.metadata.annotations.end() || it->second == input.status.handled_action) {
      return "<none>";
    }
    return it->second;
  }

  void CheckActionsOnce(const Observation& observation, const Decision& decision) {
    const std::string consumed = Consumed(observation.input);
    int reports = 0;
    for (const Event& event : decision.events) {
      if (event.reason == "Promoted" || event.reason == "Paused" || event.reason == "Resumed" ||
          event.reason == "InvalidAction") {
        ++reports;
      }
    }
    if (reports > 1)
      return Fail("one decision reports an action " + std::to_string(reports) + " times");
    if (reports == 1 && consumed == "<none>") return Fail("an action event without a new action");
  }

  // Status bookkeeping, for every status the operator writes.
  void CheckStatus(const api::AgentRolloutStatus& status, const std::string& what) {
    if (status.history.size() > api::kMaxHistory) {
      return Fail(what + ": history has " + std::to_string(status.history.size()) + " entries");
    }
    for (std::size_t i = 1; i < status.history.size(); ++i) {
      if (status.history[i].at < status.history[i - 1].at)
        return Fail(what + ": history not newest last");
    }
    const RolloutPhase phase = status.phase;
    const auto expect = [&](const char* type, bool value) {
      const api::Condition* condition = FindCondition(status, type);
      if (condition == nullptr) return Fail(what + ": no " + type + " condition");
      const api::ConditionStatus want =
          value ? api::ConditionStatus::kTrue : api::ConditionStatus::kFalse;
      if (condition->status != want) {
        return Fail(what + ": " + type + " is " + std::string(api::Name(condition->status)) +
                    " while " + Show(status));
      }
      if (condition->observed_generation != status.observed_generation) {
        return Fail(what + ": " + type + " has an old observedGeneration");
      }
    };
    expect(kReady, phase == RolloutPhase::kSucceeded);
    expect(kReconciling, phase == RolloutPhase::kPending || phase == RolloutPhase::kProgressing ||
                             phase == RolloutPhase::kPaused ||
                             phase == RolloutPhase::kAwaitingApproval ||
                             phase == RolloutPhase::kRollingBack);
    expect(kStalled, phase == RolloutPhase::kRolledBack || phase == RolloutPhase::kFailed);
    expect(kHealthy, status.verdict != Verdict::kNoGo && status.verdict != Verdict::kError);
    if (failed_) return;
    const api::Condition* ready = FindCondition(status, kReady);
    if (phase == RolloutPhase::kSucceeded && ready->reason != "Succeeded") {
      return Fail(what + ": Ready is True with reason " + ready->reason);
    }
    if (ready->message != status.message)
      return Fail(what + ": Ready's message is not the status message");
    if (status.message.empty()) return Fail(what + ": no message");
  }

  // FailedWrite (of a rollback or step back only): a rollback is persisted as
  // RollingBack, a step back as decided.
  void CheckFailure(const Input& input, const Decision& decision, const WriteFailure& failure) {
    const api::AgentRolloutStatus& status = failure.status;
    CheckStatus(status, "FailedWrite");
    if (failed_) return;
    if (!decision.rolls_back && !decision.steps_back) {
      return Fail("FailedWrite of a decision that takes nothing away: " + Show(input.status));
    }
    if (decision.rolls_back && (status.phase != RolloutPhase::kRollingBack ||
                                status.rollback != decision.status.rollback ||
                                status.current_phase != decision.status.current_phase)) {
      return Fail("a failed rollback is not persisted as RollingBack: " + Show(status));
    }
    if (decision.steps_back && (status.phase != decision.status.phase ||
                                status.current_phase != decision.status.current_phase ||
                                status.analysis != decision.status.analysis)) {
      return Fail("a failed step back is not persisted as decided: " + Show(status));
    }
  }

  // The decision made again after `decision`'s writes failed (Input::blocked): it moves
  // nowhere forward and writes only what takes exposure away; what it folds or rolls back
  // follows the same rules as any decision (CheckDecision).
  void CheckBlocked(const Observation& observation, const Decision& decision, const Decision& held,
                    const BlockedWrite& why) {
    const api::AgentRolloutStatus& before = observation.input.status;
    const api::AgentRolloutStatus& after = held.status;
    CheckStatus(after, "blocked");
    if (failed_) return;
    if (held.rolls_back || held.steps_back) {
      Observation blocked = observation;
      blocked.input.blocked = why;
      return CheckDecision(blocked, held);
    }
    if (held.flags || held.traffic) return Fail("a blocked decision writes: " + Show(after));
    if (HasEvent(held, "PhaseStarted") || HasEvent(held, "PhaseAdvanced") ||
        HasEvent(held, "Succeeded")) {
      return Fail("a blocked decision moved on: " + Show(after));
    }
    if (before.current_phase && after.current_phase &&
        after.current_phase->index != before.current_phase->index) {
      return Fail("a blocked decision changed the phase: " + Show(after));
    }
    if (!before.current_phase && after.phase != RolloutPhase::kPending &&
        after.phase != RolloutPhase::kFailed) {
      return Fail("a blocked start is " + Show(after));
    }
    // What it folds, it folds as the unblocked decision would have -- though one may write
    // the evaluation's values where the other lets them wait (status_refresh.h): the
    // blocked one says in its message why it holds.
    const auto& folded = after.analysis.last_evaluated;
    const auto& unblocked = decision.status.analysis.last_evaluated;
    const auto& persisted = observation.input.status.analysis;
    const bool one_waited =
        refresh_.every > api::Duration::zero() &&
        (folded == persisted.last_evaluated || unblocked == persisted.last_evaluated) &&
        after.analysis.consecutive_no_go == persisted.consecutive_no_go &&
        after.analysis.consecutive_errors == persisted.consecutive_errors;
    if (IsLive(after.phase) && IsLive(decision.status.phase) &&
        !HasEvent(decision, "PhaseStarted") && folded != unblocked && !one_waited) {
      return Fail("a blocked decision folded differently: " + Show(after));
    }
  }

  // A status is persisted: transitions judged across decisions.
  void Persist(const Observation& observation, const Decision& decision, bool failed_write,
               const api::AgentRolloutStatus& status) {
    const api::AgentRolloutStatus& before = status_;
    // One evaluation justifies at most one advance.
    const bool restart = HasEvent(decision, "PhaseStarted");
    if (!failed_write && !restart && before.current_phase && status.current_phase &&
        !spec_.analysis.metrics.empty() &&
        (status.current_phase->index == before.current_phase->index + 1 ||
         (status.phase == RolloutPhase::kSucceeded && before.phase != RolloutPhase::kSucceeded &&
          before.interrupted_phase != RolloutPhase::kSucceeded))) {
      const api::Timestamp evidence = status.analysis.last_evaluated.value_or(api::Timestamp{});
      if (!evidence_.insert(evidence).second) {
        return Fail("the evaluation of " + Clock(evidence) + " justified a second advance");
      }
    }
    // An annotation instance is consumed by one persisted status at most.
    const std::string consumed = Consumed(observation.input);
    if (consumed != "<none>" && status.handled_action == consumed &&
        before.handled_action != consumed) {
      if (++consumptions_[observation.annotation_id] > 1) {
        return Fail("action #" + std::to_string(observation.annotation_id) + " consumed twice");
      }
    }
    if (status.history.size() == api::kMaxHistory && before.history.size() == api::kMaxHistory &&
        status.history != before.history) {
      ++coverage_.full_histories;  // a full history took one more entry
    }
    Count(before, decision, failed_write, status);
    status_ = status;
  }

  void Announce(const Observation& observation, const std::vector<Event>& events) {
    for (const Event& event : events) {
      const bool reports_action = event.reason == "Promoted" || event.reason == "Paused" ||
                                  event.reason == "Resumed" || event.reason == "InvalidAction";
      if (reports_action && observation.annotation_id != 0 &&
          ++reports_[observation.annotation_id] > 1) {
        return Fail("action #" + std::to_string(observation.annotation_id) + " reported twice");
      }
    }
  }

  // Decided again with nothing new (the annotation as the executor left it, the same
  // evaluation and time): the same status, the same writes, nothing to say.
  void CheckFixedPoint(const Input& input, const Decision& decision) {
    if (decision.requeue_after == api::Duration::zero()) return;  // not settled yet
    Input settled = input;
    settled.metadata = meta_;
    settled.status = status_;
    // An evaluation whose values wait (status_refresh.h) is news any other write carries
    // along; the operator lets go of it once decided (reconciler.h).
    const auto& folded = status_.analysis.last_evaluated;
    if (refresh_.every > api::Duration::zero() && settled.evaluation && folded &&
        Floor(settled.evaluation->at) > *folded && decision.status == status_) {
      settled.evaluation.reset();
    }
    const Decision again = Decide(settled);
    api::AgentRolloutStatus expected = status_;
    if (!meta_.annotations.count(api::kActionAnnotation)) expected.handled_action.clear();
    if (again.status != expected || !again.events.empty() || again.flags != decision.flags ||
        again.traffic != decision.traffic) {
      return Fail("not a fixed point: " + Show(status_) + " decided again gives " +
                  Show(again.status) + " " + Events(again));
    }
    ++coverage_.fixed_points;
  }

  void Count(const api::AgentRolloutStatus& before, const Decision& decision, bool failed_write,
             const api::AgentRolloutStatus& after) {
    if (failed_write) {
      if (after.phase == RolloutPhase::kRollingBack) ++coverage_.rolling_back_persisted;
      return;
    }
    for (const Event& event : decision.events) {
      if (event.reason == "PhaseAdvanced") ++coverage_.advances;
      if (event.reason == "Succeeded") ++coverage_.successes;
      if (event.reason == "RolledBack") ++coverage_.total_rollbacks;
      if (event.reason == "PhaseStarted" && before.current_phase) ++coverage_.restarts;
      if (event.reason == "AwaitingApproval") ++coverage_.awaiting_approval;
      if (event.reason == "Promoted") ++coverage_.promotes;
      if (event.reason == "InvalidAction") ++coverage_.invalid_actions;
      if (event.reason == "InvalidSpec") ++coverage_.failed_specs;
    }
    if (after.pause_reason == kSteppedBack && before.pause_reason != kSteppedBack) {
      ++coverage_.step_backs;
    }
  }

  // ------------------------------------------------------------------ reporting

  static std::string Events(const Decision& decision) {
    std::string text = "{";
    for (const Event& event : decision.events) {
      if (text.size() > 1) text += ", ";
      text += event.reason;
    }
    return text + "}";
  }

  static std::string Clock(api::Timestamp time) {
    const auto offset = std::chrono::duration_cast<milliseconds>(time - At());
    return "t+" + api::FormatDuration(offset);
  }

  void Log(std::string line) { log_.push_back(std::move(line)); }

  void Fail(const std::string& message) {
    if (failed_) return;
    failed_ = true;
    std::ostringstream out;
    out << "seed " << seed_ << ", step " << step_ << ": " << message
        << "\nreproduce: AGENTROLLOUT_RANDOM_SEED=" << seed_
        << " AGENTROLLOUT_RANDOM_ITERATIONS=1 controllers_state_machine_random_test\n"
        << "persisted: " << Show(status_) << ", message: " << status_.message << "\nsequence:\n";
    const std::size_t first = log_.size() > 80 ? log_.size() - 80 : 0;
    for (std::size_t i = first; i < log_.size(); ++i) out << "  " << log_[i] << "\n";
    ADD_FAILURE() << out.str();
  }

  const std::uint64_t seed_;
  Random random_;
  Coverage& coverage_;
  int step_ = 0;
  bool failed_ = false;
  std::vector<std::string> log_;

  // The cluster.
  api::ObjectMeta meta_;
  api::AgentRolloutSpec spec_;
  std::optional<Error> spec_error_;
  bool reduction_unfinished_ = false;  // see Persist's caller: a reduction's writes failed
  api::AgentRolloutStatus status_;
  std::map<std::string, flag::FlagState> flags_;
  int weight_ = 0;
  int annotation_id_ = 0;  // which user edit set the annotation (0: none)
  int annotations_ = 0;
  int revisions_ = 0;
  // Percent of evaluations that are not Go or Hold: healthy, flaky or failing canaries.
  std::size_t bad_ = 0;
  StatusRefresh refresh_;

  // The operator's memory, lost in a crash; the clock; the scheduler.
  std::optional<api::Evaluation> evaluation_;
  api::Timestamp now_;
  std::optional<api::Timestamp> last_evaluation_;
  std::map<api::Timestamp, Verdict> verdicts_;  // every evaluation made, by whole second

  // What the invariants remember.
  std::optional<Values> excess_;       // writes of decisions whose status is not persisted
  std::set<api::Timestamp> evidence_;  // evaluations that justified an advance
  std::map<int, int> consumptions_;    // annotation instance -> persisted consumptions
  std::map<int, int> reports_;         // annotation instance -> action events
};

TEST(StateMachineRandomTest, InvariantsHoldOverRandomSequences) {
  const std::uint64_t seed = EnvNumber("AGENTROLLOUT_RANDOM_SEED", kDefaultSeed);
  const auto iterations =
      static_cast<int>(EnvNumber("AGENTROLLOUT_RANDOM_ITERATIONS", kDefaultIterations));
  Coverage coverage;
  int run = 0;
  for (; run < iterations && !::testing::Test::HasFailure(); ++run) {
    const std::uint64_t sequence_seed = seed + static_cast<std::uint64_t>(run);
    Simulation simulation(sequence_seed, coverage);
    // One sequence in 25 runs long enough to fill the history (20 entries) and trim it; a
    // short run (500 sequences under the sanitizers) reached none without them.
    simulation.Run(run % 25 == 24 ? 400 : 20 + static_cast<int>(sequence_seed % 131));
  }
  std::cout << run << " sequences from seed " << seed << ": " << coverage.decisions
            << " decisions, " << coverage.advances << " advances, " << coverage.successes
            << " successes, " << coverage.total_rollbacks << " total rollbacks, "
            << coverage.step_backs << " step backs, " << coverage.restarts << " restarts, "
            << coverage.awaiting_approval << " approvals awaited, " << coverage.promotes
            << " promotes, " << coverage.invalid_actions << " invalid actions, "
            << coverage.failed_specs << " invalid specs, " << coverage.crashes << " crashes, "
            << coverage.failed_writes << " failed writes (" << coverage.rolling_back_persisted
            << " RollingBack, " << coverage.blocked_folds << " evaluations folded all the same), "
            << coverage.conflicts << " conflicts, " << coverage.waiting_values
            << " evaluations whose values waited, " << coverage.fixed_points
            << " fixed points checked, " << coverage.full_histories << " full histories\n";
  if (::testing::Test::HasFailure() || iterations < 500) return;
  // A generator that stops reaching these makes the invariants above vacuous.
  EXPECT_GT(coverage.advances, 0);
  EXPECT_GT(coverage.successes, 0);
  EXPECT_GT(coverage.total_rollbacks, 0);
  EXPECT_GT(coverage.step_backs, 0);
  EXPECT_GT(coverage.restarts, 0);
  EXPECT_GT(coverage.awaiting_approval, 0);
  EXPECT_GT(coverage.promotes, 0);
  EXPECT_GT(coverage.invalid_actions, 0);
  EXPECT_GT(coverage.failed_specs, 0);
  EXPECT_GT(coverage.crashes, 0);
  EXPECT_GT(coverage.rolling_back_persisted, 0);
  EXPECT_GT(coverage.blocked_folds, 0);
  EXPECT_GT(coverage.waiting_values, 0);
  EXPECT_GT(coverage.conflicts, 0);
  EXPECT_GT(coverage.fixed_points, 0);
  EXPECT_GT(coverage.full_histories, 0);
}

}  // namespace
}  // namespace agentrollout::controllers
