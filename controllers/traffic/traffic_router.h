// The traffic router a rollout writes (API.md §6): one interface, implemented on a
// Gateway API HTTPRoute, an Istio VirtualService, or the replica counts of two Deployments.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "api/types.h"
#include "common/result.h"

namespace agentrollout::controllers {

// The canary weight one rollout wants on its router.
struct TrafficTarget {
  std::string namespace_;   // the rollout's namespace, which holds the router objects
  api::TrafficSpec router;  // exactly one of gateway_api, istio, replicas is set
  std::int32_t weight = 0;  // canary share, 0..100; stable gets 100 - weight
  friend bool operator==(const TrafficTarget&, const TrafficTarget&) = default;
};

class TrafficRouter {
 public:
  virtual ~TrafficRouter() = default;
  // kNotFound when the router object is missing or lacks the stable/canary backends; the
  // executor checks this before any write, so a missing router means nothing is written
  // (API.md §6: Ready=False, reason TrafficTargetNotFound, the rollout holds).
  virtual Status Check(const TrafficTarget& target) = 0;
  // Sets the weights; idempotent (no write when already there). kNotFound as for Check.
  virtual Status SetWeight(const TrafficTarget& target) = 0;
};
using TrafficRouterPtr = std::unique_ptr<TrafficRouter>;

}  // namespace agentrollout::controllers
