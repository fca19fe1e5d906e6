// The Deployment environment store (flag.deploymentEnv, API.md §5.4) against a real
// kube-apiserver: only the named variables of the named container change (other entries,
// valueFrom entries, envFrom and other containers stay byte for byte), the values the
// contract gives, nothing written when in state (no new pod template, so no new
// ReplicaSet), missing targets and valueFrom variables refused with nothing written, and
// concurrent rollouts on one container losing nothing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "controllers/flagstore/deployment_env_flags.h"
#include "controllers/flagstore/flag_stores.h"
#include "controllers/traffic/replicas_router.h"
#include "tests/kube/kube_test_support.h"

namespace agentrollout::controllers {
namespace {

using agentrollout::testing::CreateTestNamespace;
using kube::testing::ClusterClient;
using nlohmann::json;
using ::testing::HasSubstr;

const auto* const kCluster = agentrollout::testing::RegisterClusterEnvironment();

// A sidecar first, then the agent with a plain variable, a Secret-backed one and envFrom.
json VoiceDeployment() {
  return json::parse(R"({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "voice-agent"},
    "spec": {
      "replicas": 1,
      "selector": {"matchLabels": {"app": "voice-agent"}},
      "template": {
        "metadata": {"labels": {"app": "voice-agent"}},
        "spec": {"containers": [
          {"name": "proxy", "image": "envoy:1", "env": [{"name": "VOICE_V2_ENABLED", "value": "proxy's own"}]},
          {"name": "agent", "image": "agent:2",
           "envFrom": [{"configMapRef": {"name": "agent-config"}}],
           "env": [
             {"name": "LOG_LEVEL", "value": "info"},
             {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
             {"name": "VOICE_V2_ENABLED", "value": "false"}]}]}}}})");
}

DesiredFlags EnvFlags(const std::string& ns, std::vector<flag::FlagState> flags,
                      const std::string& container = "agent") {
  DesiredFlags desired;
  desired.namespace_ = ns;
  desired.deployment_env = api::DeploymentEnvFlagStore{
      "voice-agent", container, {"VOICE_V2_ENABLED", "VOICE_V2_PERCENT"}};
  desired.rollout = ns + "/voice-agent-v2";
  desired.phase = "canary";
  desired.flags = std::move(flags);
  return desired;
}

class DeploymentEnvIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = ClusterClient();
    ASSERT_NE(client_, nullptr);
    ns_ = CreateTestNamespace();
    store_ = NewFlagStore(*client_, {}, FlagStoreOptions{.deployment_env = true});
  }

  void Create(const json& deployment) {
    auto created = client_->Create(kDeployments, ns_, deployment);
    ASSERT_TRUE(created.ok()) << created.error().ToString();
  }
  json Deployment() {
    auto object = client_->Get(kDeployments, ns_, "voice-agent");
    EXPECT_TRUE(object.ok()) << object.error().ToString();
    return object.ok() ? *object : json();
  }
  static const json& Containers(const json& deployment) {
    return deployment["spec"]["template"]["spec"]["containers"];
  }
  static json Env(const json& deployment, std::size_t container) {
    return Containers(deployment)[container].value("env", json::array());
  }

  kube::ClientPtr client_;
  std::string ns_;
  FlagStorePtr store_;
};

TEST_F(DeploymentEnvIntegration, WritesOnlyTheNamedVariablesOfTheNamedContainer) {
  Create(VoiceDeployment());
  const json before = Deployment();

  // The rollout's own flag at 10 %, and the ICUPA-style extra flags of phases[].flags.
  Status applied = store_->Apply(EnvFlags(ns_, {{"voice_agent_v2", true, 10, {}, {}},
                                                {"VOUCHER_CREATION_ENABLED", true, 100, {}, {}},
                                                {"VOUCHER_REDEMPTION_ENABLED", false, 0, {}, {}},
                                                {"WALLET_PERCENT", true, 25, {}, {}}}));
  ASSERT_TRUE(applied.ok()) << applied.error().ToString();

  const json after = Deployment();
  EXPECT_EQ(Containers(after)[0], Containers(before)[0]) << "the other container is untouched";
  EXPECT_EQ(Containers(after)[1]["envFrom"], Containers(before)[1]["envFrom"]);
  EXPECT_EQ(Env(after, 1), json::parse(R"([
      {"name": "LOG_LEVEL", "value": "info"},
      {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
      {"name": "VOICE_V2_ENABLED", "value": "true"},
      {"name": "VOICE_V2_PERCENT", "value": "10"},
      {"name": "VOUCHER_CREATION_ENABLED", "value": "true"},
      {"name": "VOUCHER_REDEMPTION_ENABLED", "value": "false"},
      {"name": "WALLET_PERCENT", "value": "25"}])"))
      << Env(after, 1).dump(2);
  EXPECT_GT(after["metadata"]["generation"].get<int>(), before["metadata"]["generation"].get<int>())
      << "a new pod template: that is how the application picks the flags up";

  // In state: nothing written, so no new pod template and no new ReplicaSet.
  ASSERT_TRUE(store_
                  ->Apply(EnvFlags(ns_, {{"voice_agent_v2", true, 10, {}, {}},
                                         {"VOUCHER_CREATION_ENABLED", true, 100, {}, {}},
                                         {"VOUCHER_REDEMPTION_ENABLED", false, 0, {}, {}},
                                         {"WALLET_PERCENT", true, 25, {}, {}}}))
                  .ok());
  EXPECT_EQ(Deployment()["metadata"]["resourceVersion"], after["metadata"]["resourceVersion"]);

  // Rollback: off everywhere, in place.
  ASSERT_TRUE(store_
                  ->Apply(EnvFlags(ns_, {{"voice_agent_v2", false, 0, {}, {}},
                                         {"VOUCHER_CREATION_ENABLED", false, 0, {}, {}},
                                         {"VOUCHER_REDEMPTION_ENABLED", false, 0, {}, {}},
                                         {"WALLET_PERCENT", false, 0, {}, {}}}))
                  .ok());
  const json off = Env(Deployment(), 1);
  ASSERT_EQ(off.size(), 7u);
  EXPECT_EQ(off[2], json({{"name", "VOICE_V2_ENABLED"}, {"value", "false"}}));
  EXPECT_EQ(off[3], json({{"name", "VOICE_V2_PERCENT"}, {"value", "0"}}));
  EXPECT_EQ(off[6], json({{"name", "WALLET_PERCENT"}, {"value", "false"}}));
}

TEST_F(DeploymentEnvIntegration, TheFirstContainerByDefaultAndAContainerWithoutEnv) {
  json deployment = VoiceDeployment();
  deployment["spec"]["template"]["spec"]["containers"][0].erase("env");
  Create(deployment);
  ASSERT_TRUE(store_->Apply(EnvFlags(ns_, {{"voice_agent_v2", true, 100, {}, {}}}, "")).ok());
  const json after = Deployment();
  EXPECT_EQ(Env(after, 0), json::parse(R"([{"name": "VOICE_V2_ENABLED", "value": "true"},
                                           {"name": "VOICE_V2_PERCENT", "value": "100"}])"));
  EXPECT_EQ(Env(after, 1), Env(VoiceDeployment(), 1)) << "the second container is untouched";
}

TEST_F(DeploymentEnvIntegration, MissingTargetsAreNotFoundNamingThemAndNothingIsWritten) {
  const DesiredFlags desired = EnvFlags(ns_, {{"voice_agent_v2", true, 10, {}, {}}});
  Status missing = store_->Apply(desired);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(missing.error().message(), HasSubstr("deployment " + ns_ + "/voice-agent"));
  EXPECT_TRUE(store_->Release(desired, ReleaseMode::kWithState).ok()) << "never creates";
  EXPECT_FALSE(client_->Get(kDeployments, ns_, "voice-agent").ok());

  Create(VoiceDeployment());
  const std::string version = Deployment()["metadata"]["resourceVersion"];
  Status no_container =
      store_->Apply(EnvFlags(ns_, {{"voice_agent_v2", true, 10, {}, {}}}, "worker"));
  ASSERT_FALSE(no_container.ok());
  EXPECT_EQ(no_container.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(no_container.error().message(), HasSubstr("no container \"worker\""));
  EXPECT_EQ(Deployment()["metadata"]["resourceVersion"], version);
}

TEST_F(DeploymentEnvIntegration, AVariableFromValueFromIsNeverOverwritten) {
  Create(VoiceDeployment());
  const std::string version = Deployment()["metadata"]["resourceVersion"];
  DesiredFlags desired = EnvFlags(ns_, {{"voice_agent_v2", true, 10, {}, {}}});
  desired.deployment_env->variables.percentage = "DB_PASSWORD";
  Status refused = store_->Apply(desired);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(refused.error().message(), HasSubstr("DB_PASSWORD comes from valueFrom"));
  EXPECT_EQ(Deployment()["metadata"]["resourceVersion"], version) << "nothing written";
}

TEST_F(DeploymentEnvIntegration, AnInstallationWithoutTheStoreRefusesAndWritesNothing) {
  Create(VoiceDeployment());
  const std::string version = Deployment()["metadata"]["resourceVersion"];
  Status refused =
      NewFlagStore(*client_)->Apply(EnvFlags(ns_, {{"voice_agent_v2", true, 10, {}, {}}}));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(refused.error().message(), HasSubstr("deploymentEnv.enabled=true"));
  EXPECT_EQ(Deployment()["metadata"]["resourceVersion"], version);
}

TEST_F(DeploymentEnvIntegration, ReleaseWritesTheStateOnlyWithState) {
  Create(VoiceDeployment());
  const DesiredFlags on = EnvFlags(ns_, {{"voice_agent_v2", true, 50, {}, {}}});
  ASSERT_TRUE(store_->Apply(on).ok());
  const std::string version = Deployment()["metadata"]["resourceVersion"];
  const DesiredFlags off = EnvFlags(ns_, {{"voice_agent_v2", false, 0, {}, {}}});
  ASSERT_TRUE(store_->Release(off, ReleaseMode::kOwnerOnly).ok());
  EXPECT_EQ(Deployment()["metadata"]["resourceVersion"], version) << "keep: nothing written";
  ASSERT_TRUE(store_->Release(off, ReleaseMode::kWithState).ok());
  EXPECT_EQ(Env(Deployment(), 1)[2], json({{"name", "VOICE_V2_ENABLED"}, {"value", "false"}}));
}

// Eight rollouts drive their own variables of one container at once: the conditional
// patch makes every collision a 409 that is read again, so nothing is lost or misplaced.
TEST_F(DeploymentEnvIntegration, ConcurrentRolloutsOnOneContainerLoseNothing) {
  Create(VoiceDeployment());
  constexpr int kRollouts = 8;
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  std::atomic<int> ready{0};
  for (int i = 0; i < kRollouts; ++i) {
    writers.emplace_back([&, i] {
      DesiredFlags desired = EnvFlags(ns_, {{"flag", true, 10 + i, {}, {}}});
      desired.rollout = ns_ + "/rollout-" + std::to_string(i);
      desired.deployment_env->variables = {"FLAG_" + std::to_string(i) + "_ENABLED",
                                           "FLAG_" + std::to_string(i) + "_PERCENT"};
      ++ready;
      while (ready < kRollouts) std::this_thread::yield();
      if (!store_->Apply(desired).ok()) ++failures;
    });
  }
  for (std::thread& writer : writers) writer.join();
  EXPECT_EQ(failures, 0);
  std::map<std::string, std::string> values;
  for (const json& entry : Env(Deployment(), 1)) values[entry["name"]] = entry.value("value", "");
  for (int i = 0; i < kRollouts; ++i) {
    EXPECT_EQ(values["FLAG_" + std::to_string(i) + "_ENABLED"], "true") << i;
    EXPECT_EQ(values["FLAG_" + std::to_string(i) + "_PERCENT"], std::to_string(10 + i)) << i;
  }
  EXPECT_EQ(values["LOG_LEVEL"], "info");
  EXPECT_EQ(Env(Deployment(), 1).size(), 3u + 2 * kRollouts);
}

}  // namespace
}  // namespace agentrollout::controllers
