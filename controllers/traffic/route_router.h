// The part Gateway API and Istio routers share: the weights live in one object (an
// HTTPRoute, a VirtualService) as the `weight` of backend entries grouped in routes
// (spec.rules[].backendRefs[], spec.http[].route[]). Every route with an entry for the
// stable and one for the canary backend gets 100-W on its stable and W on its canary
// entries; other routes, other entries and every other field are kept. Check reads the
// object and finds the entries; SetWeight sets them with a resourceVersion-guarded update
// (re-read and redone on 409), writing nothing when they already hold the weights.
// kNotFound, naming the object and the backend missing, when no route has both.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "controllers/conflict_retry.h"
#include "controllers/traffic/traffic_router.h"
#include "kube/client.h"

namespace agentrollout::controllers {

enum class Backend { kOther, kStable, kCanary };

// How one kind of route object holds its backends.
struct RouteObject {
  kube::ResourceRef resource;
  std::string kind;        // lower case, for messages: "httproute"
  std::string routes;      // the array under spec: "rules"
  std::string entries;     // the array in each route: "backendRefs"
  std::string route_noun;  // for messages: "rule"
  // The object's name in `target`; "" when `target` is for another kind of router.
  std::function<std::string(const TrafficTarget& target)> name;
  // Which backend an entry is (an entry of unknown shape is kOther).
  std::function<Backend(const nlohmann::json& entry, const TrafficTarget& target)> classify;
  // The stable or canary backend of `target` for messages: `"voice-agent-v1"`.
  std::function<std::string(const TrafficTarget& target, Backend backend)> describe;
};

TrafficRouterPtr NewRouteRouter(kube::Client& client, const ConflictRetry& retry,
                                RouteObject route);

}  // namespace agentrollout::controllers
