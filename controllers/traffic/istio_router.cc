#include "controllers/traffic/istio_router.h"

#include <string>

#include "controllers/json_members.h"
#include "controllers/traffic/route_router.h"

namespace agentrollout::controllers {
namespace {

bool Matches(const nlohmann::json& destination, const std::string& host,
             const std::string& subset) {
  return StringMember(destination, "host") == host &&
         (subset.empty() || StringMember(destination, "subset") == subset);
}

}  // namespace

TrafficRouterPtr NewIstioRouter(kube::Client& client, const ConflictRetry& retry) {
  RouteObject route;
  route.resource = kVirtualServices;
  route.kind = "virtualservice";
  route.routes = "http";
  route.entries = "route";
  route.route_noun = "http route";
  route.name = [](const TrafficTarget& target) {
    return target.router.istio ? target.router.istio->virtual_service : std::string();
  };
  route.classify = [](const nlohmann::json& weighted, const TrafficTarget& target) {
    const api::IstioTraffic& istio = *target.router.istio;
    const nlohmann::json* destination = Member(weighted, "destination");
    if (!destination) return Backend::kOther;
    // A destination matching both (one host, no subsets) counts as stable.
    if (Matches(*destination, istio.stable_host, istio.stable_subset)) return Backend::kStable;
    if (Matches(*destination, istio.canary_host, istio.canary_subset)) return Backend::kCanary;
    return Backend::kOther;
  };
  route.describe = [](const TrafficTarget& target, Backend backend) {
    const api::IstioTraffic& istio = *target.router.istio;
    const bool stable = backend == Backend::kStable;
    std::string text = nlohmann::json(stable ? istio.stable_host : istio.canary_host).dump();
    const std::string& subset = stable ? istio.stable_subset : istio.canary_subset;
    if (!subset.empty()) text += " subset " + nlohmann::json(subset).dump();
    return text;
  };
  return NewRouteRouter(client, retry, std::move(route));
}

}  // namespace agentrollout::controllers
