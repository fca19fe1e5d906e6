// Mesh-free router (API.md §6.3): the canary share is the canary Deployment's share of
// traffic.replicas.totalReplicas pods: canary = ceil(total * W / 100), stable = total -
// canary, written through each Deployment's scale subresource (an autoscaling/v1 Scale, as
// HPA and kubectl scale write it): read, then a merge patch of spec.replicas guarded by the
// Scale's resourceVersion (re-read and redone on 409). Only get and patch on
// deployments/scale: the router never reads or writes the Deployment itself. The Deployment that
// grows is scaled first, so the total never dips below totalReplicas while pods move. No write when
// both already hold their counts. kNotFound, nothing written, when either Deployment is missing.
#pragma once

#include <cstdint>

#include "controllers/conflict_retry.h"
#include "controllers/traffic/traffic_router.h"
#include "kube/client.h"

namespace agentrollout::controllers {

inline const kube::ResourceRef kDeployments{"apps", "v1", "deployments", true};

// ceil(total * weight / 100), weight in 0..100.
std::int32_t CanaryReplicas(std::int32_t total, std::int32_t weight);

TrafficRouterPtr NewReplicasRouter(kube::Client& client, const ConflictRetry& retry = {});

}  // namespace agentrollout::controllers
