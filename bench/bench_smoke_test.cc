// Smoke test of the benchmark driver (part of the default test run, so the benchmarks
// cannot rot): `agentrollout-bench scale` at N = 200 with a short window against the real
// API server and a real Prometheus. It asserts that the driver works and produces numbers,
// never that a performance goal is met (bench/run.sh --full measures those). `rawput` and
// bench/list_cost.py run too, at a handful of rollouts.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "tests/harness/cluster.h"
#include "tests/harness/process.h"
#include "tests/harness/prometheus.h"

namespace agentrollout::bench {
namespace {

const auto* const kCluster = testing::RegisterClusterEnvironment();

// The pid of a control-plane process, from the state directory hack/cluster.sh wrote.
std::string PidOf(const std::string& process) {
  std::string pid =
      testing::ReadFileOrEmpty((testing::Cluster().state_dir() / (process + ".pid")).string());
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  return pid;
}

// `agentrollout-bench COMMAND` measuring the operator at N rollouts in a new namespace of
// the test cluster, with the control plane's bill asked for (bench/control_plane.h).
struct OperatorRun {
  std::string ns = testing::CreateTestNamespace();
  std::string log;
  nlohmann::json result;  // null when the run failed (a failure is recorded)

  OperatorRun(const std::string& command, int n, const std::vector<std::string>& more,
              std::chrono::minutes timeout) {
    auto dir = testing::MakeTempDir("bench-smoke-" + command);
    if (!dir.ok()) {
      ADD_FAILURE() << dir.error().ToString();
      return;
    }
    const std::string out = (*dir / "result.json").string();
    log = (*dir / "operator.log").string();
    std::vector<std::string> args = {AGENTROLLOUT_BENCH,
                                     "--out",
                                     out,
                                     command,
                                     "--kubeconfig",
                                     testing::Cluster().kubeconfig().string(),
                                     "--binary",
                                     AGENTROLLOUT_OPERATOR,
                                     "--namespace",
                                     ns,
                                     "-n",
                                     std::to_string(n),
                                     "--log",
                                     log,
                                     "--apiserver-pid",
                                     PidOf("apiserver"),
                                     "--etcd-pid",
                                     PidOf("etcd"),
                                     "--etcd-url",
                                     testing::Cluster().etcd_url() + "/metrics"};
    args.insert(args.end(), more.begin(), more.end());
    testing::ProcessOptions options;
    options.timeout = timeout;
    auto run = testing::RunProcess(args, options);
    if (!run.ok() || run->exit_code != 0) {
      ADD_FAILURE() << (run.ok() ? run->Describe() : run.error().ToString()) << "\noperator log:\n"
                    << testing::ReadFileOrEmpty(log).substr(0, 4000);
      return;
    }
    result = nlohmann::json::parse(testing::ReadFileOrEmpty(out), nullptr, false);
    if (!result.is_object()) ADD_FAILURE() << "no JSON in " << out;
  }
};

TEST(BenchSmoke, ScaleDriverMeasuresTheOperator) {
  testing::PrometheusFixture prometheus;
  ASSERT_TRUE(prometheus.Start({}).ok());
  const int n = 200;
  const OperatorRun run("scale", n,
                        {"--prometheus", prometheus.base_url(), "--window", "90", "--steady", "10",
                         "--interval", "5s", "--restart"},
                        std::chrono::minutes(6));
  const nlohmann::json& result = run.result;
  ASSERT_TRUE(result.is_object());
  EXPECT_EQ(result["controller"], "agentrollout-operator");
  EXPECT_EQ(result["n"], n);
  EXPECT_EQ(result["progressing"].get<int>() + result["finished"].get<int>(), n);
  // Objects: n AgentRollouts + n HTTPRoutes + the shared flag ConfigMaps (50 per map).
  EXPECT_EQ(result["populate_objects"], 2 * n + 4);
  EXPECT_EQ(result["populate_statuses"], result["finished"]);
  EXPECT_FALSE(result["exited_early"].get<bool>());
  // Numbers were produced: readiness was seen, /proc and /metrics were sampled.
  ASSERT_TRUE(result["ready_s"].is_number()) << result.dump();
  EXPECT_GT(result["ready_s"].get<double>(), 0);
  ASSERT_GE(result["samples"].size(), 10u);
  EXPECT_GT(result["peak_rss_mib"].get<double>(), 1);
  // The steady state began once every rollout was reconciled, and the run ended 10 s later
  // instead of running to the 90 s limit.
  ASSERT_TRUE(result["synced_s"].is_number()) << result.dump();
  ASSERT_TRUE(result["steady_from_s"].is_number()) << result.dump();
  EXPECT_GE(result["steady_from_s"].get<double>(), result["synced_s"].get<double>());
  EXPECT_GE(result["steady_s"].get<double>(), 8);
  EXPECT_LT(result["samples"].back()[0].get<double>(), 80)
      << "the run was not cut after the steady window";
  EXPECT_GE(result["peak_rss_mib"].get<double>(), result["steady_rss_mib"].get<double>());
  EXPECT_TRUE(result["cpu_cores_steady"].is_number());
  EXPECT_GT(result["cpu_seconds"].get<double>(), 0);
  EXPECT_GT(result["threads_max"].get<int>(), 1);
  EXPECT_GT(result["reconciles"].get<double>(), 0);

  // The control plane's bill: the apiserver and etcd processes were read, and the
  // apiserver's counters show the operator's start (its LIST) and its first pass (the
  // progressing rollouts' status writes).
  const nlohmann::json& bill = result["control_plane"];
  ASSERT_TRUE(bill.is_object()) << result.dump();
  EXPECT_GT(bill["run"]["apiserver_cpu_cores"].get<double>(), 0);
  EXPECT_GE(bill["steady"]["etcd_cpu_cores"].get<double>(), 0);
  EXPECT_GT(bill["apiserver_rss_max_mib"].get<double>(), 10);
  EXPECT_GT(bill["etcd_db_before_mib"].get<double>(), 0);
  const nlohmann::json& requests = bill["run"]["requests_per_minute"];
  EXPECT_GT(requests.value("LIST agentrollouts", 0.0), 0) << bill.dump();
  EXPECT_GT(requests.value("PUT agentrollouts/status", 0.0), 0) << bill.dump();
  EXPECT_GT(bill["run"]["writes_per_minute"].get<double>(), 0);

  // --restart: started again over what it wrote, measured until its first pass was over.
  const nlohmann::json& restart = result["restart"];
  ASSERT_TRUE(restart.is_object()) << result.dump();
  EXPECT_FALSE(restart["exited_early"].get<bool>());
  ASSERT_TRUE(restart["ready_s"].is_number()) << restart.dump();
  ASSERT_TRUE(restart["synced_s"].is_number()) << restart.dump();
  ASSERT_TRUE(restart["steady_from_s"].is_number()) << restart.dump();
  EXPECT_GE(restart["steady_from_s"].get<double>(), restart["synced_s"].get<double>());
  EXPECT_GE(restart["reconciles"].get<double>(), n);
  ASSERT_TRUE(restart["control_plane"].is_object()) << restart.dump();
  const nlohmann::json& restart_requests = restart["control_plane"]["requests_per_minute"];
  EXPECT_GT(restart_requests.value("LIST agentrollouts", 0.0), 0) << restart.dump();
  // Nothing had changed, so the start found next to nothing to write (0 of ~600 at N = 200
  // when written), unlike the first start over the fixture.
  auto writes = [](const nlohmann::json& window) {
    return window["writes_per_minute"].get<double>() * window["seconds"].get<double>() / 60;
  };
  EXPECT_LT(writes(restart["control_plane"]), writes(bill["run"]) / 10) << restart.dump();

  // The operator did the work it was measured doing: a progressing rollout was started.
  const auto got = testing::Cluster().Kubectl(
      {"get", "agentrollout", "rollout-0", "-n", run.ns, "-o", "jsonpath={.status.phase}"});
  EXPECT_EQ(got.exit_code, 0) << got.Describe();
  EXPECT_EQ(got.out, "Progressing");
}

// A simultaneous burst (`reaction --burst --spacing-ms 0`: the warm fleet flipped while the
// operator is down, then started again) at a handful of rollouts: every rollback measured,
// with its bill.
TEST(BenchSmoke, ASimultaneousBurstIsMeasuredWithWhatItCost) {
  const int n = 10;
  const OperatorRun run("reaction", n,
                        {"--burst", "--spacing-ms", "0", "--interval", "2s", "--concurrency", "2"},
                        std::chrono::minutes(4));
  const nlohmann::json& result = run.result;
  ASSERT_TRUE(result.is_object());
  EXPECT_EQ(result["n"], n);
  EXPECT_EQ(result["rollbacks_measured"], n) << result.dump();
  EXPECT_EQ(result["rollbacks_missing"], 0);
  EXPECT_EQ(result["flag_and_route_ms"]["count"], n);
  EXPECT_GT(result["throughput_rollbacks_per_s"].get<double>(), 0);
  // The operator ran twice (the second start brings the verdicts).
  std::size_t starts = 0;
  const std::string lines = testing::ReadFileOrEmpty(run.log);
  for (std::size_t at = lines.find("serving /metrics"); at != std::string::npos;
       at = lines.find("serving /metrics", at + 1)) {
    ++starts;
  }
  EXPECT_EQ(starts, 2u) << lines.substr(0, 4000);
  // The bill: every rollback's flag and route PUT, and the operator's CPU.
  const nlohmann::json& bill = result["control_plane"];
  ASSERT_TRUE(bill.is_object()) << result.dump();
  EXPECT_GE(bill["requests"].value("PUT configmaps", 0.0), n) << bill.dump();
  EXPECT_GE(bill["requests"].value("PUT httproutes", 0.0), n) << bill.dump();
  EXPECT_GT(bill["operator_cpu_seconds"].get<double>(), 0);
  EXPECT_GT(bill["apiserver_cpu_cores"].get<double>(), 0);
}

// rawput (the raw baseline of the simultaneous-burst reaction run): a few rollouts' objects
// created, the rollback's PUTs timed, the objects left rolled back.
TEST(BenchSmoke, RawPutWritesWhatARollbackWrites) {
  const std::string ns = testing::CreateTestNamespace();
  auto dir = testing::MakeTempDir("bench-smoke-rawput");
  ASSERT_TRUE(dir.ok()) << dir.error().ToString();
  const int n = 10;
  for (const bool read_first : {false, true}) {
    const std::string out = (*dir / (read_first ? "rmw.json" : "raw.json")).string();
    std::vector<std::string> args = {AGENTROLLOUT_BENCH,
                                     "--out",
                                     out,
                                     "rawput",
                                     "--kubeconfig",
                                     testing::Cluster().kubeconfig().string(),
                                     "--namespace",
                                     ns,
                                     "-n",
                                     std::to_string(n),
                                     "--concurrency",
                                     "2"};
    if (read_first) args.push_back("--read-before-write");
    testing::ProcessOptions options;
    options.timeout = std::chrono::minutes(2);
    auto run = testing::RunProcess(args, options);
    ASSERT_TRUE(run.ok()) << run.error().ToString();
    ASSERT_EQ(run->exit_code, 0) << run->Describe();
    const auto result = nlohmann::json::parse(testing::ReadFileOrEmpty(out), nullptr, false);
    ASSERT_TRUE(result.is_object()) << "no JSON in " << out;
    EXPECT_EQ(result["n"], n);
    EXPECT_EQ(result["read_before_write"], read_first);
    EXPECT_EQ(result["rollback_ms"]["count"], n);
    EXPECT_GT(result["rollbacks_per_s"].get<double>(), 0);
    EXPECT_GT(result["total_s"].get<double>(), 0);
  }
  const auto flags = testing::Cluster().Kubectl(
      {"get", "configmap", "flags-3", "-n", ns, "-o", "jsonpath={.data.flags\\.json}"});
  ASSERT_EQ(flags.exit_code, 0) << flags.Describe();
  const auto entry = nlohmann::json::parse(flags.out, nullptr, false)["agent_3_v2"];
  EXPECT_EQ(entry["enabled"], false) << flags.out;
  EXPECT_EQ(entry["percentage"], 0) << flags.out;
  const auto weight =
      testing::Cluster().Kubectl({"get", "httproute", "route-3", "-n", ns, "-o",
                                  "jsonpath={.spec.rules[0].backendRefs[1].weight}"});
  EXPECT_EQ(weight.exit_code, 0) << weight.Describe();
  EXPECT_EQ(weight.out, "0");
}

TEST(BenchSmoke, ListCostReadsTheListsAndTimesAStandbyOperator) {
  const std::string ns = testing::CreateTestNamespace();
  auto dir = testing::MakeTempDir("bench-smoke-list-cost");
  ASSERT_TRUE(dir.ok()) << dir.error().ToString();
  const std::string out = (*dir / "result.json").string();
  const int n = 12;
  testing::ProcessOptions options;
  options.env = {{"KUBECONFIG", testing::Cluster().kubeconfig().string()},
                 {"AGENTROLLOUT_STATE_DIR", testing::Cluster().state_dir().string()},
                 {"AGENTROLLOUT_KUBECTL", (testing::KubeBinDir() / "kubectl").string()}};
  options.timeout = std::chrono::minutes(3);
  auto run = testing::RunProcess(
      {"python3", "-B", AGENTROLLOUT_LIST_COST, "--n", std::to_string(n), "--repeats", "1",
       "--namespace", ns, "--operator", AGENTROLLOUT_OPERATOR, "--out", out},
      options);
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  ASSERT_EQ(run->exit_code, 0) << run->Describe();
  const auto result = nlohmann::json::parse(testing::ReadFileOrEmpty(out), nullptr, false);
  ASSERT_TRUE(result.is_object()) << "no JSON in " << out;
  ASSERT_EQ(result["runs"].size(), 3u) << result.dump();
  for (const auto& way : result["runs"]) {
    if (way["way"] == "operator Ready") {
      EXPECT_GT(way["ready_s"].get<double>(), 0) << way.dump();
      EXPECT_GT(way["cpu_s"].get<double>(), 0) << way.dump();
    } else {
      EXPECT_EQ(way["items"], n) << way.dump();
      EXPECT_GT(way["bytes"].get<int>(), 0) << way.dump();
    }
  }
  // A standby: the Lease stays the bench's, and no rollout got a status from the operator.
  const auto holder = testing::Cluster().Kubectl(
      {"get", "lease", "agentrollout-operator", "-n", ns, "-o", "jsonpath={.spec.holderIdentity}"});
  EXPECT_EQ(holder.out, "list-cost-bench") << holder.Describe();
  const auto messages =
      testing::Cluster().Kubectl({"get", "agentrollouts", "-n", ns, "-o",
                                  "jsonpath={range .items[*]}{.status.message}{\"\\n\"}{end}"});
  ASSERT_EQ(messages.exit_code, 0) << messages.Describe();
  std::istringstream lines(messages.out);
  int as_populated = 0;
  for (std::string line; std::getline(lines, line);) {
    EXPECT_EQ(line, "all phases passed; the flag is at 100 % for every tenant not pinned off");
    ++as_populated;
  }
  EXPECT_EQ(as_populated, n);
}

}  // namespace
}  // namespace agentrollout::bench
