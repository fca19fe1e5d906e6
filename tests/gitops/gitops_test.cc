// The Grafana dashboard and the alert rules query only series the operator exposes, and
// every PromQL expression in the dashboard parses (checked by promtool).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "operator/metrics.h"
#include "tests/gitops/run_command.h"

namespace agentrollout::gitops_test {
namespace {

using ::testing::IsEmpty;

const std::string kRoot = AGENTROLLOUT_SOURCE_DIR;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Every series name /metrics can show: the families ("# TYPE name type") plus the
// _bucket/_sum/_count series of histograms.
std::set<std::string> ExposedSeriesNames() {
  operator_::Metrics metrics("test");
  metrics.SetRolloutState("ns", "r", api::RolloutPhase::kProgressing, 1, 1);
  metrics.ObserveAnalysisQuery(Unavailable("x"), std::chrono::milliseconds(1));
  api::MetricStatus comparison;
  comparison.name = "c";
  comparison.comparison = api::ComparisonStatus{"0", "0.01", {"1", "100"}, {"1", "100"}};
  metrics.SetComparisons("ns", "r", {comparison});
  std::set<std::string> names;
  std::istringstream in(metrics.Serialize());
  const std::regex type_line(R"(# TYPE (\w+) (\w+))");
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (!std::regex_match(line, m, type_line)) continue;
    names.insert(m[1]);
    if (m[2] == "histogram") {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) names.insert(m[1].str() + suffix);
    }
  }
  return names;
}

std::set<std::string> ReferencedMetrics(const std::string& expr) {
  std::set<std::string> names;
  const std::regex metric(R"(\bagentrollout_\w+)");
  for (auto it = std::sregex_iterator(expr.begin(), expr.end(), metric);
       it != std::sregex_iterator(); ++it) {
    names.insert(it->str());
  }
  return names;
}

void CollectExprs(const nlohmann::json& node, std::vector<std::string>& exprs) {
  if (node.is_object()) {
    if (node.contains("expr") && node["expr"].is_string()) exprs.push_back(node["expr"]);
    for (const auto& [key, value] : node.items()) CollectExprs(value, exprs);
  } else if (node.is_array()) {
    for (const auto& value : node) CollectExprs(value, exprs);
  }
}

class DashboardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dashboard_ = nlohmann::json::parse(
        ReadFile(kRoot + "/deploy/grafana/agentrollout-dashboard.json"), nullptr, false);
    ASSERT_FALSE(dashboard_.is_discarded()) << "agentrollout-dashboard.json is not valid JSON";
    CollectExprs(dashboard_["panels"], exprs_);
  }
  nlohmann::json dashboard_;
  std::vector<std::string> exprs_;
};

TEST_F(DashboardTest, IsAGrafanaDashboardWithUniquePanelIds) {
  EXPECT_EQ(dashboard_["uid"], "agentrollout-operator");
  EXPECT_TRUE(dashboard_["schemaVersion"].is_number_integer());
  std::set<int> ids;
  for (const auto& panel : dashboard_["panels"]) {
    ASSERT_TRUE(panel.contains("id") && panel.contains("gridPos") && panel.contains("type"))
        << panel.dump();
    EXPECT_TRUE(ids.insert(panel["id"].get<int>()).second) << "duplicate id " << panel["id"];
  }
  EXPECT_GE(exprs_.size(), 15u);
}

TEST_F(DashboardTest, QueriesOnlyExposedSeriesAndShowsEveryFamily) {
  const auto exposed = ExposedSeriesNames();
  std::set<std::string> used;
  for (const auto& expr : exprs_) {
    for (const auto& name : ReferencedMetrics(expr)) {
      EXPECT_TRUE(exposed.count(name)) << name << " (in " << expr << ") is not exposed";
      used.insert(name);
    }
  }
  std::vector<std::string> unused;
  for (const auto& name : exposed) {
    const bool histogram_part =
        name.ends_with("_sum") || name.ends_with("_count") || exposed.count(name + "_bucket") > 0;
    if (!histogram_part && !used.count(name)) unused.push_back(name);
  }
  EXPECT_THAT(unused, IsEmpty()) << "families no panel shows";
}

// promtool parses PromQL when it checks a rule file: each panel query becomes a recording
// rule, with Grafana's variables replaced by what they expand to.
TEST_F(DashboardTest, EveryQueryIsValidPromql) {
  YAML::Emitter rules;
  rules << YAML::BeginMap << YAML::Key << "groups" << YAML::Value << YAML::BeginSeq
        << YAML::BeginMap << YAML::Key << "name" << YAML::Value << "dashboard" << YAML::Key
        << "rules" << YAML::Value << YAML::BeginSeq;
  for (std::size_t i = 0; i < exprs_.size(); ++i) {
    std::string expr = exprs_[i];
    expr = std::regex_replace(expr, std::regex(R"(\$__rate_interval)"), "5m");
    expr = std::regex_replace(expr, std::regex(R"(\$(namespace|rollout))"), ".*");
    rules << YAML::BeginMap << YAML::Key << "record" << YAML::Value
          << "dashboard:query" + std::to_string(i) << YAML::Key << "expr" << YAML::Value << expr
          << YAML::EndMap;
  }
  rules << YAML::EndSeq << YAML::EndMap << YAML::EndSeq << YAML::EndMap;
  const std::string path = ::testing::TempDir() + "/dashboard-rules.yaml";
  std::ofstream(path) << rules.c_str();
  const auto result = RunCommand(std::string(AGENTROLLOUT_PROMTOOL) + " check rules " + path);
  EXPECT_EQ(result.exit_code, 0) << result.output << "\n" << rules.c_str();
}

TEST(AlertRulesTest, QueryOnlyExposedSeries) {
  const auto exposed = ExposedSeriesNames();
  const YAML::Node file = YAML::LoadFile(kRoot + "/deploy/prometheus/alerts.yaml");
  std::set<std::string> alerts;
  for (const auto& group : file["groups"]) {
    for (const auto& rule : group["rules"]) {
      alerts.insert(rule["alert"].as<std::string>());
      const auto expr = rule["expr"].as<std::string>();
      const auto names = ReferencedMetrics(expr);
      EXPECT_FALSE(names.empty()) << expr;
      for (const auto& name : names) {
        EXPECT_TRUE(exposed.count(name)) << name << " (in " << expr << ") is not exposed";
      }
    }
  }
  for (const char* alert : {"AgentRolloutRolledBack", "AgentRolloutStalled",
                            "OperatorReconcileErrors", "AnalysisQueryErrors", "NoLeader"}) {
    EXPECT_TRUE(alerts.count(alert)) << alert;
  }
}

}  // namespace
}  // namespace agentrollout::gitops_test
