// Gateway API router (API.md §6.1): in the HTTPRoute traffic.gatewayAPI.httpRoute, every
// rule whose backendRefs name both the stable and the canary backend gets weights 100-W
// (stable) and W (canary). Other rules, other backendRefs and every other field are kept.
// kNotFound when the route is missing or no rule names both backends.
#pragma once

#include "controllers/conflict_retry.h"
#include "controllers/traffic/traffic_router.h"
#include "kube/client.h"

namespace agentrollout::controllers {

inline const kube::ResourceRef kHttpRoutes{"gateway.networking.k8s.io", "v1", "httproutes", true};

TrafficRouterPtr NewGatewayApiRouter(kube::Client& client, const ConflictRetry& retry = {});

}  // namespace agentrollout::controllers
