#include "controllers/traffic/gateway_api_router.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "kube/fake_client.h"

namespace agentrollout::controllers {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

TrafficTarget Target(std::int32_t weight) {
  TrafficTarget target;
  target.namespace_ = "voice";
  target.router.gateway_api =
      api::GatewayApiTraffic{"voice-agent", "voice-agent-v1", "voice-agent-v2"};
  target.weight = weight;
  return target;
}

// Rule 0 and 2 route to both backends (rule 0 also mirrors to a third); rule 1 only to
// the stable one.
json Route() {
  return json::parse(R"({
    "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
    "metadata": {"name": "voice-agent", "namespace": "voice", "labels": {"app": "voice"}},
    "spec": {
      "parentRefs": [{"name": "public-gateway"}],
      "hostnames": ["voice.example.com"],
      "rules": [
        {"matches": [{"path": {"type": "PathPrefix", "value": "/call"}}],
         "backendRefs": [{"name": "voice-agent-v1", "port": 8080, "weight": 100},
                         {"name": "voice-agent-v2", "port": 8080, "weight": 0},
                         {"name": "shadow", "port": 8080, "weight": 7}]},
        {"matches": [{"path": {"type": "PathPrefix", "value": "/admin"}}],
         "backendRefs": [{"name": "voice-agent-v1", "port": 8080}]},
        {"filters": [{"type": "RequestHeaderModifier",
                      "requestHeaderModifier": {"set": [{"name": "x-v", "value": "1"}]}}],
         "backendRefs": [{"name": "voice-agent-v2", "port": 9090},
                         {"name": "voice-agent-v1", "port": 9090}]}]},
    "status": {"parents": []}})");
}

class GatewayApiRouterTest : public ::testing::Test {
 protected:
  GatewayApiRouterTest() {
    retry_.sleep = [this](std::chrono::milliseconds wait) { sleeps_.push_back(wait); };
    router_ = NewGatewayApiRouter(client_, retry_);
  }

  void Seed(const json& route) { ASSERT_TRUE(client_.Create(kHttpRoutes, "voice", route).ok()); }
  json Stored() { return *client_.Get(kHttpRoutes, "voice", "voice-agent"); }

  int Writes() {
    int writes = 0;
    for (const auto& action : client_.Actions()) {
      writes += action.verb == "create" || action.verb == "update" || action.verb == "patch";
    }
    return writes;
  }

  kube::FakeClient client_;
  ConflictRetry retry_;
  std::vector<std::chrono::milliseconds> sleeps_;
  TrafficRouterPtr router_;
};

TEST_F(GatewayApiRouterTest, WeightsEveryRuleWithBothBackendsAndNothingElse) {
  Seed(Route());
  ASSERT_TRUE(router_->Check(Target(25)).ok());
  ASSERT_TRUE(router_->SetWeight(Target(25)).ok());
  json expected = Route();
  json& rules = expected["spec"]["rules"];
  rules[0]["backendRefs"][0]["weight"] = 75;
  rules[0]["backendRefs"][1]["weight"] = 25;
  rules[2]["backendRefs"][0]["weight"] = 25;  // canary listed first here
  rules[2]["backendRefs"][1]["weight"] = 75;
  json stored = Stored();
  EXPECT_EQ(stored["spec"], expected["spec"]);  // rule 1 and the shadow backend untouched
  EXPECT_EQ(stored["metadata"]["labels"], expected["metadata"]["labels"]);
}

TEST_F(GatewayApiRouterTest, FullAndZeroWeights) {
  Seed(Route());
  ASSERT_TRUE(router_->SetWeight(Target(100)).ok());
  EXPECT_EQ(Stored()["spec"]["rules"][0]["backendRefs"][0]["weight"], 0);
  EXPECT_EQ(Stored()["spec"]["rules"][0]["backendRefs"][1]["weight"], 100);
  ASSERT_TRUE(router_->SetWeight(Target(0)).ok());
  EXPECT_EQ(Stored()["spec"]["rules"][0]["backendRefs"][0]["weight"], 100);
  EXPECT_EQ(Stored()["spec"]["rules"][0]["backendRefs"][1]["weight"], 0);
}

TEST_F(GatewayApiRouterTest, WritesNothingWhenAlreadyAtTheWeights) {
  Seed(Route());
  ASSERT_TRUE(router_->SetWeight(Target(10)).ok());
  client_.ClearActions();
  ASSERT_TRUE(router_->SetWeight(Target(10)).ok());
  EXPECT_EQ(Writes(), 0);
}

TEST_F(GatewayApiRouterTest, WritesAWeightThatIsOnlyImplied) {
  // An absent weight means 1 in the Gateway API: it is written out.
  json route = Route();
  route["spec"]["rules"][2]["backendRefs"][0].erase("weight");
  route["spec"]["rules"][0]["backendRefs"][0].erase("weight");
  Seed(route);
  ASSERT_TRUE(router_->SetWeight(Target(0)).ok());
  EXPECT_EQ(Stored()["spec"]["rules"][0]["backendRefs"][0]["weight"], 100);
  EXPECT_EQ(Stored()["spec"]["rules"][2]["backendRefs"][0]["weight"], 0);
}

TEST_F(GatewayApiRouterTest, MissingRouteIsNotFoundAndNothingIsWritten) {
  for (Status status : {router_->Check(Target(10)), router_->SetWeight(Target(10))}) {
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().code(), ErrorCode::kNotFound);
    EXPECT_EQ(status.error().message(), "httproute voice/voice-agent: not found");
  }
  EXPECT_EQ(Writes(), 0);
}

TEST_F(GatewayApiRouterTest, MissingBackendIsNotFoundNamingIt) {
  json route = Route();
  route["spec"]["rules"][0]["backendRefs"].erase(1);
  route["spec"]["rules"][2]["backendRefs"].erase(0);
  Seed(route);
  client_.ClearActions();
  for (Status status : {router_->Check(Target(10)), router_->SetWeight(Target(10))}) {
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().code(), ErrorCode::kNotFound);
    EXPECT_EQ(status.error().message(),
              "httproute voice/voice-agent: no rule routes to both stable \"voice-agent-v1\" and "
              "canary \"voice-agent-v2\"; canary \"voice-agent-v2\" is in no rule");
  }
  EXPECT_EQ(Writes(), 0);
}

TEST_F(GatewayApiRouterTest, BackendsInDifferentRulesAreNotAPair) {
  json route = Route();
  route["spec"]["rules"][0]["backendRefs"].erase(1);
  route["spec"]["rules"][2]["backendRefs"].erase(1);
  Seed(route);
  const Status status = router_->Check(Target(10));
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.error().message(), HasSubstr("they are in different rules"));
}

TEST_F(GatewayApiRouterTest, ARouteWithoutRulesNamesBothBackends) {
  json route = Route();
  route["spec"].erase("rules");
  Seed(route);
  const Status status = router_->SetWeight(Target(10));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(status.error().message(), HasSubstr("neither is in any rule"));
}

TEST_F(GatewayApiRouterTest, RereadsAndRetriesOnConflict) {
  Seed(Route());
  bool raced = false;
  client_.AddReactor(
      [&](const kube::FakeClient::Action& action) -> std::optional<kube::ApiResult<json>> {
        if (action.verb != "update" || raced) return std::nullopt;
        raced = true;  // someone edits the route between our read and our write
        json route = Stored();
        route["spec"]["hostnames"].push_back("voice.example.org");
        EXPECT_TRUE(client_.Update(kHttpRoutes, "voice", route).ok());
        return std::nullopt;
      });
  ASSERT_TRUE(router_->SetWeight(Target(50)).ok());
  EXPECT_EQ(Stored()["spec"]["hostnames"].size(), 2u);  // their edit kept
  EXPECT_EQ(Stored()["spec"]["rules"][0]["backendRefs"][1]["weight"], 50);
  EXPECT_EQ(sleeps_.size(), 1u);
}

TEST_F(GatewayApiRouterTest, RefusesATargetForAnotherRouter) {
  TrafficTarget target = Target(10);
  target.router.gateway_api.reset();
  target.router.replicas = api::ReplicasTraffic{"a", "b", 4};
  const Status status = router_->SetWeight(target);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(client_.Actions().empty());
}

}  // namespace
}  // namespace agentrollout::controllers
