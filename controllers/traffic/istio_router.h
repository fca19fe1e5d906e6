// Istio router (API.md §6.2): in the VirtualService traffic.istio.virtualService, every
// http[] route whose route[] has a destination for the stable host and one for the canary
// host (and subsets, when given; without them a destination matches on its host) gets
// weights 100-W (stable) and W (canary). Other http routes, tcp/tls routes, other
// destinations and every other field are kept. kNotFound when the VirtualService is
// missing or no http route has both destinations.
#pragma once

#include "controllers/conflict_retry.h"
#include "controllers/traffic/traffic_router.h"
#include "kube/client.h"

namespace agentrollout::controllers {

// v1 is the version Istio >= 1.22 serves as stable (v1beta1 and v1alpha3 are the same schema).
inline const kube::ResourceRef kVirtualServices{"networking.istio.io", "v1", "virtualservices",
                                                true};

TrafficRouterPtr NewIstioRouter(kube::Client& client, const ConflictRetry& retry = {});

}  // namespace agentrollout::controllers
