#include "controllers/traffic/gateway_api_router.h"

#include <string>

#include "controllers/json_members.h"
#include "controllers/traffic/route_router.h"

namespace agentrollout::controllers {

TrafficRouterPtr NewGatewayApiRouter(kube::Client& client, const ConflictRetry& retry) {
  RouteObject route;
  route.resource = kHttpRoutes;
  route.kind = "httproute";
  route.routes = "rules";
  route.entries = "backendRefs";
  route.route_noun = "rule";
  route.name = [](const TrafficTarget& target) {
    return target.router.gateway_api ? target.router.gateway_api->http_route : std::string();
  };
  route.classify = [](const nlohmann::json& ref, const TrafficTarget& target) {
    const std::string name = StringMember(ref, "name");
    if (name == target.router.gateway_api->stable_backend) return Backend::kStable;
    if (name == target.router.gateway_api->canary_backend) return Backend::kCanary;
    return Backend::kOther;
  };
  route.describe = [](const TrafficTarget& target, Backend backend) {
    const api::GatewayApiTraffic& gateway = *target.router.gateway_api;
    return nlohmann::json(backend == Backend::kStable ? gateway.stable_backend
                                                      : gateway.canary_backend)
        .dump();
  };
  return NewRouteRouter(client, retry, std::move(route));
}

}  // namespace agentrollout::controllers
