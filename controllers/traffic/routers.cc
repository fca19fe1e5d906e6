#include "controllers/traffic/routers.h"

#include <string>
#include <utility>
#include <vector>

#include "controllers/traffic/gateway_api_router.h"
#include "controllers/traffic/istio_router.h"
#include "controllers/traffic/replicas_router.h"

namespace agentrollout::controllers {
namespace {

class AnyTrafficRouter final : public TrafficRouter {
 public:
  AnyTrafficRouter(kube::Client& client, const ConflictRetry& retry)
      : gateway_api_(NewGatewayApiRouter(client, retry)),
        istio_(NewIstioRouter(client, retry)),
        replicas_(NewReplicasRouter(client, retry)) {}

  Status Check(const TrafficTarget& target) override {
    if (Status valid = CheckTrafficTarget(target); !valid.ok()) return valid;
    return For(target).Check(target);
  }

  Status SetWeight(const TrafficTarget& target) override {
    if (Status valid = CheckTrafficTarget(target); !valid.ok()) return valid;
    return For(target).SetWeight(target);
  }

 private:
  TrafficRouter& For(const TrafficTarget& target) const {
    if (target.router.gateway_api) return *gateway_api_;
    if (target.router.istio) return *istio_;
    return *replicas_;
  }

  const TrafficRouterPtr gateway_api_;
  const TrafficRouterPtr istio_;
  const TrafficRouterPtr replicas_;
};

}  // namespace

TrafficRouterPtr NewTrafficRouter(kube::Client& client, const ConflictRetry& retry) {
  return std::make_unique<AnyTrafficRouter>(client, retry);
}

std::vector<kube::ResourceRef> TrafficRouterResources() { return {kHttpRoutes, kVirtualServices}; }

Status CheckTrafficTarget(const TrafficTarget& target) {
  const api::TrafficSpec& router = target.router;
  const int set = static_cast<int>(router.gateway_api.has_value()) +
                  static_cast<int>(router.istio.has_value()) +
                  static_cast<int>(router.replicas.has_value());
  if (set != 1) {
    return InvalidArgument("traffic: exactly one of gatewayAPI, istio, replicas must be set, got " +
                           std::to_string(set));
  }
  if (target.namespace_.empty()) return InvalidArgument("traffic: namespace must not be empty");
  if (target.weight < 0 || target.weight > 100) {
    return InvalidArgument("traffic: weight must be 0..100, got " + std::to_string(target.weight));
  }
  std::vector<std::pair<const std::string*, const char*>> required;  // value, field
  if (router.gateway_api) {
    required = {{&router.gateway_api->http_route, "traffic.gatewayAPI.httpRoute"},
                {&router.gateway_api->stable_backend, "traffic.gatewayAPI.stableBackend"},
                {&router.gateway_api->canary_backend, "traffic.gatewayAPI.canaryBackend"}};
  } else if (router.istio) {
    required = {{&router.istio->virtual_service, "traffic.istio.virtualService"},
                {&router.istio->stable_host, "traffic.istio.stableHost"},
                {&router.istio->canary_host, "traffic.istio.canaryHost"}};
  } else {
    required = {{&router.replicas->stable_deployment, "traffic.replicas.stableDeployment"},
                {&router.replicas->canary_deployment, "traffic.replicas.canaryDeployment"}};
  }
  for (const auto& [value, field] : required) {
    if (value->empty()) return InvalidArgument(std::string(field) + ": must not be empty");
  }
  if (router.gateway_api &&
      router.gateway_api->stable_backend == router.gateway_api->canary_backend) {
    return InvalidArgument(
        "traffic.gatewayAPI.canaryBackend: must differ from stableBackend, got " +
        router.gateway_api->canary_backend + " for both");
  }
  // Destinations are told apart by host, or by subset when the hosts are the same.
  if (router.istio && router.istio->stable_host == router.istio->canary_host &&
      (router.istio->stable_subset.empty() || router.istio->canary_subset.empty() ||
       router.istio->stable_subset == router.istio->canary_subset)) {
    return InvalidArgument(
        "traffic.istio: stableHost and canaryHost are both " + router.istio->stable_host +
        ", so stableSubset and canarySubset must be set and differ, got \"" +
        router.istio->stable_subset + "\" and \"" + router.istio->canary_subset + "\"");
  }
  if (router.replicas && router.replicas->stable_deployment == router.replicas->canary_deployment) {
    return InvalidArgument(
        "traffic.replicas.canaryDeployment: must differ from stableDeployment, got " +
        router.replicas->canary_deployment + " for both");
  }
  if (router.replicas && router.replicas->total_replicas < 0) {
    return InvalidArgument("traffic.replicas.totalReplicas: must not be negative, got " +
                           std::to_string(router.replicas->total_replicas));
  }
  return OkStatus();
}

}  // namespace agentrollout::controllers
