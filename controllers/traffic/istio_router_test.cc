#include "controllers/traffic/istio_router.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kube/fake_client.h"

namespace agentrollout::controllers {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

TrafficTarget Target(std::int32_t weight, std::string stable_subset = "",
                     std::string canary_subset = "") {
  TrafficTarget target;
  target.namespace_ = "voice";
  target.router.istio = api::IstioTraffic{"voice-agent", "voice-v1", "voice-v2",
                                          std::move(stable_subset), std::move(canary_subset)};
  target.weight = weight;
  return target;
}

json Service() {
  return json::parse(R"({
    "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
    "metadata": {"name": "voice-agent", "namespace": "voice"},
    "spec": {
      "hosts": ["voice.example.com"],
      "http": [
        {"name": "primary", "match": [{"uri": {"prefix": "/call"}}],
         "route": [{"destination": {"host": "voice-v1", "port": {"number": 80}}, "weight": 100},
                   {"destination": {"host": "voice-v2", "port": {"number": 80}}, "weight": 0}],
         "retries": {"attempts": 3}},
        {"name": "admin",
         "route": [{"destination": {"host": "voice-v1"}}]},
        {"name": "subsets",
         "route": [{"destination": {"host": "voice", "subset": "v1"}, "weight": 100},
                   {"destination": {"host": "voice", "subset": "v2"}, "weight": 0}]}],
      "tcp": [{"route": [{"destination": {"host": "voice-v1"}, "weight": 100},
                         {"destination": {"host": "voice-v2"}, "weight": 0}]}]}})");
}

class IstioRouterTest : public ::testing::Test {
 protected:
  IstioRouterTest() : router_(NewIstioRouter(client_)) {}

  void Seed(const json& service) {
    ASSERT_TRUE(client_.Create(kVirtualServices, "voice", service).ok());
  }
  json Stored() { return *client_.Get(kVirtualServices, "voice", "voice-agent"); }

  kube::FakeClient client_;
  TrafficRouterPtr router_;
};

TEST_F(IstioRouterTest, WeightsHttpRoutesMatchingByHost) {
  Seed(Service());
  ASSERT_TRUE(router_->Check(Target(10)).ok());
  ASSERT_TRUE(router_->SetWeight(Target(10)).ok());
  json expected = Service();
  expected["spec"]["http"][0]["route"][0]["weight"] = 90;
  expected["spec"]["http"][0]["route"][1]["weight"] = 10;
  EXPECT_EQ(Stored()["spec"], expected["spec"]);  // admin, subsets and tcp untouched
}

TEST_F(IstioRouterTest, WeightsHttpRoutesMatchingBySubset) {
  Seed(Service());
  TrafficTarget target = Target(30, "v1", "v2");
  target.router.istio->stable_host = target.router.istio->canary_host = "voice";
  ASSERT_TRUE(router_->SetWeight(target).ok());
  json expected = Service();
  expected["spec"]["http"][2]["route"][0]["weight"] = 70;
  expected["spec"]["http"][2]["route"][1]["weight"] = 30;
  EXPECT_EQ(Stored()["spec"], expected["spec"]);
}

TEST_F(IstioRouterTest, WritesNothingWhenAlreadyAtTheWeights) {
  Seed(Service());
  ASSERT_TRUE(router_->SetWeight(Target(0)).ok());  // already 100/0
  for (const auto& action : client_.Actions()) EXPECT_NE(action.verb, "update");
}

TEST_F(IstioRouterTest, MissingServiceOrDestinationIsNotFoundNamingIt) {
  Status status = router_->Check(Target(10));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(status.error().message(), "virtualservice voice/voice-agent: not found");

  Seed(Service());
  TrafficTarget target = Target(10, "v1", "v3");
  target.router.istio->stable_host = target.router.istio->canary_host = "voice";
  status = router_->SetWeight(target);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(status.error().message(),
            "virtualservice voice/voice-agent: no http route routes to both stable \"voice\" "
            "subset \"v1\" and canary \"voice\" subset \"v3\"; canary \"voice\" subset \"v3\" is "
            "in no http route");
  for (const auto& action : client_.Actions()) EXPECT_NE(action.verb, "update");
}

TEST_F(IstioRouterTest, TcpRoutesAloneDoNotCount) {
  json service = Service();
  service["spec"].erase("http");
  Seed(service);
  const Status status = router_->Check(Target(10));
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.error().message(), HasSubstr("neither is in any http route"));
}

}  // namespace
}  // namespace agentrollout::controllers
