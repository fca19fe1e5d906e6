#include "analysis/scheduler.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <map>

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
  // Without spreading unless asked: most tests count whole intervals from an evaluation.
  std::unique_ptr<Scheduler> Make(std::size_t concurrency = 4, bool spread = false) {
    SchedulerOptions options;
    options.concurrency = concurrency;
    options.spread_evaluations = spread;
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
  auto scheduler = Make(/*concurrency=*/2);
  for (int i = 0; i < 6; ++i) {
    const std::string version = "v" + std::to_string(i);
    prom_->SetValue("errors{version=\"" + version + "\"}", 0.5);
    scheduler->Upsert("ns/r" + std::to_string(i), Input(version));
  }
  scheduler->Tick();  // every rollout answers fast once
  ASSERT_TRUE(deliveries_.WaitFor(6));
  prom_->Hold();
  clock_.Advance(10s);
  scheduler->Tick();
  ASSERT_TRUE(prom_->WaitForRunning(2, 5s));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(prom_->running(), 2);
  prom_->Release();
  ASSERT_TRUE(deliveries_.WaitFor(12));
  EXPECT_EQ(prom_->queries().size(), 12u);
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

TEST_F(SchedulerTest, AnAnswerIsReusedForAQuarterOfTheInterval) {
  prom_->SetValue(R"(errors{version="v2"})", 0.5);
  auto scheduler = Make();
  const EvaluationInput every_10s = Input("v2");  // reuses answers up to 2.5 s old
  // Registered before the answers below were asked for, at scattered times.
  scheduler->Upsert("ns/reuses", every_10s);  // due at 0 s and 10 s
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(1));
  clock_.Advance(1ms);
  scheduler->Upsert("ns/too-late", every_10s);  // due at 1 ms and 10.001 s
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(2));
  EXPECT_EQ(prom_->queries().size(), 2u);  // the 1 ms old answer predates its input
  clock_.Advance(7499ms);
  scheduler->Upsert("ns/sender", every_10s);  // at 7.5 s: sends the answer reused below
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(3));
  EXPECT_EQ(prom_->queries().size(), 3u);
  const api::Timestamp sent = clock_.Now();

  clock_.Advance(2500ms);  // 10 s: the answer is 2.5 s old
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(4));
  EXPECT_EQ(deliveries_.received()[3].first, "ns/reuses");
  EXPECT_EQ(deliveries_.received()[3].second.verdict, Verdict::kGo);
  EXPECT_EQ(deliveries_.received()[3].second.at, clock_.Now());
  EXPECT_EQ(deliveries_.received()[3].second.measured_from, sent);
  EXPECT_EQ(prom_->queries().size(), 3u);
  EXPECT_EQ(scheduler->Stats().queries_reused, 1u);

  clock_.Advance(1ms);  // now too old for a 10 s interval
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(5));
  EXPECT_EQ(deliveries_.received()[4].first, "ns/too-late");
  EXPECT_EQ(deliveries_.received()[4].second.measured_from, clock_.Now());
  EXPECT_EQ(prom_->queries().size(), 4u);
  EXPECT_EQ(scheduler->Stats().queries_reused, 1u);
}

TEST_F(SchedulerTest, ReuseIsCappedAtMaxAnswerReuse) {
  prom_->SetValue(R"(errors{version="v2"})", 0.5);
  auto scheduler = Make();
  EvaluationInput hourly = Input("v2");
  hourly.spec.interval = 1h;               // a quarter is 15 min: max_answer_reuse (15 s) caps it
  scheduler->Upsert("ns/reuses", hourly);  // due at 0 and 1 h
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(1));
  clock_.Advance(1ms);
  scheduler->Upsert("ns/too-late", hourly);  // due at 1 ms and 1 h + 1 ms
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(2));
  clock_.Advance(1h - 15s - 1ms);
  scheduler->Upsert("ns/sender", hourly);
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(3));
  EXPECT_EQ(prom_->queries().size(), 3u);

  clock_.Advance(15s);  // exactly max_answer_reuse old
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(4));
  EXPECT_EQ(deliveries_.received()[3].first, "ns/reuses");
  EXPECT_EQ(prom_->queries().size(), 3u);
  EXPECT_EQ(scheduler->Stats().queries_reused, 1u);
  clock_.Advance(1ms);
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(5));
  EXPECT_EQ(deliveries_.received()[4].first, "ns/too-late");
  EXPECT_EQ(prom_->queries().size(), 4u);
  EXPECT_EQ(scheduler->Stats().queries_reused, 1u);
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
  auto scheduler = Make();
  // Interval 10 s: reuse bound 2.5 s. b is due again at 10 s, c at 11 s.
  scheduler->Upsert("ns/b", Input("v2"));
  scheduler->Tick();
  clock_.Advance(1s);
  scheduler->Upsert("ns/c", Input("v2"));
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(2));
  prom_->Hold();
  clock_.Advance(7s);
  scheduler->Upsert("ns/a", Input("v2"));  // at 8 s: its query hangs
  scheduler->Tick();
  ASSERT_TRUE(prom_->WaitForRunning(1, 5s));
  clock_.Advance(2s);
  scheduler->Tick();  // b joins the query still running, sent 2 s ago
  clock_.Advance(1s);
  scheduler->Tick();  // c: 3 s after it was sent, too old to join
  ASSERT_TRUE(prom_->WaitForRunning(2, 5s));
  SchedulerStats stats = scheduler->Stats();
  EXPECT_EQ(stats.queries_sent, 4u);
  EXPECT_EQ(stats.queries_deduplicated, 1u);
  EXPECT_EQ(deliveries_.size(), 2u);
  prom_->Release();
  ASSERT_TRUE(deliveries_.WaitFor(5));
  EXPECT_EQ(prom_->queries().size(), 4u);
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

// ------------------------------------------------------------ evidence is fresh

// The same query before and after a phase change (the phase is not in it): Prometheus
// answers differently from the moment the new phase's traffic shift lands.
EvaluationInput InPhase(const std::string& phase) {
  EvaluationInput input = Input("v2");
  input.vars["phase"] = phase;
  return input;
}

TEST_F(SchedulerTest, ANewPhaseIsNotServedAnAnswerFromBeforeItStartedEvenWithinTheReuseBound) {
  prom_->SetValue(R"(errors{version="v2"})", 0.5);
  auto scheduler = Make();
  scheduler->Upsert("ns/other", Input("v2"));  // another rollout asking the same query
  scheduler->Upsert("ns/a", InPhase("early"));
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(2));
  clock_.Advance(10s);
  scheduler->Tick();  // both again: one query, answered Go
  ASSERT_TRUE(deliveries_.WaitFor(4));
  EXPECT_EQ(prom_->queries().size(), 2u);

  clock_.Advance(1s);  // the answer is 1 s old, inside the 2.5 s reuse bound
  prom_->SetValue(R"(errors{version="v2"})", 3);  // the shift makes the canary fail
  const api::Timestamp shifted = clock_.Now();
  scheduler->Upsert("ns/a", InPhase("half"));  // the reconciler, once the writes landed
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(5));
  const auto [key, evaluation] = deliveries_.received()[4];
  EXPECT_EQ(key, "ns/a");
  EXPECT_EQ(evaluation.verdict, Verdict::kNoGo);
  EXPECT_EQ(evaluation.metrics[0].value, "3");
  EXPECT_GE(evaluation.measured_from, shifted);
  EXPECT_EQ(prom_->queries().size(), 3u);
  EXPECT_EQ(scheduler->Stats().queries_reused, 0u);
}

TEST_F(SchedulerTest, ANewPhaseDoesNotJoinAQuerySentBeforeItStarted) {
  prom_->SetValue(R"(errors{version="v2"})", 0.5);
  auto scheduler = Make();
  scheduler->Upsert("ns/a", InPhase("early"));
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(1));
  prom_->Hold();
  clock_.Advance(1s);
  scheduler->Upsert("ns/other", Input("v2"));  // its query is measured, then hangs
  scheduler->Tick();
  ASSERT_TRUE(prom_->WaitForRunning(1, 5s));

  clock_.Advance(500ms);
  prom_->SetValue(R"(errors{version="v2"})", 3);
  const api::Timestamp shifted = clock_.Now();
  scheduler->Upsert("ns/a", InPhase("half"));
  scheduler->Tick();
  ASSERT_TRUE(prom_->WaitForRunning(2, 5s));  // its own query, not the one in flight
  prom_->Release();
  ASSERT_TRUE(deliveries_.WaitFor(3));
  EXPECT_EQ(scheduler->Stats().queries_deduplicated, 0u);
  int new_phase = 0;
  for (const auto& [key, evaluation] : deliveries_.received()) {
    if (key == "ns/other") {
      EXPECT_EQ(evaluation.metrics[0].value, "0.5");  // measured before the shift
    }
    if (key != "ns/a" || evaluation.at < shifted) continue;
    ++new_phase;
    EXPECT_EQ(evaluation.verdict, Verdict::kNoGo);
    EXPECT_EQ(evaluation.metrics[0].value, "3");
    EXPECT_GE(evaluation.measured_from, shifted);
  }
  EXPECT_EQ(new_phase, 1);
}

TEST_F(SchedulerTest, MeasuredFromIsWhenTheOldestUsedQueryWasSent) {
  prom_->SetValue(R"(errors{version="v2"})", 0.5);
  prom_->SetValue(R"(latency{version="v2"})", 100);
  auto scheduler = Make();
  EvaluationInput two_metrics = Input("v2");
  api::MetricSpec latency = two_metrics.spec.metrics[0];
  latency.name = "latency";
  latency.query = R"(latency{version="{{canary}}"})";
  latency.go = {CompareOp::kLess, 800};
  latency.no_go = {CompareOp::kGreater, 1200};
  two_metrics.spec.metrics.push_back(latency);
  scheduler->Upsert("ns/a", two_metrics);  // due at 0 and 10 s
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(1));
  EXPECT_EQ(deliveries_.received()[0].second.measured_from, clock_.Now());
  clock_.Advance(8s);
  scheduler->Upsert("ns/b", Input("v2"));  // the error-rate query alone, at 8 s
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(2));
  const api::Timestamp error_rate_sent = clock_.Now();
  clock_.Advance(2s);
  scheduler->Tick();  // a reuses b's answer and sends its latency query
  ASSERT_TRUE(deliveries_.WaitFor(3));
  const api::Evaluation evaluation = deliveries_.received()[2].second;
  EXPECT_EQ(evaluation.verdict, Verdict::kGo);
  EXPECT_EQ(evaluation.at, clock_.Now());
  EXPECT_EQ(evaluation.measured_from, error_rate_sent);
  EXPECT_EQ(scheduler->Stats().queries_reused, 1u);
}

// ------------------------------------------------------------ rollouts are isolated

// Ticks every `step` until `until` has passed, waiting after each tick for the evaluations
// it started, so none is still in flight when its rollout falls due again.
void TickThrough(Scheduler& scheduler, FakeClock& clock, Deliveries& deliveries,
                 std::chrono::milliseconds until, std::chrono::milliseconds step) {
  for (std::chrono::milliseconds passed{0}; passed < until; passed += step) {
    clock.Advance(step);
    const std::size_t before = deliveries.size();
    const std::uint64_t started_before = scheduler.Stats().evaluations_started;
    scheduler.Tick();
    const std::uint64_t started = scheduler.Stats().evaluations_started - started_before;
    ASSERT_TRUE(deliveries.WaitFor(before + started));
  }
}

TEST_F(SchedulerTest, SpreadsRolloutsRegisteredTogetherOverTheInterval) {
  prom_->SetValue(R"(errors{version="v2"})", 0.5);
  auto scheduler = Make(4, /*spread=*/true);
  constexpr std::size_t kRollouts = 100;
  const api::Timestamp registered = clock_.Now();
  for (std::size_t i = 0; i < kRollouts; ++i) {
    scheduler->Upsert("ns/rollout-" + std::to_string(i), Input("v2"));  // interval 10 s
  }
  scheduler->Tick();  // every new rollout is due at once
  ASSERT_TRUE(deliveries_.WaitFor(kRollouts));
  for (const auto& [key, evaluation] : deliveries_.received()) EXPECT_EQ(evaluation.at, registered);

  // Each one's second evaluation comes 5-15 s later, on its own place in the interval.
  TickThrough(*scheduler, clock_, deliveries_, 15s, 10ms);
  ASSERT_EQ(deliveries_.size(), 2 * kRollouts);
  std::map<std::string, api::Timestamp> second;
  std::array<int, 10> per_second_of_interval{};
  const auto second_round = deliveries_.received();
  for (std::size_t i = kRollouts; i < 2 * kRollouts; ++i) {
    const auto& [key, evaluation] = second_round[i];
    EXPECT_TRUE(second.emplace(key, evaluation.at).second) << key << " twice";
    EXPECT_GE(evaluation.at, registered + 5s) << key;
    EXPECT_LE(evaluation.at, registered + 15s) << key;
    const auto into_interval =
        std::chrono::duration_cast<std::chrono::milliseconds>(evaluation.at.time_since_epoch()) %
        10'000;
    ++per_second_of_interval[static_cast<std::size_t>(into_interval.count() / 1000)];
  }
  // 10 per second of the interval on average; together they were all in one.
  for (std::size_t s = 0; s < per_second_of_interval.size(); ++s) {
    EXPECT_GE(per_second_of_interval[s], 2) << "second " << s;
    EXPECT_LE(per_second_of_interval[s], 25) << "second " << s;
  }

  // From there on, one interval apart (to the 10 ms the ticks are apart).
  TickThrough(*scheduler, clock_, deliveries_, 10s, 10ms);
  ASSERT_EQ(deliveries_.size(), 3 * kRollouts);
  const auto third_round = deliveries_.received();
  for (std::size_t i = 2 * kRollouts; i < 3 * kRollouts; ++i) {
    const auto& [key, evaluation] = third_round[i];
    ASSERT_EQ(second.count(key), 1u) << key;
    EXPECT_NEAR(std::chrono::duration<double>(evaluation.at - second[key]).count(), 10.0, 0.011)
        << key;
  }
}

TEST_F(SchedulerTest, ARolloutKeepsItsPlaceInTheIntervalAcrossARestart) {
  prom_->SetValue(R"(errors{version="v2"})", 0.5);
  // The place in the interval of the second evaluation, for a scheduler started now.
  const auto second_evaluation_into_interval = [&] {
    auto scheduler = Make(4, /*spread=*/true);
    const std::size_t before = deliveries_.size();
    scheduler->Upsert("ns/a", Input("v2"));
    scheduler->Tick();
    EXPECT_TRUE(deliveries_.WaitFor(before + 1));
    TickThrough(*scheduler, clock_, deliveries_, 15s, 1ms);
    EXPECT_EQ(deliveries_.size(), before + 2);
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               deliveries_.received().back().second.at.time_since_epoch()) %
           10'000;
  };
  const auto first_run = second_evaluation_into_interval();
  clock_.Advance(3333ms);  // the operator restarts at another place in the interval
  EXPECT_EQ(second_evaluation_into_interval(), first_run);
}

// Rollouts against servers that accept a query and never answer (each its own fake,
// held until the test ends), and one healthy rollout against prom_.
class IsolationTest : public SchedulerTest {
 protected:
  static constexpr std::size_t kConcurrency = 2;

  std::unique_ptr<Scheduler> MakeIsolated() {
    SchedulerOptions options;
    options.concurrency = kConcurrency;
    options.spread_evaluations = false;
    options.now = [this] { return clock_.Now(); };
    options.connect = [this](const PrometheusTarget& target) -> Result<PrometheusClientPtr> {
      std::lock_guard lock(mu_);
      if (target.address == "http://prometheus:9090") return PrometheusClientPtr(prom_);
      auto& hung = hung_[target.address];
      if (hung == nullptr) {
        hung = std::make_shared<FakePrometheusClient>();
        hung->Hold();
      }
      return PrometheusClientPtr(hung);
    };
    return std::make_unique<Scheduler>(options,
                                       [this](const std::string& key, api::Evaluation evaluation) {
                                         deliveries_.Add(key, std::move(evaluation));
                                       });
  }

  // Three metrics against `address`, with a timeout that does not end within the test.
  static EvaluationInput HungInput(const std::string& address) {
    EvaluationInput input = Input("v2");
    input.spec.prometheus->address = address;
    input.spec.prometheus->timeout = 10min;
    for (const char* name : {"latency", "saturation"}) {
      api::MetricSpec metric = input.spec.metrics[0];
      metric.name = name;
      metric.query = std::string(name) + R"({version="{{canary}}"})";
      input.spec.metrics.push_back(metric);
    }
    return input;
  }

  int HungRunning() {
    std::lock_guard lock(mu_);
    int running = 0;
    for (const auto& [address, hung] : hung_) running += hung->running();
    return running;
  }
  bool WaitForHungRunning(int count) {
    for (int i = 0; i < 500 && HungRunning() < count; ++i) std::this_thread::sleep_for(10ms);
    return HungRunning() == count;
  }

  // Answers every hung query when it goes: declared after the scheduler, whose Stop()
  // waits for running queries.
  struct ReleaseHungAtExit {
    IsolationTest* test;
    ~ReleaseHungAtExit() {
      std::lock_guard lock(test->mu_);
      for (const auto& [address, hung] : test->hung_) hung->Release();
    }
  };

  std::map<std::string, std::shared_ptr<FakePrometheusClient>> hung_;
};

TEST_F(IsolationTest, RolloutsAgainstHungServersNeverDelayAHealthyOne) {
  constexpr int kHung = 6;  // three times the slots
  prom_->SetValue(R"(errors{version="v2"})", 0.5);
  auto scheduler = MakeIsolated();
  const ReleaseHungAtExit release{this};
  scheduler->Upsert("ns/healthy", Input("v2"));  // due at 0 and every 10 s
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(1));

  for (int i = 0; i < kHung; ++i) {
    scheduler->Upsert("ns/hung-" + std::to_string(i),
                      HungInput("http://hung-" + std::to_string(i) + ":9090"));
  }
  // New rollouts of unknown speed take at most one of the two slots at a time; each
  // query that runs for stall_after frees its slot and marks its rollout slow, which
  // then runs one query at a time outside the slots.
  for (int second = 1; second <= kHung; ++second) {
    scheduler->Tick();
    ASSERT_TRUE(WaitForHungRunning(second));
    clock_.Advance(1s);
  }
  scheduler->Tick();
  ASSERT_TRUE(WaitForHungRunning(kHung));
  EXPECT_EQ(scheduler->Stats().queries_stalled, static_cast<std::uint64_t>(kHung));

  // The healthy rollout's next evaluations complete while every hung query still hangs.
  for (int round = 1; round <= 3; ++round) {
    clock_.Advance(10s - (round == 1 ? std::chrono::seconds(kHung) : 0s));
    scheduler->Tick();
    ASSERT_TRUE(deliveries_.WaitFor(1 + round)) << "round " << round;
    EXPECT_EQ(deliveries_.received().back().first, "ns/healthy");
    EXPECT_EQ(deliveries_.received().back().second.verdict, Verdict::kGo);
  }
  EXPECT_EQ(HungRunning(), kHung);  // one per hung rollout, never more
  EXPECT_LE(scheduler->Stats().threads_started, 2 * kConcurrency + kHung);
}

TEST_F(IsolationTest, AHealthyRolloutIsServedFirstWhileNewRolloutsHang) {
  prom_->SetValue(R"(errors{version="v2"})", 0.5);
  auto scheduler = MakeIsolated();
  const ReleaseHungAtExit release{this};
  scheduler->Upsert("ns/healthy", Input("v2"));
  scheduler->Tick();
  ASSERT_TRUE(deliveries_.WaitFor(1));
  clock_.Advance(10s);  // the healthy rollout is due again together with 8 new hung ones
  for (int i = 0; i < 8; ++i) {
    scheduler->Upsert("ns/hung-" + std::to_string(i),
                      HungInput("http://hung-" + std::to_string(i) + ":9090"));
  }
  scheduler->Tick();  // no time passes: nothing is known to be slow yet
  ASSERT_TRUE(deliveries_.WaitFor(2));
  EXPECT_EQ(deliveries_.received()[1].first, "ns/healthy");
  EXPECT_EQ(HungRunning(), 1);  // the slot kept for fast rollouts stayed free
}

TEST_F(IsolationTest, ASlowServerGetsAtMostConcurrencyQueriesOfItsSlowRollouts) {
  auto scheduler = MakeIsolated();
  const ReleaseHungAtExit release{this};
  for (int i = 0; i < 5; ++i) {  // all against one hung server, each its own queries
    EvaluationInput input = HungInput("http://hung:9090");
    input.vars["canary"] = "v" + std::to_string(i);
    scheduler->Upsert("ns/hung-" + std::to_string(i), input);
  }
  for (int second = 0; second < 8; ++second) {
    scheduler->Tick();
    clock_.Advance(1s);
  }
  scheduler->Tick();
  std::this_thread::sleep_for(50ms);
  // concurrency slow ones, plus the one new rollout's query that holds a slot until it
  // counts as stalled.
  EXPECT_LE(HungRunning(), static_cast<int>(kConcurrency) + 1);
  EXPECT_GE(HungRunning(), static_cast<int>(kConcurrency));
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
  // ns/a falls due again half an interval to an interval and a half after its first.
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
