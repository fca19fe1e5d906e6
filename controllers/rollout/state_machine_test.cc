#include "controllers/rollout/state_machine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <string>

#include "api/names.h"
#include "api/threshold.h"
#include "controllers/rollout/conditions.h"
#include "controllers/rollout/test_support.h"

namespace agentrollout::controllers {
namespace {

using api::RolloutPhase;
using api::Verdict;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using namespace fixtures;  // NOLINT: the builders of test_support.h

// One AgentRollout as the apiserver holds it: each Step decides, then persists the
// decision's status and annotation removal, as a successful executor would.
class Rollout {
 public:
  explicit Rollout(api::AgentRolloutSpec spec = VoiceSpec()) {
    input_.metadata = VoiceMeta();
    input_.spec = std::move(spec);
  }

  Decision Step(api::Timestamp now, std::optional<api::Evaluation> evaluation = std::nullopt) {
    input_.now = now;
    input_.evaluation = std::move(evaluation);
    Decision decision = Decide(input_);
    input_.status = decision.status;
    if (decision.remove_action_annotation) {
      input_.metadata.annotations.erase(api::kActionAnnotation);
    }
    return decision;
  }

  void SetAction(const std::string& action) {
    input_.metadata.annotations[api::kActionAnnotation] = action;
  }
  void EditSpec(const std::function<void(api::AgentRolloutSpec&)>& edit) {
    edit(input_.spec);
    ++input_.metadata.generation;
  }

  // Drives a fresh rollout to phase `index` (Progressing, no evaluation there yet) with
  // a Go after each bake and a promote where a phase needs approval; returns the time it
  // entered that phase. Bounded: one round per phase, a failure (never a hang) when a
  // round does not advance.
  api::Timestamp DriveTo(int index) {
    api::Timestamp now = At();
    Step(now);
    for (int from = 0; from < index; ++from) {
      const api::PhaseSpec& phase = input_.spec.phases[static_cast<std::size_t>(from)];
      const api::Timestamp go_at = now + seconds(30);
      Step(go_at, Go(go_at));
      now = std::max(now + phase.duration, go_at + seconds(1));
      if (phase.approval) {
        Step(now);
        SetAction("promote");
      }
      Step(now);
      if (phase.approval) Step(now);  // the reconcile that sees the annotation removed
      if (status().phase != RolloutPhase::kProgressing ||
          status().current_phase->index != from + 1) {
        ADD_FAILURE() << "DriveTo(" << index << "): stuck in phase "
                      << status().current_phase->index << " (" << api::Name(status().phase)
                      << "): " << status().message;
        break;
      }
    }
    return now;
  }

  const api::AgentRolloutStatus& status() const { return input_.status; }
  Input& input() { return input_; }

 private:
  Input input_;
};

std::vector<std::string> Reasons(const Decision& decision) {
  std::vector<std::string> reasons;
  for (const Event& event : decision.events) reasons.push_back(event.reason);
  return reasons;
}

const flag::FlagState& Flag(const Decision& decision, const std::string& key) {
  for (const flag::FlagState& state : decision.flags->flags) {
    if (state.key == key) return state;
  }
  ADD_FAILURE() << "no flag " << key;
  static const flag::FlagState none;
  return none;
}

api::ConditionStatus ConditionOf(const api::AgentRolloutStatus& status, const char* type) {
  const api::Condition* condition = FindCondition(status, type);
  return condition ? condition->status : api::ConditionStatus::kUnknown;
}

// ------------------------------------------------------------------ start

TEST(StateMachineTest, NewObjectStartsAtPhaseZero) {
  Rollout rollout;
  const Decision d = rollout.Step(At(seconds(42)) + std::chrono::milliseconds(700));
  const api::AgentRolloutStatus& s = d.status;
  EXPECT_EQ(s.phase, RolloutPhase::kProgressing);
  EXPECT_EQ(s.revision, "2.0.0");
  EXPECT_EQ(s.observed_generation, 1);
  ASSERT_TRUE(s.current_phase);
  EXPECT_EQ(*s.current_phase, (api::CurrentPhaseStatus{0, "canary", At(seconds(42)), 5, 5, false}))
      << "startedAt is whole seconds, as metav1.Time keeps it";
  EXPECT_EQ(s.verdict, Verdict::kNone);

  ASSERT_TRUE(d.flags);
  EXPECT_EQ(d.flags->namespace_, "voice");
  EXPECT_EQ(d.flags->rollout, "voice/voice-agent-v2");
  EXPECT_EQ(d.flags->phase, "canary");
  ASSERT_TRUE(d.flags->config_map);
  EXPECT_EQ(d.flags->config_map->name, "feature-flags");
  EXPECT_EQ(d.flags->config_map->key, "flags.json");
  EXPECT_EQ(d.flags->flags, (std::vector<flag::FlagState>{
                                {"voice_agent_v2", true, 5, {"t-internal-1"}, {"t-vip-bank"}}}));
  ASSERT_TRUE(d.traffic);
  EXPECT_EQ(d.traffic->weight, 5);
  EXPECT_EQ(d.traffic->namespace_, "voice");
  EXPECT_TRUE(d.traffic->router.gateway_api);

  EXPECT_THAT(Reasons(d), ElementsAre("PhaseStarted"));
  EXPECT_THAT(d.events[0].message, HasSubstr("started revision \"2.0.0\" at phase canary"));
  ASSERT_EQ(s.history.size(), 1u);
  EXPECT_EQ(s.history[0], (api::HistoryEntry{At(seconds(42)), "", "canary", "PhaseStarted"}));
  EXPECT_EQ(s.message,
            "waiting for the first analysis in canary; bake ends at 2026-11-22T14:00:42Z");
  EXPECT_TRUE(d.analyse);
  EXPECT_EQ(d.requeue_after, std::optional<api::Duration>(hours(4)));
  EXPECT_FALSE(d.rolls_back);
  EXPECT_FALSE(d.remove_action_annotation);
}

TEST(StateMachineTest, ConditionsWhileProgressing) {
  Rollout rollout;
  const api::AgentRolloutStatus s = rollout.Step(At()).status;
  ASSERT_EQ(s.conditions.size(), 4u);
  EXPECT_EQ(s.conditions[0].type, "Ready");
  EXPECT_EQ(s.conditions[0].status, api::ConditionStatus::kFalse);
  EXPECT_EQ(s.conditions[0].reason, "Progressing");
  EXPECT_EQ(s.conditions[0].message, s.message);
  EXPECT_EQ(s.conditions[0].observed_generation, 1);
  EXPECT_EQ(s.conditions[0].last_transition_time, At());
  EXPECT_EQ(s.conditions[1].type, "Reconciling");
  EXPECT_EQ(s.conditions[1].status, api::ConditionStatus::kTrue);
  EXPECT_EQ(s.conditions[2].type, "Stalled");
  EXPECT_EQ(s.conditions[2].status, api::ConditionStatus::kFalse);
  EXPECT_EQ(s.conditions[3].type, "Healthy");
  EXPECT_EQ(s.conditions[3].status, api::ConditionStatus::kTrue);
  EXPECT_EQ(s.conditions[3].reason, "NotYetAnalysed");
}

TEST(StateMachineTest, RevisionChangeRestartsAtPhaseZero) {
  Rollout rollout;
  const api::Timestamp entered = rollout.DriveTo(2);
  rollout.EditSpec([](api::AgentRolloutSpec& spec) { spec.revision = "2.0.1"; });
  const Decision d = rollout.Step(entered + hours(1));
  EXPECT_EQ(d.status.revision, "2.0.1");
  EXPECT_EQ(d.status.current_phase->index, 0);
  EXPECT_EQ(d.status.current_phase->started_at, entered + hours(1));
  EXPECT_EQ(d.status.observed_generation, 2);
  EXPECT_EQ(d.traffic->weight, 5);
  EXPECT_EQ(Flag(d, "voice_agent_v2").percentage, 5);
  EXPECT_THAT(d.events[0].message, HasSubstr("revision changed from \"2.0.0\" to \"2.0.1\""));
  EXPECT_EQ(d.status.history.back(),
            (api::HistoryEntry{entered + hours(1), "expansion", "canary", "PhaseStarted"}));
}

// ------------------------------------------------------------------ bake and analysis

TEST(StateMachineTest, GoBeforeTheBakeEndsDoesNotAdvance) {
  Rollout rollout;
  rollout.Step(At());
  const Decision d = rollout.Step(At(hours(1)), Go(At(hours(1))));
  EXPECT_EQ(d.status.phase, RolloutPhase::kProgressing);
  EXPECT_EQ(d.status.current_phase->index, 0);
  EXPECT_EQ(d.status.verdict, Verdict::kGo);
  EXPECT_EQ(d.status.message, "analysis is Go in canary; bake ends at 2026-11-22T14:00:00Z");
  EXPECT_EQ(d.requeue_after, std::optional<api::Duration>(hours(3)));
  EXPECT_EQ(d.traffic->weight, 5);
}

TEST(StateMachineTest, TheBakeMessageNamesItsEndSoItNeedsNoRewriting) {
  Rollout rollout;
  const api::AgentRolloutStatus started = rollout.Step(At()).status;
  // A countdown would make every reconcile (a watch event of the operator's own write, a
  // resync) a status write, or leave an untrue one standing: the end time needs neither.
  EXPECT_EQ(rollout.Step(At(seconds(17))).status, started);
  EXPECT_EQ(rollout.Step(At(hours(3) + minutes(59))).status, started);
  EXPECT_EQ(started.message,
            "waiting for the first analysis in canary; bake ends at 2026-11-22T14:00:00Z");
  EXPECT_EQ(rollout.Step(At(hours(4))).status.message,
            "waiting for the first analysis in canary; bake time done");
}

TEST(StateMachineTest, AdvancesWhenBakedAndTheLatestVerdictIsGo) {
  Rollout rollout;
  rollout.Step(At());
  rollout.Step(At(hours(3)), Go(At(hours(3))));
  const Decision d = rollout.Step(At(hours(4)));
  EXPECT_EQ(d.status.phase, RolloutPhase::kProgressing);
  EXPECT_EQ(*d.status.current_phase,
            (api::CurrentPhaseStatus{1, "early-adopters", At(hours(4)), 10, 10, false}));
  EXPECT_EQ(d.status.verdict, Verdict::kNone) << "the verdict is per phase";
  EXPECT_EQ(Flag(d, "voice_agent_v2").percentage, 10);
  EXPECT_EQ(d.traffic->weight, 10);
  EXPECT_THAT(Reasons(d), ElementsAre("PhaseAdvanced"));
  EXPECT_EQ(d.events[0].message, "advanced from canary to early-adopters (10% flag, 10% traffic)");
  EXPECT_EQ(d.status.history.back(),
            (api::HistoryEntry{At(hours(4)), "canary", "early-adopters", "PhaseAdvanced"}));
}

TEST(StateMachineTest, AGoArrivingAfterTheBakeAdvancesAtOnce) {
  Rollout rollout;
  rollout.Step(At());
  rollout.Step(At(hours(5)));
  EXPECT_EQ(rollout.status().current_phase->index, 0);
  EXPECT_EQ(rollout.status().message, "waiting for the first analysis in canary; bake time done");
  const Decision d = rollout.Step(At(hours(5) + seconds(10)), Go(At(hours(5) + seconds(5))));
  EXPECT_EQ(d.status.current_phase->index, 1);
}

TEST(StateMachineTest, HoldNeverAdvancesAndSaysWhy) {
  Rollout rollout;
  rollout.Step(At());
  const Decision d = rollout.Step(At(hours(5)), Hold(At(hours(5))));
  EXPECT_EQ(d.status.phase, RolloutPhase::kProgressing);
  EXPECT_EQ(d.status.current_phase->index, 0);
  EXPECT_EQ(d.status.verdict, Verdict::kHold);
  EXPECT_EQ(d.status.message,
            "holding in canary: latency-p95-ms 912 is not < 800 (go); bake time done");
  EXPECT_THAT(Reasons(d), ElementsAre("AnalysisHold"));
  EXPECT_EQ(ConditionOf(d.status, kHealthy), api::ConditionStatus::kTrue);
  EXPECT_EQ(d.requeue_after, std::optional<api::Duration>(minutes(1)));
  // A second Hold is not news: no second event.
  EXPECT_THAT(Reasons(rollout.Step(At(hours(6)), Hold(At(hours(6))))), IsEmpty());
  EXPECT_EQ(rollout.status().current_phase->index, 0);
}

TEST(StateMachineTest, HoldMessageSaysWhenTheBakeEnds) {
  Rollout rollout;
  rollout.Step(At());
  const Decision d = rollout.Step(At(minutes(48)), Hold(At(minutes(48))));
  EXPECT_EQ(d.status.message,
            "holding in canary: latency-p95-ms 912 is not < 800 (go); bake ends at "
            "2026-11-22T14:00:00Z");
}

TEST(StateMachineTest, TheLatestVerdictCountsNotAnEarlierGo) {
  Rollout rollout;
  rollout.Step(At());
  rollout.Step(At(hours(1)), Go(At(hours(1))));
  rollout.Step(At(hours(2)), Hold(At(hours(2))));
  EXPECT_EQ(rollout.Step(At(hours(4))).status.current_phase->index, 0);
}

TEST(StateMachineTest, AGoFromThePreviousPhaseDoesNotAdvanceTheNext) {
  Rollout rollout;
  rollout.Step(At());
  rollout.Step(At(hours(4)), Go(At(hours(4))));  // advances at once
  ASSERT_EQ(rollout.status().current_phase->index, 1);
  // 24h later with no evaluation in early-adopters: no advance.
  const Decision d = rollout.Step(At(hours(29)));
  EXPECT_EQ(d.status.current_phase->index, 1);
  EXPECT_EQ(d.status.message, "waiting for the first analysis in early-adopters; bake time done");
}

TEST(StateMachineTest, EvaluationsFromBeforeThePhaseAreIgnored) {
  Rollout rollout;
  rollout.Step(At());
  rollout.Step(At(hours(4)), Go(At(hours(4))));
  ASSERT_EQ(rollout.status().current_phase->index, 1);
  // An evaluation that started before (or in the very second) the phase began.
  for (const api::Timestamp at : {At(hours(4)) - seconds(10), At(hours(4)) + seconds(0)}) {
    const Decision d = rollout.Step(At(hours(30)), Go(at));
    EXPECT_EQ(d.status.current_phase->index, 1);
    EXPECT_EQ(d.status.verdict, Verdict::kNone);
  }
  // NoGo from the previous phase does not count against this one either.
  rollout.input().spec.analysis.failure_limit = 0;
  EXPECT_EQ(rollout.Step(At(hours(30)), NoGo(At(hours(3)))).status.phase,
            RolloutPhase::kProgressing);
}

TEST(StateMachineTest, AnEvaluationIsFoldedOnce) {
  api::AgentRolloutSpec spec = VoiceSpec();
  spec.analysis.failure_limit = 1;
  Rollout rollout(spec);
  rollout.Step(At());
  const api::Evaluation no_go = NoGo(At(minutes(10)) + std::chrono::milliseconds(400));
  rollout.Step(At(minutes(10)) + seconds(1), no_go);
  EXPECT_EQ(rollout.status().analysis.consecutive_no_go, 1);
  // The caller passes it again (it did not see the status yet): no second count.
  const Decision again = rollout.Step(At(minutes(11)), no_go);
  EXPECT_EQ(again.status.analysis.consecutive_no_go, 1);
  EXPECT_EQ(again.status.phase, RolloutPhase::kProgressing);
  EXPECT_THAT(Reasons(again), IsEmpty());
  EXPECT_EQ(again.status.analysis.last_evaluated, At(minutes(10)));
}

// ------------------------------------------------------------------ status writes

// Hold's values with latency-p95-ms at `latency` (Hold between 800 and 1200).
api::Evaluation HoldAt(api::Timestamp at, const std::string& latency) {
  api::Evaluation evaluation = Hold(at);
  evaluation.metrics[1] = Metric("latency-p95-ms", Verdict::kHold, latency);
  return evaluation;
}

// A rollout whose status.analysis values wait up to 5 minutes (status_refresh.h); Step
// persists every decision, so a decision whose status equals the persisted one is one the
// executor does not write.
class SteadyRollout : public Rollout {
 public:
  explicit SteadyRollout(api::AgentRolloutSpec spec = VoiceSpec()) : Rollout(std::move(spec)) {
    input().status_refresh = {minutes(5), 0.1};
  }
  // Whether deciding on `evaluation` at its own time writes status.
  bool Writes(const api::Evaluation& evaluation) {
    const api::AgentRolloutStatus before = status();
    return Step(evaluation.at, evaluation).status != before;
  }
};

TEST(StateMachineTest, ASteadyRolloutWritesItsValuesAtMostEveryRefreshInterval) {
  SteadyRollout rollout;
  rollout.Step(At());
  EXPECT_TRUE(rollout.Writes(Go(At(minutes(1))))) << "the first verdict";
  int writes = 0;
  for (int minute = 2; minute <= 31; ++minute) {
    const bool wrote = rollout.Writes(Go(At(minutes(minute))));
    writes += wrote ? 1 : 0;
    // Written 5 minutes after the last written evaluation, and only then.
    EXPECT_EQ(wrote, (minute - 1) % 5 == 0) << "minute " << minute;
  }
  EXPECT_EQ(writes, 6);
  EXPECT_EQ(rollout.status().analysis.last_evaluated, At(minutes(31)));
  // A status left as persisted is exactly the persisted one, message included.
  EXPECT_EQ(rollout.status().message,
            "analysis is Go in canary; bake ends at 2026-11-22T14:00:00Z");
}

TEST(StateMachineTest, ASteadyHoldWritesWhenAValueMovesFarOrTheIntervalPasses) {
  SteadyRollout rollout;
  rollout.Step(At());
  EXPECT_TRUE(rollout.Writes(HoldAt(At(minutes(1)), "912"))) << "a new verdict";
  // 10% of latency's scale (its noGo line, 1200) is 120: small moves wait, and the
  // persisted message keeps quoting the persisted value.
  EXPECT_FALSE(rollout.Writes(HoldAt(At(minutes(2)), "950")));
  EXPECT_FALSE(rollout.Writes(HoldAt(At(minutes(3)), "1000")));
  EXPECT_EQ(rollout.status().analysis.metrics[1].value, "912");
  EXPECT_THAT(rollout.status().message, HasSubstr("latency-p95-ms 912 is not < 800"));
  EXPECT_TRUE(rollout.Writes(HoldAt(At(minutes(4)), "1040"))) << "moved 128 from 912";
  EXPECT_THAT(rollout.status().message, HasSubstr("latency-p95-ms 1040 is not < 800"));
  EXPECT_FALSE(rollout.Writes(HoldAt(At(minutes(8)), "1041")));
  EXPECT_TRUE(rollout.Writes(HoldAt(At(minutes(9)), "1041"))) << "5 minutes after the last";
}

TEST(StateMachineTest, EveryChangeOfVerdictCounterOrZoneIsWrittenAtOnce) {
  api::AgentRolloutSpec spec = VoiceSpec();
  spec.analysis.failure_limit = 2;
  spec.analysis.error_limit = 3;
  SteadyRollout rollout(spec);
  rollout.Step(At());
  EXPECT_TRUE(rollout.Writes(Go(At(minutes(1)))));
  EXPECT_FALSE(rollout.Writes(Go(At(minutes(2)))));
  // Verdict Go -> Hold (a metric's zone Go -> Hold).
  EXPECT_TRUE(rollout.Writes(HoldAt(At(minutes(3)), "801")));
  EXPECT_EQ(rollout.status().verdict, Verdict::kHold);
  // A metric's zone with the same overall verdict: latency Hold -> Go, error-rate Go -> Hold.
  api::Evaluation other_metric = Go(At(minutes(4)));
  other_metric.verdict = Verdict::kHold;
  other_metric.metrics[0] = Metric("error-rate", Verdict::kHold, "0.03");
  EXPECT_TRUE(rollout.Writes(other_metric));
  // consecutiveNoGo 1, then 2; consecutiveErrors 1, 2.
  EXPECT_TRUE(rollout.Writes(NoGo(At(minutes(5)))));
  EXPECT_TRUE(rollout.Writes(NoGo(At(minutes(6)))));
  EXPECT_EQ(rollout.status().analysis.consecutive_no_go, 2);
  EXPECT_TRUE(rollout.Writes(Errored(At(minutes(7)))));
  EXPECT_TRUE(rollout.Writes(Errored(At(minutes(8)))));
  EXPECT_EQ(rollout.status().analysis.consecutive_errors, 2);
  // Back to Go: the counters reset.
  EXPECT_TRUE(rollout.Writes(Go(At(minutes(9)))));
  EXPECT_EQ(rollout.status().analysis.consecutive_errors, 0);
}

TEST(StateMachineTest, AnActionOrAPhaseChangeWritesTheFreshValuesWithIt) {
  SteadyRollout rollout;
  rollout.Step(At());
  rollout.Writes(Go(At(minutes(1))));
  EXPECT_FALSE(rollout.Writes(Go(At(minutes(2)))));
  // The pause action (an Event, a message) is written at once, with the latest values.
  rollout.SetAction("pause");
  const Decision paused = rollout.Step(At(minutes(3)), Go(At(minutes(3))));
  EXPECT_EQ(paused.status.phase, RolloutPhase::kPaused);
  EXPECT_EQ(paused.status.analysis.last_evaluated, At(minutes(3)));
  rollout.Step(At(minutes(3)));  // the annotation seen removed
  rollout.SetAction("resume");
  rollout.Step(At(minutes(4)));
  rollout.Step(At(minutes(4)));
  EXPECT_EQ(rollout.status().phase, RolloutPhase::kProgressing);
  // The advance at the bake end carries the evaluation it was decided on.
  EXPECT_TRUE(rollout.Writes(Go(At(hours(3) + minutes(56))))) << "the refresh";
  EXPECT_FALSE(rollout.Writes(Go(At(hours(3) + minutes(58)))));
  const Decision advanced = rollout.Step(At(hours(4)), Go(At(hours(4) - seconds(1))));
  EXPECT_EQ(advanced.status.current_phase->index, 1);
  EXPECT_EQ(advanced.status.analysis.last_evaluated, At(hours(4) - seconds(1)));
}

TEST(StateMachineTest, AGoWhoseRefreshWaitedStillAdvancesAtTheBakeEnd) {
  // After a restart the operator holds no evaluation: the persisted Go (written when the
  // verdict became Go, in this phase) is the same evidence the unwritten later ones were.
  SteadyRollout rollout;
  rollout.Step(At());
  rollout.Writes(Go(At(hours(3) + minutes(57))));
  EXPECT_FALSE(rollout.Writes(Go(At(hours(3) + minutes(59)))));
  const Decision d = rollout.Step(At(hours(4)));
  EXPECT_EQ(d.status.current_phase->index, 1);
  EXPECT_EQ(d.status.history.back().reason, "PhaseAdvanced");
}

TEST(StateMachineTest, ARefreshOfZeroWritesEveryEvaluation) {
  Rollout rollout;
  rollout.Step(At());
  for (int minute = 1; minute <= 3; ++minute) {
    const api::AgentRolloutStatus before = rollout.status();
    EXPECT_NE(rollout.Step(At(minutes(minute)), Go(At(minutes(minute)))).status, before);
  }
}

TEST(StateMachineTest, ToleratedNoGoSaysHowManyAreLeft) {
  api::AgentRolloutSpec spec = VoiceSpec();
  spec.analysis.failure_limit = 2;
  Rollout rollout(spec);
  rollout.Step(At());
  const Decision d = rollout.Step(At(hours(1)), NoGo(At(hours(1))));
  EXPECT_EQ(d.status.phase, RolloutPhase::kProgressing);
  EXPECT_EQ(d.status.message,
            "No-Go in canary: error-rate 0.071 is > 0.05 (noGo), 1 of 2 tolerated by "
            "failureLimit; bake ends at 2026-11-22T14:00:00Z");
  EXPECT_THAT(Reasons(d), ElementsAre("AnalysisNoGo"));
  EXPECT_EQ(ConditionOf(d.status, kHealthy), api::ConditionStatus::kFalse);
  EXPECT_EQ(d.traffic->weight, 5);
}

// ------------------------------------------------------------------ rollback

TEST(StateMachineTest, NoGoPastFailureLimitRollsBackFully) {
  Rollout rollout;
  const api::Timestamp entered = rollout.DriveTo(2);
  const Decision d = rollout.Step(entered + hours(1), NoGo(entered + hours(1)));
  const api::AgentRolloutStatus& s = d.status;
  EXPECT_EQ(s.phase, RolloutPhase::kRolledBack);
  EXPECT_TRUE(d.rolls_back);
  EXPECT_EQ(Flag(d, "voice_agent_v2"),
            (flag::FlagState{"voice_agent_v2", false, 0, {"t-internal-1"}, {"t-vip-bank"}}));
  EXPECT_EQ(d.traffic->weight, 0);
  ASSERT_TRUE(s.rollback);
  EXPECT_EQ(s.rollback->at, entered + hours(1));
  EXPECT_EQ(s.rollback->from_phase, "expansion");
  EXPECT_EQ(s.rollback->metric, "error-rate");
  EXPECT_EQ(s.rollback->value, "0.071");
  EXPECT_EQ(s.rollback->line, "> 0.05");
  EXPECT_THAT(s.rollback->reason, HasSubstr("error-rate is 0.071"));
  EXPECT_EQ(s.current_phase->flag_percent, 0);
  EXPECT_EQ(s.current_phase->traffic_weight, 0);
  EXPECT_THAT(Reasons(d), ElementsAre("AnalysisNoGo", "RollingBack", "RolledBack"));
  EXPECT_EQ(s.history.back(),
            (api::HistoryEntry{entered + hours(1), "expansion", "RolledBack", "RolledBack"}));
  EXPECT_THAT(s.message, HasSubstr("rolled back from expansion: error-rate is 0.071"));
  EXPECT_EQ(ConditionOf(s, kStalled), api::ConditionStatus::kTrue);
  EXPECT_EQ(FindCondition(s, kStalled)->reason, "RolledBack");
  EXPECT_EQ(ConditionOf(s, kReconciling), api::ConditionStatus::kFalse);
  EXPECT_EQ(ConditionOf(s, kReady), api::ConditionStatus::kFalse);
  EXPECT_FALSE(d.analyse) << "a rolled back rollout is not analysed";
  EXPECT_FALSE(d.requeue_after);
}

TEST(StateMachineTest, ErrorsPastErrorLimitRollBack) {
  Rollout rollout;
  rollout.Step(At());
  for (int i = 1; i <= 3; ++i) {
    const Decision d = rollout.Step(At(minutes(i)), Errored(At(minutes(i))));
    EXPECT_EQ(d.status.phase, RolloutPhase::kProgressing) << i;
    EXPECT_THAT(d.status.message, HasSubstr("error-rate connection refused, " + std::to_string(i) +
                                            " of 3 tolerated by errorLimit"));
  }
  EXPECT_EQ(rollout.Step(At(minutes(4)), Errored(At(minutes(4)))).status.phase,
            RolloutPhase::kRolledBack);
}

TEST(StateMachineTest, RolledBackIsTerminal) {
  Rollout rollout;
  rollout.Step(At());
  rollout.Step(At(minutes(1)), NoGo(At(minutes(1))));
  ASSERT_EQ(rollout.status().phase, RolloutPhase::kRolledBack);
  const api::AgentRolloutStatus rolled_back = rollout.status();
  for (const auto& evaluation : {Go(At(hours(10))), NoGo(At(hours(11)))}) {
    const Decision d = rollout.Step(evaluation.at + seconds(1), evaluation);
    EXPECT_EQ(d.status.phase, RolloutPhase::kRolledBack);
    EXPECT_EQ(d.status.analysis, rolled_back.analysis) << "analysis stopped";
    EXPECT_FALSE(Flag(d, "voice_agent_v2").enabled) << "flag kept off";
    EXPECT_EQ(d.traffic->weight, 0);
    EXPECT_THAT(Reasons(d), IsEmpty());
  }
  EXPECT_EQ(rollout.status(), rolled_back);
}

TEST(StateMachineTest, AbortLineRollsBackFullyIgnoringFailureLimitAndStepBack) {
  api::AgentRolloutSpec spec = VoiceSpec();
  spec.analysis.failure_limit = 5;
  spec.rollback_mode = api::RollbackMode::kStepBack;
  Rollout rollout(spec);
  const api::Timestamp entered = rollout.DriveTo(2);
  const Decision d = rollout.Step(entered + minutes(1), Abort(entered + minutes(1)));
  EXPECT_EQ(d.status.phase, RolloutPhase::kRolledBack);
  EXPECT_EQ(d.status.rollback->line, "> 0.5");
  EXPECT_EQ(d.status.rollback->value, "0.62");
  EXPECT_EQ(d.traffic->weight, 0);
}

TEST(StateMachineTest, StepBackReturnsToThePreviousPhaseAndHolds) {
  api::AgentRolloutSpec spec = VoiceSpec();
  spec.rollback_mode = api::RollbackMode::kStepBack;
  Rollout rollout(spec);
  const api::Timestamp entered = rollout.DriveTo(2);
  const api::Timestamp t = entered + hours(1);
  const Decision d = rollout.Step(t, NoGo(t));
  const api::AgentRolloutStatus& s = d.status;
  EXPECT_EQ(s.phase, RolloutPhase::kPaused);
  EXPECT_EQ(s.pause_reason, "SteppedBack");
  EXPECT_EQ(*s.current_phase, (api::CurrentPhaseStatus{1, "early-adopters", t, 10, 10, false}));
  EXPECT_EQ(Flag(d, "voice_agent_v2").percentage, 10);
  EXPECT_TRUE(Flag(d, "voice_agent_v2").enabled);
  EXPECT_EQ(d.traffic->weight, 10);
  EXPECT_FALSE(d.rolls_back);
  EXPECT_TRUE(d.analyse) << "still analysing after a step back";
  ASSERT_TRUE(s.rollback);
  EXPECT_EQ(s.rollback->from_phase, "expansion");
  EXPECT_EQ(s.rollback->metric, "error-rate");
  EXPECT_EQ(s.history.back(), (api::HistoryEntry{t, "expansion", "early-adopters", "SteppedBack"}));
  EXPECT_THAT(Reasons(d), ElementsAre("AnalysisNoGo", "RollingBack"));
  EXPECT_THAT(s.message, HasSubstr("stepped back from expansion to early-adopters (10% flag, 10% "
                                   "traffic): error-rate is 0.071"));
  EXPECT_THAT(s.message, HasSubstr("resume or promote to advance again"));
  EXPECT_EQ(ConditionOf(s, kReconciling), api::ConditionStatus::kTrue);
  EXPECT_EQ(FindCondition(s, kReady)->reason, "Paused");
}

TEST(StateMachineTest, StepBackNeverReadvancesByItself) {
  api::AgentRolloutSpec spec = VoiceSpec();
  spec.rollback_mode = api::RollbackMode::kStepBack;
  Rollout rollout(spec);
  const api::Timestamp entered = rollout.DriveTo(2);
  rollout.Step(entered + hours(1), NoGo(entered + hours(1)));
  for (int day = 1; day <= 5; ++day) {
    const api::Timestamp t = entered + hours(24 * day);
    const Decision d = rollout.Step(t, Go(t));
    EXPECT_EQ(d.status.phase, RolloutPhase::kPaused);
    EXPECT_EQ(d.status.current_phase->index, 1);
    EXPECT_EQ(d.traffic->weight, 10);
  }
}

TEST(StateMachineTest, StepBackAgainThenTotalFromPhaseZero) {
  api::AgentRolloutSpec spec = VoiceSpec();
  spec.rollback_mode = api::RollbackMode::kStepBack;
  Rollout rollout(spec);
  const api::Timestamp entered = rollout.DriveTo(2);
  rollout.Step(entered + hours(1), NoGo(entered + hours(1)));
  ASSERT_EQ(rollout.status().current_phase->index, 1);
  const Decision second = rollout.Step(entered + hours(2), NoGo(entered + hours(2)));
  EXPECT_EQ(second.status.current_phase->index, 0);
  EXPECT_EQ(second.status.phase, RolloutPhase::kPaused);
  EXPECT_EQ(second.traffic->weight, 5);
  const Decision third = rollout.Step(entered + hours(3), NoGo(entered + hours(3)));
  EXPECT_EQ(third.status.phase, RolloutPhase::kRolledBack);
  EXPECT_TRUE(third.rolls_back);
  EXPECT_EQ(third.traffic->weight, 0);
  EXPECT_FALSE(Flag(third, "voice_agent_v2").enabled);
}

TEST(StateMachineTest, ResumeAfterStepBackAdvancesAgainOnBakeAndGo) {
  api::AgentRolloutSpec spec = VoiceSpec();
  spec.rollback_mode = api::RollbackMode::kStepBack;
  Rollout rollout(spec);
  const api::Timestamp entered = rollout.DriveTo(2);
  const api::Timestamp stepped = entered + hours(1);
  rollout.Step(stepped, NoGo(stepped));
  rollout.SetAction("resume");
  const Decision resumed = rollout.Step(stepped + hours(1), Go(stepped + hours(1)));
  EXPECT_EQ(resumed.status.phase, RolloutPhase::kProgressing);
  EXPECT_EQ(resumed.status.pause_reason, "");
  EXPECT_THAT(Reasons(resumed), Contains("Resumed"));
  EXPECT_EQ(resumed.status.current_phase->index, 1) << "the bake restarted at the step back";
  EXPECT_EQ(rollout.Step(stepped + hours(24)).status.current_phase->index, 2);
}

TEST(StateMachineTest, PromoteAfterStepBackAdvancesAtTheNextGo) {
  api::AgentRolloutSpec spec = VoiceSpec();
  spec.rollback_mode = api::RollbackMode::kStepBack;
  Rollout rollout(spec);
  const api::Timestamp entered = rollout.DriveTo(2);
  const api::Timestamp stepped = entered + hours(1);
  rollout.Step(stepped, NoGo(stepped));
  rollout.SetAction("promote");
  const Decision promoted = rollout.Step(stepped + minutes(1), Hold(stepped + minutes(1)));
  EXPECT_EQ(promoted.status.phase, RolloutPhase::kProgressing);
  EXPECT_EQ(promoted.status.current_phase->index, 1);
  EXPECT_TRUE(promoted.status.current_phase->promoted);
  EXPECT_EQ(
      rollout.Step(stepped + minutes(2), Go(stepped + minutes(2))).status.current_phase->index, 2);
}

// ------------------------------------------------------------------ approval and actions

TEST(StateMachineTest, ApprovalPhaseWaitsForPromoteThenStillNeedsGo) {
  Rollout rollout;
  const api::Timestamp entered = rollout.DriveTo(3);  // majority: approval
  const api::Timestamp baked = entered + hours(48);
  const Decision waiting = rollout.Step(baked, Go(baked));
  EXPECT_EQ(waiting.status.phase, RolloutPhase::kAwaitingApproval);
  EXPECT_THAT(Reasons(waiting), ElementsAre("AwaitingApproval"));
  EXPECT_EQ(waiting.status.message,
            "awaiting approval to leave majority: annotate rollouts.agentops.dev/action=promote");
  EXPECT_FALSE(waiting.requeue_after);
  // Still waiting days later, even with a Hold in between; no repeated event.
  const Decision later = rollout.Step(baked + hours(30), Hold(baked + hours(30)));
  EXPECT_EQ(later.status.phase, RolloutPhase::kAwaitingApproval);
  EXPECT_THAT(later.status.message, HasSubstr("holding: latency-p95-ms 912 is not < 800"));
  EXPECT_THAT(Reasons(later), ElementsAre("AnalysisHold"));
  // promote with the latest verdict Hold: granted, but the advance waits for a Go.
  rollout.SetAction("promote");
  const Decision promoted = rollout.Step(baked + hours(31));
  EXPECT_TRUE(promoted.remove_action_annotation);
  EXPECT_THAT(Reasons(promoted), ElementsAre("Promoted"));
  EXPECT_EQ(promoted.status.phase, RolloutPhase::kProgressing);
  EXPECT_EQ(promoted.status.current_phase->index, 3);
  EXPECT_THAT(promoted.status.message, HasSubstr("promoted, bake skipped"));
  const Decision advanced = rollout.Step(baked + hours(32), Go(baked + hours(32)));
  EXPECT_EQ(advanced.status.current_phase->index, 4);
  EXPECT_EQ(advanced.traffic->weight, 100);
  EXPECT_EQ(advanced.events.back().message,
            "advanced from majority to complete (100% flag, 100% traffic) on promote");
}

TEST(StateMachineTest, PromoteSkipsTheRemainingBake) {
  Rollout rollout;
  rollout.Step(At());
  rollout.Step(At(minutes(5)), Go(At(minutes(5))));
  rollout.SetAction("promote");
  const Decision d = rollout.Step(At(minutes(6)));
  EXPECT_EQ(d.status.current_phase->index, 1);
  EXPECT_THAT(Reasons(d), ElementsAre("Promoted", "PhaseAdvanced"));
  EXPECT_FALSE(d.status.current_phase->promoted) << "a promote is for one phase";
}

TEST(StateMachineTest, AnActionIsActedOnOnceUntilItsAnnotationIsGone) {
  Rollout rollout;
  rollout.Step(At());
  rollout.Step(At(minutes(5)), Go(At(minutes(5))));
  rollout.SetAction("promote");
  // The executor crashed after the status write, before removing the annotation.
  rollout.input().now = At(minutes(6));
  rollout.input().evaluation.reset();
  rollout.input().status = Decide(rollout.input()).status;
  ASSERT_EQ(rollout.status().current_phase->index, 1);
  ASSERT_EQ(rollout.status().handled_action, "promote");
  rollout.Step(At(minutes(7)), Go(At(minutes(7))));
  const Decision d = rollout.Step(At(minutes(8)));
  EXPECT_EQ(d.status.current_phase->index, 1) << "the old annotation did not promote again";
  EXPECT_FALSE(d.status.current_phase->promoted);
  // Once the annotation is seen gone, a new promote is acted on.
  EXPECT_EQ(d.status.handled_action, "");
  rollout.SetAction("promote");
  EXPECT_EQ(rollout.Step(At(minutes(9))).status.current_phase->index, 2);
}

TEST(StateMachineTest, PauseHoldsResumeContinues) {
  Rollout rollout;
  rollout.Step(At());
  rollout.SetAction("pause");
  const Decision paused = rollout.Step(At(minutes(1)));
  EXPECT_EQ(paused.status.phase, RolloutPhase::kPaused);
  EXPECT_EQ(paused.status.pause_reason, "PauseAction");
  EXPECT_THAT(Reasons(paused), ElementsAre("Paused"));
  EXPECT_TRUE(paused.remove_action_annotation);
  EXPECT_FALSE(paused.requeue_after);
  EXPECT_EQ(paused.status.message,
            "paused in canary by the pause action; resume to continue; no analysis in this phase "
            "yet");
  const Decision held = rollout.Step(At(hours(5)), Go(At(hours(5))));
  EXPECT_EQ(held.status.phase, RolloutPhase::kPaused);
  EXPECT_EQ(held.status.current_phase->index, 0);
  EXPECT_TRUE(held.analyse);
  rollout.SetAction("resume");
  const Decision resumed = rollout.Step(At(hours(5) + seconds(1)));
  EXPECT_THAT(Reasons(resumed), ElementsAre("Resumed", "PhaseAdvanced"));
  EXPECT_EQ(resumed.status.current_phase->index, 1);
}

TEST(StateMachineTest, SpecPausedHoldsButStillRollsBack) {
  Rollout rollout;
  rollout.Step(At());
  rollout.EditSpec([](api::AgentRolloutSpec& spec) { spec.paused = true; });
  const Decision held = rollout.Step(At(hours(5)), Go(At(hours(5))));
  EXPECT_EQ(held.status.phase, RolloutPhase::kPaused);
  EXPECT_EQ(held.status.current_phase->index, 0);
  EXPECT_EQ(held.status.message, "paused in canary by spec.paused; analysis is Go");
  rollout.SetAction("resume");
  const Decision rejected = rollout.Step(At(hours(5) + seconds(1)));
  EXPECT_THAT(Reasons(rejected), ElementsAre("InvalidAction"));
  EXPECT_EQ(rejected.events[0].type, "Warning");
  EXPECT_THAT(rejected.events[0].message, HasSubstr("set it to false"));
  EXPECT_EQ(rollout.Step(At(hours(6)), NoGo(At(hours(6)))).status.phase, RolloutPhase::kRolledBack);
}

TEST(StateMachineTest, UnpausingTheSpecAdvances) {
  Rollout rollout;
  rollout.Step(At());
  rollout.EditSpec([](api::AgentRolloutSpec& spec) { spec.paused = true; });
  rollout.Step(At(hours(5)), Go(At(hours(5))));
  rollout.EditSpec([](api::AgentRolloutSpec& spec) { spec.paused = false; });
  EXPECT_EQ(rollout.Step(At(hours(5) + seconds(2))).status.current_phase->index, 1);
}

TEST(StateMachineTest, InvalidActionsWarnAndAreRemoved) {
  struct Case {
    std::string action;
    std::string why;
  };
  for (const Case& c : {Case{"retry", "retry starts a rolled back rollout again"},
                        Case{"resume", "not paused"}, Case{"jump", "unknown action"}}) {
    Rollout rollout;
    rollout.Step(At());
    rollout.SetAction(c.action);
    const Decision d = rollout.Step(At(minutes(1)));
    EXPECT_TRUE(d.remove_action_annotation) << c.action;
    ASSERT_EQ(d.events.size(), 1u) << c.action;
    EXPECT_EQ(d.events[0].type, "Warning");
    EXPECT_EQ(d.events[0].reason, "InvalidAction");
    EXPECT_THAT(d.events[0].message, HasSubstr("action " + c.action + " ignored: " + c.why));
    EXPECT_EQ(d.status.phase, RolloutPhase::kProgressing);
  }
}

TEST(StateMachineTest, AbortRollsBackFully) {
  api::AgentRolloutSpec spec = VoiceSpec();
  spec.rollback_mode = api::RollbackMode::kStepBack;
  Rollout rollout(spec);
  const api::Timestamp entered = rollout.DriveTo(2);
  rollout.SetAction("abort");
  const Decision d = rollout.Step(entered + minutes(1), Go(entered + minutes(1)));
  EXPECT_EQ(d.status.phase, RolloutPhase::kRolledBack);
  EXPECT_TRUE(d.rolls_back);
  EXPECT_EQ(d.traffic->weight, 0);
  EXPECT_EQ(d.status.rollback->reason, "the abort action was set");
  EXPECT_EQ(d.status.rollback->from_phase, "expansion");
  EXPECT_THAT(Reasons(d), ElementsAre("RollingBack", "RolledBack"));
  // The executor removed the annotation; the reconcile that sees it gone forgets the
  // handled action (until then the same value is taken for the one already acted on).
  rollout.Step(entered + minutes(1) + seconds(30));
  EXPECT_EQ(rollout.status().handled_action, "");
  // abort again: nothing to abort.
  rollout.SetAction("abort");
  EXPECT_THAT(Reasons(rollout.Step(entered + minutes(2))), ElementsAre("InvalidAction"));
}

TEST(StateMachineTest, RetryStartsARolledBackRolloutAgain) {
  Rollout rollout;
  rollout.Step(At());
  rollout.Step(At(minutes(1)), NoGo(At(minutes(1))));
  rollout.SetAction("retry");
  const Decision d = rollout.Step(At(hours(2)));
  EXPECT_EQ(d.status.phase, RolloutPhase::kProgressing);
  EXPECT_EQ(d.status.current_phase->index, 0);
  EXPECT_EQ(d.status.current_phase->started_at, At(hours(2)));
  EXPECT_FALSE(d.status.rollback);
  EXPECT_EQ(d.status.analysis.consecutive_no_go, 0);
  EXPECT_EQ(d.traffic->weight, 5);
  EXPECT_TRUE(Flag(d, "voice_agent_v2").enabled);
  EXPECT_THAT(Reasons(d), ElementsAre("PhaseStarted"));
  EXPECT_THAT(d.events[0].message, HasSubstr("retry"));
  EXPECT_TRUE(d.remove_action_annotation);
}

// ------------------------------------------------------------------ remaining transitions

TEST(StateMachineTest, PromoteWhileAwaitingApprovalWithGoAdvancesAtOnce) {
  Rollout rollout;
  const api::Timestamp entered = rollout.DriveTo(3);
  rollout.Step(entered + hours(48), Go(entered + hours(48)));
  ASSERT_EQ(rollout.status().phase, RolloutPhase::kAwaitingApproval);
  rollout.SetAction("promote");
  const Decision d = rollout.Step(entered + hours(49));
  EXPECT_THAT(Reasons(d), ElementsAre("Promoted", "PhaseAdvanced"));
  EXPECT_EQ(d.status.phase, RolloutPhase::kProgressing);
  EXPECT_EQ(d.status.current_phase->index, 4);
}

TEST(StateMachineTest, NoGoWhileAwaitingApprovalRollsBack) {
  Rollout rollout;
  const api::Timestamp entered = rollout.DriveTo(3);
  rollout.Step(entered + hours(48), Go(entered + hours(48)));
  ASSERT_EQ(rollout.status().phase, RolloutPhase::kAwaitingApproval);
  const Decision d = rollout.Step(entered + hours(50), NoGo(entered + hours(50)));
  EXPECT_EQ(d.status.phase, RolloutPhase::kRolledBack);
  EXPECT_EQ(d.status.rollback->from_phase, "majority");
  EXPECT_EQ(d.traffic->weight, 0);
}

TEST(StateMachineTest, PauseWhileAwaitingApprovalThenResumeAwaitsAgain) {
  Rollout rollout;
  const api::Timestamp entered = rollout.DriveTo(3);
  const api::Timestamp baked = entered + hours(48);
  rollout.Step(baked, Go(baked));
  rollout.SetAction("pause");
  const Decision paused = rollout.Step(baked + minutes(1));
  EXPECT_EQ(paused.status.phase, RolloutPhase::kPaused);
  EXPECT_THAT(Reasons(paused), ElementsAre("Paused"));
  rollout.Step(baked + minutes(2));  // sees the annotation removed
  rollout.SetAction("resume");
  const Decision resumed = rollout.Step(baked + minutes(3));
  EXPECT_EQ(resumed.status.phase, RolloutPhase::kAwaitingApproval)
      << "resume does not grant the approval";
  EXPECT_THAT(Reasons(resumed), ElementsAre("Resumed", "AwaitingApproval"));
  EXPECT_EQ(resumed.status.current_phase->index, 3);
}

TEST(StateMachineTest, PromoteEndsAPauseAndAdvancesOnGo) {
  Rollout rollout;
  rollout.Step(At());
  rollout.SetAction("pause");
  rollout.Step(At(minutes(1)));
  rollout.Step(At(minutes(2)), Go(At(minutes(2))));
  ASSERT_EQ(rollout.status().phase, RolloutPhase::kPaused);
  rollout.SetAction("promote");
  const Decision d = rollout.Step(At(minutes(3)));
  EXPECT_THAT(Reasons(d), ElementsAre("Promoted", "PhaseAdvanced"));
  EXPECT_EQ(d.status.pause_reason, "");
  EXPECT_EQ(d.status.current_phase->index, 1);
}

TEST(StateMachineTest, AbortAfterAStepBackRollsBackFully) {
  api::AgentRolloutSpec spec = VoiceSpec();
  spec.rollback_mode = api::RollbackMode::kStepBack;
  Rollout rollout(spec);
  const api::Timestamp entered = rollout.DriveTo(2);
  rollout.Step(entered + hours(1), NoGo(entered + hours(1)));
  ASSERT_EQ(rollout.status().pause_reason, "SteppedBack");
  rollout.SetAction("abort");
  const Decision d = rollout.Step(entered + hours(2));
  EXPECT_EQ(d.status.phase, RolloutPhase::kRolledBack);
  EXPECT_TRUE(d.rolls_back);
  EXPECT_EQ(d.status.rollback->from_phase, "early-adopters");
  EXPECT_EQ(d.status.rollback->reason, "the abort action was set");
  EXPECT_EQ(d.status.pause_reason, "");
  EXPECT_EQ(d.traffic->weight, 0);
  EXPECT_FALSE(Flag(d, "voice_agent_v2").enabled);
}

TEST(StateMachineTest, ANewRevisionStartsARolledBackRolloutAgain) {
  Rollout rollout;
  rollout.Step(At());
  rollout.Step(At(minutes(1)), NoGo(At(minutes(1))));
  ASSERT_EQ(rollout.status().phase, RolloutPhase::kRolledBack);
  rollout.EditSpec([](api::AgentRolloutSpec& spec) { spec.revision = "2.0.1"; });
  const Decision d = rollout.Step(At(hours(1)));
  EXPECT_EQ(d.status.phase, RolloutPhase::kProgressing);
  EXPECT_EQ(d.status.current_phase->index, 0);
  EXPECT_FALSE(d.status.rollback);
  EXPECT_EQ(d.traffic->weight, 5);
  EXPECT_THAT(Reasons(d), ElementsAre("PhaseStarted"));
}

TEST(StateMachineTest, ANewRevisionStartsASucceededRolloutAgain) {
  Rollout rollout;
  const api::Timestamp entered = rollout.DriveTo(4);
  rollout.Step(entered + minutes(1), Go(entered + minutes(1)));
  ASSERT_EQ(rollout.status().phase, RolloutPhase::kSucceeded);
  rollout.EditSpec([](api::AgentRolloutSpec& spec) { spec.revision = "2.1.0"; });
  const Decision d = rollout.Step(entered + hours(1));
  EXPECT_EQ(d.status.phase, RolloutPhase::kProgressing);
  EXPECT_EQ(d.status.current_phase->index, 0);
  EXPECT_EQ(d.traffic->weight, 5);
  EXPECT_EQ(Flag(d, "voice_agent_v2").percentage, 5);
  EXPECT_EQ(ConditionOf(d.status, kReady), api::ConditionStatus::kFalse);
}

TEST(StateMachineTest, ActionsOnAnInvalidSpecAreRefused) {
  Rollout rollout;
  rollout.DriveTo(1);
  rollout.input().spec_error = InvalidArgument("spec.phases[1].trafficWeight: must be 0..100");
  rollout.Step(At(hours(5)));
  ASSERT_EQ(rollout.status().phase, RolloutPhase::kFailed);
  rollout.SetAction("promote");
  const Decision d = rollout.Step(At(hours(6)));
  EXPECT_THAT(Reasons(d), ElementsAre("InvalidAction"));
  EXPECT_THAT(d.events[0].message, HasSubstr("the spec is invalid"));
  EXPECT_TRUE(d.remove_action_annotation);
  EXPECT_EQ(d.status.phase, RolloutPhase::kFailed);
  EXPECT_FALSE(d.status.current_phase->promoted);
}

TEST(StateMachineTest, AbortWhileRollingBackOnlyFinishesTheRollback) {
  Rollout rollout;
  rollout.Step(At());
  rollout.input().now = At(minutes(1));
  rollout.input().evaluation = NoGo(At(minutes(1)));
  const Decision rollback = Decide(rollout.input());
  rollout.input().status =
      FailedWrite(rollout.input(), rollback, WriteStage::kTraffic, Unavailable("timeout")).status;
  ASSERT_EQ(rollout.status().phase, RolloutPhase::kRollingBack);
  rollout.SetAction("abort");
  const Decision d = rollout.Step(At(minutes(2)));
  EXPECT_EQ(d.status.phase, RolloutPhase::kRolledBack);
  EXPECT_THAT(Reasons(d), ElementsAre("RolledBack")) << "already going down fully";
  EXPECT_TRUE(d.remove_action_annotation);
  EXPECT_EQ(d.status.rollback->metric, "error-rate") << "the first reason is kept";
}

TEST(StateMachineTest, PauseWhilePausedIsRefused) {
  Rollout rollout;
  rollout.Step(At());
  rollout.SetAction("pause");
  rollout.Step(At(minutes(1)));
  rollout.Step(At(minutes(2)));  // sees the annotation removed
  rollout.SetAction("pause");
  const Decision d = rollout.Step(At(minutes(3)));
  EXPECT_THAT(Reasons(d), ElementsAre("InvalidAction"));
  EXPECT_THAT(d.events[0].message, HasSubstr("already paused (PauseAction)"));
  EXPECT_EQ(d.status.phase, RolloutPhase::kPaused);
}

TEST(StateMachineTest, ActionsOnARolledBackRolloutAreRefused) {
  for (const std::string action : {"promote", "pause", "resume", "abort"}) {
    Rollout rollout;
    rollout.Step(At());
    rollout.Step(At(minutes(1)), NoGo(At(minutes(1))));
    ASSERT_EQ(rollout.status().phase, RolloutPhase::kRolledBack);
    const api::AgentRolloutStatus rolled_back = rollout.status();
    rollout.SetAction(action);
    const Decision d = rollout.Step(At(minutes(2)));
    EXPECT_THAT(Reasons(d), ElementsAre("InvalidAction")) << action;
    EXPECT_EQ(d.status.phase, RolloutPhase::kRolledBack) << action;
    EXPECT_EQ(d.status.rollback, rolled_back.rollback) << action;
    EXPECT_EQ(d.traffic->weight, 0) << action;
  }
}

// ------------------------------------------------------------------ the end

TEST(StateMachineTest, LastPhaseBakedWithGoSucceeds) {
  Rollout rollout;
  const api::Timestamp entered = rollout.DriveTo(4);
  const Decision d = rollout.Step(entered + minutes(1), Go(entered + minutes(1)));
  EXPECT_EQ(d.status.phase, RolloutPhase::kSucceeded);
  EXPECT_THAT(Reasons(d), ElementsAre("Succeeded"));
  EXPECT_EQ(d.status.message, "revision \"2.0.0\" rolled out: complete at 100% flag, 100% traffic");
  EXPECT_EQ(Flag(d, "voice_agent_v2").percentage, 100);
  EXPECT_EQ(d.traffic->weight, 100);
  EXPECT_FALSE(d.analyse) << "analysis stops";
  EXPECT_EQ(ConditionOf(d.status, kReady), api::ConditionStatus::kTrue);
  EXPECT_EQ(FindCondition(d.status, kReady)->reason, "Succeeded");
  EXPECT_EQ(ConditionOf(d.status, kReconciling), api::ConditionStatus::kFalse);
  EXPECT_EQ(ConditionOf(d.status, kStalled), api::ConditionStatus::kFalse);
  // Later evaluations change nothing.
  EXPECT_EQ(rollout.Step(entered + hours(1), NoGo(entered + hours(1))).status.phase,
            RolloutPhase::kSucceeded);
}

TEST(StateMachineTest, AbortAfterSuccessTurnsEverythingOff) {
  Rollout rollout;
  const api::Timestamp entered = rollout.DriveTo(4);
  rollout.Step(entered + minutes(1), Go(entered + minutes(1)));
  rollout.SetAction("abort");
  const Decision d = rollout.Step(entered + hours(3));
  EXPECT_EQ(d.status.phase, RolloutPhase::kRolledBack);
  EXPECT_EQ(d.traffic->weight, 0);
  EXPECT_EQ(d.status.rollback->from_phase, "complete");
}

TEST(StateMachineTest, EmptyTableAdvancesOnTimeAlone) {
  api::AgentRolloutSpec spec = VoiceSpec();
  spec.analysis.metrics.clear();
  spec.analysis.prometheus.reset();
  Rollout rollout(spec);
  const Decision start = rollout.Step(At());
  EXPECT_FALSE(start.analyse);
  EXPECT_EQ(start.status.message,
            "baking in canary (5% flag, 5% traffic); bake ends at 2026-11-22T14:00:00Z");
  EXPECT_EQ(FindCondition(start.status, kHealthy)->reason, "NoAnalysis");
  EXPECT_EQ(rollout.Step(At(hours(4) - seconds(1))).status.current_phase->index, 0);
  EXPECT_EQ(rollout.Step(At(hours(4))).status.current_phase->index, 1);
}

// A table of comparisons only (API.md §3.3) is analysed, says what it waits for, and
// its No-Go rolls back naming the interval that crossed the line.
TEST(StateMachineTest, ComparisonsAloneAreATable) {
  api::AgentRolloutSpec spec = VoiceSpec();
  spec.analysis.metrics.clear();
  spec.analysis.comparisons = {
      api::ComparisonSpec{"error-rate-vs-stable", R"(e{v="{{version}}"}[{{window}}])",
                          R"(t{v="{{version}}"})", api::Threshold{api::CompareOp::kLess, 0.005},
                          api::Threshold{api::CompareOp::kGreater, 0.02}, 0.95, 200}};
  Rollout rollout(spec);
  EXPECT_TRUE(rollout.Step(At()).analyse);
  api::MetricStatus judged;
  judged.name = "error-rate-vs-stable";
  judged.go = "< 0.005";
  judged.no_go = "> 0.02";
  judged.verdict = Verdict::kHold;
  judged.value = "0.004";
  judged.message = "needs 140 more stable calls";
  judged.comparison = api::ComparisonStatus{"-0.02", "0.03", {"1", "300"}, {"0", "60"}};
  const Decision hold =
      rollout.Step(At(minutes(1)), Evaluation(At(minutes(1)), Verdict::kHold, {judged}));
  EXPECT_EQ(hold.status.message,
            "holding in canary: error-rate-vs-stable needs 140 more stable calls; bake ends at "
            "2026-11-22T14:00:00Z");
  EXPECT_EQ(hold.status.analysis.metrics, std::vector<api::MetricStatus>{judged});

  judged.verdict = Verdict::kNoGo;
  judged.value = "0.023";
  judged.message = "canary is worse by 1.2–3.4 points (No-Go above 2)";
  judged.comparison = api::ComparisonStatus{"0.012", "0.034", {"46", "2000"}, {"10", "2000"}};
  const Decision d =
      rollout.Step(At(minutes(2)), Evaluation(At(minutes(2)), Verdict::kNoGo, {judged}));
  EXPECT_EQ(d.status.phase, RolloutPhase::kRolledBack);
  ASSERT_TRUE(d.status.rollback);
  EXPECT_EQ(d.status.rollback->metric, "error-rate-vs-stable");
  EXPECT_EQ(d.status.rollback->value, "[0.012, 0.034]");
  EXPECT_EQ(d.status.rollback->line, "> 0.02");
  EXPECT_THAT(d.status.rollback->reason,
              HasSubstr("error-rate-vs-stable: canary is worse by 1.2–3.4 points (No-Go above "
                        "2), for 1 consecutive evaluation (failureLimit 0)"));
}

TEST(StateMachineTest, AnEmptyTableIgnoresEvaluations) {
  Rollout rollout;
  rollout.Step(At());
  // The scheduler evaluated the old table just before an edit emptied it.
  rollout.EditSpec([](api::AgentRolloutSpec& spec) {
    spec.analysis.metrics.clear();
    spec.analysis.prometheus.reset();
  });
  const Decision d = rollout.Step(At(minutes(1)), NoGo(At(minutes(1))));
  EXPECT_EQ(d.status.phase, RolloutPhase::kProgressing);
  EXPECT_EQ(d.status.verdict, Verdict::kNone);
  EXPECT_EQ(d.status.analysis.consecutive_no_go, 0);
  EXPECT_THAT(Reasons(d), IsEmpty());
  EXPECT_EQ(rollout.Step(At(hours(4))).status.current_phase->index, 1);
}

TEST(StateMachineTest, ZeroDurationPhasesAdvanceOnePerReconcile) {
  api::AgentRolloutSpec spec = VoiceSpec();
  spec.analysis.metrics.clear();
  spec.analysis.prometheus.reset();
  for (auto& phase : spec.phases) {
    phase.duration = api::Duration::zero();
    phase.approval = false;
  }
  Rollout rollout(spec);
  Decision d = rollout.Step(At());
  EXPECT_EQ(d.status.current_phase->index, 0) << "phase 0 is written before it is left";
  EXPECT_EQ(d.traffic->weight, 5);
  EXPECT_EQ(d.requeue_after, std::optional<api::Duration>(api::Duration::zero()));
  for (int index = 1; index <= 4; ++index) {
    d = rollout.Step(At());
    EXPECT_EQ(d.status.current_phase->index, index);
    EXPECT_EQ(d.traffic->weight, spec.phases[static_cast<std::size_t>(index)].traffic_weight);
  }
  EXPECT_EQ(rollout.Step(At()).status.phase, RolloutPhase::kSucceeded);
}

// ------------------------------------------------------------------ extra flags

TEST(StateMachineTest, PhaseFlagsAreSwitchedAndAllTurnedOffByARollback) {
  nlohmann::json json = VoiceSpecJson();
  json["phases"][1]["flags"] = {{"voucher_creation", 100}, {"telemetry", 100}};
  json["phases"][2]["flags"] = {{"whatsapp_integration", 50}};
  json["phases"][3]["flags"] = {{"whatsapp_integration", 100}, {"telemetry", 0}};
  Rollout rollout(DecodeSpecOrDie(json));
  const auto flags_at = [&](int index) {
    rollout.DriveTo(index);
    return rollout.Step(rollout.input().now).flags->flags;
  };
  EXPECT_EQ(flags_at(0), (std::vector<flag::FlagState>{
                             {"voice_agent_v2", true, 5, {"t-internal-1"}, {"t-vip-bank"}},
                             {"telemetry", false, 0, {}, {}},
                             {"voucher_creation", false, 0, {}, {}},
                             {"whatsapp_integration", false, 0, {}, {}}}));
  Rollout fresh(rollout.input().spec);
  fresh.DriveTo(3);
  const Decision at3 = fresh.Step(fresh.input().now);
  EXPECT_EQ(Flag(at3, "telemetry"), (flag::FlagState{"telemetry", true, 0, {}, {}}));
  EXPECT_EQ(Flag(at3, "voucher_creation"),
            (flag::FlagState{"voucher_creation", true, 100, {}, {}}));
  EXPECT_EQ(Flag(at3, "whatsapp_integration"),
            (flag::FlagState{"whatsapp_integration", true, 100, {}, {}}));
  fresh.SetAction("abort");
  const Decision off = fresh.Step(fresh.input().now + seconds(1));
  for (const flag::FlagState& state : off.flags->flags) {
    EXPECT_FALSE(state.enabled) << state.key;
    EXPECT_EQ(state.percentage, 0) << state.key;
  }
  EXPECT_EQ(off.flags->flags.size(), 4u);
}

// ------------------------------------------------------------------ invalid spec

TEST(StateMachineTest, InvalidSpecOfANewRolloutFailsWithoutWritesAndClearsWhenFixed) {
  Rollout rollout;
  rollout.EditSpec([](api::AgentRolloutSpec& spec) { spec.phases[1].name = spec.phases[0].name; });
  const Decision failed = rollout.Step(At());
  EXPECT_EQ(failed.status.phase, RolloutPhase::kFailed);
  EXPECT_FALSE(failed.flags);
  EXPECT_FALSE(failed.traffic);
  EXPECT_FALSE(failed.analyse);
  EXPECT_TRUE(failed.spec_invalid);
  EXPECT_THAT(failed.status.message, HasSubstr("invalid spec, nothing written: spec.phases"));
  EXPECT_THAT(Reasons(failed), ElementsAre("InvalidSpec"));
  EXPECT_EQ(failed.status.observed_generation, 2);
  EXPECT_EQ(FindCondition(failed.status, kReady)->reason, "InvalidSpec");
  EXPECT_EQ(ConditionOf(failed.status, kStalled), api::ConditionStatus::kTrue);
  // Reconciled again without a change: reported once.
  EXPECT_THAT(Reasons(rollout.Step(At(minutes(1)))), IsEmpty());
  // Fixed: it starts.
  rollout.EditSpec([](api::AgentRolloutSpec& spec) { spec.phases[1].name = "early-adopters"; });
  const Decision fixed = rollout.Step(At(minutes(3)));
  EXPECT_EQ(fixed.status.phase, RolloutPhase::kProgressing);
  EXPECT_EQ(fixed.status.current_phase->index, 0);
  EXPECT_FALSE(fixed.spec_invalid);
  EXPECT_EQ(ConditionOf(fixed.status, kStalled), api::ConditionStatus::kFalse);
}

// API.md §4.8: an exposed canary is never left without a go/no-go table.
TEST(StateMachineTest, AnInvalidEditOfALiveRolloutWithNoValidTableRollsBackFully) {
  Rollout rollout;
  const api::Timestamp entered = rollout.DriveTo(1);
  rollout.EditSpec([](api::AgentRolloutSpec& spec) { spec.phases[1].name = spec.phases[0].name; });
  const Decision d = rollout.Step(entered + minutes(1), Go(entered + minutes(1)));
  EXPECT_EQ(d.status.phase, RolloutPhase::kRolledBack);
  EXPECT_TRUE(d.rolls_back);
  ASSERT_TRUE(d.flags.has_value());
  EXPECT_FALSE(d.flags->flags.at(0).enabled);
  EXPECT_EQ(d.traffic->weight, 0);
  ASSERT_TRUE(d.status.rollback.has_value());
  EXPECT_THAT(d.status.rollback->reason, HasSubstr("spec is invalid"));
  EXPECT_THAT(Reasons(d), Contains("InvalidSpec"));
}

TEST(StateMachineTest, AnInvalidEditHoldsThePhaseAndAnalysesWithTheLastValidTable) {
  Rollout rollout;
  const api::Timestamp entered = rollout.DriveTo(1);
  const api::AgentRolloutSpec last_valid = rollout.input().spec;
  rollout.EditSpec([](api::AgentRolloutSpec& spec) {
    spec.analysis.metrics[0].go = *api::ParseThreshold("< 0.5");
  });
  Input input = rollout.input();
  UseLastValidSpec(input, last_valid);
  ASSERT_TRUE(input.invalid_edit.has_value());
  EXPECT_EQ(input.spec, last_valid);
  rollout.input() = input;

  // Baked with Go: held, not advanced.
  const Decision held = rollout.Step(entered + hours(25), Go(entered + hours(24)));
  EXPECT_EQ(held.status.phase, RolloutPhase::kProgressing);
  EXPECT_EQ(held.status.current_phase->index, 1);
  EXPECT_TRUE(held.analyse);
  EXPECT_TRUE(held.spec_invalid);
  EXPECT_EQ(held.status.verdict, Verdict::kGo);
  EXPECT_EQ(FindCondition(held.status, kReady)->reason, "InvalidSpec");
  EXPECT_THAT(held.status.message, HasSubstr("last valid go/no-go table"));
  EXPECT_THAT(Reasons(held), ElementsAre("InvalidSpec"));
  EXPECT_THAT(Reasons(rollout.Step(entered + hours(25) + minutes(1))), IsEmpty())
      << "reported once";

  // Its No-Go rolls back.
  const Decision d = rollout.Step(entered + hours(26), NoGo(entered + hours(25) + minutes(30)));
  EXPECT_EQ(d.status.phase, RolloutPhase::kRolledBack);
  EXPECT_EQ(d.traffic->weight, 0);
}

TEST(StateMachineTest, AGoMeasuredBeforeThePhaseBeganDoesNotAdvanceIt) {
  Rollout rollout;
  rollout.Step(At());
  // Made after the phase started, but resting on an answer sent before (shared or reused).
  api::Evaluation stale = Go(At(hours(4) + minutes(1)));
  stale.measured_from = At() - seconds(10);
  const Decision d = rollout.Step(At(hours(4) + minutes(2)), stale);
  EXPECT_EQ(d.status.current_phase->index, 0);
  EXPECT_EQ(d.status.verdict, Verdict::kNone);
  // A No-Go needs no such proof.
  api::Evaluation old_no_go = NoGo(At(hours(4) + minutes(3)));
  old_no_go.measured_from = At() - seconds(10);
  EXPECT_EQ(rollout.Step(At(hours(4) + minutes(4)), old_no_go).status.phase,
            RolloutPhase::kRolledBack);
}

TEST(StateMachineTest, UndecodableSpecFails) {
  Rollout rollout;
  rollout.input().spec_error =
      InvalidArgument("spec.phases[2].trafficWeight: must be 0..100, got 140");
  const Decision d = rollout.Step(At());
  EXPECT_EQ(d.status.phase, RolloutPhase::kFailed);
  EXPECT_EQ(d.status.message,
            "invalid spec, nothing written: spec.phases[2].trafficWeight: must be 0..100, got 140");
  EXPECT_FALSE(d.flags);
  EXPECT_FALSE(d.traffic);
  rollout.input().spec_error.reset();
  const Decision started = rollout.Step(At(minutes(1)));
  EXPECT_EQ(started.status.phase, RolloutPhase::kProgressing);
  EXPECT_EQ(started.status.current_phase->index, 0);
}

// ------------------------------------------------------------------ status bookkeeping

TEST(StateMachineTest, ConditionsKeepTheirTransitionTimeWhileUnchanged) {
  Rollout rollout;
  rollout.Step(At());
  rollout.Step(At(hours(1)), Go(At(hours(1))));
  const api::Condition* ready = FindCondition(rollout.status(), kReady);
  EXPECT_EQ(ready->last_transition_time, At());
  rollout.Step(At(hours(2)), NoGo(At(hours(2))));  // RolledBack: Stalled flips
  EXPECT_EQ(FindCondition(rollout.status(), kReady)->last_transition_time, At());
  EXPECT_EQ(FindCondition(rollout.status(), kStalled)->last_transition_time, At(hours(2)));
  EXPECT_EQ(FindCondition(rollout.status(), kReconciling)->last_transition_time, At(hours(2)));
}

TEST(StateMachineTest, ASettledStatusIsAFixedPoint) {
  Rollout rollout;
  rollout.Step(At());
  const Decision first = rollout.Step(At(hours(1)), Go(At(hours(1))));
  const Decision again = rollout.Step(At(hours(1)));
  EXPECT_EQ(again.status, first.status) << "no new write when nothing changed";
  EXPECT_EQ(again.flags, first.flags);
  EXPECT_EQ(again.traffic, first.traffic);
  EXPECT_THAT(again.events, IsEmpty());
}

TEST(StateMachineTest, HistoryKeepsTheLastTwenty) {
  api::AgentRolloutSpec spec = VoiceSpec();
  spec.analysis.metrics.clear();
  spec.analysis.prometheus.reset();
  for (auto& phase : spec.phases) phase.duration = api::Duration::zero();
  spec.phases[3].approval = false;
  Rollout rollout(spec);
  api::Timestamp now = At();
  for (int run = 0; run < 6; ++run) {
    rollout.EditSpec([run](api::AgentRolloutSpec& s) { s.revision = "r" + std::to_string(run); });
    for (int i = 0; i < 6; ++i) rollout.Step(now += seconds(1));
  }
  const auto& history = rollout.status().history;
  ASSERT_EQ(history.size(), api::kMaxHistory);
  EXPECT_EQ(history.back().reason, "Succeeded");
  EXPECT_EQ(history.back().at, now) << "newest last";
}

TEST(StateMachineTest, SpecEditsInAPhaseAreFollowed) {
  Rollout rollout;
  const api::Timestamp entered = rollout.DriveTo(1);
  rollout.EditSpec([](api::AgentRolloutSpec& spec) {
    spec.phases[1].flag_percent = 15;
    spec.phases[1].traffic_weight = 12;
    spec.flag->disabled_tenants.push_back("t-gov");
  });
  const Decision d = rollout.Step(entered + minutes(1));
  EXPECT_EQ(d.status.current_phase->flag_percent, 15);
  EXPECT_EQ(d.traffic->weight, 12);
  EXPECT_THAT(Flag(d, "voice_agent_v2").disabled_tenants, ElementsAre("t-vip-bank", "t-gov"));
  EXPECT_EQ(d.status.current_phase->started_at, entered);
}

// ------------------------------------------------------------------ failed writes

TEST(StateMachineTest, AFailedRollbackWriteIsPersistedAsRollingBackAndFinishedNext) {
  Rollout rollout;
  rollout.Step(At());
  rollout.input().now = At(minutes(1));
  rollout.input().evaluation = NoGo(At(minutes(1)));
  const Decision rollback = Decide(rollout.input());
  ASSERT_TRUE(rollback.rolls_back);
  const WriteFailure failure =
      FailedWrite(rollout.input(), rollback, WriteStage::kFlag, Unavailable("etcd timeout"));
  EXPECT_EQ(failure.status.phase, RolloutPhase::kRollingBack);
  ASSERT_TRUE(failure.status.rollback);
  EXPECT_EQ(failure.status.rollback->metric, "error-rate");
  EXPECT_THAT(failure.status.message, HasSubstr("the flag store write failed and is retried"));
  EXPECT_EQ(ConditionOf(failure.status, kReconciling), api::ConditionStatus::kTrue);
  EXPECT_EQ(failure.events.at(0).reason, "RollingBack");
  // Persisted; the evaluation is gone (e.g. the operator restarted): still finishes.
  rollout.input().status = failure.status;
  const Decision finish = rollout.Step(At(minutes(2)));
  EXPECT_TRUE(finish.rolls_back);
  EXPECT_EQ(finish.status.phase, RolloutPhase::kRolledBack);
  EXPECT_EQ(finish.traffic->weight, 0);
  EXPECT_FALSE(Flag(finish, "voice_agent_v2").enabled);
  EXPECT_EQ(finish.status.rollback->metric, "error-rate");
  EXPECT_EQ(finish.status.history.back().reason, "RolledBack");
  EXPECT_THAT(Reasons(finish), ElementsAre("RolledBack"));
}

// The executor decides again with Input::blocked when a decision's writes failed.
Decision DecideBlocked(Input input, WriteStage stage, Error error) {
  input.blocked = BlockedWrite{stage, std::move(error)};
  return Decide(input);
}

TEST(StateMachineTest, AMissingTrafficTargetHoldsWithoutAdvancingButFolds) {
  Rollout rollout;
  rollout.Step(At());
  rollout.input().now = At(hours(5));
  rollout.input().evaluation = Go(At(hours(5)));
  ASSERT_EQ(Decide(rollout.input()).status.current_phase->index, 1);
  const Decision held = DecideBlocked(rollout.input(), WriteStage::kTraffic,
                                      NotFound("httproutes \"voice-agent\" not found"));
  EXPECT_EQ(held.status.current_phase->index, 0) << "nothing advanced";
  EXPECT_FALSE(held.flags) << "nothing written";
  EXPECT_FALSE(held.traffic);
  EXPECT_TRUE(held.analyse) << "analysis goes on (API.md §4.8)";
  EXPECT_EQ(held.status.verdict, Verdict::kGo) << "the evaluation is folded";
  EXPECT_EQ(held.status.message,
            "holding in canary: traffic target not found: httproutes \"voice-agent\" not found; "
            "analysis is Go");
  EXPECT_EQ(FindCondition(held.status, kReady)->reason, "TrafficTargetNotFound");
  EXPECT_THAT(Reasons(held), ElementsAre("TrafficTargetNotFound"));
}

// API.md §5: a flag store whose target is missing (kNotFound: flag.postgres's table, column or
// row, flag.deploymentEnv's Deployment or container) holds the rollout with Ready=False,
// reason FlagTargetNotFound, naming the target, and nothing written.
TEST(StateMachineTest, AMissingFlagTargetHoldsWithReasonFlagTargetNotFound) {
  Rollout rollout;
  rollout.Step(At());
  rollout.input().now = At(hours(5));
  rollout.input().evaluation = Go(At(hours(5)));
  for (const std::string target :
       {"postgres table public.feature_flags: has no row with name = \"voice_agent_v2\"; insert "
        "it (the operator never inserts rows)",
        "deployment voice/voice-agent: not found"}) {
    SCOPED_TRACE(target);
    const Decision held = DecideBlocked(rollout.input(), WriteStage::kFlag, NotFound(target));
    EXPECT_EQ(held.status.current_phase->index, 0) << "nothing advanced";
    EXPECT_FALSE(held.flags) << "nothing written";
    EXPECT_FALSE(held.traffic) << "traffic never moves past the flag";
    EXPECT_TRUE(held.analyse) << "analysis goes on (API.md §4.8)";
    EXPECT_THAT(held.status.message,
                HasSubstr("holding in canary: flag target not found: " + target));
    EXPECT_EQ(ConditionOf(held.status, kReady), api::ConditionStatus::kFalse);
    EXPECT_EQ(FindCondition(held.status, kReady)->reason, "FlagTargetNotFound");
    EXPECT_THAT(Reasons(held), ElementsAre("FlagTargetNotFound"));
  }
  // Any other flag write failure stays WriteFailed.
  const Decision failed =
      DecideBlocked(rollout.input(), WriteStage::kFlag, Unavailable("connection refused"));
  EXPECT_EQ(FindCondition(failed.status, kReady)->reason, "WriteFailed");
}

TEST(StateMachineTest, ABlockedDecisionStillRollsBack) {
  Rollout rollout;
  const api::Timestamp entered = rollout.DriveTo(1);
  rollout.input().now = entered + minutes(2);
  rollout.input().evaluation = NoGo(entered + minutes(1));
  const Decision d = DecideBlocked(rollout.input(), WriteStage::kFlag, Unavailable("etcd timeout"));
  EXPECT_TRUE(d.rolls_back);
  EXPECT_EQ(d.status.phase, RolloutPhase::kRolledBack);
  EXPECT_EQ(d.traffic->weight, 0);
  EXPECT_FALSE(d.flags->flags.at(0).enabled);
}

TEST(StateMachineTest, ASucceededRolloutStaysReadyWhenAReassertFails) {
  Rollout rollout;
  const api::Timestamp entered = rollout.DriveTo(4);
  rollout.Step(entered + minutes(1), Go(entered + minutes(1)));
  ASSERT_EQ(rollout.status().phase, RolloutPhase::kSucceeded);
  rollout.input().now = entered + hours(1);
  const Decision held = DecideBlocked(rollout.input(), WriteStage::kTraffic,
                                      NotFound("httproutes \"voice-agent\" not found"));
  EXPECT_EQ(held.status.phase, RolloutPhase::kSucceeded);
  EXPECT_EQ(ConditionOf(held.status, kReady), api::ConditionStatus::kTrue);
  EXPECT_EQ(FindCondition(held.status, kReady)->reason, "Succeeded")
      << "Ready is True iff Succeeded, reason Succeeded (API.md §8)";
  EXPECT_THAT(held.status.message, HasSubstr("traffic target not found"));
  EXPECT_EQ(held.events.at(0).reason, "TrafficTargetNotFound");
}

TEST(StateMachineTest, AStartWhoseWritesFailIsPending) {
  Rollout rollout;
  rollout.input().now = At();
  const Decision held = DecideBlocked(rollout.input(), WriteStage::kTraffic, NotFound("no route"));
  EXPECT_EQ(held.status.phase, RolloutPhase::kPending);
  EXPECT_FALSE(held.flags);
  EXPECT_FALSE(held.traffic);
  EXPECT_EQ(ConditionOf(held.status, kReconciling), api::ConditionStatus::kTrue);
  rollout.input().status = held.status;
  EXPECT_EQ(rollout.Step(At(seconds(5))).status.phase, RolloutPhase::kProgressing);
}

// ------------------------------------------------------------------ onDelete (API.md §2)

api::AgentRolloutSpec RollbackOnDelete() {
  api::AgentRolloutSpec spec = VoiceSpec();
  spec.on_delete = api::DeletePolicy::kRollback;
  return spec;
}

TEST(StateMachineTest, TheRollbackFinalizerFollowsOnDelete) {
  Rollout rollout(RollbackOnDelete());
  const Decision first = rollout.Step(At());
  EXPECT_EQ(first.finalizer, FinalizerChange::kAdd) << "added with the first writes";
  EXPECT_TRUE(first.flags);
  EXPECT_FALSE(first.release);
  rollout.input().metadata.finalizers = {"example.com/other", api::kRollbackOnDeleteFinalizer};
  EXPECT_EQ(rollout.Step(At(seconds(1))).finalizer, FinalizerChange::kNone);
  rollout.EditSpec([](api::AgentRolloutSpec& spec) { spec.on_delete = api::DeletePolicy::kKeep; });
  EXPECT_EQ(rollout.Step(At(seconds(2))).finalizer, FinalizerChange::kRemove);

  Rollout keep;
  EXPECT_EQ(keep.Step(At()).finalizer, FinalizerChange::kNone) << "keep needs no finalizer";
  keep.input().spec_error = InvalidArgument("spec.phases: bad");
  keep.input().metadata.finalizers = {api::kRollbackOnDeleteFinalizer};
  EXPECT_EQ(keep.Step(At(seconds(1))).finalizer, FinalizerChange::kNone)
      << "a spec that does not decode leaves the finalizer as it is";
}

TEST(StateMachineTest, DeletionUnderTheFinalizerTakesEverythingDownThenLetsGo) {
  nlohmann::json json = VoiceSpecJson();
  json["onDelete"] = "rollback";
  json["phases"][1]["flags"] = {{"voucher_creation", 100}};
  Rollout rollout(DecodeSpecOrDie(json));
  const api::Timestamp entered = rollout.DriveTo(2);
  const api::AgentRolloutStatus before = rollout.status();
  rollout.input().metadata.finalizers = {api::kRollbackOnDeleteFinalizer};
  rollout.input().metadata.deletion_timestamp = entered + minutes(5);
  rollout.SetAction("promote");  // ignored: nothing moves forward once deleted
  const Decision d = rollout.Step(entered + minutes(5), Go(entered + minutes(5)));
  EXPECT_EQ(d.release, ReleaseMode::kWithState);
  ASSERT_TRUE(d.flags);
  EXPECT_EQ(d.flags->rollout, "voice/voice-agent-v2");
  EXPECT_EQ(d.flags->flags, (std::vector<flag::FlagState>{
                                {"voice_agent_v2", false, 0, {"t-internal-1"}, {"t-vip-bank"}},
                                {"voucher_creation", false, 0, {}, {}}}))
      << "every flag the rollout set, off (as a total rollback)";
  ASSERT_TRUE(d.traffic);
  EXPECT_EQ(d.traffic->weight, 0);
  EXPECT_EQ(d.finalizer, FinalizerChange::kRemove);
  EXPECT_EQ(d.status, before) << "nothing else changes on an object about to go";
  EXPECT_FALSE(d.analyse);
  EXPECT_FALSE(d.remove_action_annotation);
  EXPECT_FALSE(d.rolls_back) << "carried out as a release, not through FailedWrite";
  ASSERT_THAT(Reasons(d), ElementsAre("RolledBack"));
  EXPECT_EQ(d.events[0].type, "Normal");
}

TEST(StateMachineTest, AFailedDeletionHoldsUntilTheTimeoutThenGivesUp) {
  Rollout rollout(RollbackOnDelete());
  const api::Timestamp entered = rollout.DriveTo(1);
  rollout.input().metadata.finalizers = {api::kRollbackOnDeleteFinalizer};
  rollout.input().metadata.deletion_timestamp = entered;
  rollout.input().now = entered + seconds(30);
  const Decision held = DecideBlocked(rollout.input(), WriteStage::kFlag,
                                      Error(ErrorCode::kFailedPrecondition, "not JSON"));
  EXPECT_EQ(held.finalizer, FinalizerChange::kNone) << "the object stays while retrying";
  EXPECT_FALSE(held.flags);
  EXPECT_FALSE(held.traffic);
  EXPECT_EQ(held.status.message,
            "deleting with onDelete rollback: the flag store write failed and is retried: not "
            "JSON; gives up and lets the object go at 2026-11-22T14:02:00Z");
  EXPECT_EQ(held.requeue_after, minutes(1) + seconds(30));
  EXPECT_THAT(Reasons(held), ElementsAre("WriteFailed"));
  rollout.input().status = held.status;
  rollout.input().now = entered + seconds(40);
  EXPECT_THAT(Reasons(DecideBlocked(rollout.input(), WriteStage::kFlag,
                                    Error(ErrorCode::kFailedPrecondition, "not JSON"))),
              IsEmpty())
      << "said once";

  rollout.input().now = entered + minutes(2);
  const Decision gave_up = DecideBlocked(rollout.input(), WriteStage::kTraffic,
                                         Unavailable("httproutes: connection refused"));
  EXPECT_EQ(gave_up.finalizer, FinalizerChange::kRemove);
  EXPECT_FALSE(gave_up.flags);
  EXPECT_FALSE(gave_up.traffic);
  ASSERT_THAT(Reasons(gave_up), ElementsAre("WriteFailed"));
  EXPECT_EQ(gave_up.events[0].type, "Warning");
  EXPECT_EQ(gave_up.events[0].message,
            "onDelete rollback gave up and let the object go, leaving what it could not write as "
            "it was: the traffic router write failed and is retried: httproutes: connection "
            "refused");
}

TEST(StateMachineTest, DeletionWithKeepOnlyReleasesTheOwner) {
  Rollout rollout;
  rollout.DriveTo(1);
  const api::AgentRolloutStatus before = rollout.status();
  rollout.input().metadata.deletion_timestamp = rollout.input().now;
  const Decision d = rollout.Step(rollout.input().now + seconds(1));
  EXPECT_EQ(d.release, ReleaseMode::kOwnerOnly);
  ASSERT_TRUE(d.flags);
  EXPECT_EQ(d.flags->flags.at(0).key, "voice_agent_v2");
  EXPECT_FALSE(d.traffic) << "traffic is left as it is";
  EXPECT_EQ(d.finalizer, FinalizerChange::kNone);
  EXPECT_EQ(d.status, before);
  EXPECT_THAT(Reasons(d), IsEmpty());

  // Deleted after the spec changed to keep, before the finalizer was removed: keep.
  rollout.input().metadata.finalizers = {api::kRollbackOnDeleteFinalizer};
  const Decision kept = rollout.Step(rollout.input().now + seconds(1));
  EXPECT_EQ(kept.release, ReleaseMode::kOwnerOnly);
  EXPECT_FALSE(kept.traffic);
  EXPECT_EQ(kept.finalizer, FinalizerChange::kRemove);
}

TEST(StateMachineTest, ADeletionWhoseSpecDoesNotDecodeLetsGoAtOnceSayingSo) {
  Rollout rollout(RollbackOnDelete());
  rollout.DriveTo(1);
  rollout.input().metadata.finalizers = {api::kRollbackOnDeleteFinalizer};
  rollout.input().metadata.deletion_timestamp = rollout.input().now;
  rollout.input().spec_error = InvalidArgument("spec.flag.key: must match");
  const Decision d = rollout.Step(rollout.input().now);
  EXPECT_EQ(d.finalizer, FinalizerChange::kRemove);
  EXPECT_FALSE(d.flags);
  EXPECT_FALSE(d.traffic);
  ASSERT_THAT(Reasons(d), ElementsAre("WriteFailed"));
  EXPECT_THAT(d.events[0].message, HasSubstr("the spec does not decode"));
}

}  // namespace
}  // namespace agentrollout::controllers
