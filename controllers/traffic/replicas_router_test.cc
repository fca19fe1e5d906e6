#include "controllers/traffic/replicas_router.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kube/fake_client.h"

namespace agentrollout::controllers {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::Pair;

TrafficTarget Target(std::int32_t weight, std::int32_t total = 10) {
  TrafficTarget target;
  target.namespace_ = "voice";
  target.router.replicas = api::ReplicasTraffic{"voice-v1", "voice-v2", total};
  target.weight = weight;
  return target;
}

json Deployment(const std::string& name, int replicas) {
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"replicas", replicas},
            {"selector", {{"matchLabels", {{"app", name}}}}},
            {"template", {{"metadata", {{"labels", {{"app", name}}}}}}}}}};
}

TEST(CanaryReplicas, RoundsTheCanaryUp) {
  EXPECT_EQ(CanaryReplicas(10, 0), 0);
  EXPECT_EQ(CanaryReplicas(10, 5), 1);
  EXPECT_EQ(CanaryReplicas(10, 10), 1);
  EXPECT_EQ(CanaryReplicas(10, 11), 2);
  EXPECT_EQ(CanaryReplicas(10, 100), 10);
  EXPECT_EQ(CanaryReplicas(3, 50), 2);
  EXPECT_EQ(CanaryReplicas(4, 25), 1);
  EXPECT_EQ(CanaryReplicas(0, 50), 0);
  EXPECT_EQ(CanaryReplicas(2000000000, 99), 1980000000);  // no 32-bit overflow
}

class ReplicasRouterTest : public ::testing::Test {
 protected:
  ReplicasRouterTest() {
    retry_.sleep = [this](std::chrono::milliseconds wait) { sleeps_.push_back(wait); };
    router_ = NewReplicasRouter(client_, retry_);
  }

  void Seed(int stable, int canary) {
    ASSERT_TRUE(client_.Create(kDeployments, "voice", Deployment("voice-v1", stable)).ok());
    ASSERT_TRUE(client_.Create(kDeployments, "voice", Deployment("voice-v2", canary)).ok());
    client_.ClearActions();
  }
  int Replicas(const std::string& name) {
    return (*client_.Get(kDeployments, "voice", name))["spec"]["replicas"];
  }
  // (deployment, replicas) of every patch, in order.
  std::vector<std::pair<std::string, int>> Patches() {
    std::vector<std::pair<std::string, int>> patches;
    for (const auto& action : client_.Actions()) {
      if (action.verb == "patch")
        patches.emplace_back(action.name, action.object["spec"]["replicas"]);
    }
    return patches;
  }

  kube::FakeClient client_;
  ConflictRetry retry_;
  std::vector<std::chrono::milliseconds> sleeps_;
  TrafficRouterPtr router_;
};

TEST_F(ReplicasRouterTest, ScalesTheCanaryUpBeforeTheStableDown) {
  Seed(10, 0);
  ASSERT_TRUE(router_->Check(Target(25)).ok());
  ASSERT_TRUE(router_->SetWeight(Target(25)).ok());
  EXPECT_THAT(Patches(), ElementsAre(Pair("voice-v2", 3), Pair("voice-v1", 7)));
  EXPECT_EQ(Replicas("voice-v1"), 7);
  EXPECT_EQ(Replicas("voice-v2"), 3);
}

TEST_F(ReplicasRouterTest, ScalesTheStableUpBeforeTheCanaryDown) {
  Seed(5, 5);
  ASSERT_TRUE(router_->SetWeight(Target(0)).ok());
  EXPECT_THAT(Patches(), ElementsAre(Pair("voice-v1", 10), Pair("voice-v2", 0)));
}

TEST_F(ReplicasRouterTest, PatchesAreGuardedByTheResourceVersionRead) {
  Seed(10, 0);
  ASSERT_TRUE(router_->SetWeight(Target(50)).ok());
  for (const auto& action : client_.Actions()) {
    if (action.verb == "patch") {
      EXPECT_TRUE(action.object["metadata"]["resourceVersion"].is_string()) << action.object;
    }
  }
}

// RBAC: get and patch on deployments/scale are all the router needs (the chart grants no
// patch on deployments themselves unless deploymentEnv is enabled).
TEST_F(ReplicasRouterTest, ReadsAndWritesOnlyTheScaleSubresource) {
  Seed(10, 0);
  ASSERT_TRUE(router_->Check(Target(50)).ok());
  ASSERT_TRUE(router_->SetWeight(Target(50)).ok());
  ASSERT_FALSE(client_.Actions().empty());
  for (const auto& action : client_.Actions()) {
    EXPECT_EQ(action.subresource, "scale") << action.verb << " " << action.name;
    EXPECT_THAT(action.verb, ::testing::AnyOf("get", "patch"));
  }
  EXPECT_EQ(Replicas("voice-v1"), 5);
  EXPECT_EQ(Replicas("voice-v2"), 5);
}

TEST_F(ReplicasRouterTest, ScalesUpFromZeroWhichTheScaleOmits) {
  Seed(10, 0);
  ASSERT_TRUE(router_->SetWeight(Target(100)).ok());
  EXPECT_THAT(Patches(), ElementsAre(Pair("voice-v2", 10), Pair("voice-v1", 0)));
  EXPECT_EQ(Replicas("voice-v1"), 0);
  EXPECT_EQ(Replicas("voice-v2"), 10);
  client_.ClearActions();
  ASSERT_TRUE(router_->SetWeight(Target(100)).ok());
  EXPECT_TRUE(Patches().empty());
}

TEST_F(ReplicasRouterTest, WritesNothingWhenAlreadyScaled) {
  Seed(9, 1);
  ASSERT_TRUE(router_->SetWeight(Target(10)).ok());
  EXPECT_TRUE(Patches().empty());
}

TEST_F(ReplicasRouterTest, MissingDeploymentIsNotFoundAndNothingIsScaled) {
  ASSERT_TRUE(client_.Create(kDeployments, "voice", Deployment("voice-v1", 10)).ok());
  for (Status status : {router_->Check(Target(50)), router_->SetWeight(Target(50))}) {
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().code(), ErrorCode::kNotFound);
    EXPECT_EQ(status.error().message(), "deployment voice/voice-v2: not found");
  }
  EXPECT_TRUE(Patches().empty());
  EXPECT_EQ(Replicas("voice-v1"), 10);
}

TEST_F(ReplicasRouterTest, RereadsAndRetriesOnConflict) {
  Seed(10, 0);
  bool raced = false;
  client_.AddReactor(
      [&](const kube::FakeClient::Action& action) -> std::optional<kube::ApiResult<json>> {
        if (action.verb != "patch" || raced) return std::nullopt;
        raced = true;  // someone relabels the Deployment between our read and our patch
        json deployment = *client_.Get(kDeployments, "voice", action.name);
        deployment["metadata"]["labels"] = {{"touched", "yes"}};
        EXPECT_TRUE(client_.Update(kDeployments, "voice", deployment).ok());
        return std::nullopt;
      });
  ASSERT_TRUE(router_->SetWeight(Target(50)).ok());
  EXPECT_EQ(Replicas("voice-v1"), 5);
  EXPECT_EQ(Replicas("voice-v2"), 5);
  EXPECT_EQ(sleeps_.size(), 1u);
}

}  // namespace
}  // namespace agentrollout::controllers
