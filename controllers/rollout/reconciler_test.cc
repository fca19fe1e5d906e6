#include "controllers/rollout/reconciler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "analysis/fake_prometheus_client.h"
#include "api/names.h"
#include "controllers/flagstore/fake_flag_store.h"
#include "controllers/notify/fake_notifier.h"
#include "controllers/traffic/fake_traffic_router.h"
#include "kube/fake_client.h"
#include "kube/secret_data.h"

namespace agentrollout::controllers {
namespace {

using analysis::testing::FakePrometheusClient;
using api::RolloutPhase;
using nlohmann::json;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr char kNamespace[] = "bots";
constexpr char kName[] = "wa-bot-v2";
constexpr char kKey[] = "bots/wa-bot-v2";
// The query of the spec below, rendered for this rollout (API.md §3.2 values).
constexpr char kQuery[] = R"(errors{namespace="bots",version="bot-v2",phase="pilot"})";
constexpr char kQueryAll[] = R"(errors{namespace="bots",version="bot-v2",phase="all"})";

// Two phases of a minute each, one metric.
json SpecJson() {
  return json::parse(R"({
    "revision": "2",
    "flag": {"key": "wa_bot_v2", "configMap": {"name": "feature-flags"}},
    "traffic": {"gatewayAPI": {"httpRoute": "bot", "stableBackend": "bot-v1",
                               "canaryBackend": "bot-v2"}},
    "analysis": {
      "prometheus": {"address": "http://prometheus:9090"},
      "interval": "1m",
      "metrics": [{"name": "error-rate",
                   "query": "errors{namespace=\"{{namespace}}\",version=\"{{canary}}\",phase=\"{{phase}}\"}",
                   "go": "< 0.02", "noGo": "> 0.05"}]},
    "phases": [{"name": "pilot", "flagPercent": 10, "trafficWeight": 10, "duration": "1m"},
               {"name": "all", "flagPercent": 100, "trafficWeight": 100, "duration": "1m"}]})");
}

// Decision time, the scheduler's time and the workqueue's clock, moved together by hand.
class TestTime {
 public:
  api::Timestamp Now() const { return api::Timestamp(std::chrono::seconds(seconds_.load())); }
  void Advance(std::chrono::seconds by) {
    seconds_ += by.count();
    clock->Advance(by);
  }
  const std::shared_ptr<kube::FakeClock> clock = std::make_shared<kube::FakeClock>();

 private:
  std::atomic<std::int64_t> seconds_{1'795'341'600};
};

class ReconcilerTest : public ::testing::Test {
 protected:
  ReconcilerTest() {
    client_->EnableStatusSubresource(kAgentRollouts);
    kube::EventRecorderOptions recorder_options;
    recorder_options.component = "agentrollout-operator";
    recorder_ = std::make_unique<kube::EventRecorder>(client_, recorder_options);
    executor_ = std::make_unique<Executor>(client_, flags_, router_, *recorder_, notifier_);
  }

  ~ReconcilerTest() override {
    if (reconciler_) reconciler_->Stop();
  }

  void Start(int concurrency = 2) {
    ReconcilerOptions options;
    options.concurrency = concurrency;
    options.clock = time_.clock;
    options.now = [this] { return time_.Now(); };
    options.scheduler.now = [this] { return time_.Now(); };
    options.scheduler.tick_period = 5ms;
    options.scheduler.spread_evaluations = false;  // the test counts whole intervals
    options.scheduler.connect =
        [this](const analysis::PrometheusTarget& target) -> Result<analysis::PrometheusClientPtr> {
      {
        std::lock_guard lock(mu_);
        targets_.push_back(target);
      }
      return analysis::PrometheusClientPtr(prometheus_);
    };
    reconciler_ = std::make_unique<Reconciler>(client_, *executor_, metrics_, options);
    reconciler_->StartCaches();
    ASSERT_TRUE(reconciler_->WaitForSync(5s));
    reconciler_->StartWorkers();
  }

  // A reconciler driven by ReconcileOnce (no workers, no scheduler) on the test's time.
  std::unique_ptr<Reconciler> StepByStep() {
    ReconcilerOptions options;
    options.now = [this] { return time_.Now(); };
    options.clock = time_.clock;
    return std::make_unique<Reconciler>(client_, *executor_, metrics_, options);
  }

  void Create(json spec = SpecJson(), const std::string& name = kName) {
    json object = {{"apiVersion", api::kApiVersion},
                   {"kind", api::kKind},
                   {"metadata", {{"name", name}}},
                   {"spec", std::move(spec)}};
    auto created = client_->Create(kAgentRollouts, kNamespace, object);
    ASSERT_TRUE(created.ok()) << created.error().ToString();
  }
  void CreateSecret(const std::string& name, json labels, json data) {
    auto created = client_->Create(kube::kSecrets, kNamespace,
                                   {{"apiVersion", "v1"},
                                    {"kind", "Secret"},
                                    {"metadata", {{"name", name}, {"labels", std::move(labels)}}},
                                    {"data", std::move(data)}});
    ASSERT_TRUE(created.ok()) << created.error().ToString();
  }
  // A rollout of its own flag and HTTPRoute, both named `name`.
  void CreateWithOwnTargets(const std::string& name) {
    json spec = SpecJson();
    spec["flag"]["key"] = name;
    spec["traffic"]["gatewayAPI"]["httpRoute"] = name;
    Create(std::move(spec), name);
  }

  api::AgentRolloutStatus Stored(const std::string& name = kName) {
    auto object = client_->Get(kAgentRollouts, kNamespace, name);
    if (!object.ok()) return {};
    auto observed = DecodeObservedRollout(*object);
    return observed.ok() ? observed->status : api::AgentRolloutStatus{};
  }

  // Waits (real time, bounded) until `done` holds.
  static bool WaitUntil(const std::function<bool()>& done,
                        std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(2ms);
    }
    return true;
  }
  bool WaitForStatus(const std::function<bool(const api::AgentRolloutStatus&)>& done,
                     std::chrono::milliseconds timeout = 10s, const std::string& name = kName) {
    return WaitUntil([&] { return done(Stored(name)); }, timeout);
  }
  // The reconciler records its metrics after the status write a test waits for, so a
  // test waits for the metric too rather than reading it right after the status.
  bool WaitForMetricsText(const std::string& text, bool present = true) {
    return WaitUntil([&] { return (Metrics().find(text) != std::string::npos) == present; });
  }
  bool WaitForPhase(const std::string& step, RolloutPhase phase, const std::string& name = kName) {
    return WaitForStatus(
        [&](const api::AgentRolloutStatus& status) {
          return status.phase == phase && status.current_phase &&
                 status.current_phase->name == step;
        },
        10s, name);
  }

  std::string Metrics() { return metrics_.Serialize(); }

  // Waits until `count` evaluations (any verdict) have reached the reconciler. A test
  // that moves time on first waits for the evaluation due now: one still running when the
  // next falls due makes the scheduler skip that slot (no pile-up), a whole interval.
  bool WaitForEvaluations(double count) {
    return WaitUntil([&] {
      const std::string prefix = "agentrollout_analysis_verdicts_total{";
      std::istringstream lines(Metrics());
      double delivered = 0;
      for (std::string line; std::getline(lines, line);) {
        if (line.rfind(prefix, 0) == 0) delivered += std::stod(line.substr(line.rfind(' ') + 1));
      }
      return delivered >= count;
    });
  }

  // Successful reconciles so far, once the count has not moved for 300 ms and the queue is
  // empty; nullopt when that does not happen within 10 s.
  std::optional<double> SettledReconciles() {
    const std::string series = R"(agentrollout_reconcile_total{result="success"} )";
    auto count = [&]() -> std::optional<double> {
      const std::string text = Metrics();
      const auto at = text.find(series);
      if (at == std::string::npos) return std::nullopt;
      return std::stod(text.substr(at + series.size()));
    };
    std::optional<double> last;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(300ms);
      const std::optional<double> now = count();
      if (now && now == last && reconciler_->QueueLength() == 0) return now;
      last = now;
    }
    return std::nullopt;
  }

  std::vector<analysis::PrometheusTarget> targets() {
    std::lock_guard lock(mu_);
    return targets_;
  }

  TestTime time_;
  std::shared_ptr<kube::FakeClient> client_ = std::make_shared<kube::FakeClient>();
  std::shared_ptr<FakePrometheusClient> prometheus_ = std::make_shared<FakePrometheusClient>();
  FakeFlagStore flags_;
  FakeTrafficRouter router_;
  FakeNotifier notifier_;
  operator_::Metrics metrics_{"test"};
  std::unique_ptr<kube::EventRecorder> recorder_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<Reconciler> reconciler_;
  std::mutex mu_;
  std::vector<analysis::PrometheusTarget> targets_;
};

TEST_F(ReconcilerTest, RunsARolloutToSucceededOnGoEvaluations) {
  prometheus_->SetValue(kQuery, 0.01);
  prometheus_->SetValue(kQueryAll, 0.01);
  Create();
  Start();

  ASSERT_TRUE(WaitForPhase("pilot", RolloutPhase::kProgressing)) << Stored().message;
  EXPECT_EQ(flags_.flags().at("wa_bot_v2").percentage, 10);
  EXPECT_EQ(router_.weight(), 10);
  // The table is evaluated at once, with the template values of the rollout and phase; an
  // evaluation from the second the phase began is no evidence about it, so no advance.
  ASSERT_TRUE(WaitUntil([&] { return !prometheus_->queries().empty(); }));
  EXPECT_EQ(prometheus_->queries(), std::vector<std::string>{kQuery});
  ASSERT_TRUE(WaitForEvaluations(1)) << Metrics();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(Stored().current_phase->name, "pilot");

  time_.Advance(61s);  // baked; the next evaluation is due
  ASSERT_TRUE(WaitForPhase("all", RolloutPhase::kProgressing)) << Stored().message;
  EXPECT_EQ(flags_.flags().at("wa_bot_v2").percentage, 100);
  EXPECT_EQ(router_.weight(), 100);
  EXPECT_EQ(Stored().history.back().reason, "PhaseAdvanced");

  // pilot's two and the one made the second "all" began
  ASSERT_TRUE(WaitForEvaluations(3)) << Metrics();
  time_.Advance(61s);
  ASSERT_TRUE(WaitForPhase("all", RolloutPhase::kSucceeded)) << Stored().message;
  ASSERT_TRUE(WaitForMetricsText(
      R"(agentrollout_rollout_phase{name="wa-bot-v2",namespace="bots",phase="Succeeded"} 1)"))
      << Metrics();
  EXPECT_THAT(prometheus_->queries(), ::testing::Contains(kQuery));
  EXPECT_THAT(prometheus_->queries(), ::testing::Contains(kQueryAll));

  // Analysis stops with success: time passing sends no more queries.
  const std::size_t queries = prometheus_->queries().size();
  time_.Advance(5min);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(prometheus_->queries().size(), queries);

  const std::string text = Metrics();
  EXPECT_THAT(
      text,
      HasSubstr(
          R"(agentrollout_rollout_phase{name="wa-bot-v2",namespace="bots",phase="Succeeded"} 1)"));
  EXPECT_THAT(
      text,
      HasSubstr(R"(agentrollout_rollout_flag_percent{name="wa-bot-v2",namespace="bots"} 100)"));
  EXPECT_THAT(text,
              ::testing::Not(HasSubstr(R"(agentrollout_reconcile_total{result="success"} 0)")));
  EXPECT_THAT(text,
              ::testing::Not(HasSubstr(R"(agentrollout_analysis_verdicts_total{verdict="Go"} 0)")));
  EXPECT_THAT(text, ::testing::Not(
                        HasSubstr(R"(agentrollout_analysis_queries_total{result="success"} 0)")));
  EXPECT_THAT(text, HasSubstr("agentrollout_workqueue_depth 0"));
}

TEST_F(ReconcilerTest, NoGoRollsBackFullyAndIsCountedByReason) {
  prometheus_->SetValue(kQuery, 0.2);
  Create();
  Start();
  ASSERT_TRUE(WaitForPhase("pilot", RolloutPhase::kProgressing)) << Stored().message;
  ASSERT_TRUE(WaitForEvaluations(1)) << Metrics();

  time_.Advance(61s);  // the next evaluation is due
  ASSERT_TRUE(WaitForStatus([](const api::AgentRolloutStatus& status) {
    return status.phase == RolloutPhase::kRolledBack;
  })) << Stored().message;
  const api::AgentRolloutStatus status = Stored();
  ASSERT_TRUE(status.rollback.has_value());
  EXPECT_EQ(status.rollback->metric, "error-rate");
  EXPECT_EQ(status.rollback->line, "> 0.05");
  EXPECT_FALSE(flags_.flags().at("wa_bot_v2").enabled);
  EXPECT_EQ(router_.weight(), 0);
  ASSERT_TRUE(WaitForMetricsText(R"(agentrollout_rollbacks_total{reason="no_go"} 1)")) << Metrics();
  const std::string text = Metrics();
  EXPECT_THAT(
      text,
      HasSubstr(
          R"(agentrollout_rollout_phase{name="wa-bot-v2",namespace="bots",phase="RolledBack"} 1)"));
  EXPECT_THAT(
      text,
      HasSubstr(R"(agentrollout_rollout_traffic_weight{name="wa-bot-v2",namespace="bots"} 0)"));
}

TEST_F(ReconcilerTest, CredentialsAreReadFromTheRolloutsSecrets) {
  prometheus_->SetValue(kQuery, 0.01);
  json spec = SpecJson();
  spec["analysis"]["prometheus"]["bearerTokenSecretRef"] = {{"name", "prom"}, {"key", "token"}};
  CreateSecret("prom", {{std::string(kube::kSecretUseLabel), "true"}}, {{"token", "czNjcjN0"}});
  Create(spec);
  Start();
  ASSERT_TRUE(WaitForPhase("pilot", RolloutPhase::kProgressing));
  ASSERT_TRUE(WaitForEvaluations(1)) << Metrics();
  time_.Advance(61s);  // the next evaluation is due
  // A Go after the bake advances: the authenticated queries were answered.
  ASSERT_TRUE(WaitForPhase("all", RolloutPhase::kProgressing)) << Stored().message;
  ASSERT_FALSE(targets().empty());
  EXPECT_EQ(targets().front().credentials.bearer_token, "s3cr3t");
  EXPECT_EQ(targets().front().address, "http://prometheus:9090");
}

// API.md §2: whoever may create an AgentRollout must not be able to send any Secret of the
// namespace to an address of their choosing; only Secrets that opt in are read.
TEST_F(ReconcilerTest, ASecretWithoutTheOptInLabelIsNotSent) {
  json spec = SpecJson();
  spec["analysis"]["prometheus"]["bearerTokenSecretRef"] = {{"name", "db"}, {"key", "password"}};
  CreateSecret("db", {{"app", "db"}}, {{"password", "czNjcjN0"}});
  Create(spec);
  Start();
  ASSERT_TRUE(WaitForPhase("pilot", RolloutPhase::kProgressing));
  time_.Advance(61s);
  ASSERT_TRUE(WaitForStatus([](const api::AgentRolloutStatus& status) {
    return status.verdict == api::Verdict::kError;
  })) << Stored().message;
  EXPECT_THAT(Stored().message, HasSubstr("rollouts.agentops.dev/use"));
  EXPECT_TRUE(targets().empty()) << "nothing was sent with the Secret";
}

// A bug met by one rollout (here: an exception out of a router) must not kill the worker
// that every other rollout's rollback depends on.
TEST_F(ReconcilerTest, AWorkerSurvivesAnExceptionAndRetriesTheKey) {
  std::atomic<int> throws{1};
  router_.SetHook([&](FakeTrafficRouter::Call, const TrafficTarget&) -> std::optional<Error> {
    if (throws-- > 0) throw std::runtime_error("bug");
    return std::nullopt;
  });
  Create();
  Start(/*concurrency=*/1);
  for (int i = 0; i < 50 && Stored().phase != RolloutPhase::kProgressing; ++i) {
    time_.Advance(1s);  // the retry's backoff runs on the workqueue's clock
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_TRUE(WaitForPhase("pilot", RolloutPhase::kProgressing)) << Stored().message;
  EXPECT_THAT(Metrics(), HasSubstr(R"(agentrollout_reconcile_total{result="exception"} 1)"));
}

// API.md §4.8, reported: an edit that passes the CRD but not validation switched analysis
// off. The reconciler keeps the last valid spec and analyses with it.
TEST_F(ReconcilerTest, AnInvalidEditKeepsAnalysingAndRollsBackOnNoGo) {
  prometheus_->SetValue(kQuery, 0.01);
  Create();
  Start();
  ASSERT_TRUE(WaitForPhase("pilot", RolloutPhase::kProgressing));
  ASSERT_TRUE(WaitForEvaluations(1)) << Metrics();
  json spec = SpecJson();
  spec["analysis"]["metrics"][0]["go"] = "< 0.5";  // overlaps noGo "> 0.05"
  ASSERT_TRUE(
      client_->Patch(kAgentRollouts, kNamespace, kName, kube::PatchType::kMerge, {{"spec", spec}})
          .ok());
  ASSERT_TRUE(WaitForStatus([](const api::AgentRolloutStatus& status) {
    const auto ready = std::find_if(status.conditions.begin(), status.conditions.end(),
                                    [](const api::Condition& c) { return c.type == "Ready"; });
    return ready != status.conditions.end() && ready->reason == "InvalidSpec";
  })) << Stored().message;
  EXPECT_EQ(Stored().phase, RolloutPhase::kProgressing);

  prometheus_->SetValue(kQuery, 0.3);
  time_.Advance(61s);
  // Once rolled back nothing is exposed, so a later reconcile (if any comes) reports the
  // invalid spec as any other: Failed over RolledBack (API.md §4), which a fixed spec clears.
  ASSERT_TRUE(WaitForStatus([](const api::AgentRolloutStatus& status) {
    return status.phase == RolloutPhase::kRolledBack ||
           (status.phase == RolloutPhase::kFailed &&
            status.interrupted_phase == RolloutPhase::kRolledBack);
  })) << Stored().message;
  ASSERT_TRUE(Stored().rollback.has_value());
  EXPECT_EQ(Stored().rollback->metric, "error-rate") << "the last valid table decided";
  EXPECT_EQ(router_.weight(), 0);
  EXPECT_FALSE(flags_.flags().at("wa_bot_v2").enabled);

  spec["analysis"]["metrics"][0]["go"] = "< 0.02";
  ASSERT_TRUE(
      client_->Patch(kAgentRollouts, kNamespace, kName, kube::PatchType::kMerge, {{"spec", spec}})
          .ok());
  ASSERT_TRUE(WaitForStatus([](const api::AgentRolloutStatus& status) {
    return status.phase == RolloutPhase::kRolledBack;
  })) << Stored().message;
  EXPECT_EQ(router_.weight(), 0) << "a fixed spec does not start again by itself";
}

TEST_F(ReconcilerTest, AMissingSecretFailsTheAnalysisOncePerInterval) {
  json spec = SpecJson();
  spec["analysis"]["prometheus"]["bearerTokenSecretRef"] = {{"name", "absent"}, {"key", "token"}};
  spec["analysis"]["errorLimit"] = 5;
  Create(spec);
  Start();
  ASSERT_TRUE(WaitForPhase("pilot", RolloutPhase::kProgressing));
  // As with the scheduler, what is made the second the phase began does not count.
  time_.Advance(61s);
  ASSERT_TRUE(WaitForStatus([](const api::AgentRolloutStatus& status) {
    return status.verdict == api::Verdict::kError;
  })) << Stored().message;
  api::AgentRolloutStatus status = Stored();
  EXPECT_THAT(status.message, HasSubstr("bearerTokenSecretRef"));
  EXPECT_THAT(status.message, HasSubstr("absent"));
  EXPECT_EQ(status.analysis.consecutive_errors, 1);
  EXPECT_TRUE(targets().empty());  // nothing was sent without the credentials

  // Reconciles within the interval do not count another error; the next interval does.
  time_.Advance(10s);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(Stored().analysis.consecutive_errors, 1);
  time_.Advance(60s);
  ASSERT_TRUE(WaitForStatus([](const api::AgentRolloutStatus& s) {
    return s.analysis.consecutive_errors == 2;
  })) << Stored().message;
}

TEST_F(ReconcilerTest, ADeletedRolloutIsForgotten) {
  prometheus_->SetValue(kQuery, 0.01);
  Create();
  Start();
  ASSERT_TRUE(WaitForPhase("pilot", RolloutPhase::kProgressing));
  ASSERT_TRUE(WaitForMetricsText(R"(name="wa-bot-v2")")) << Metrics();

  ASSERT_TRUE(client_->Delete(kAgentRollouts, kNamespace, kName).ok());
  EXPECT_TRUE(WaitForMetricsText(R"(name="wa-bot-v2")", /*present=*/false)) << Metrics();
  std::this_thread::sleep_for(50ms);  // a delivery already running may still land
  const std::size_t queries = prometheus_->queries().size();
  time_.Advance(5min);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(prometheus_->queries().size(), queries);
}

TEST_F(ReconcilerTest, ADeletedRolloutReleasesItsFlagEntriesFromTheLastObjectSeen) {
  prometheus_->SetValue(kQuery, 0.01);
  Create();  // onDelete keep: no finalizer, the object goes at once
  Start();
  ASSERT_TRUE(WaitForPhase("pilot", RolloutPhase::kProgressing));
  ASSERT_TRUE(flags_.releases().empty());

  ASSERT_TRUE(client_->Delete(kAgentRollouts, kNamespace, kName).ok());
  ASSERT_TRUE(WaitUntil([&] { return !flags_.releases().empty(); }));
  const FakeFlagStore::ReleaseCall release = flags_.releases().front();
  EXPECT_EQ(release.mode, ReleaseMode::kOwnerOnly);
  EXPECT_EQ(release.desired.rollout, kKey);
  EXPECT_EQ(release.desired.config_map->name, "feature-flags");
  EXPECT_EQ(flags_.released(), std::set<std::string>{"wa_bot_v2"});
  EXPECT_EQ(flags_.flags().at("wa_bot_v2").percentage, 10) << "the state is kept";
  EXPECT_EQ(router_.weight(), 10) << "traffic is kept";
}

TEST_F(ReconcilerTest, ReconcileOnceWithoutCachesReadsTheApiServer) {
  Create();
  const std::unique_ptr<Reconciler> reconciler = StepByStep();
  Status result = reconciler->ReconcileOnce(kKey);
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_EQ(Stored().phase, RolloutPhase::kProgressing);
  EXPECT_TRUE(reconciler->ReconcileOnce("bots/absent").ok());  // gone: nothing to do
  reconciler->Stop();
}

// After our own status write the cache may still show the version it replaced; deciding
// from that would redo (or undo) what was just written. The reconciler reads the API
// server instead.
TEST_F(ReconcilerTest, ACacheBehindOurOwnWritesIsNotDecidedFrom) {
  Create();
  const std::unique_ptr<Reconciler> reconciler = StepByStep();
  reconciler->StartCaches();
  ASSERT_TRUE(reconciler->WaitForSync(5s));
  // Freeze the cache: once its watch is open, break it; the reflector re-watches only after
  // a backoff on the (fake) clock.
  ASSERT_TRUE(WaitUntil([&] { return client_->OpenWatches() != 0; }, 5s));
  ASSERT_EQ(client_->OpenWatches(), 1u);
  client_->BreakWatches();

  ASSERT_TRUE(reconciler->ReconcileOnce(kKey).ok());
  ASSERT_EQ(Stored().phase, RolloutPhase::kProgressing);
  client_->ClearActions();
  ASSERT_TRUE(reconciler->ReconcileOnce(kKey).ok());
  int status_writes = 0;
  int fresh_reads = 0;
  for (const auto& action : client_->Actions()) {
    if (action.resource != kAgentRollouts) continue;
    if (action.verb == "update-status") ++status_writes;
    if (action.verb == "get") ++fresh_reads;
  }
  EXPECT_EQ(fresh_reads, 1);
  EXPECT_EQ(status_writes, 0);  // settled: the rollout was not started a second time
  recorder_->Flush();
  auto events = client_->List(kube::kEvents, kNamespace);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->items.size(), 1u);  // one PhaseStarted
  reconciler->Stop();
}

// Reported (CI): a rollout deleted with onDelete rollback was let go with its flag and
// weight up. The deletion had been decided from a fresh read while the cache lagged; the
// cache then showed the rollout's previous version -- the operator's own write, replaced
// by the deletion, not by the operator -- and a decision from it raised flag and weight
// again. Here the newer decision is an abort's rollback.
TEST_F(ReconcilerTest, ACacheBehindAVersionSeenInAFreshReadIsNotDecidedFrom) {
  Create();
  client_->DeliverWatchEventsThrough(client_->ResourceVersion());  // the cache lags from here
  const std::unique_ptr<Reconciler> reconciler = StepByStep();
  reconciler->StartCaches();
  ASSERT_TRUE(reconciler->WaitForSync(5s));
  const std::string created = reconciler->CachedResourceVersion(kKey);

  ASSERT_TRUE(reconciler->ReconcileOnce(kKey).ok());  // started: the pilot's 10 %
  ASSERT_EQ(Stored().phase, RolloutPhase::kProgressing);
  auto object = client_->Get(kAgentRollouts, kNamespace, kName);
  ASSERT_TRUE(object.ok());
  const std::string started = (*object)["metadata"]["resourceVersion"];
  auto patched =
      client_->Patch(kAgentRollouts, kNamespace, kName, kube::PatchType::kMerge,
                     json{{"metadata", {{"annotations", {{api::kActionAnnotation, "abort"}}}}}});
  ASSERT_TRUE(patched.ok()) << patched.error().ToString();
  ASSERT_EQ(reconciler->CachedResourceVersion(kKey), created);
  ASSERT_TRUE(reconciler->ReconcileOnce(kKey).ok());  // read fresh: the abort rolls back
  ASSERT_EQ(Stored().phase, RolloutPhase::kRolledBack) << Stored().message;
  const std::size_t flag_writes = flags_.calls().size();
  const std::size_t weight_writes = router_.calls(FakeTrafficRouter::Call::kSetWeight).size();
  ASSERT_EQ(router_.calls(FakeTrafficRouter::Call::kSetWeight).back().weight, 0);

  // The cache catches up to the start only: a version older than the one the abort was
  // decided from.
  client_->DeliverWatchEventsThrough(started);
  ASSERT_TRUE(WaitUntil([&] { return reconciler->CachedResourceVersion(kKey) == started; }));
  ASSERT_TRUE(reconciler->ReconcileOnce(kKey).ok());
  EXPECT_EQ(Stored().phase, RolloutPhase::kRolledBack) << Stored().message;
  const std::vector<DesiredFlags> flags = flags_.calls();
  for (std::size_t i = flag_writes; i < flags.size(); ++i) {
    for (const flag::FlagState& state : flags[i].flags) {
      EXPECT_FALSE(state.enabled) << "flag raised again by write " << i;
    }
  }
  const std::vector<TrafficTarget> weights = router_.calls(FakeTrafficRouter::Call::kSetWeight);
  for (std::size_t i = weight_writes; i < weights.size(); ++i) {
    EXPECT_EQ(weights[i].weight, 0) << "weight raised again by write " << i;
  }
  client_->DeliverWatchEventsThrough(std::nullopt);
  reconciler->Stop();
}

TEST_F(ReconcilerTest, OurOwnStatusWritesAreNotReconciledAgainAnEditByHandIs) {
  prometheus_->SetValue(kQuery, 0.01);
  Create();
  Start();
  ASSERT_TRUE(WaitForPhase("pilot", RolloutPhase::kProgressing)) << Stored().message;
  // Settled: the start and the first evaluation are written, the next is a minute away
  // (fake time that this test does not move).
  std::optional<double> settled = SettledReconciles();
  ASSERT_TRUE(settled.has_value()) << Metrics();

  auto object = client_->Get(kAgentRollouts, kNamespace, kName);
  ASSERT_TRUE(object.ok());
  const std::string message = (*object)["status"]["message"];
  (*object)["status"]["message"] = "edited by hand";
  ASSERT_TRUE(client_->UpdateStatus(kAgentRollouts, kNamespace, *object).ok());

  // The edit is reconciled: the operator writes its status back. The watch event of that
  // write is not reconciled again (it would re-decide the same thing).
  ASSERT_TRUE(WaitForStatus([&](const api::AgentRolloutStatus& status) {
    return status.message == message;
  })) << Stored().message;
  std::optional<double> after = SettledReconciles();
  ASSERT_TRUE(after.has_value()) << Metrics();
  EXPECT_EQ(*after, *settled + 1);
}

TEST_F(ReconcilerTest, AFailedWriteIsRetriedWithBackoff) {
  router_.FailNext(FakeTrafficRouter::Call::kCheck, Unavailable("apiserver flaking"));
  router_.FailNext(FakeTrafficRouter::Call::kCheck, Unavailable("apiserver flaking"));
  Create();
  Start();
  // Backoff delays run on the workqueue's clock.
  for (int i = 0; i < 50 && Stored().phase != RolloutPhase::kProgressing; ++i) {
    time_.Advance(1s);
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_TRUE(WaitForPhase("pilot", RolloutPhase::kProgressing)) << Stored().message;
  EXPECT_GE(router_.calls(FakeTrafficRouter::Call::kCheck).size(), 3u);
  const std::string text = Metrics();
  EXPECT_THAT(text, HasSubstr(R"(agentrollout_reconcile_total{result="error"} 2)"));
  EXPECT_THAT(text, HasSubstr("agentrollout_workqueue_retries_total 2"));
}

TEST_F(ReconcilerTest, AnAbortIsReconciledAheadOfQueuedRoutineWork) {
  prometheus_->SetValue(kQuery, 0.01);
  CreateWithOwnTargets("aborted");
  Start(/*concurrency=*/1);
  ASSERT_TRUE(WaitForPhase("pilot", RolloutPhase::kProgressing, "aborted"))
      << Stored("aborted").message;
  ASSERT_TRUE(SettledReconciles().has_value()) << Metrics();

  // The only worker is held inside the router call of "first" while three more new
  // rollouts queue up behind it; the router records which route each call was for.
  std::mutex gate_mu;
  std::condition_variable gate_cv;
  bool gate_open = false;
  bool worker_held = false;
  std::vector<std::string> routes;
  // The workers outlive this body (the fixture stops them), but the hook uses its locals:
  // on the way out, also when an assertion returns early, the gate is opened and the
  // workers stopped before those locals are destroyed.
  struct OnExit {
    std::function<void()> run;
    ~OnExit() { run(); }
  } stop_workers_first{[&] {
    {
      std::lock_guard lock(gate_mu);
      gate_open = true;
    }
    gate_cv.notify_all();
    reconciler_->Stop();
  }};
  router_.SetHook(
      [&](FakeTrafficRouter::Call, const TrafficTarget& target) -> std::optional<Error> {
        const std::string route = target.router.gateway_api->http_route;
        std::unique_lock lock(gate_mu);
        routes.push_back(route);
        if (route == "first") {
          worker_held = true;
          gate_cv.notify_all();
          gate_cv.wait(lock, [&] { return gate_open; });
        }
        return std::nullopt;
      });
  for (const char* name : {"first", "second", "third", "fourth"}) CreateWithOwnTargets(name);
  {
    std::unique_lock lock(gate_mu);
    ASSERT_TRUE(gate_cv.wait_for(lock, 10s, [&] { return worker_held; }));
  }
  ASSERT_TRUE(WaitUntil([&] { return reconciler_->QueueLength() == 3; }));

  auto patched =
      client_->Patch(kAgentRollouts, kNamespace, "aborted", kube::PatchType::kMerge,
                     json{{"metadata", {{"annotations", {{api::kActionAnnotation, "abort"}}}}}});
  ASSERT_TRUE(patched.ok()) << patched.error().ToString();
  ASSERT_TRUE(WaitUntil([&] { return reconciler_->QueueLength() == 4; }));
  {
    std::lock_guard lock(gate_mu);
    gate_open = true;
  }
  gate_cv.notify_all();

  ASSERT_TRUE(WaitForStatus(
      [](const api::AgentRolloutStatus& status) {
        return status.phase == RolloutPhase::kRolledBack;
      },
      10s, "aborted"))
      << Stored("aborted").message;
  for (const char* name : {"second", "third", "fourth"}) {
    ASSERT_TRUE(WaitForPhase("pilot", RolloutPhase::kProgressing, name)) << name;
  }
  std::lock_guard lock(gate_mu);
  // After "first" (and anything of its own reconcile), the abort comes before every
  // rollout that was queued ahead of it.
  const auto first_other = std::find_if(routes.begin(), routes.end(), [](const std::string& r) {
    return r == "aborted" || r == "second" || r == "third" || r == "fourth";
  });
  ASSERT_NE(first_other, routes.end());
  EXPECT_EQ(*first_other, "aborted") << ::testing::PrintToString(routes);
}

}  // namespace
}  // namespace agentrollout::controllers
