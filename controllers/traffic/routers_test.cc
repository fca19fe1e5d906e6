#include "controllers/traffic/routers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controllers/traffic/fake_traffic_router.h"
#include "controllers/traffic/gateway_api_router.h"
#include "controllers/traffic/istio_router.h"
#include "controllers/traffic/replicas_router.h"
#include "kube/fake_client.h"

namespace agentrollout::controllers {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

TrafficTarget Gateway() {
  TrafficTarget target;
  target.namespace_ = "voice";
  target.router.gateway_api = api::GatewayApiTraffic{"route", "v1", "v2"};
  target.weight = 20;
  return target;
}

TEST(NewTrafficRouter, WritesWhicheverRouterTheTargetNames) {
  kube::FakeClient client;
  ASSERT_TRUE(client
                  .Create(kHttpRoutes, "voice",
                          json::parse(R"({"metadata": {"name": "route"}, "spec": {"rules": [
                            {"backendRefs": [{"name": "v1"}, {"name": "v2"}]}]}})"))
                  .ok());
  ASSERT_TRUE(client
                  .Create(kVirtualServices, "voice",
                          json::parse(R"({"metadata": {"name": "vs"}, "spec": {"http": [
                            {"route": [{"destination": {"host": "h1"}},
                                       {"destination": {"host": "h2"}}]}]}})"))
                  .ok());
  for (const char* name : {"d1", "d2"}) {
    ASSERT_TRUE(client
                    .Create(kDeployments, "voice",
                            {{"metadata", {{"name", name}}}, {"spec", {{"replicas", 1}}}})
                    .ok());
  }
  TrafficRouterPtr router = NewTrafficRouter(client);

  ASSERT_TRUE(router->SetWeight(Gateway()).ok());
  EXPECT_EQ(
      (*client.Get(kHttpRoutes, "voice", "route"))["spec"]["rules"][0]["backendRefs"][1]["weight"],
      20);

  TrafficTarget istio;
  istio.namespace_ = "voice";
  istio.router.istio = api::IstioTraffic{"vs", "h1", "h2", "", ""};
  istio.weight = 30;
  ASSERT_TRUE(router->Check(istio).ok());
  ASSERT_TRUE(router->SetWeight(istio).ok());
  EXPECT_EQ((*client.Get(kVirtualServices, "voice", "vs"))["spec"]["http"][0]["route"][1]["weight"],
            30);

  TrafficTarget replicas;
  replicas.namespace_ = "voice";
  replicas.router.replicas = api::ReplicasTraffic{"d1", "d2", 4};
  replicas.weight = 50;
  ASSERT_TRUE(router->SetWeight(replicas).ok());
  EXPECT_EQ((*client.Get(kDeployments, "voice", "d2"))["spec"]["replicas"], 2);
  EXPECT_EQ((*client.Get(kDeployments, "voice", "d1"))["spec"]["replicas"], 2);
}

struct BadCase {
  const char* name;
  void (*mutate)(TrafficTarget&);
  const char* message;
};

TEST(CheckTrafficTarget, NamesTheFieldAndValue) {
  const BadCase cases[] = {
      {"none", [](TrafficTarget& t) { t.router.gateway_api.reset(); }, "got 0"},
      {"two",
       [](TrafficTarget& t) {
         t.router.replicas = api::ReplicasTraffic{"a", "b", 1};
       },
       "got 2"},
      {"namespace", [](TrafficTarget& t) { t.namespace_.clear(); }, "namespace"},
      {"weight low", [](TrafficTarget& t) { t.weight = -1; }, "weight must be 0..100, got -1"},
      {"weight high", [](TrafficTarget& t) { t.weight = 101; }, "got 101"},
      {"route", [](TrafficTarget& t) { t.router.gateway_api->http_route.clear(); },
       "traffic.gatewayAPI.httpRoute: must not be empty"},
      {"same backends", [](TrafficTarget& t) { t.router.gateway_api->canary_backend = "v1"; },
       "traffic.gatewayAPI.canaryBackend: must differ from stableBackend, got v1"},
      {"istio host",
       [](TrafficTarget& t) {
         t.router.gateway_api.reset();
         t.router.istio = api::IstioTraffic{"vs", "", "h2", "", ""};
       },
       "traffic.istio.stableHost: must not be empty"},
      {"istio same host without subsets",
       [](TrafficTarget& t) {
         t.router.gateway_api.reset();
         t.router.istio = api::IstioTraffic{"vs", "h", "h", "v1", ""};
       },
       "stableSubset and canarySubset must be set and differ"},
      {"replicas names",
       [](TrafficTarget& t) {
         t.router.gateway_api.reset();
         t.router.replicas = api::ReplicasTraffic{"d", "", 3};
       },
       "traffic.replicas.canaryDeployment: must not be empty"},
      {"replicas same",
       [](TrafficTarget& t) {
         t.router.gateway_api.reset();
         t.router.replicas = api::ReplicasTraffic{"d", "d", 3};
       },
       "must differ from stableDeployment"},
      {"replicas negative",
       [](TrafficTarget& t) {
         t.router.gateway_api.reset();
         t.router.replicas = api::ReplicasTraffic{"d1", "d2", -3};
       },
       "traffic.replicas.totalReplicas: must not be negative, got -3"},
  };
  for (const BadCase& bad : cases) {
    SCOPED_TRACE(bad.name);
    TrafficTarget target = Gateway();
    bad.mutate(target);
    const Status status = CheckTrafficTarget(target);
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(status.error().message(), HasSubstr(bad.message));

    kube::FakeClient client;
    TrafficRouterPtr router = NewTrafficRouter(client);
    EXPECT_FALSE(router->Check(target).ok());
    EXPECT_FALSE(router->SetWeight(target).ok());
    EXPECT_TRUE(client.Actions().empty());
  }
  TrafficTarget subsets = Gateway();
  subsets.router.gateway_api.reset();
  subsets.router.istio = api::IstioTraffic{"vs", "h", "h", "v1", "v2"};
  EXPECT_TRUE(CheckTrafficTarget(subsets).ok());
}

TEST(FakeTrafficRouter, RecordsCallsAndFailsOnDemand) {
  using Call = FakeTrafficRouter::Call;
  FakeTrafficRouter router;
  router.FailAlways(Call::kCheck, NotFound("httproute voice/route: not found"));
  EXPECT_EQ(router.Check(Gateway()).error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(router.Check(Gateway()).error().code(), ErrorCode::kNotFound);
  router.FailAlways(Call::kCheck, std::nullopt);
  EXPECT_TRUE(router.Check(Gateway()).ok());
  router.FailNext(Call::kSetWeight, Error(ErrorCode::kConflict, "lost"));
  EXPECT_FALSE(router.SetWeight(Gateway()).ok());
  EXPECT_EQ(router.weight(), std::nullopt);
  std::vector<std::string> log;
  router.SetHook([&](Call call, const TrafficTarget&) -> std::optional<Error> {
    log.push_back(call == Call::kCheck ? "check" : "set");
    return std::nullopt;
  });
  EXPECT_TRUE(router.SetWeight(Gateway()).ok());
  EXPECT_EQ(router.weight(), 20);
  EXPECT_EQ(log, std::vector<std::string>{"set"});
  EXPECT_EQ(router.calls(Call::kCheck).size(), 3u);
  EXPECT_EQ(router.calls(Call::kSetWeight).size(), 2u);
}

}  // namespace
}  // namespace agentrollout::controllers
