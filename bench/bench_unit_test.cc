// Unit tests of the benchmark driver's parts that need no server: /proc parsing, metric
// exposition sums, percentiles, the steady-state summary, and the generated objects (valid
// AgentRollouts, finished statuses the codec accepts, Argo steps equivalent to the phases).
#include <gtest/gtest.h>

#include "api/codec.h"
#include "api/validate.h"
#include "bench/control_plane.h"
#include "bench/measure.h"
#include "bench/proc_stats.h"
#include "bench/rawput.h"
#include "bench/reaction.h"
#include "bench/workload.h"

namespace agentrollout::bench {
namespace {

TEST(ProcStats, ParsesStatusFields) {
  const auto sample = ParseProcStatus(
      "Name:\tagentrollout-op\nVmPeak:\t 900000 kB\nVmHWM:\t   52000 kB\nVmRSS:\t   48000 kB\n"
      "Threads:\t17\n");
  ASSERT_TRUE(sample.ok()) << sample.error().ToString();
  EXPECT_EQ(sample->rss_kib, 48000);
  EXPECT_EQ(sample->peak_rss_kib, 52000);
  EXPECT_EQ(sample->threads, 17);
}

TEST(ProcStats, MissingFieldIsAnError) {
  EXPECT_FALSE(ParseProcStatus("Name:\tx\nVmRSS:\t1 kB\n").ok());
}

TEST(ProcStats, CpuFromStatSurvivesSpacesInTheCommand) {
  // Fields 14 and 15 (utime, stime) are 250 and 50 ticks.
  const std::string stat =
      "4242 (my (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 17 0 1 2 3";
  const auto cpu = ParseProcStatCpuSeconds(stat, 100);
  ASSERT_TRUE(cpu.ok()) << cpu.error().ToString();
  EXPECT_DOUBLE_EQ(*cpu, 3.0);
  EXPECT_FALSE(ParseProcStatCpuSeconds("4242 (x) S 1 2", 100).ok());
  EXPECT_FALSE(ParseProcStatCpuSeconds("no parenthesis", 100).ok());
}

TEST(ProcStats, SamplesThisProcess) {
  const auto sample = SampleProcess(getpid());
  ASSERT_TRUE(sample.ok()) << sample.error().ToString();
  EXPECT_GT(sample->rss_kib, 0);
  EXPECT_GE(sample->peak_rss_kib, sample->rss_kib);
  EXPECT_GE(sample->threads, 1);
}

TEST(SumSeries, SumsEverySeriesOfExactlyThatName) {
  const std::string text =
      "# HELP agentrollout_reconcile_total Reconciles.\n"
      "# TYPE agentrollout_reconcile_total counter\n"
      "agentrollout_reconcile_total{result=\"success\"} 120\n"
      "agentrollout_reconcile_total{result=\"error\"} 3\n"
      "agentrollout_reconcile_total_other 1000\n"
      "prometheus_http_requests_total{code=\"200\",handler=\"/api/v1/query\"} 7\n"
      "prometheus_http_requests_total{code=\"200\",handler=\"/metrics\"} 9\n"
      "rollout_reconcile_count 42\n";
  EXPECT_DOUBLE_EQ(SumSeries(text, "agentrollout_reconcile_total"), 123);
  EXPECT_DOUBLE_EQ(SumSeries(text, "rollout_reconcile_count"), 42);
  EXPECT_DOUBLE_EQ(SumSeries(text, "prometheus_http_requests_total", "handler=\"/api/v1/query\""),
                   7);
  EXPECT_DOUBLE_EQ(SumSeries(text, "absent"), 0);
}

TEST(ControlPlane, RequestCountsByVerbResourceAndSubresource) {
  // Lines as a v1.3x kube-apiserver writes them (label order as it prints them).
  const std::string text =
      "# TYPE apiserver_request_total counter\n"
      "apiserver_request_total{code=\"200\",component=\"apiserver\",dry_run=\"\","
      "group=\"rollouts.agentops.dev\",resource=\"agentrollouts\",scope=\"resource\","
      "subresource=\"status\",verb=\"PUT\",version=\"v1alpha1\"} 40\n"
      "apiserver_request_total{code=\"409\",component=\"apiserver\",dry_run=\"\","
      "group=\"rollouts.agentops.dev\",resource=\"agentrollouts\",scope=\"resource\","
      "subresource=\"status\",verb=\"PUT\",version=\"v1alpha1\"} 2\n"
      "apiserver_request_total{code=\"200\",component=\"apiserver\",dry_run=\"\",group=\"\","
      "resource=\"configmaps\",scope=\"namespace\",subresource=\"\",verb=\"LIST\","
      "version=\"v1\"} 5\n"
      "apiserver_request_total{code=\"0\",component=\"apiserver\",group=\"\",resource=\"x\\\"y\","
      "subresource=\"\",verb=\"WATCH\"} 1e+00\n"
      "apiserver_request_total_other{verb=\"GET\"} 99\n"
      "apiserver_request_duration_seconds_count{verb=\"GET\",resource=\"pods\"} 7\n";
  const auto counts = ParseRequestCounts(text);
  ASSERT_EQ(counts.size(), 3u);
  EXPECT_DOUBLE_EQ(counts.at("PUT agentrollouts/status"), 42);
  EXPECT_DOUBLE_EQ(counts.at("LIST configmaps"), 5);
  EXPECT_DOUBLE_EQ(counts.at("WATCH x\"y"), 1);
  const auto conflicts = ParseRequestCounts(text, "409");
  ASSERT_EQ(conflicts.size(), 1u);
  EXPECT_DOUBLE_EQ(conflicts.at("PUT agentrollouts/status"), 2);
}

TEST(ControlPlane, DeltaIsTheBillBetweenTwoReadings) {
  ControlPlaneReading before;
  before.t = 10;
  before.apiserver.cpu_seconds = 100;
  before.etcd.cpu_seconds = 20;
  before.requests = {{"PUT agentrollouts/status", 40}, {"GET configmaps", 7}};
  before.etcd_db_bytes = 10 << 20;
  ControlPlaneReading after = before;
  after.t = 130;  // two minutes later
  after.apiserver.cpu_seconds = 112;
  after.apiserver.rss_kib = 2048;
  after.etcd.cpu_seconds = 26;
  after.requests = {{"PUT agentrollouts/status", 64}, {"GET configmaps", 7}, {"POST events", 4}};
  after.conflicts = {{"PUT configmaps", 6}};
  after.etcd_db_bytes = 13 << 20;
  const nlohmann::json bill = ControlPlaneDelta(before, after);
  EXPECT_DOUBLE_EQ(bill["seconds"].get<double>(), 120);
  EXPECT_DOUBLE_EQ(bill["apiserver_cpu_cores"].get<double>(), 0.1);
  EXPECT_DOUBLE_EQ(bill["etcd_cpu_cores"].get<double>(), 0.05);
  EXPECT_DOUBLE_EQ(bill["apiserver_rss_mib"].get<double>(), 2);
  EXPECT_DOUBLE_EQ(bill["etcd_db_growth_mib"].get<double>(), 3);
  const nlohmann::json& per_minute = bill["requests_per_minute"];
  EXPECT_DOUBLE_EQ(per_minute["PUT agentrollouts/status"].get<double>(), 12);
  EXPECT_DOUBLE_EQ(per_minute["POST events"].get<double>(), 2);
  EXPECT_FALSE(per_minute.contains("GET configmaps"));  // it did not move
  EXPECT_DOUBLE_EQ(bill["requests_per_minute_all"].get<double>(), 14);
  EXPECT_DOUBLE_EQ(bill["writes_per_minute"].get<double>(), 14);
  EXPECT_EQ(bill["conflicts_per_minute"], (nlohmann::json{{"PUT configmaps", 3.0}}));
}

TEST(Percentiles, NearestRank) {
  std::vector<double> values;
  for (int i = 100; i >= 1; --i) values.push_back(i);
  const auto p = Percentiles(values);
  EXPECT_EQ(p["count"], 100);
  EXPECT_DOUBLE_EQ(p["min"].get<double>(), 1);
  EXPECT_DOUBLE_EQ(p["p50"].get<double>(), 50);
  EXPECT_DOUBLE_EQ(p["p99"].get<double>(), 99);
  EXPECT_DOUBLE_EQ(p["max"].get<double>(), 100);
  EXPECT_FALSE(Percentiles({}).contains("p50"));
}

// A run sampled every second for `seconds`: RSS 100 MiB until `busy_until`, 50 after; CPU
// 0.5 s per second until then, 0.1 after.
RunResult SampledRun(int seconds, int busy_until) {
  RunResult run;
  double cpu = 0;
  for (int t = 0; t <= seconds; ++t) {
    Sample s;
    s.t = t;
    s.proc.rss_kib = (t < busy_until ? 100 : 50) * 1024;
    s.proc.peak_rss_kib = 100 * 1024;
    s.proc.threads = 4;
    s.proc.cpu_seconds = cpu;
    cpu += t < busy_until ? 0.5 : 0.1;
    run.samples.push_back(s);
  }
  return run;
}

TEST(Summarize, SteadyStateBeginsWhenTheStartUpWorkIsDone) {
  RunResult run = SampledRun(/*seconds=*/100, /*busy_until=*/70);
  run.synced_s = 70;
  run.steady_from_s = 70;
  RunOptions options;
  options.window = std::chrono::seconds(600);
  options.steady = std::chrono::seconds(30);
  const nlohmann::json out = Summarize(run, options);
  EXPECT_DOUBLE_EQ(out["steady_from_s"].get<double>(), 70);
  EXPECT_DOUBLE_EQ(out["steady_s"].get<double>(), 30);
  EXPECT_NEAR(out["cpu_cores_steady"].get<double>(), 0.1, 1e-9);
  EXPECT_DOUBLE_EQ(out["steady_rss_mib"].get<double>(), 50);
}

TEST(Summarize, NoSteadyFiguresWhenTheStartUpWorkNeverEnded) {
  const RunResult run = SampledRun(/*seconds=*/100, /*busy_until=*/1000);
  RunOptions options;
  options.window = std::chrono::seconds(100);
  options.steady = std::chrono::seconds(30);
  const nlohmann::json out = Summarize(run, options);
  EXPECT_TRUE(out["steady_from_s"].is_null());
  EXPECT_FALSE(out.contains("cpu_cores_steady"));
  EXPECT_TRUE(out["steady_rss_mib"].is_null());
  EXPECT_NEAR(out["cpu_cores_window"].get<double>(), 0.5, 1e-9);
}

TEST(Summarize, WithoutASteadyWindowTheSecondHalfIsSteady) {
  const RunResult run = SampledRun(/*seconds=*/100, /*busy_until=*/50);
  RunOptions options;
  options.window = std::chrono::seconds(100);
  const nlohmann::json out = Summarize(run, options);
  EXPECT_DOUBLE_EQ(out["steady_s"].get<double>(), 50);
  EXPECT_NEAR(out["cpu_cores_steady"].get<double>(), 0.1, 1e-9);
}

Workload TestWorkload() {
  Workload w;
  w.namespace_ = "bench";
  w.prometheus = "http://127.0.0.1:9090";
  return w;
}

TEST(Workload, EveryRolloutIsAValidFivePhaseFiveMetricSpec) {
  const Workload w = TestWorkload();
  for (int i : {0, 19, 20, 99, 12345}) {
    const auto rollout = api::DecodeAndValidate(AgentRolloutObject(w, i));
    ASSERT_TRUE(rollout.ok()) << i << ": " << rollout.error().ToString();
    EXPECT_EQ(rollout->spec.phases.size(), 5u);
    EXPECT_EQ(rollout->spec.analysis.metrics.size(), 5u);
    EXPECT_EQ(rollout->spec.traffic->gateway_api->http_route, RouteName(i));
    EXPECT_EQ(rollout->spec.flag->config_map->name, ConfigMapName(w, i));
  }
}

TEST(Workload, MixFollowsTheProgressingShare) {
  Workload w = TestWorkload();
  w.progressing_share = 0.2;
  int progressing = 0;
  for (int i = 0; i < 1000; ++i) progressing += IsProgressing(w, i) ? 1 : 0;
  EXPECT_EQ(progressing, 200);
}

TEST(Workload, FinishedStatusesDecode) {
  int rolled_back = 0;
  for (int i = 20; i < 100; ++i) {
    const auto status = api::DecodeStatus(FinishedStatus(i, 1));
    ASSERT_TRUE(status.ok()) << status.error().ToString();
    ASSERT_TRUE(status->current_phase.has_value());
    if (status->phase == api::RolloutPhase::kRolledBack) {
      ++rolled_back;
      EXPECT_TRUE(status->rollback.has_value());
    } else {
      EXPECT_EQ(status->phase, api::RolloutPhase::kSucceeded);
      EXPECT_EQ(status->current_phase->index, 4);
    }
  }
  EXPECT_EQ(rolled_back, 20);
}

TEST(Workload, DistinctTargetsGiveEveryRolloutItsOwnHeader) {
  Workload w = TestWorkload();
  w.distinct_targets = true;
  const auto a = AgentRolloutObject(w, 1)["spec"]["analysis"]["prometheus"]["headers"];
  const auto b = AgentRolloutObject(w, 2)["spec"]["analysis"]["prometheus"]["headers"];
  EXPECT_NE(a, b);
}

TEST(Workload, ArgoRolloutHasTheSameWeightsAndBakeTimes) {
  const Workload w = TestWorkload();
  const auto rollout = ArgoRolloutObject(w, 7, "2.0.0");
  std::vector<int> weights;
  std::vector<std::string> pauses;
  for (const auto& step : rollout["spec"]["strategy"]["canary"]["steps"]) {
    if (step.contains("setWeight")) weights.push_back(step["setWeight"]);
    if (step.contains("pause")) pauses.push_back(step["pause"].value("duration", "approval"));
  }
  EXPECT_EQ(weights, (std::vector<int>{5, 10, 25, 50, 100}));
  EXPECT_EQ(pauses, (std::vector<std::string>{"4h", "24h", "24h", "48h", "approval"}));
  const auto tmpl = ArgoAnalysisTemplateObject(w, 7);
  ASSERT_EQ(tmpl["spec"]["metrics"].size(), 5u);
  EXPECT_EQ(tmpl["spec"]["metrics"][0]["successCondition"], "result[0] < 0.02");
  EXPECT_NE(tmpl["spec"]["metrics"][0]["provider"]["prometheus"]["query"].get<std::string>().find(
                "{{args.canary}}"),
            std::string::npos);
}

// rawput writes what a rollback writes: the entry disabled at 0 % (its other fields kept,
// other entries untouched), the canary at 0 and the stable backend at 100.
TEST(RawPut, FlagEntryDisabledKeepingTheRest) {
  Workload w = TestWorkload();
  w.rollouts_per_config_map = 1;
  nlohmann::json cm = FlagConfigMapObject(w, 7);
  ASSERT_TRUE(SetFlagEntry(cm, "agent_7_v2", true, 5).ok());
  auto flags = nlohmann::json::parse(cm["data"]["flags.json"].get<std::string>());
  EXPECT_EQ(flags["agent_7_v2"]["enabled"], true);
  EXPECT_EQ(flags["agent_7_v2"]["percentage"], 5);
  EXPECT_EQ(flags["agent_7_v2"]["disabledTenants"], nlohmann::json::array({"t-vip-bank"}));

  flags["agent_7_v2"]["rollout"] = "rollout-7";
  flags["other"] = {{"enabled", true}};
  cm["data"]["flags.json"] = flags.dump();
  ASSERT_TRUE(SetFlagEntry(cm, "agent_7_v2", false, 0).ok());
  flags = nlohmann::json::parse(cm["data"]["flags.json"].get<std::string>());
  EXPECT_EQ(flags["agent_7_v2"]["enabled"], false);
  EXPECT_EQ(flags["agent_7_v2"]["percentage"], 0);
  EXPECT_EQ(flags["agent_7_v2"]["rollout"], "rollout-7");
  EXPECT_EQ(flags["other"]["enabled"], true);

  cm["data"]["flags.json"] = "[]";
  EXPECT_FALSE(SetFlagEntry(cm, "agent_7_v2", false, 0).ok());
}

TEST(RawPut, RouteWeightsOfBothBackends) {
  Workload w = TestWorkload();
  w.query_groups = 0;
  nlohmann::json route = HttpRouteObject(w, 3);
  ASSERT_TRUE(SetRouteWeights(route, StableBackend(w, 3), CanaryBackend(w, 3), 5).ok());
  const auto& refs = route["spec"]["rules"][0]["backendRefs"];
  EXPECT_EQ(refs[0]["name"], "agent-3-v1");
  EXPECT_EQ(refs[0]["weight"], 95);
  EXPECT_EQ(refs[1]["name"], "agent-3-v2");
  EXPECT_EQ(refs[1]["weight"], 5);
  ASSERT_TRUE(SetRouteWeights(route, StableBackend(w, 3), CanaryBackend(w, 3), 0).ok());
  EXPECT_EQ(route["spec"]["rules"][0]["backendRefs"][0]["weight"], 100);
  EXPECT_EQ(route["spec"]["rules"][0]["backendRefs"][1]["weight"], 0);
  EXPECT_FALSE(SetRouteWeights(route, "agent-3-v1", "nobody", 0).ok());
}

TEST(RawPut, PerSecond) {
  EXPECT_DOUBLE_EQ(PerSecond(200, std::chrono::milliseconds(500)), 400);
  EXPECT_DOUBLE_EQ(PerSecond(10, std::chrono::seconds(0)), 0);
}

}  // namespace
}  // namespace agentrollout::bench
