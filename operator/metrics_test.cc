#include "operator/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <optional>
#include <sstream>
#include <string>

#include "operator/http_get_for_test.h"

namespace agentrollout::operator_ {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

// The value of one series in Prometheus text format, e.g.
// Sample(text, "agentrollout_reconcile_total{result=\"success\"}"); nullopt if absent.
std::optional<double> Sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

std::string Phase(const std::string& ns, const std::string& name, const std::string& phase) {
  return "agentrollout_rollout_phase{name=\"" + name + "\",namespace=\"" + ns + "\",phase=\"" +
         phase + "\"}";
}

TEST(MetricsTest, FreshRegistryShowsBuildInfoAndZeroedBoundedSeries) {
  Metrics metrics("1.2.3");
  const std::string text = metrics.Serialize();
  EXPECT_EQ(Sample(text, "agentrollout_build_info{version=\"1.2.3\"}"), 1);
  EXPECT_EQ(Sample(text, "agentrollout_reconcile_total{result=\"success\"}"), 0);
  EXPECT_EQ(Sample(text, "agentrollout_reconcile_total{result=\"error\"}"), 0);
  EXPECT_EQ(Sample(text, "agentrollout_reconcile_duration_seconds_count{result=\"success\"}"), 0);
  EXPECT_EQ(Sample(text, "agentrollout_workqueue_depth"), 0);
  EXPECT_EQ(Sample(text, "agentrollout_workqueue_adds_total"), 0);
  EXPECT_EQ(Sample(text, "agentrollout_workqueue_retries_total"), 0);
  EXPECT_EQ(Sample(text, "agentrollout_status_writes_total"), 0);
  EXPECT_EQ(Sample(text, "agentrollout_analysis_queries_total{result=\"error\"}"), 0);
  EXPECT_EQ(Sample(text, "agentrollout_analysis_query_duration_seconds_count"), 0);
  for (const char* verdict : {"Go", "Hold", "NoGo", "Error"}) {
    EXPECT_EQ(Sample(text, std::string("agentrollout_analysis_verdicts_total{verdict=\"") +
                               verdict + "\"}"),
              0)
        << verdict;
  }
  for (const char* reason : {"abort", "no_go", "errors", "manual"}) {
    EXPECT_EQ(Sample(text, std::string("agentrollout_rollbacks_total{reason=\"") + reason + "\"}"),
              0)
        << reason;
  }
  EXPECT_EQ(Sample(text, "agentrollout_leader"), 0);
  EXPECT_THAT(text, HasSubstr("# TYPE agentrollout_reconcile_duration_seconds histogram"));
  EXPECT_THAT(text, HasSubstr("# TYPE agentrollout_reconcile_total counter"));
}

TEST(MetricsTest, CountersAndHistogramsMove) {
  Metrics metrics("dev");
  metrics.ObserveReconcile(ReconcileResult::kSuccess, 30ms);
  metrics.ObserveReconcile(ReconcileResult::kSuccess, 2s);
  metrics.ObserveReconcile(ReconcileResult::kError, 1ms);
  metrics.SetWorkqueueDepth(7);
  metrics.CountWorkqueueAdd();
  metrics.CountWorkqueueAdd();
  metrics.CountWorkqueueRetry();
  metrics.CountStatusWrite();
  metrics.ObserveAnalysisQuery(OkStatus(), 40ms);
  metrics.ObserveAnalysisQuery(Unavailable("connection refused"), 5s);
  metrics.ObserveAnalysisQuery(Error(ErrorCode::kDeadlineExceeded, "timeout"), 5s);
  metrics.CountVerdict(api::Verdict::kGo);
  metrics.CountVerdict(api::Verdict::kNoGo);
  metrics.CountVerdict(api::Verdict::kNoGo);
  metrics.CountVerdict(api::Verdict::kNone);
  metrics.CountRollback(RollbackReasonOf(api::RollbackTrigger::Kind::kAbort));
  metrics.CountRollback(RollbackReason::kManual);
  metrics.SetLeader(true);

  const std::string text = metrics.Serialize();
  EXPECT_EQ(Sample(text, "agentrollout_reconcile_total{result=\"success\"}"), 2);
  EXPECT_EQ(Sample(text, "agentrollout_reconcile_total{result=\"error\"}"), 1);
  EXPECT_EQ(Sample(text, "agentrollout_reconcile_duration_seconds_count{result=\"success\"}"), 2);
  EXPECT_DOUBLE_EQ(*Sample(text, "agentrollout_reconcile_duration_seconds_sum{result=\"success\"}"),
                   2.03);
  EXPECT_EQ(
      Sample(text,
             "agentrollout_reconcile_duration_seconds_bucket{result=\"success\",le=\"0.05\"}"),
      1);
  EXPECT_EQ(
      Sample(text,
             "agentrollout_reconcile_duration_seconds_bucket{result=\"success\",le=\"+Inf\"}"),
      2);
  EXPECT_EQ(Sample(text, "agentrollout_workqueue_depth"), 7);
  EXPECT_EQ(Sample(text, "agentrollout_workqueue_adds_total"), 2);
  EXPECT_EQ(Sample(text, "agentrollout_workqueue_retries_total"), 1);
  EXPECT_EQ(Sample(text, "agentrollout_status_writes_total"), 1);
  EXPECT_EQ(Sample(text, "agentrollout_analysis_queries_total{result=\"success\"}"), 1);
  EXPECT_EQ(Sample(text, "agentrollout_analysis_queries_total{result=\"error\"}"), 2);
  EXPECT_EQ(Sample(text, "agentrollout_analysis_query_errors_total{code=\"Unavailable\"}"), 1);
  EXPECT_EQ(Sample(text, "agentrollout_analysis_query_errors_total{code=\"DeadlineExceeded\"}"), 1);
  EXPECT_EQ(Sample(text, "agentrollout_analysis_query_duration_seconds_count"), 3);
  EXPECT_EQ(Sample(text, "agentrollout_analysis_query_duration_seconds_bucket{le=\"5\"}"), 3);
  EXPECT_EQ(Sample(text, "agentrollout_analysis_query_duration_seconds_bucket{le=\"0.025\"}"), 0);
  EXPECT_EQ(Sample(text, "agentrollout_analysis_verdicts_total{verdict=\"Go\"}"), 1);
  EXPECT_EQ(Sample(text, "agentrollout_analysis_verdicts_total{verdict=\"NoGo\"}"), 2);
  EXPECT_THAT(text, Not(HasSubstr("verdict=\"\"")));
  EXPECT_EQ(Sample(text, "agentrollout_rollbacks_total{reason=\"abort\"}"), 1);
  EXPECT_EQ(Sample(text, "agentrollout_rollbacks_total{reason=\"manual\"}"), 1);
  EXPECT_EQ(Sample(text, "agentrollout_rollbacks_total{reason=\"no_go\"}"), 0);
  EXPECT_EQ(Sample(text, "agentrollout_leader"), 1);
}

TEST(MetricsTest, RolloutPhaseIsOneSeriesLabelledWithTheCurrentPhase) {
  Metrics metrics("dev");
  metrics.SetRolloutState("voice", "voice-agent-v2", api::RolloutPhase::kProgressing, 10, 5);
  std::string text = metrics.Serialize();
  EXPECT_THAT(text, HasSubstr("# TYPE agentrollout_rollout_phase gauge"));
  const std::vector<std::string> phases = {"Pending",          "Progressing", "Paused",
                                           "AwaitingApproval", "RollingBack", "RolledBack",
                                           "Succeeded",        "Failed"};
  for (const auto& phase : phases) {
    EXPECT_EQ(Sample(text, Phase("voice", "voice-agent-v2", phase)),
              phase == "Progressing" ? std::optional<double>(1) : std::nullopt)
        << phase;
  }
  EXPECT_EQ(Sample(text,
                   "agentrollout_rollout_flag_percent{name=\"voice-agent-v2\","
                   "namespace=\"voice\"}"),
            10);
  EXPECT_EQ(Sample(text,
                   "agentrollout_rollout_traffic_weight{name=\"voice-agent-v2\","
                   "namespace=\"voice\"}"),
            5);

  metrics.SetRolloutState("voice", "voice-agent-v2", api::RolloutPhase::kRolledBack, 0, 0);
  text = metrics.Serialize();
  EXPECT_EQ(Sample(text, Phase("voice", "voice-agent-v2", "Progressing")), std::nullopt)
      << "the previous phase's series is gone";
  EXPECT_EQ(Sample(text, Phase("voice", "voice-agent-v2", "RolledBack")), 1);
  EXPECT_EQ(Sample(text,
                   "agentrollout_rollout_flag_percent{name=\"voice-agent-v2\","
                   "namespace=\"voice\"}"),
            0);

  metrics.SetRolloutState("voice", "voice-agent-v2", api::RolloutPhase::kNone, 0, 0);
  text = metrics.Serialize();
  for (const auto& phase : phases) {
    EXPECT_EQ(Sample(text, Phase("voice", "voice-agent-v2", phase)), std::nullopt) << phase;
  }
  metrics.SetRolloutState("voice", "voice-agent-v2", api::RolloutPhase::kPending, 0, 0);
  EXPECT_EQ(Sample(metrics.Serialize(), Phase("voice", "voice-agent-v2", "Pending")), 1);
}

TEST(MetricsTest, ForgetRolloutRemovesOnlyThatRolloutsSeries) {
  Metrics metrics("dev");
  metrics.SetRolloutState("voice", "voice-agent-v2", api::RolloutPhase::kPaused, 25, 25);
  metrics.SetRolloutState("chat", "whatsapp-bot", api::RolloutPhase::kSucceeded, 100, 100);
  metrics.ForgetRollout("voice", "voice-agent-v2");
  metrics.ForgetRollout("voice", "never-seen");  // no-op

  const std::string text = metrics.Serialize();
  EXPECT_THAT(text, Not(HasSubstr("voice-agent-v2")));
  EXPECT_EQ(Sample(text, Phase("chat", "whatsapp-bot", "Succeeded")), 1);
  EXPECT_EQ(
      Sample(text, "agentrollout_rollout_traffic_weight{name=\"whatsapp-bot\",namespace=\"chat\"}"),
      100);

  // A rollout re-created with the same name gets its series back.
  metrics.SetRolloutState("voice", "voice-agent-v2", api::RolloutPhase::kPending, 0, 0);
  EXPECT_EQ(Sample(metrics.Serialize(), Phase("voice", "voice-agent-v2", "Pending")), 1);
}

api::MetricStatus Compared(const std::string& name, std::string low, std::string high) {
  api::MetricStatus status;
  status.name = name;
  status.comparison =
      api::ComparisonStatus{std::move(low), std::move(high), {"46", "2000.5"}, {"10", "20000"}};
  return status;
}

TEST(MetricsTest, ComparisonSeriesFollowTheLiveComparisons) {
  Metrics metrics("dev");
  api::MetricStatus metric;  // a metric of the table: no comparison series
  metric.name = "error-rate";
  metrics.SetComparisons("voice", "v2",
                         {metric, Compared("errors-vs-stable", "0.012", "0.034"),
                          Compared("slow-vs-stable", "-0.001", "0.004")});
  std::string text = metrics.Serialize();
  const std::string errors = R"({comparison="errors-vs-stable",name="v2",namespace="voice"})";
  EXPECT_EQ(Sample(text, "agentrollout_comparison_low" + errors), 0.012);
  EXPECT_EQ(Sample(text, "agentrollout_comparison_high" + errors), 0.034);
  EXPECT_EQ(
      Sample(
          text,
          R"(agentrollout_comparison_calls{comparison="errors-vs-stable",name="v2",namespace="voice",version="canary"})"),
      2000.5);
  EXPECT_EQ(
      Sample(
          text,
          R"(agentrollout_comparison_events{comparison="errors-vs-stable",name="v2",namespace="voice",version="stable"})"),
      10);
  EXPECT_THAT(text, Not(HasSubstr("error-rate")));

  // A comparison without an interval (no data, an error) loses its series; so does a
  // rollout that is no longer live.
  api::MetricStatus errored;
  errored.name = "slow-vs-stable";
  metrics.SetComparisons("voice", "v2", {Compared("errors-vs-stable", "0.02", "0.04"), errored});
  text = metrics.Serialize();
  EXPECT_EQ(Sample(text, "agentrollout_comparison_low" + errors), 0.02);
  EXPECT_THAT(text, Not(HasSubstr("slow-vs-stable")));
  metrics.SetComparisons("voice", "v2", {});
  EXPECT_THAT(metrics.Serialize(), Not(HasSubstr("errors-vs-stable")));

  metrics.SetComparisons("voice", "v2", {Compared("errors-vs-stable", "0.02", "0.04")});
  metrics.ForgetRollout("voice", "v2");
  EXPECT_THAT(metrics.Serialize(), Not(HasSubstr("errors-vs-stable")));
}

TEST(MetricsTest, LabelValuesAreEscapedInTheExposition) {
  Metrics metrics("dev \"quoted\"\\");
  EXPECT_EQ(
      Sample(metrics.Serialize(), "agentrollout_build_info{version=\"dev \\\"quoted\\\"\\\\\"}"),
      1);
}

// Runs `promtool check metrics` (Prometheus' own parser and naming linter) on `text`;
// returns its exit status and fills `output` with what it printed.
int PromtoolCheckMetrics(const std::string& text, std::string& output) {
  const std::string input = ::testing::TempDir() + "/metrics.txt";
  const std::string report = ::testing::TempDir() + "/promtool.out";
  if (FILE* f = std::fopen(input.c_str(), "w")) {
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
  } else {
    output = "cannot write " + input;
    return -1;
  }
  const std::string command =
      std::string(AGENTROLLOUT_PROMTOOL) + " check metrics < " + input + " > " + report + " 2>&1";
  const int status = std::system(command.c_str());
  if (FILE* f = std::fopen(report.c_str(), "r")) {
    char buffer[4096];
    for (std::size_t n; (n = std::fread(buffer, 1, sizeof(buffer), f)) > 0;) {
      output.append(buffer, n);
    }
    std::fclose(f);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(MetricsTest, ExpositionPassesPromtoolCheckMetrics) {
  Metrics metrics("0.1.0");
  metrics.ObserveReconcile(ReconcileResult::kSuccess, 12ms);
  metrics.SetWorkqueueDepth(1);
  metrics.CountWorkqueueAdd();
  metrics.ObserveAnalysisQuery(Unavailable("refused"), 1ms);
  metrics.CountVerdict(api::Verdict::kHold);
  metrics.CountRollback(RollbackReason::kNoGo);
  metrics.SetRolloutState("voice", "voice-agent-v2", api::RolloutPhase::kAwaitingApproval, 50, 50);
  metrics.SetComparisons("voice", "voice-agent-v2", {Compared("errors-vs-stable", "0.01", "0.02")});
  metrics.SetLeader(true);
  const std::string text = metrics.Serialize();

  std::string output;
  EXPECT_EQ(PromtoolCheckMetrics(text, output), 0) << output << "\n--- input:\n" << text;
  EXPECT_EQ(output, "") << "promtool reported lint problems";
}

TEST(MetricsServerTest, ServesTheRegistryOverHttp) {
  Metrics metrics("0.1.0");
  metrics.SetRolloutState("voice", "voice-agent-v2", api::RolloutPhase::kProgressing, 5, 5);
  auto server = MetricsServer::Start(*ParseListenAddress("127.0.0.1:0"), metrics.registry());
  ASSERT_TRUE(server.ok()) << server.error().ToString();
  ASSERT_NE((*server)->port(), 0);

  const auto response = testing::HttpGet((*server)->port(), "/metrics");
  ASSERT_EQ(response.status, 200) << response.headers;
  EXPECT_THAT(response.headers, HasSubstr("text/plain"));
  EXPECT_EQ(Sample(response.body, "agentrollout_build_info{version=\"0.1.0\"}"), 1);
  EXPECT_EQ(Sample(response.body, Phase("voice", "voice-agent-v2", "Progressing")), 1);
  std::string output;
  EXPECT_EQ(PromtoolCheckMetrics(response.body, output), 0) << output;
}

TEST(MetricsServerTest, BusyPortIsAnErrorNamingTheAddress) {
  Metrics metrics("0.1.0");
  auto first = MetricsServer::Start(*ParseListenAddress("127.0.0.1:0"), metrics.registry());
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  const std::string taken = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = MetricsServer::Start(*ParseListenAddress(taken), metrics.registry());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code(), ErrorCode::kUnavailable);
  EXPECT_THAT(second.error().message(), HasSubstr(taken));
}

}  // namespace
}  // namespace agentrollout::operator_
