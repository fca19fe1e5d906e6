// The traffic router the executor uses: one object that writes whichever router a
// rollout's TrafficTarget names (traffic.gatewayAPI -> gateway_api_router.h,
// traffic.istio -> istio_router.h, traffic.replicas -> replicas_router.h).
#pragma once

#include <vector>

#include "common/result.h"
#include "controllers/conflict_retry.h"
#include "controllers/traffic/traffic_router.h"
#include "kube/client.h"

namespace agentrollout::controllers {

// A router writing through `client`, which must outlive it. Check and SetWeight check the
// input (CheckTrafficTarget) before any read or write.
TrafficRouterPtr NewTrafficRouter(kube::Client& client, const ConflictRetry& retry = {});

// The resources whose objects the routers read and write (HTTPRoutes, VirtualServices),
// which a read cache may serve. The replicas router reads Deployments' scale subresource
// only, which no cache serves.
std::vector<kube::ResourceRef> TrafficRouterResources();

// kInvalidArgument, naming the field and value, unless exactly one router is set with
// every name it needs, the namespace is set, the weight is in 0..100 and (replicas)
// totalReplicas is not negative.
Status CheckTrafficTarget(const TrafficTarget& target);

}  // namespace agentrollout::controllers
