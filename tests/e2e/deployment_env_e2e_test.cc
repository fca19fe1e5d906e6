// flag.deploymentEnv end to end: the agentrollout-operator process (with
// --deployment-env-store) against a real kube-apiserver + etcd. A rollout whose Deployment
// is missing holds Ready=False, reason FlagTargetNotFound, naming it, with a Warning Event
// and nothing written; once the Deployment exists the rollout writes the variables of its
// phases (ICUPA-style extra flags included), and an abort sets them all off.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "api/names.h"
#include "api/types.h"
#include "controllers/traffic/replicas_router.h"
#include "kube/client.h"
#include "tests/harness/cluster.h"
#include "tests/harness/operator_command.h"
#include "tests/harness/process.h"
#include "tests/kube/kube_test_support.h"

namespace agentrollout {
namespace {

using namespace std::chrono_literals;
using controllers::kDeployments;
using nlohmann::json;
using testing::BackgroundProcess;
using testing::Cluster;
using ::testing::HasSubstr;

const auto* const kCluster = testing::RegisterClusterEnvironment();

const kube::ResourceRef kRollouts{api::kGroup, api::kVersion, api::kPlural, true};

class DeploymentEnvE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = kube::testing::ClusterClient();
    ASSERT_NE(client_, nullptr);
    ns_ = testing::CreateTestNamespace();
    auto dir = testing::MakeTempDir("agentrollout-deployment-env-e2e");
    ASSERT_TRUE(dir.ok()) << dir.error().ToString();
    log_ = *dir / "operator.log";
    testing::OperatorCommand command;
    command.binary = AGENTROLLOUT_OPERATOR;
    command.kubeconfig = Cluster().kubeconfig().string();
    command.ns = ns_;
    command.pod_name = "deployment-env";
    std::vector<std::string> args = testing::OperatorArgv(command);
    args.push_back("--deployment-env-store");
    auto process = BackgroundProcess::Start(args, log_);
    ASSERT_TRUE(process.ok()) << process.error().ToString();
    operator_ = std::make_unique<BackgroundProcess>(std::move(*process));
    ASSERT_TRUE(operator_->WaitForLog("serving /healthz and /readyz on port ", 20s).ok());
  }

  json Rollout() {
    auto object = client_->Get(kRollouts, ns_, "icupa-agent-v2");
    return object.ok() ? *object : json::object();
  }

  // The rollout's status ({} before the first status write).
  json Status() {
    const json rollout = Rollout();
    return rollout.contains("status") ? rollout["status"] : json::object();
  }

  // The `app` container's variables, name -> value ({} when there is no Deployment).
  std::map<std::string, std::string> Variables() {
    std::map<std::string, std::string> values;
    auto deployment = client_->Get(kDeployments, ns_, "icupa-api");
    if (!deployment.ok()) return values;
    for (const json& container : (*deployment)["spec"]["template"]["spec"]["containers"]) {
      if (container.value("name", "") != "app") continue;
      for (const json& entry : container.value("env", json::array())) {
        values[entry.value("name", "")] = entry.value("value", "");
      }
    }
    return values;
  }

  bool WaitFor(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(50ms);
    }
    return true;
  }

  std::string Log() const { return testing::ReadFileOrEmpty(log_); }

  kube::ClientPtr client_;
  std::string ns_;
  std::filesystem::path log_;
  std::unique_ptr<BackgroundProcess> operator_;
};

TEST_F(DeploymentEnvE2ETest, HoldsAsFlagTargetNotFoundThenWritesThePhasesVariables) {
  const json rollout = json::parse(R"({
    "apiVersion": "rollouts.agentops.dev/v1alpha1", "kind": "AgentRollout",
    "metadata": {"name": "icupa-agent-v2"},
    "spec": {
      "revision": "2.0.0",
      "flag": {"key": "icupa_agent_v2", "deploymentEnv": {"deployment": "icupa-api",
        "container": "app",
        "variables": {"enabled": "ICUPA_AGENT_V2_ENABLED", "percentage": "ICUPA_AGENT_V2_PERCENT"}}},
      "phases": [
        {"name": "pilot", "flagPercent": 10, "duration": "10m",
         "flags": {"VOUCHER_CREATION_ENABLED": 100, "LOYALTY_POINTS_PERCENT": 50}},
        {"name": "everyone", "flagPercent": 100}]}})");
  ASSERT_TRUE(client_->Create(kRollouts, ns_, rollout).ok());

  ASSERT_TRUE(WaitFor([&] {
    for (const json& condition : Status().value("conditions", json::array())) {
      if (condition.value("type", "") == "Ready" &&
          condition.value("reason", "") == "FlagTargetNotFound") {
        return true;
      }
    }
    return false;
  })) << Rollout().dump(2)
      << "\n"
      << Log();
  EXPECT_THAT(Status().value("message", ""),
              HasSubstr("flag target not found: deployment " + ns_ + "/icupa-api"));
  EXPECT_TRUE(WaitFor([&] {
    auto events = client_->List(kube::kEvents, ns_);
    if (!events.ok()) return false;
    for (const json& event : events->items) {
      if (event.value("reason", "") == "FlagTargetNotFound") return true;
    }
    return false;
  }));

  // The Deployment appears (a sidecar first, another variable of its own): the rollout
  // starts and writes only its variables into `app`.
  ASSERT_TRUE(client_
                  ->Create(kDeployments, ns_, json::parse(R"({
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "icupa-api"},
    "spec": {"selector": {"matchLabels": {"app": "icupa"}},
      "template": {"metadata": {"labels": {"app": "icupa"}},
        "spec": {"containers": [{"name": "proxy", "image": "envoy"},
          {"name": "app", "image": "icupa:2", "env": [{"name": "LOG_LEVEL", "value": "info"}]}]}}}})"))
                  .ok());
  ASSERT_TRUE(WaitFor([&] { return Variables()["ICUPA_AGENT_V2_PERCENT"] == "10"; })) << Log();
  EXPECT_EQ(Variables(), (std::map<std::string, std::string>{{"LOG_LEVEL", "info"},
                                                             {"ICUPA_AGENT_V2_ENABLED", "true"},
                                                             {"ICUPA_AGENT_V2_PERCENT", "10"},
                                                             {"VOUCHER_CREATION_ENABLED", "true"},
                                                             {"LOYALTY_POINTS_PERCENT", "50"}}));
  EXPECT_TRUE(WaitFor([&] { return Status().value("phase", "") == "Progressing"; }));

  auto annotated = Cluster().Kubectl({"-n", ns_, "annotate", "agentrollout", "icupa-agent-v2",
                                      std::string(api::kActionAnnotation) + "=abort"});
  ASSERT_EQ(annotated.exit_code, 0) << annotated.Describe();
  ASSERT_TRUE(WaitFor([&] { return Status().value("phase", "") == "RolledBack"; })) << Log();
  EXPECT_EQ(Variables(), (std::map<std::string, std::string>{{"LOG_LEVEL", "info"},
                                                             {"ICUPA_AGENT_V2_ENABLED", "false"},
                                                             {"ICUPA_AGENT_V2_PERCENT", "0"},
                                                             {"VOUCHER_CREATION_ENABLED", "false"},
                                                             {"LOYALTY_POINTS_PERCENT", "false"}}));
}

}  // namespace
}  // namespace agentrollout
