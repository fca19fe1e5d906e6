#include "controllers/rollout/executor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "api/names.h"
#include "api/time.h"
#include "controllers/flagstore/fake_flag_store.h"
#include "controllers/notify/fake_notifier.h"
#include "controllers/rollout/conditions.h"
#include "controllers/rollout/observed_rollout.h"
#include "controllers/rollout/test_support.h"
#include "controllers/traffic/fake_traffic_router.h"
#include "kube/fake_client.h"

namespace agentrollout::controllers {
namespace {

using api::RolloutPhase;
using nlohmann::json;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using namespace fixtures;  // NOLINT: the builders of test_support.h

constexpr char kNamespace[] = "voice";
constexpr char kName[] = "voice-agent-v2";

// Two phases, no metrics (time alone advances), the first needs approval.
json ApprovalSpecJson() {
  return json::parse(R"({
    "revision": "1",
    "flag": {"key": "wa_bot", "configMap": {"name": "feature-flags"}},
    "traffic": {"gatewayAPI": {"httpRoute": "bot", "stableBackend": "bot-v1",
                               "canaryBackend": "bot-v2"}},
    "phases": [{"name": "pilot", "flagPercent": 10, "trafficWeight": 10, "approval": true},
               {"name": "all", "flagPercent": 100, "trafficWeight": 100}]})");
}

class ExecutorTest : public ::testing::Test {
 protected:
  ExecutorTest() {
    client_->EnableStatusSubresource(kAgentRollouts);
    kube::EventRecorderOptions options;
    options.component = "agentrollout-operator";
    recorder_ = std::make_unique<kube::EventRecorder>(client_, options);
    executor_ = std::make_unique<Executor>(client_, flags_, router_, *recorder_, notifier_);
    // The order of the effects, across the fakes.
    flags_.SetHook([this](const DesiredFlags&) {
      Log("flag");
      return std::nullopt;
    });
    router_.SetHook([this](FakeTrafficRouter::Call call, const TrafficTarget&) {
      Log(call == FakeTrafficRouter::Call::kCheck ? "check" : "weight");
      return std::nullopt;
    });
    client_->AddReactor(
        [this](const kube::FakeClient::Action& action) -> std::optional<kube::ApiResult<json>> {
          if (action.resource == kAgentRollouts && action.verb == "update-status") Log("status");
          if (action.resource == kAgentRollouts && action.verb == "patch") {
            // The test's own spec edits are patches too, without metadata.
            const json& patch = action.object;
            const bool finalizers =
                patch.contains("metadata") && patch.at("metadata").contains("finalizers");
            Log(finalizers ? "finalizer" : "annotation");
          }
          return std::nullopt;
        });
  }

  void Log(const std::string& what) {
    std::lock_guard lock(mu_);
    log_.push_back(what);
  }
  std::vector<std::string> TakeLog() {
    std::lock_guard lock(mu_);
    return std::exchange(log_, {});
  }

  void Create(json spec = VoiceSpecJson(), const std::string& action = "") {
    json object = {{"apiVersion", api::kApiVersion},
                   {"kind", api::kKind},
                   {"metadata", {{"name", kName}}},
                   {"spec", std::move(spec)}};
    if (!action.empty()) object["metadata"]["annotations"][api::kActionAnnotation] = action;
    auto created = client_->Create(kAgentRollouts, kNamespace, object);
    ASSERT_TRUE(created.ok()) << created.error().ToString();
  }

  void Annotate(const std::string& action) {
    auto patched =
        client_->Patch(kAgentRollouts, kNamespace, kName, kube::PatchType::kMerge,
                       {{"metadata", {{"annotations", {{api::kActionAnnotation, action}}}}}});
    ASSERT_TRUE(patched.ok()) << patched.error().ToString();
  }

  json Object() {
    auto object = client_->Get(kAgentRollouts, kNamespace, kName);
    EXPECT_TRUE(object.ok()) << object.error().ToString();
    return object.ok() ? *object : json::object();
  }

  Input Observe(api::Timestamp now, std::optional<api::Evaluation> evaluation = std::nullopt) {
    auto observed = DecodeObservedRollout(Object());
    EXPECT_TRUE(observed.ok()) << observed.error().ToString();
    return MakeInput(observed.ok() ? *observed : ObservedRollout{}, std::move(evaluation), now);
  }

  Execution Run(api::Timestamp now, std::optional<api::Evaluation> evaluation = std::nullopt) {
    return executor_->Execute(Observe(now, std::move(evaluation)));
  }

  api::AgentRolloutStatus Stored() {
    auto observed = DecodeObservedRollout(Object());
    EXPECT_TRUE(observed.ok());
    return observed.ok() ? observed->status : api::AgentRolloutStatus{};
  }

  // Reasons of the Events written so far, oldest first.
  std::vector<std::string> EventReasons() {
    recorder_->Flush();
    std::vector<std::string> reasons;
    auto events = client_->List(kube::kEvents, kNamespace);
    EXPECT_TRUE(events.ok());
    if (!events.ok()) return reasons;
    for (const json& event : events->items) {
      reasons.push_back(event.value("reason", ""));
    }
    return reasons;
  }

  int Count(const std::string& verb) {
    int count = 0;
    for (const auto& action : client_->Actions()) {
      if (action.resource == kAgentRollouts && action.verb == verb) ++count;
    }
    return count;
  }

  std::shared_ptr<kube::FakeClient> client_ = std::make_shared<kube::FakeClient>();
  FakeFlagStore flags_;
  FakeTrafficRouter router_;
  FakeNotifier notifier_;
  std::unique_ptr<kube::EventRecorder> recorder_;
  std::unique_ptr<Executor> executor_;
  std::mutex mu_;
  std::vector<std::string> log_;
};

TEST_F(ExecutorTest, StartWritesFlagThenTrafficThenStatusThenTellsIt) {
  Create();
  const std::string before = Object()["metadata"]["resourceVersion"];
  Execution execution = Run(At());

  ASSERT_TRUE(execution.result.ok()) << execution.result.error().ToString();
  EXPECT_THAT(TakeLog(), ElementsAre("check", "flag", "weight", "status"));
  const flag::FlagState own = flags_.flags().at("voice_agent_v2");
  EXPECT_TRUE(own.enabled);
  EXPECT_EQ(own.percentage, 5);
  EXPECT_EQ(router_.weight(), 5);
  EXPECT_EQ(flags_.calls().front().rollout, "voice/voice-agent-v2");
  EXPECT_EQ(router_.calls(FakeTrafficRouter::Call::kSetWeight).front().namespace_, "voice");

  const api::AgentRolloutStatus stored = Stored();
  EXPECT_EQ(stored.phase, RolloutPhase::kProgressing);
  EXPECT_EQ(stored.current_phase->name, "canary");
  EXPECT_EQ(stored, execution.status);
  EXPECT_TRUE(execution.status_written);
  EXPECT_THAT(execution.superseded, ElementsAre(before));
  EXPECT_EQ(execution.resource_version, Object()["metadata"]["resourceVersion"]);
  EXPECT_THAT(EventReasons(), ElementsAre("PhaseStarted"));
}

TEST_F(ExecutorTest, ASettledDecisionWritesNoStatusAndSaysNothingAgain) {
  Create();
  ASSERT_TRUE(Run(At()).result.ok());
  client_->ClearActions();
  Execution again = Run(At());
  EXPECT_TRUE(again.result.ok());
  EXPECT_FALSE(again.status_written);
  EXPECT_EQ(Count("update-status"), 0);
  EXPECT_THAT(again.superseded, IsEmpty());
  EXPECT_THAT(EventReasons(), ElementsAre("PhaseStarted"));
  // The same writes moments later are not carried out again (recent_writes.h).
  EXPECT_EQ(flags_.calls().size(), 1u);
  EXPECT_EQ(router_.calls(FakeTrafficRouter::Call::kSetWeight).size(), 1u);
}

TEST_F(ExecutorTest, SteadyEvaluationsWriteStatusOncePerRefreshInterval) {
  ExecutorOptions options;
  options.status_refresh.every = minutes(5);
  executor_ = std::make_unique<Executor>(client_, flags_, router_, *recorder_, notifier_, options);
  Create();
  ASSERT_TRUE(Run(At()).result.ok());
  ASSERT_TRUE(Run(At() + minutes(1), Go(At() + minutes(1))).status_written);
  client_->ClearActions();
  for (int minute = 2; minute <= 11; ++minute) {
    const Execution execution = Run(At() + minutes(minute), Go(At() + minutes(minute)));
    EXPECT_TRUE(execution.result.ok());
    EXPECT_EQ(execution.status_written, minute == 6 || minute == 11) << "minute " << minute;
    // The object shows the decided status: the reconciler lets go of the evaluation.
    EXPECT_EQ(execution.status, execution.decision.status);
    EXPECT_EQ(execution.status, Stored());
  }
  EXPECT_EQ(Count("update-status"), 2);
  EXPECT_EQ(Stored().analysis.last_evaluated, At() + minutes(11));
  // A new verdict is written at once.
  EXPECT_TRUE(Run(At() + minutes(12), Hold(At() + minutes(12))).status_written);
  EXPECT_EQ(Stored().verdict, api::Verdict::kHold);
}

TEST_F(ExecutorTest, TheSameWritesAreReassertedOnceTheyAreNoLongerRecent) {
  Create();
  ASSERT_TRUE(Run(At()).result.ok());
  ASSERT_TRUE(Run(At() + std::chrono::seconds(29)).result.ok());
  EXPECT_EQ(flags_.calls().size(), 1u);
  // A hand edit of the flag or route is undone by the first reconcile 30 s after the write.
  ASSERT_TRUE(Run(At() + std::chrono::seconds(30)).result.ok());
  EXPECT_EQ(flags_.calls().size(), 2u);
  EXPECT_EQ(router_.calls(FakeTrafficRouter::Call::kSetWeight).size(), 2u);
}

TEST_F(ExecutorTest, AFailedWriteIsTriedAgainAtTheNextDecision) {
  Create();
  router_.FailAlways(FakeTrafficRouter::Call::kSetWeight, Unavailable("connection refused"));
  EXPECT_FALSE(Run(At()).result.ok());
  router_.FailAlways(FakeTrafficRouter::Call::kSetWeight, std::nullopt);
  ASSERT_TRUE(Run(At()).result.ok());
  EXPECT_EQ(flags_.calls().size(), 2u) << "nothing of a failed decision counts as written";
  EXPECT_EQ(router_.calls(FakeTrafficRouter::Call::kSetWeight).size(), 2u);
}

TEST_F(ExecutorTest, ARestartedExecutorReassertsEverything) {
  Create();
  ASSERT_TRUE(Run(At()).result.ok());
  executor_ = std::make_unique<Executor>(client_, flags_, router_, *recorder_, notifier_);
  ASSERT_TRUE(Run(At()).result.ok());
  EXPECT_EQ(flags_.calls().size(), 2u) << "a crash before the status write is repaired";
}

TEST_F(ExecutorTest, AMissingRouterHoldsWithNothingWritten) {
  Create();
  router_.FailAlways(FakeTrafficRouter::Call::kCheck,
                     NotFound("httproutes.gateway.networking.k8s.io \"voice-agent\" not found"));
  Execution execution = Run(At());

  ASSERT_FALSE(execution.result.ok());
  EXPECT_EQ(execution.result.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(execution.failed_stage, WriteStage::kTraffic);
  EXPECT_THAT(TakeLog(), ElementsAre("check", "status"));
  EXPECT_THAT(flags_.calls(), IsEmpty());
  EXPECT_THAT(router_.calls(FakeTrafficRouter::Call::kSetWeight), IsEmpty());
  const api::AgentRolloutStatus stored = Stored();
  EXPECT_EQ(stored.phase, RolloutPhase::kPending);
  const api::Condition* ready = FindCondition(stored, kReady);
  ASSERT_NE(ready, nullptr);
  EXPECT_EQ(ready->status, api::ConditionStatus::kFalse);
  EXPECT_EQ(ready->reason, "TrafficTargetNotFound");
  EXPECT_THAT(stored.message, HasSubstr("voice-agent"));
  EXPECT_THAT(EventReasons(), ElementsAre("TrafficTargetNotFound"));

  // Still missing: already reported, nothing new written or said.
  client_->ClearActions();
  EXPECT_FALSE(Run(At() + seconds(5)).result.ok());
  EXPECT_EQ(Count("update-status"), 0);
  EXPECT_THAT(EventReasons(), ElementsAre("TrafficTargetNotFound"));

  // The route appears: the rollout starts.
  router_.FailAlways(FakeTrafficRouter::Call::kCheck, std::nullopt);
  ASSERT_TRUE(Run(At() + seconds(10)).result.ok());
  EXPECT_EQ(Stored().phase, RolloutPhase::kProgressing);
  EXPECT_EQ(router_.weight(), 5);
}

TEST_F(ExecutorTest, AFailedFlagWriteKeepsThePhaseAndIsRetried) {
  json spec = VoiceSpecJson();
  spec["notifications"] = {{{"url", "https://hooks.example/x"}, {"events", {"PhaseAdvanced"}}}};
  Create(spec);
  ASSERT_TRUE(Run(At()).result.ok());
  const api::Timestamp go_at = At() + hours(4) + seconds(1);

  const std::size_t notified = notifier_.sent().size();  // PhaseStarted
  flags_.FailNext(Unavailable("connection refused"));
  Execution failed = Run(go_at + seconds(1), Go(go_at));
  ASSERT_FALSE(failed.result.ok());
  EXPECT_EQ(failed.failed_stage, WriteStage::kFlag);
  EXPECT_EQ(Stored().current_phase->name, "canary");
  EXPECT_THAT(Stored().message, HasSubstr("flag store write failed"));
  EXPECT_EQ(router_.weight(), 5);  // traffic is never moved past the flag
  EXPECT_THAT(EventReasons(), Contains("WriteFailed"));
  EXPECT_EQ(notifier_.sent().size(), notified);  // WriteFailed is no API reason

  Execution advanced = Run(go_at + seconds(2), Go(go_at));
  ASSERT_TRUE(advanced.result.ok()) << advanced.result.error().ToString();
  EXPECT_EQ(Stored().current_phase->name, "early-adopters");
  EXPECT_EQ(flags_.flags().at("voice_agent_v2").percentage, 10);
  EXPECT_EQ(router_.weight(), 10);
  EXPECT_THAT(EventReasons(), Contains("PhaseAdvanced"));
  ASSERT_EQ(notifier_.sent().size(), notified + 1);
  const Notification sent = notifier_.sent().back();
  EXPECT_EQ(sent.reason, api::EventReason::kPhaseAdvanced);
  EXPECT_EQ(sent.name, kName);
  EXPECT_EQ(sent.rollout["step"], "early-adopters");
  EXPECT_EQ(sent.rollout["flagPercent"], 10);
  EXPECT_EQ(sent.targets.size(), 1u);
  EXPECT_EQ(sent.at, go_at + seconds(2));
  EXPECT_EQ(sent.previous_revision, Stored().revision);
  EXPECT_EQ(sent.analysis_interval, api::Duration(minutes(1)));  // spec.analysis.interval
  EXPECT_EQ(sent.metric, std::nullopt) << "an advance is decided by no single metric";
}

TEST_F(ExecutorTest, RollbackNotificationsCarryTheDecidingMetricAndTheRevision) {
  json spec = VoiceSpecJson();
  spec["notifications"] = {{{"type", "alertmanager"}, {"url", "http://alertmanager:9093"}}};
  Create(spec);
  ASSERT_TRUE(Run(At()).result.ok());
  ASSERT_TRUE(Run(At() + minutes(2), Abort(At() + minutes(1))).result.ok());
  ASSERT_EQ(Stored().phase, RolloutPhase::kRolledBack);
  const api::RollbackStatus rollback = *Stored().rollback;
  bool rolled_back = false;
  for (const Notification& sent : notifier_.sent()) {
    EXPECT_EQ(sent.targets.at(0).type, api::NotificationType::kAlertmanager);
    if (sent.reason != api::EventReason::kRolledBack) continue;
    rolled_back = true;
    ASSERT_TRUE(sent.metric.has_value());
    EXPECT_EQ(*sent.metric, (DecidingMetric{rollback.metric, rollback.value, rollback.line}));
    EXPECT_EQ(sent.metric->name, "error-rate");
    EXPECT_EQ(sent.previous_revision, Stored().revision);
    EXPECT_EQ(sent.at, At() + minutes(2));
  }
  EXPECT_TRUE(rolled_back);
}

TEST(DecidingMetricOf, NamesTheMetricThatDecided) {
  api::AgentRolloutStatus status;
  status.analysis.metrics = {
      {"latency", "900", api::Verdict::kHold, "< 800", "> 1200", "", "", false, std::nullopt},
      {"shadow", "0.9", api::Verdict::kNoGo, "< 0.02", "> 0.05", "", "", true, std::nullopt},
      {"error-rate", "0.071", api::Verdict::kNoGo, "< 0.02", "> 0.05", "", "", false,
       std::nullopt}};
  EXPECT_EQ(DecidingMetricOf(status, api::EventReason::kAnalysisNoGo),
            (DecidingMetric{"error-rate", "0.071", "> 0.05"}))
      << "the first No-Go that is not dryRun, with its noGo line";
  EXPECT_EQ(DecidingMetricOf(status, api::EventReason::kAnalysisHold),
            (DecidingMetric{"latency", "900", "< 800"}))
      << "a Hold is outside its go line";
  EXPECT_EQ(DecidingMetricOf(status, api::EventReason::kRolledBack), std::nullopt);
  status.rollback = api::RollbackStatus{{}, "majority", "error-rate", "0.071", "> 0.05", "noGo"};
  EXPECT_EQ(DecidingMetricOf(status, api::EventReason::kRolledBack),
            (DecidingMetric{"error-rate", "0.071", "> 0.05"}));
  EXPECT_EQ(DecidingMetricOf(status, api::EventReason::kRollingBack),
            (DecidingMetric{"error-rate", "0.071", "> 0.05"}));
  EXPECT_EQ(DecidingMetricOf(status, api::EventReason::kPhaseAdvanced), std::nullopt);
}

TEST_F(ExecutorTest, RollbackWritesTheFlagAndTheRouteAtTheSameTime) {
  Create();
  ASSERT_TRUE(Run(At()).result.ok());
  // The flag write waits for the route write to begin. Were they written one after the
  // other, it would wait out the 10 s and find that the route write had not begun.
  std::mutex mu;
  std::condition_variable cv;
  bool weight_begun = false;
  bool overlapped = false;
  router_.SetHook([&](FakeTrafficRouter::Call call, const TrafficTarget&) -> std::optional<Error> {
    if (call == FakeTrafficRouter::Call::kSetWeight) {
      std::lock_guard lock(mu);
      weight_begun = true;
      cv.notify_all();
    }
    return std::nullopt;
  });
  flags_.SetHook([&](const DesiredFlags&) -> std::optional<Error> {
    std::unique_lock lock(mu);
    overlapped = cv.wait_for(lock, std::chrono::seconds(10), [&] { return weight_begun; });
    return std::nullopt;
  });

  Execution execution = Run(At() + minutes(2), Abort(At() + minutes(1)));
  ASSERT_TRUE(execution.result.ok()) << execution.result.error().ToString();
  EXPECT_TRUE(execution.decision.rolls_back);
  EXPECT_TRUE(overlapped);
  EXPECT_FALSE(flags_.flags().at("voice_agent_v2").enabled);
  EXPECT_EQ(router_.weight(), 0);
  EXPECT_EQ(Stored().phase, RolloutPhase::kRolledBack);
}

TEST_F(ExecutorTest, AbortLineRollsBackFullyEvenWithTheRouterGone) {
  Create();
  ASSERT_TRUE(Run(At()).result.ok());
  router_.FailAlways(FakeTrafficRouter::Call::kCheck, NotFound("httproute gone"));
  router_.FailAlways(FakeTrafficRouter::Call::kSetWeight, NotFound("httproute gone"));
  TakeLog();

  Execution execution = Run(At() + minutes(2), Abort(At() + minutes(1)));
  ASSERT_TRUE(execution.result.ok()) << execution.result.error().ToString();
  EXPECT_TRUE(execution.decision.rolls_back);
  // The flag and the route are written at the same time, in no set order; status after.
  const std::vector<std::string> log = TakeLog();
  ASSERT_EQ(log.size(), 3u) << ::testing::PrintToString(log);
  EXPECT_THAT(std::vector<std::string>(log.begin(), log.begin() + 2),
              UnorderedElementsAre("flag", "weight"));
  EXPECT_EQ(log[2], "status");
  const flag::FlagState own = flags_.flags().at("voice_agent_v2");
  EXPECT_FALSE(own.enabled);
  EXPECT_EQ(own.percentage, 0);
  const api::AgentRolloutStatus stored = Stored();
  EXPECT_EQ(stored.phase, RolloutPhase::kRolledBack);
  ASSERT_TRUE(stored.rollback.has_value());
  EXPECT_EQ(stored.rollback->metric, "error-rate");
  EXPECT_EQ(stored.rollback->from_phase, "canary");
  EXPECT_THAT(EventReasons(),
              ElementsAre("PhaseStarted", "AnalysisNoGo", "RollingBack", "RolledBack"));
}

TEST_F(ExecutorTest, AFailedRollbackIsPersistedAsRollingBackAndFinishedNext) {
  Create();
  ASSERT_TRUE(Run(At()).result.ok());
  flags_.FailNext(Unavailable("connection refused"));
  router_.FailNext(FakeTrafficRouter::Call::kSetWeight, Unavailable("connection refused"));

  Execution failed = Run(At() + minutes(2), Abort(At() + minutes(1)));
  ASSERT_FALSE(failed.result.ok());
  EXPECT_EQ(failed.failed_stage, WriteStage::kFlag);
  EXPECT_EQ(router_.calls(FakeTrafficRouter::Call::kSetWeight).size(), 2u);  // tried anyway
  api::AgentRolloutStatus stored = Stored();
  EXPECT_EQ(stored.phase, RolloutPhase::kRollingBack);
  ASSERT_TRUE(stored.rollback.has_value());
  EXPECT_EQ(stored.rollback->metric, "error-rate");

  // The evaluation is gone (folded); the status alone finishes the rollback.
  ASSERT_TRUE(Run(At() + minutes(3)).result.ok());
  stored = Stored();
  EXPECT_EQ(stored.phase, RolloutPhase::kRolledBack);
  EXPECT_FALSE(flags_.flags().at("voice_agent_v2").enabled);
  EXPECT_EQ(router_.weight(), 0);
}

// API.md §4.8, reported: a rollout in phase 1 whose HTTPRoute was deleted kept its flag at
// 50 % through a 30 % error rate, because the failed write kept the input status and the
// No-Go was never folded.
class SafetyNetTest : public ExecutorTest {
 protected:
  // In phase early-adopters (10 %), the route gone from now on.
  void ToPhaseOneThenLoseTheRoute(json spec) {
    Create(std::move(spec));
    ASSERT_TRUE(Run(At()).result.ok());
    const api::Timestamp go_at = At() + hours(4) + seconds(1);
    ASSERT_TRUE(Run(go_at + seconds(1), Go(go_at)).result.ok());
    ASSERT_EQ(Stored().current_phase->name, "early-adopters");
    ASSERT_EQ(flags_.flags().at("voice_agent_v2").percentage, 10);
    router_.FailAlways(FakeTrafficRouter::Call::kCheck,
                       NotFound("httproutes \"voice-agent\" not found"));
    router_.FailAlways(FakeTrafficRouter::Call::kSetWeight,
                       NotFound("httproutes \"voice-agent\" not found"));
    start_ = go_at + seconds(1);
  }
  api::Timestamp start_{};
};

TEST_F(SafetyNetTest, AMissingRouteDoesNotStopAStepBack) {
  json spec = VoiceSpecJson();
  spec["rollback"]["mode"] = "stepBack";
  spec["analysis"]["failureLimit"] = 1;
  ToPhaseOneThenLoseTheRoute(spec);

  // The first No-Go is tolerated -- and counted, although the route write fails.
  Execution first = Run(start_ + minutes(2), NoGo(start_ + minutes(1)));
  EXPECT_FALSE(first.result.ok());
  api::AgentRolloutStatus stored = Stored();
  EXPECT_EQ(stored.analysis.consecutive_no_go, 1);
  EXPECT_EQ(stored.verdict, api::Verdict::kNoGo);
  EXPECT_THAT(stored.message, HasSubstr("traffic target not found"));
  EXPECT_EQ(FindCondition(stored, kReady)->reason, "TrafficTargetNotFound");
  EXPECT_EQ(flags_.flags().at("voice_agent_v2").percentage, 10);

  // The second steps back: the flag goes down to the canary phase's 5 %.
  Run(start_ + minutes(3), NoGo(start_ + minutes(2) + seconds(30)));
  stored = Stored();
  EXPECT_EQ(stored.phase, RolloutPhase::kPaused);
  EXPECT_EQ(stored.pause_reason, "SteppedBack");
  EXPECT_EQ(stored.current_phase->name, "canary");
  EXPECT_EQ(flags_.flags().at("voice_agent_v2").percentage, 5);
  EXPECT_TRUE(flags_.flags().at("voice_agent_v2").enabled);
  ASSERT_TRUE(stored.rollback.has_value());
  EXPECT_EQ(stored.rollback->from_phase, "early-adopters");

  // And a third, in phase 0, is total.
  Run(start_ + minutes(5), NoGo(start_ + minutes(4)));
  Run(start_ + minutes(7), NoGo(start_ + minutes(6)));
  stored = Stored();
  EXPECT_EQ(stored.phase, RolloutPhase::kRolledBack);
  EXPECT_FALSE(flags_.flags().at("voice_agent_v2").enabled);
  EXPECT_EQ(flags_.flags().at("voice_agent_v2").percentage, 0);
}

TEST_F(SafetyNetTest, AMissingRouteDoesNotStopATotalRollback) {
  json spec = VoiceSpecJson();
  spec["analysis"]["failureLimit"] = 2;
  ToPhaseOneThenLoseTheRoute(spec);

  for (int i = 1; i <= 2; ++i) {
    Run(start_ + minutes(2 * i), NoGo(start_ + minutes(2 * i - 1)));
    EXPECT_EQ(Stored().analysis.consecutive_no_go, i);
    EXPECT_TRUE(flags_.flags().at("voice_agent_v2").enabled);
  }
  Execution execution = Run(start_ + minutes(6), NoGo(start_ + minutes(5)));
  EXPECT_TRUE(execution.decision.rolls_back);
  const api::AgentRolloutStatus stored = Stored();
  EXPECT_EQ(stored.phase, RolloutPhase::kRolledBack);
  ASSERT_TRUE(stored.rollback.has_value());
  EXPECT_EQ(stored.rollback->metric, "error-rate");
  EXPECT_FALSE(flags_.flags().at("voice_agent_v2").enabled);
  EXPECT_EQ(flags_.flags().at("voice_agent_v2").percentage, 0);

  // Settled: re-asserting "off" later, the route still gone, is done -- no failed write, no
  // "holding" in a RolledBack status, no retries.
  const std::string rolled_back_message = stored.message;
  const std::size_t sets = router_.calls(FakeTrafficRouter::Call::kSetWeight).size();
  Execution later = Run(start_ + hours(2));
  EXPECT_TRUE(later.result.ok()) << later.result.error().ToString();
  EXPECT_EQ(router_.calls(FakeTrafficRouter::Call::kSetWeight).size(), sets + 1);
  const api::AgentRolloutStatus settled = Stored();
  EXPECT_EQ(settled.phase, RolloutPhase::kRolledBack);
  EXPECT_EQ(settled.message, rolled_back_message);
  EXPECT_NE(FindCondition(settled, kReady)->reason, "TrafficTargetNotFound");
}

TEST_F(SafetyNetTest, ARefusedFlagWriteDoesNotKeepTheRouteUp) {
  Create();
  ASSERT_TRUE(Run(At()).result.ok());
  flags_.FailAlways(Unavailable("configmaps \"feature-flags\" is forbidden"));

  Execution failed = Run(At() + minutes(2), Abort(At() + minutes(1)));
  EXPECT_FALSE(failed.result.ok());
  EXPECT_EQ(router_.weight(), 0);
  api::AgentRolloutStatus stored = Stored();
  EXPECT_EQ(stored.phase, RolloutPhase::kRollingBack);
  EXPECT_THAT(stored.message, HasSubstr("flag store write failed"));

  // Retried until the flag lands; only then RolledBack.
  EXPECT_FALSE(Run(At() + minutes(3)).result.ok());
  EXPECT_EQ(Stored().phase, RolloutPhase::kRollingBack);
  flags_.FailAlways(std::nullopt);
  ASSERT_TRUE(Run(At() + minutes(4)).result.ok());
  stored = Stored();
  EXPECT_EQ(stored.phase, RolloutPhase::kRolledBack);
  EXPECT_FALSE(flags_.flags().at("voice_agent_v2").enabled);
}

TEST_F(SafetyNetTest, AFailingFlagStoreStillFoldsAndRollsBack) {
  Create();
  ASSERT_TRUE(Run(At()).result.ok());
  // The re-assert of the phase keeps failing (not a recent write any more).
  flags_.FailAlways(Unavailable("etcd timeout"));
  Execution hold = Run(At() + minutes(2), Hold(At() + minutes(1)));
  EXPECT_FALSE(hold.result.ok());
  EXPECT_EQ(Stored().verdict, api::Verdict::kHold) << "folded although the write failed";
  EXPECT_THAT(Stored().message, HasSubstr("flag store write failed"));

  // failureLimit 0: the first No-Go rolls back; the route goes to 0 although the flag
  // store refuses, and the rollout stays RollingBack until the flag lands.
  Run(At() + minutes(4), NoGo(At() + minutes(3)));
  EXPECT_EQ(router_.weight(), 0);
  EXPECT_EQ(Stored().phase, RolloutPhase::kRollingBack);
}

// API.md §4.8, reported: edits that pass the CRD but fail validation made a live rollout
// Failed/InvalidSpec, and a breach then left flag and weight up with a stale Go.
TEST_F(ExecutorTest, AnInvalidEditKeepsAnalysingWithTheLastValidTable) {
  Create();
  ASSERT_TRUE(Run(At()).result.ok());
  const api::AgentRolloutSpec last_valid = DecodeSpecOrDie(VoiceSpecJson());
  json spec = VoiceSpecJson();
  spec["analysis"]["metrics"][0]["go"] = "< 0.5";  // overlaps noGo "> 0.05"
  auto replaced =
      client_->Patch(kAgentRollouts, kNamespace, kName, kube::PatchType::kMerge, {{"spec", spec}});
  ASSERT_TRUE(replaced.ok());

  Execution held =
      executor_->Execute(Observe(At() + minutes(2), Go(At() + minutes(1))), &last_valid);
  EXPECT_TRUE(held.decision.spec_invalid);
  api::AgentRolloutStatus stored = Stored();
  EXPECT_EQ(stored.phase, RolloutPhase::kProgressing);
  EXPECT_EQ(FindCondition(stored, kReady)->reason, "InvalidSpec");
  EXPECT_THAT(stored.message, HasSubstr("last valid go/no-go table"));
  EXPECT_THAT(EventReasons(), Contains("InvalidSpec"));

  executor_->Execute(Observe(At() + minutes(4), NoGo(At() + minutes(3))), &last_valid);
  stored = Stored();
  EXPECT_EQ(stored.phase, RolloutPhase::kRolledBack);
  EXPECT_FALSE(flags_.flags().at("voice_agent_v2").enabled);
  EXPECT_EQ(router_.weight(), 0);
}

TEST_F(ExecutorTest, AnInvalidEditWithNoValidTableKnownRollsBackFully) {
  Create();
  ASSERT_TRUE(Run(At()).result.ok());
  json spec = VoiceSpecJson();
  spec["analysis"]["metrics"][1]["query"] = "p95{version=\"{{args.nope}}\"}";
  ASSERT_TRUE(
      client_->Patch(kAgentRollouts, kNamespace, kName, kube::PatchType::kMerge, {{"spec", spec}})
          .ok());

  Execution execution = Run(At() + minutes(1));  // a restarted operator: no last valid spec
  EXPECT_TRUE(execution.decision.rolls_back);
  const api::AgentRolloutStatus stored = Stored();
  EXPECT_EQ(stored.phase, RolloutPhase::kRolledBack);
  ASSERT_TRUE(stored.rollback.has_value());
  EXPECT_THAT(stored.rollback->reason, HasSubstr("spec is invalid"));
  EXPECT_FALSE(flags_.flags().at("voice_agent_v2").enabled);
  EXPECT_EQ(router_.weight(), 0);
  EXPECT_THAT(EventReasons(), Contains("InvalidSpec"));
}

TEST_F(ExecutorTest, AConflictReReadsTheObjectAndDecidesAgain) {
  Create();
  ASSERT_TRUE(Run(At()).result.ok());
  // Someone pauses the rollout between our read and our status write.
  bool raced = false;
  client_->AddReactor(
      [&](const kube::FakeClient::Action& action) -> std::optional<kube::ApiResult<json>> {
        if (action.verb != "update-status" || raced) return std::nullopt;
        raced = true;
        Annotate("pause");
        return std::nullopt;  // the write now carries a stale resourceVersion: 409
      });
  Execution execution = Run(At() + minutes(2), Hold(At() + minutes(1)));

  ASSERT_TRUE(execution.result.ok()) << execution.result.error().ToString();
  EXPECT_EQ(Count("update-status"), 3);  // the start, the conflict, the re-decided write
  EXPECT_EQ(execution.input.metadata.annotations.at(api::kActionAnnotation), "pause");
  const json object = Object();
  EXPECT_FALSE(object["metadata"].contains("annotations") &&
               object["metadata"]["annotations"].contains(api::kActionAnnotation));
  const api::AgentRolloutStatus stored = Stored();
  EXPECT_EQ(stored.phase, RolloutPhase::kPaused);
  EXPECT_EQ(stored.verdict, api::Verdict::kHold);  // the evaluation was folded on the re-read
  EXPECT_THAT(EventReasons(), ElementsAre("PhaseStarted", "Paused", "AnalysisHold"));
}

TEST_F(ExecutorTest, ConflictsOnEveryAttemptGiveUpBounded) {
  Create();
  ASSERT_TRUE(Run(At()).result.ok());
  client_->ClearActions();
  client_->AddReactor(
      [](const kube::FakeClient::Action& action) -> std::optional<kube::ApiResult<json>> {
        if (action.verb != "update-status") return std::nullopt;
        return kube::StatusError(409, "Conflict", "the object has been modified");
      });
  Execution execution = Run(At() + minutes(2), Hold(At() + minutes(1)));
  ASSERT_FALSE(execution.result.ok());
  EXPECT_EQ(execution.result.error().code(), ErrorCode::kConflict);
  EXPECT_EQ(Count("update-status"), ExecutorOptions{}.max_attempts);
  EXPECT_EQ(Count("get"), ExecutorOptions{}.max_attempts);   // our read, then one per 409
  EXPECT_THAT(EventReasons(), ElementsAre("PhaseStarted"));  // nothing said for unsaved status
  EXPECT_EQ(Stored().verdict, api::Verdict::kNone);
}

TEST_F(ExecutorTest, TheActionAnnotationIsRemovedAfterTheStatusWithItsResourceVersion) {
  Create(ApprovalSpecJson());
  ASSERT_TRUE(Run(At()).result.ok());
  ASSERT_TRUE(Run(At() + seconds(1)).result.ok());
  ASSERT_EQ(Stored().phase, RolloutPhase::kAwaitingApproval);
  Annotate("promote");
  TakeLog();
  client_->ClearActions();

  Execution execution = Run(At() + seconds(2));
  ASSERT_TRUE(execution.result.ok()) << execution.result.error().ToString();
  EXPECT_THAT(TakeLog(), ElementsAre("check", "flag", "weight", "status", "annotation"));
  // Superseded: the version decided from (by the status write), then the status write's
  // (by the annotation patch, which is conditional on it).
  ASSERT_EQ(execution.superseded.size(), 2u);
  int patches = 0;
  for (const auto& action : client_->Actions()) {
    if (action.verb == "patch" && action.resource == kAgentRollouts) {
      ++patches;
      EXPECT_EQ(action.object["metadata"]["resourceVersion"], execution.superseded[1]);
      EXPECT_TRUE(action.object["metadata"]["annotations"][api::kActionAnnotation].is_null());
    }
  }
  EXPECT_EQ(patches, 1);
  const json object = Object();
  EXPECT_FALSE(object["metadata"].contains("annotations") &&
               object["metadata"]["annotations"].contains(api::kActionAnnotation));
  EXPECT_EQ(execution.resource_version, object["metadata"]["resourceVersion"]);
  EXPECT_EQ(Stored().handled_action, "promote");
  EXPECT_THAT(EventReasons(), Contains("Promoted"));
}

TEST_F(ExecutorTest, AnInvalidSpecIsReportedWithNothingWritten) {
  json spec = VoiceSpecJson();
  spec["phases"][1]["trafficWeight"] = 140;
  Create(spec);
  Execution execution = Run(At());
  EXPECT_TRUE(execution.result.ok());
  EXPECT_THAT(flags_.calls(), IsEmpty());
  EXPECT_THAT(router_.calls(FakeTrafficRouter::Call::kCheck), IsEmpty());
  const api::AgentRolloutStatus stored = Stored();
  EXPECT_EQ(stored.phase, RolloutPhase::kFailed);
  EXPECT_THAT(stored.message, HasSubstr("spec.phases[1].trafficWeight"));
  EXPECT_THAT(EventReasons(), ElementsAre("InvalidSpec"));
}

TEST_F(ExecutorTest, OnlySubscribedApiReasonsAreNotified) {
  json spec = VoiceSpecJson();
  spec["notifications"] = {{{"url", "https://hooks.example/all"}}};
  Create(spec, "bogus");
  ASSERT_TRUE(Run(At()).result.ok());
  EXPECT_THAT(EventReasons(), ElementsAre("PhaseStarted", "InvalidAction"));
  std::vector<api::EventReason> notified;
  for (const Notification& sent : notifier_.sent()) notified.push_back(sent.reason);
  EXPECT_THAT(notified, ElementsAre(api::EventReason::kPhaseStarted));
  EXPECT_EQ(notifier_.sent().front().rollout["phase"], "Progressing");
  EXPECT_EQ(notifier_.sent().front().namespace_, kNamespace);
}

// ------------------------------------------------------------------ onDelete (API.md §2)

class OnDeleteTest : public ExecutorTest {
 protected:
  // A rollout with onDelete rollback (and another controller's finalizer), at phase 0.
  void CreateExposed(const std::string& on_delete = "rollback") {
    json spec = VoiceSpecJson();
    spec["onDelete"] = on_delete;
    Create(spec);
    auto patched = client_->Patch(kAgentRollouts, kNamespace, kName, kube::PatchType::kMerge,
                                  {{"metadata", {{"finalizers", {"example.com/other"}}}}});
    ASSERT_TRUE(patched.ok()) << patched.error().ToString();
    ASSERT_TRUE(Run(At()).result.ok());
    ASSERT_EQ(router_.weight(), 5);
    TakeLog();
  }
  // What `kubectl delete` does to an object with finalizers.
  void MarkDeleted(api::Timestamp at) {
    auto patched = client_->Patch(kAgentRollouts, kNamespace, kName, kube::PatchType::kMerge,
                                  {{"metadata", {{"deletionTimestamp", api::FormatTime(at)}}}});
    ASSERT_TRUE(patched.ok()) << patched.error().ToString();
    TakeLog();
  }
  std::vector<std::string> Finalizers() {
    return Object()["metadata"].value("finalizers", std::vector<std::string>{});
  }
};

TEST_F(OnDeleteTest, TheFinalizerIsAddedBeforeAnyWriteKeepingOthers) {
  json spec = VoiceSpecJson();
  spec["onDelete"] = "rollback";
  Create(spec);
  auto patched = client_->Patch(kAgentRollouts, kNamespace, kName, kube::PatchType::kMerge,
                                {{"metadata", {{"finalizers", {"example.com/other"}}}}});
  ASSERT_TRUE(patched.ok());
  TakeLog();
  const std::string before = Object()["metadata"]["resourceVersion"];
  Execution execution = Run(At());
  ASSERT_TRUE(execution.result.ok()) << execution.result.error().ToString();
  EXPECT_THAT(TakeLog(), ElementsAre("finalizer", "check", "flag", "weight", "status"));
  EXPECT_THAT(Finalizers(), ElementsAre("example.com/other", api::kRollbackOnDeleteFinalizer));
  EXPECT_EQ(execution.superseded.front(), before);
  EXPECT_EQ(Stored().phase, RolloutPhase::kProgressing);

  // Back to keep: the finalizer goes, the other stays.
  json object = Object();
  object["spec"]["onDelete"] = "keep";
  ASSERT_TRUE(client_->Update(kAgentRollouts, kNamespace, object).ok());
  ASSERT_TRUE(Run(At() + seconds(1)).result.ok());
  EXPECT_THAT(Finalizers(), ElementsAre("example.com/other"));
}

TEST_F(OnDeleteTest, DeletionTurnsTheFlagOffAndTheWeightToZeroThenLetsGo) {
  CreateExposed();
  MarkDeleted(At() + minutes(1));
  const api::AgentRolloutStatus before = Stored();
  Execution execution = Run(At() + minutes(1));
  ASSERT_TRUE(execution.result.ok()) << execution.result.error().ToString();
  EXPECT_THAT(TakeLog(), ElementsAre("flag", "weight", "finalizer"));
  EXPECT_FALSE(flags_.flags().at("voice_agent_v2").enabled);
  EXPECT_EQ(flags_.flags().at("voice_agent_v2").percentage, 0);
  EXPECT_EQ(flags_.released(), std::set<std::string>{"voice_agent_v2"});
  EXPECT_EQ(flags_.releases().back().mode, ReleaseMode::kWithState);
  EXPECT_EQ(router_.weight(), 0);
  EXPECT_THAT(Finalizers(), ElementsAre("example.com/other"));
  EXPECT_EQ(Stored(), before);
  EXPECT_THAT(EventReasons(), ElementsAre("PhaseStarted", "RolledBack"));
}

TEST_F(OnDeleteTest, ARouteThatIsGoneDoesNotHoldTheDeletion) {
  CreateExposed();
  router_.FailAlways(FakeTrafficRouter::Call::kSetWeight,
                     NotFound("httproutes \"voice-agent\" not found"));
  MarkDeleted(At() + minutes(1));
  Execution execution = Run(At() + minutes(1));
  ASSERT_TRUE(execution.result.ok()) << execution.result.error().ToString();
  EXPECT_FALSE(flags_.flags().at("voice_agent_v2").enabled);
  EXPECT_THAT(Finalizers(), ElementsAre("example.com/other"));
}

TEST_F(OnDeleteTest, ARefusingFlagStoreHoldsTheDeletionUntilTheTimeoutThenAWarning) {
  CreateExposed();
  flags_.FailAlways(
      Error(ErrorCode::kFailedPrecondition, "configmap voice/feature-flags: not JSON"));
  router_.FailAlways(FakeTrafficRouter::Call::kSetWeight, Unavailable("connection refused"));
  MarkDeleted(At() + minutes(1));

  Execution held = Run(At() + minutes(1) + seconds(10));
  EXPECT_FALSE(held.result.ok()) << "retried with backoff";
  EXPECT_THAT(Finalizers(), Contains(api::kRollbackOnDeleteFinalizer));
  EXPECT_EQ(Stored().message,
            "deleting with onDelete rollback: the flag store write failed and is retried: "
            "configmap voice/feature-flags: not JSON; the traffic router write failed too: "
            "connection refused; gives up and lets the object go at 2026-11-22T10:03:00Z");
  EXPECT_EQ(held.decision.requeue_after, minutes(1) + seconds(50));

  Execution gave_up = Run(At() + minutes(3));
  ASSERT_TRUE(gave_up.result.ok()) << gave_up.result.error().ToString();
  EXPECT_THAT(Finalizers(), ElementsAre("example.com/other"));
  EXPECT_THAT(EventReasons(), ElementsAre("PhaseStarted", "WriteFailed", "WriteFailed"));
  ASSERT_EQ(gave_up.decision.events.size(), 1u);
  EXPECT_THAT(gave_up.decision.events[0].message,
              HasSubstr("gave up and let the object go, leaving what it could not write as it "
                        "was: the flag store write failed"));
  EXPECT_TRUE(flags_.flags().at("voice_agent_v2").enabled) << "left as it was";
}

TEST_F(OnDeleteTest, KeepReleasesTheOwnerAndTouchesNothingElse) {
  CreateExposed("keep");
  MarkDeleted(At() + minutes(1));
  client_->ClearActions();
  Execution execution = Run(At() + minutes(1));
  ASSERT_TRUE(execution.result.ok()) << execution.result.error().ToString();
  EXPECT_THAT(TakeLog(), ElementsAre("flag"));
  EXPECT_EQ(flags_.releases().back().mode, ReleaseMode::kOwnerOnly);
  EXPECT_EQ(flags_.released(), std::set<std::string>{"voice_agent_v2"});
  EXPECT_TRUE(flags_.flags().at("voice_agent_v2").enabled);
  EXPECT_EQ(router_.weight(), 5);
  EXPECT_EQ(Count("update-status"), 0);
  EXPECT_THAT(Finalizers(), ElementsAre("example.com/other"));
}

TEST_F(OnDeleteTest, AFinalizerAddedMeanwhileIsKeptOnRemoval) {
  CreateExposed();
  MarkDeleted(At() + minutes(1));
  bool raced = false;
  client_->AddReactor(
      [&](const kube::FakeClient::Action& action) -> std::optional<kube::ApiResult<json>> {
        const json& patch = action.object;
        const bool finalizers = action.resource == kAgentRollouts && action.verb == "patch" &&
                                patch.contains("metadata") &&
                                patch.at("metadata").contains("finalizers");
        if (!finalizers || raced) return std::nullopt;
        raced = true;
        json object = Object();
        object["metadata"]["finalizers"].push_back("example.com/late");
        EXPECT_TRUE(client_->Update(kAgentRollouts, kNamespace, object).ok());
        return std::nullopt;  // the patch now carries a stale resourceVersion: 409
      });
  Execution execution = Run(At() + minutes(1));
  ASSERT_TRUE(execution.result.ok()) << execution.result.error().ToString();
  EXPECT_THAT(Finalizers(), ElementsAre("example.com/other", "example.com/late"));
}

TEST_F(OnDeleteTest, AFinalizerThatCannotBeAddedHoldsTheWritesButNotTheSafetyNet) {
  client_->AddReactor(
      [](const kube::FakeClient::Action& action) -> std::optional<kube::ApiResult<json>> {
        const json& patch = action.object;
        if (action.resource != kAgentRollouts || action.verb != "patch" ||
            !patch.contains("metadata") || !patch.at("metadata").contains("finalizers")) {
          return std::nullopt;
        }
        return kube::StatusError(403, "Forbidden", "cannot patch agentrollouts");
      });
  json spec = VoiceSpecJson();
  spec["onDelete"] = "rollback";
  Create(spec);
  Execution held = Run(At());
  EXPECT_FALSE(held.result.ok());
  EXPECT_EQ(held.failed_stage, WriteStage::kFinalizer);
  EXPECT_TRUE(flags_.calls().empty()) << "nothing exposed without the finalizer";
  EXPECT_FALSE(router_.weight().has_value());
  api::AgentRolloutStatus stored = Stored();
  EXPECT_EQ(stored.phase, RolloutPhase::kPending);
  EXPECT_THAT(stored.message,
              HasSubstr("adding the finalizer " + std::string(api::kRollbackOnDeleteFinalizer)));

  // An exposed rollout switched to rollback still rolls back on an abort line.
  json object = Object();
  object["spec"]["onDelete"] = "keep";
  ASSERT_TRUE(client_->Update(kAgentRollouts, kNamespace, object).ok());
  ASSERT_TRUE(Run(At() + seconds(1)).result.ok());
  ASSERT_EQ(router_.weight(), 5);
  object = Object();
  object["spec"]["onDelete"] = "rollback";
  ASSERT_TRUE(client_->Update(kAgentRollouts, kNamespace, object).ok());
  Run(At() + minutes(2), Abort(At() + minutes(1)));
  EXPECT_EQ(Stored().phase, RolloutPhase::kRolledBack);
  EXPECT_FALSE(flags_.flags().at("voice_agent_v2").enabled);
  EXPECT_EQ(router_.weight(), 0);
}

}  // namespace
}  // namespace agentrollout::controllers
