#include "kube/event_recorder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>

#include "kube/fake_client.h"

namespace agentrollout::kube {
namespace {

using nlohmann::json;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::StartsWith;

const ObjectReference kRollout{
    "rollouts.agentops.dev/v1alpha1", "AgentRollout", "voice-v2", "voice", "uid-1", "41"};
const std::chrono::system_clock::time_point kStart =
    std::chrono::sys_days(std::chrono::year(2026) / 11 / 22) + std::chrono::hours(10);

TEST(EventCorrelator, RepeatsWithinTheWindowPatchTheSameEvent) {
  EventCorrelator correlator(16, minutes(10));
  auto first =
      correlator.Decide(kRollout, EventType::kNormal, "PhaseAdvanced", "to canary", kStart);
  EXPECT_TRUE(first.create);
  EXPECT_EQ(first.count, 1);
  EXPECT_EQ(first.namespace_, "voice");
  EXPECT_THAT(first.name, StartsWith("voice-v2."));
  correlator.Written(kRollout, EventType::kNormal, "PhaseAdvanced", "to canary", first);

  auto second = correlator.Decide(kRollout, EventType::kNormal, "PhaseAdvanced", "to canary",
                                  kStart + minutes(5));
  EXPECT_FALSE(second.create);
  EXPECT_EQ(second.name, first.name);
  EXPECT_EQ(second.count, 2);
  EXPECT_EQ(second.first_timestamp, kStart);
  EXPECT_EQ(second.last_timestamp, kStart + minutes(5));
  correlator.Written(kRollout, EventType::kNormal, "PhaseAdvanced", "to canary", second);

  EXPECT_TRUE(correlator
                  .Decide(kRollout, EventType::kNormal, "PhaseAdvanced", "to expansion",
                          kStart + minutes(6))
                  .create)
      << "another message is another Event";
  EXPECT_TRUE(
      correlator
          .Decide(kRollout, EventType::kWarning, "PhaseAdvanced", "to canary", kStart + minutes(6))
          .create)
      << "another type is another Event";
  auto late = correlator.Decide(kRollout, EventType::kNormal, "PhaseAdvanced", "to canary",
                                kStart + minutes(16));
  EXPECT_TRUE(late.create) << "more than the window after the last occurrence";
  correlator.Forget(kRollout, EventType::kNormal, "PhaseAdvanced", "to canary");
  EXPECT_EQ(correlator.size(), 0u);
}

TEST(EventCorrelator, CacheIsABoundedLru) {
  EventCorrelator correlator(2, minutes(10));
  for (const char* reason : {"A", "B", "C"}) {
    auto d = correlator.Decide(kRollout, EventType::kNormal, reason, "m", kStart);
    correlator.Written(kRollout, EventType::kNormal, reason, "m", d);
  }
  EXPECT_EQ(correlator.size(), 2u);
  EXPECT_TRUE(correlator.Decide(kRollout, EventType::kNormal, "A", "m", kStart).create);
  EXPECT_FALSE(correlator.Decide(kRollout, EventType::kNormal, "C", "m", kStart).create);
}

TEST(MakeEvent, WritesACoreV1Event) {
  EventRecorderOptions options;
  options.component = "agentrollout";
  options.instance = "operator-0";
  EventCorrelator::Decision decision;
  decision.name = "voice-v2.abc";
  decision.namespace_ = "voice";
  decision.count = 3;
  decision.first_timestamp = kStart;
  decision.last_timestamp = kStart + seconds(90);
  json event = MakeEvent(kRollout, EventType::kWarning, "AnalysisNoGo", "error-rate 0.07 > 0.05",
                         decision, options);
  EXPECT_EQ(event["metadata"], json({{"name", "voice-v2.abc"}, {"namespace", "voice"}}));
  EXPECT_EQ(event["involvedObject"], json({{"apiVersion", "rollouts.agentops.dev/v1alpha1"},
                                           {"kind", "AgentRollout"},
                                           {"name", "voice-v2"},
                                           {"namespace", "voice"},
                                           {"uid", "uid-1"},
                                           {"resourceVersion", "41"}}));
  EXPECT_EQ(event["type"], "Warning");
  EXPECT_EQ(event["reason"], "AnalysisNoGo");
  EXPECT_EQ(event["source"], json({{"component", "agentrollout"}, {"host", "operator-0"}}));
  EXPECT_EQ(event["reportingComponent"], "agentrollout");
  EXPECT_EQ(event["reportingInstance"], "operator-0");
  EXPECT_EQ(event["count"], 3);
  EXPECT_EQ(event["firstTimestamp"], "2026-11-22T10:00:00Z");
  EXPECT_EQ(event["lastTimestamp"], "2026-11-22T10:01:30Z");
}

class EventRecorderTest : public ::testing::Test {
 protected:
  EventRecorderOptions Options() {
    EventRecorderOptions options;
    options.component = "agentrollout";
    options.clock = clock_;
    return options;
  }
  std::vector<json> Events() {
    auto list = client_->List(kEvents, "voice");
    EXPECT_TRUE(list.ok());
    return list.ok() ? list->items : std::vector<json>{};
  }
  std::vector<std::string> Verbs() {
    std::vector<std::string> verbs;
    for (const auto& action : client_->Actions()) {
      if (action.verb != "list") verbs.push_back(action.verb);
    }
    return verbs;
  }

  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  std::shared_ptr<FakeClient> client_ = std::make_shared<FakeClient>(clock_);
};

TEST_F(EventRecorderTest, RepeatsAggregateIntoOneEventWithACount) {
  EventRecorder recorder(client_, Options());
  for (int i = 0; i < 3; ++i) {
    recorder.Record(kRollout, EventType::kNormal, "AnalysisHold", "latency 912 is not < 800");
    recorder.Flush();
    clock_->Advance(seconds(60));
  }
  recorder.Record(kRollout, EventType::kNormal, "PhaseAdvanced", "to expansion");
  recorder.Flush();
  auto events = Events();
  ASSERT_EQ(events.size(), 2u);
  const json& hold = events[0]["reason"] == "AnalysisHold" ? events[0] : events[1];
  EXPECT_EQ(hold["count"], 3);
  EXPECT_EQ(hold["firstTimestamp"], "2026-11-22T10:00:00Z");
  EXPECT_EQ(hold["lastTimestamp"], "2026-11-22T10:02:00Z");
  EXPECT_THAT(Verbs(), ElementsAre("create", "patch", "patch", "create"));
  EXPECT_EQ(recorder.dropped(), 0u);
  EXPECT_EQ(recorder.failed(), 0u);
}

TEST_F(EventRecorderTest, ADeletedEventIsCreatedAgain) {
  EventRecorder recorder(client_, Options());
  recorder.Record(kRollout, EventType::kNormal, "Paused", "paused by annotation");
  recorder.Flush();
  auto events = Events();
  ASSERT_EQ(events.size(), 1u);
  ASSERT_TRUE(
      client_->Delete(kEvents, "voice", events[0]["metadata"]["name"].get<std::string>()).ok());
  clock_->Advance(seconds(1));
  recorder.Record(kRollout, EventType::kNormal, "Paused", "paused by annotation");
  recorder.Flush();
  events = Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["count"], 1);
  EXPECT_EQ(recorder.failed(), 0u);
}

TEST_F(EventRecorderTest, NeverBlocksTheCallerAndDropsWhenTheQueueIsFull) {
  std::promise<void> sender_blocked;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  client_->AddReactor(
      [&,
       first = true](const FakeClient::Action& action) mutable -> std::optional<ApiResult<json>> {
        if (action.verb == "create" && first) {
          first = false;
          sender_blocked.set_value();
          released.wait();  // the API server hangs
        }
        return std::nullopt;
      });
  EventRecorderOptions options = Options();
  options.queue_capacity = 2;
  EventRecorder recorder(client_, options);
  recorder.Record(kRollout, EventType::kNormal, "R0", "m");
  sender_blocked.get_future().wait();
  for (int i = 1; i <= 4; ++i) {
    recorder.Record(kRollout, EventType::kNormal, "R" + std::to_string(i), "m");
  }
  EXPECT_EQ(recorder.dropped(), 2u);
  release.set_value();
  recorder.Flush();
  EXPECT_EQ(Events().size(), 3u);
}

}  // namespace
}  // namespace agentrollout::kube
