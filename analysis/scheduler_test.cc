#include "analysis/scheduler.h"

#include <gtest/gtest.h>

#include <atomic>

#include "analysis/fake_prometheus_client.h"

namespace agentrollout::analysis {
namespace {

using api::CompareOp;
using api::Verdict;
using namespace std::chrono_literals;
using testing::FakePrometheusClient;

// A clock the test moves by hand.
class FakeClock {
 public:
  api::Timestamp Now() const { return api::Timestamp(std::chrono::milliseconds(now_ms_.load())); }
  void Advance(std::chrono::milliseconds by) { now_ms_ += by.count(); }

 private:
  std::atomic<std::int64_t> now_ms_{1'000'000};
};

// Collects delivered evaluations; tests wait for a count.
class Deliveries {
 public:
  void Add(const std::string& key, api::Evaluation evaluation) {
    std::lock_guard lock(mu_);
    received_.emplace_back(key, std::move(evaluation));
    changed_.notify_all();
  }
  bool WaitFor(std::size_t count, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, timeout, [&] { return received_.size() >= count; });
  }
  std::vector<std::pair<std::string, api::Evaluation>> received() {
    std::lock_guard lock(mu_);
    return received_;
  }
  std::size_t size() {
    std::lock_guard lock(mu_);
    return received_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::pair<std::string, api::Evaluation>> received_;
};

EvaluationInput Input(const std::string& canary, const std::string& token = "token") {
  EvaluationInput input;
  input.spec.prometheus = api::PrometheusSpec{};
  input.spec.prometheus->address = "http://prometheus:9090";
  input.spec.prometheus->timeout = 5s;
  input.spec.interval = 10s;
  api::MetricSpec metric;
  metric.name = "errors";
  metric.query = R"(errors{version="{{canary}}"})";
  metric.go = {CompareOp::kLess, 1};
  metric.no_go = {CompareOp::kGreater, 2};
  input.spec.metrics = {metric};
  input.vars = {{"canary", canary}};
  input.credentials.bearer_token = token;
  return input;
}

class SchedulerTest : public ::testing::Test {
 protected:
  std::unique_ptr<Scheduler> Make(std::size_t concurrency = 4) {
    SchedulerOptions options;
    options.concurrency = concurrency;
    options.now = [this] { return clock_.Now(); };
    options.connect = [this](const PrometheusTarget& target) -> Result<PrometheusClientPtr> {
      std::lock_guard lock(mu_);
      ++connects_;
      targets_.push_back(target);
      return PrometheusClientPtr(prom_);
    };
    return std::make_unique<Scheduler>(options,
                                       [this](const std::string& key, api::Evaluation evaluation) {
                                         deliveries_.Add(key, std::move(evaluation));
                                       });
  }

  FakeClock clock_;
  std::shared_ptr<FakePrometheusClient> prom_ = std::make_shared<FakePrometheusClient>();
  Deliveries deliveries_;
  std::mutex mu_;
  int connects_ = 0;
  std::vector<PrometheusTarget> targets_;
};

TEST_F(SchedulerTest, EvaluatesEveryInterval) {
  prom_->SetValue(R"(errors{version="v2"})", 0.5);
  auto scheduler = Make();
  scheduler->Upsert("ns/a", Input("v2"));
  scheduler->Tick();  // due at once
  ASSERT_TRUE(deliveries_.WaitFor(1));
  const auto first = deliveries_.received()[0];
  EXPECT_EQ(first.first, "ns/a");
  EXPECT_EQ(first.second.verdict, Verdict::kGo);
  EXPECT_EQ(first.second.at, clock_.Now());

  clock_.Advance(9s);
  scheduler->Tick();
  clock_.Advance(999ms);
  scheduler->Tick();
  EXPECT_EQ(scheduler->Stats().evaluations_started, 1u);
  clock_.Advance(1ms);  // exactly one interval after the first
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(2));
  EXPECT_EQ(scheduler->Stats().evaluations_started, 2u);
  EXPECT_EQ(prom_->queries().size(), 2u);
}

TEST_F(SchedulerTest, IdenticalQueriesAreSentOncePerTick) {
  prom_->SetValue(R"(errors{version="v2"})", 0.5);
  prom_->SetValue(R"(errors{version="v3"})", 3);
  auto scheduler = Make();
  scheduler->Upsert("ns/a", Input("v2"));
  scheduler->Upsert("ns/b", Input("v2"));
  scheduler->Upsert("other/c", Input("v2"));
  scheduler->Upsert("ns/d", Input("v3"));
  scheduler->Upsert("ns/e", Input("v2", "another-token"));  // other credentials: own query
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(5));
  const SchedulerStats stats = scheduler->Stats();
  EXPECT_EQ(stats.evaluations_started, 5u);
  EXPECT_EQ(stats.queries_sent, 3u);
  EXPECT_EQ(stats.queries_deduplicated, 2u);
  EXPECT_EQ(prom_->queries().size(), 3u);
  for (const auto& [key, evaluation] : deliveries_.received()) {
    EXPECT_EQ(evaluation.verdict, key == "ns/d" ? Verdict::kNoGo : Verdict::kGo) << key;
  }
  // One client per server identity, reused on the next tick.
  clock_.Advance(10s);
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(10));
  std::lock_guard lock(mu_);
  EXPECT_EQ(connects_, 2);
}

TEST_F(SchedulerTest, NoPileUpWhilePrometheusIsSlow) {
  prom_->SetValue(R"(errors{version="v2"})", 0.5);
  prom_->Hold();
  auto scheduler = Make();
  scheduler->Upsert("ns/a", Input("v2"));
  scheduler->Tick();
  ASSERT_TRUE(prom_->WaitForRunning(1, 5s));
  for (int i = 0; i < 20; ++i) {  // 20 intervals pass while the first query hangs
    clock_.Advance(10s);
    scheduler->Tick();
  }
  EXPECT_EQ(prom_->running(), 1);
  EXPECT_EQ(prom_->queries().size(), 1u);
  SchedulerStats stats = scheduler->Stats();
  EXPECT_EQ(stats.evaluations_started, 1u);
  EXPECT_EQ(stats.evaluations_skipped, 20u);

  prom_->Release();
  ASSERT_TRUE(deliveries_.WaitFor(1));
  // Skipped slots are not made up for: the next evaluation is at the next due time.
  scheduler->Tick();
  clock_.Advance(10s);
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(2));
  EXPECT_EQ(scheduler->Stats().evaluations_started, 2u);
  EXPECT_EQ(deliveries_.size(), 2u);
}

TEST_F(SchedulerTest, ConcurrencyIsBounded) {
  prom_->Hold();
  auto scheduler = Make(/*concurrency=*/2);
  for (int i = 0; i < 6; ++i) {
    const std::string version = "v" + std::to_string(i);
    prom_->SetValue("errors{version=\"" + version + "\"}", 0.5);
    scheduler->Upsert("ns/r" + std::to_string(i), Input(version));
  }
  scheduler->Tick();
  ASSERT_TRUE(prom_->WaitForRunning(2, 5s));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(prom_->running(), 2);
  prom_->Release();
  ASSERT_TRUE(deliveries_.WaitFor(6));
  EXPECT_EQ(prom_->queries().size(), 6u);
}

TEST_F(SchedulerTest, ChangedInputIsDueAtOnceAndStaleResultsAreDropped) {
  prom_->SetValue(R"(errors{version="v2"})", 0.5);
  prom_->SetValue(R"(errors{version="v3"})", 3);
  prom_->Hold();
  auto scheduler = Make();
  scheduler->Upsert("ns/a", Input("v2"));
  scheduler->Tick();
  ASSERT_TRUE(prom_->WaitForRunning(1, 5s));
  scheduler->Upsert("ns/a", Input("v3"));  // e.g. a new phase while the old query runs
  scheduler->Tick();                       // still one in flight: not started
  EXPECT_EQ(prom_->queries().size(), 1u);
  prom_->Release();
  // The v2 result is not delivered; the v3 evaluation starts at the next tick.
  for (int i = 0; i < 100 && scheduler->Stats().evaluations_started < 2; ++i) {
    scheduler->Tick();
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(deliveries_.WaitFor(1));
  const auto received = deliveries_.received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].second.verdict, Verdict::kNoGo);
  EXPECT_EQ(received[0].second.metrics[0].value, "3");
}

TEST_F(SchedulerTest, UnchangedInputKeepsItsSchedule) {
  prom_->SetValue(R"(errors{version="v2"})", 0.5);
  auto scheduler = Make();
  scheduler->Upsert("ns/a", Input("v2"));
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(1));
  scheduler->Upsert("ns/a", Input("v2"));
  clock_.Advance(1s);
  scheduler->Tick();
  EXPECT_EQ(scheduler->Stats().evaluations_started, 1u);
}

TEST_F(SchedulerTest, RemovedRolloutsAreNotDelivered) {
  prom_->SetValue(R"(errors{version="v2"})", 0.5);
  prom_->Hold();
  auto scheduler = Make();
  scheduler->Upsert("ns/a", Input("v2"));
  scheduler->Tick();
  ASSERT_TRUE(prom_->WaitForRunning(1, 5s));
  scheduler->Remove("ns/a");
  prom_->Release();
  clock_.Advance(10s);
  scheduler->Tick();
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(deliveries_.size(), 0u);
  EXPECT_EQ(scheduler->Stats().evaluations_started, 1u);
}

TEST_F(SchedulerTest, StopWaitsForRunningQueriesAndDropsQueuedOnes) {
  prom_->Hold();
  auto scheduler = Make(/*concurrency=*/1);
  for (int i = 0; i < 3; ++i) {
    scheduler->Upsert("ns/r" + std::to_string(i), Input("v" + std::to_string(i)));
  }
  scheduler->Tick();
  ASSERT_TRUE(prom_->WaitForRunning(1, 5s));
  std::thread stopper([&] { scheduler->Stop(); });
  std::this_thread::sleep_for(50ms);
  prom_->Release();
  stopper.join();
  EXPECT_EQ(prom_->queries().size(), 1u);  // the two queued queries never ran
  EXPECT_EQ(deliveries_.size(), 0u);
  scheduler->Stop();  // idempotent
  scheduler->Tick();  // a stopped scheduler does nothing
  EXPECT_EQ(scheduler->Stats().evaluations_started, 3u);
}

TEST_F(SchedulerTest, TemplateErrorsAreDeliveredWithoutQuerying) {
  auto scheduler = Make();
  EvaluationInput input = Input("v2");
  input.spec.metrics[0].query = "errors{region=\"{{region}}\"}";
  scheduler->Upsert("ns/a", input);
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(1));
  const api::Evaluation evaluation = deliveries_.received()[0].second;
  EXPECT_EQ(evaluation.verdict, Verdict::kError);
  EXPECT_EQ(evaluation.metrics[0].message, "query template: unknown template variable {{region}}");
  EXPECT_TRUE(prom_->queries().empty());
}

TEST_F(SchedulerTest, FailedQueriesAreCountedAndDeliveredAsErrors) {
  auto scheduler = Make();
  scheduler->Upsert("ns/a", Input("unanswered"));
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(1));
  EXPECT_EQ(deliveries_.received()[0].second.verdict, Verdict::kError);
  EXPECT_EQ(scheduler->Stats().queries_failed, 1u);
  EXPECT_EQ(scheduler->Stats().queries_sent, 1u);
}

TEST_F(SchedulerTest, AnAnswerIsReusedForAQuarterOfTheIntervalAndAtMostMaxAnswerReuse) {
  prom_->SetValue(R"(errors{version="v2"})", 0.5);
  auto scheduler = Make();
  EvaluationInput every_10s = Input("v2");  // reuses answers up to 2.5 s old
  EvaluationInput every_hour = Input("v2");
  every_hour.spec.interval = 1h;  // a quarter is 15 min: max_answer_reuse (15 s) caps it
  scheduler->Upsert("ns/first", every_10s);
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(1));

  // Each rollout is removed once delivered, so only the new ones fall due.
  scheduler->Remove("ns/first");
  clock_.Advance(2500ms);
  scheduler->Upsert("ns/reuses", every_10s);
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(2));
  EXPECT_EQ(deliveries_.received()[1].second.verdict, Verdict::kGo);
  EXPECT_EQ(deliveries_.received()[1].second.at, clock_.Now());
  EXPECT_EQ(prom_->queries().size(), 1u);
  EXPECT_EQ(scheduler->Stats().queries_reused, 1u);
  scheduler->Remove("ns/reuses");

  clock_.Advance(1ms);  // the answer is now too old for a 10 s interval ...
  scheduler->Upsert("ns/too-late", every_10s);
  scheduler->Upsert("ns/hourly", every_hour);  // ... but not for an hourly one
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(4));
  EXPECT_EQ(prom_->queries().size(), 2u);
  EXPECT_EQ(scheduler->Stats().queries_reused, 2u);
  scheduler->Remove("ns/too-late");
  scheduler->Remove("ns/hourly");

  clock_.Advance(15s);  // the newest answer (ns/too-late's) is exactly max_answer_reuse old
  scheduler->Upsert("ns/hourly-2", every_hour);
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(5));
  EXPECT_EQ(prom_->queries().size(), 2u);
  EXPECT_EQ(scheduler->Stats().queries_reused, 3u);
  clock_.Advance(1ms);
  scheduler->Upsert("ns/hourly-3", every_hour);
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(6));
  EXPECT_EQ(prom_->queries().size(), 3u);
  EXPECT_EQ(scheduler->Stats().queries_reused, 3u);
}

TEST_F(SchedulerTest, FailedAnswersAreNotReused) {
  auto scheduler = Make();
  scheduler->Upsert("ns/a", Input("unanswered"));
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(1));
  clock_.Advance(1s);
  scheduler->Upsert("ns/b", Input("unanswered"));
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(2));
  EXPECT_EQ(prom_->queries().size(), 2u);
  EXPECT_EQ(scheduler->Stats().queries_reused, 0u);
}

TEST_F(SchedulerTest, AQueryInFlightServesLaterEvaluationsWithinTheReuseBound) {
  prom_->SetValue(R"(errors{version="v2"})", 0.5);
  prom_->Hold();
  auto scheduler = Make();
  scheduler->Upsert("ns/a", Input("v2"));  // interval 10 s: reuse bound 2.5 s
  scheduler->Tick();
  ASSERT_TRUE(prom_->WaitForRunning(1, 5s));
  clock_.Advance(2s);
  scheduler->Upsert("ns/b", Input("v2"));  // joins the query still running
  scheduler->Tick();
  clock_.Advance(1s);
  scheduler->Upsert("ns/c", Input("v2"));  // 3 s after it was sent: too old to join
  scheduler->Tick();
  ASSERT_TRUE(prom_->WaitForRunning(2, 5s));
  SchedulerStats stats = scheduler->Stats();
  EXPECT_EQ(stats.queries_sent, 2u);
  EXPECT_EQ(stats.queries_deduplicated, 1u);
  EXPECT_EQ(deliveries_.size(), 0u);
  prom_->Release();
  ASSERT_TRUE(deliveries_.WaitFor(3));
  EXPECT_EQ(prom_->queries().size(), 2u);
  for (const auto& [key, evaluation] : deliveries_.received()) {
    EXPECT_EQ(evaluation.verdict, Verdict::kGo) << key;
  }
}

TEST_F(SchedulerTest, RemovingTheLastRolloutOfAServerDropsItsClient) {
  prom_->SetValue(R"(errors{version="v2"})", 0.5);
  auto scheduler = Make();
  scheduler->Upsert("ns/a", Input("v2"));
  scheduler->Upsert("ns/b", Input("v2"));
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(2));
  scheduler->Remove("ns/a");  // b still uses the server: its client is kept
  clock_.Advance(10s);
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(3));
  scheduler->Remove("ns/b");
  scheduler->Upsert("ns/c", Input("v2"));
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(4));
  std::lock_guard lock(mu_);
  EXPECT_EQ(connects_, 2);
}

// Start() ticks on its own: whenever a rollout falls due or is added.
TEST(SchedulerRealClock, TheTickerWakesWhenARolloutFallsDueNotOnlyEveryTickPeriod) {
  auto prom = std::make_shared<FakePrometheusClient>();
  prom->SetValue(R"(errors{version="v2"})", 0.5);
  prom->SetValue(R"(errors{version="v3"})", 0.5);
  Deliveries deliveries;
  SchedulerOptions options;
  options.tick_period = 30s;  // the bound alone would allow one evaluation in this test
  options.connect = [prom](const PrometheusTarget&) -> Result<PrometheusClientPtr> {
    return PrometheusClientPtr(prom);
  };
  Scheduler scheduler(options, [&](const std::string& key, api::Evaluation evaluation) {
    deliveries.Add(key, std::move(evaluation));
  });
  EvaluationInput input = Input("v2");
  input.spec.interval = 1s;
  scheduler.Upsert("ns/a", input);
  scheduler.Start();
  ASSERT_TRUE(deliveries.WaitFor(1, 5s));
  // Added while the ticker sleeps: evaluated at once, not at the bound.
  scheduler.Upsert("ns/b", Input("v3"));
  ASSERT_TRUE(deliveries.WaitFor(2, 5s));
  // ns/a falls due again a second after its first evaluation.
  ASSERT_TRUE(deliveries.WaitFor(3, 5s));
  scheduler.Stop();
  std::vector<std::string> keys;
  for (const auto& [key, evaluation] : deliveries.received()) keys.push_back(key);
  EXPECT_EQ(keys[0], "ns/a");
  EXPECT_EQ(keys[1], "ns/b");
  EXPECT_EQ(keys[2], "ns/a");
}

}  // namespace
}  // namespace agentrollout::analysis
