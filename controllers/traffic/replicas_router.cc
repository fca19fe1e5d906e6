#include "controllers/traffic/replicas_router.h"

#include <array>
#include <string>
#include <utility>

#include "controllers/json_members.h"
#include "controllers/traffic/routers.h"

namespace agentrollout::controllers {
namespace {

using nlohmann::json;

const kube::GetOptions kGetScale{.subresource = "scale"};
const kube::PatchOptions kPatchScale = [] {
  kube::PatchOptions options;
  options.subresource = "scale";
  return options;
}();

// A Scale's spec.replicas, which the API server omits when it is 0.
std::int64_t Replicas(const json& scale) {
  const json* spec = Member(scale, "spec");
  const json* replicas = spec ? Member(*spec, "replicas") : nullptr;
  return replicas && replicas->is_number_integer() ? replicas->get<std::int64_t>() : 0;
}

class ReplicasRouter final : public TrafficRouter {
 public:
  ReplicasRouter(kube::Client& client, ConflictRetry retry)
      : client_(client), retry_(std::move(retry)) {}

  Status Check(const TrafficTarget& target) override {
    if (Status valid = Valid(target); !valid.ok()) return valid;
    const api::ReplicasTraffic& replicas = *target.router.replicas;
    for (const std::string* name : {&replicas.stable_deployment, &replicas.canary_deployment}) {
      if (auto read = Read(target, *name); !read.ok()) return read.error();
    }
    return OkStatus();
  }

  Status SetWeight(const TrafficTarget& target) override {
    if (Status valid = Valid(target); !valid.ok()) return valid;
    const api::ReplicasTraffic& replicas = *target.router.replicas;
    // Both must exist before either is scaled.
    auto stable_now = Read(target, replicas.stable_deployment);
    if (!stable_now.ok()) return stable_now.error();
    auto canary_now = Read(target, replicas.canary_deployment);
    if (!canary_now.ok()) return canary_now.error();
    const std::int32_t canary = CanaryReplicas(replicas.total_replicas, target.weight);
    std::array<std::pair<const std::string*, std::int32_t>, 2> order{
        {{&replicas.canary_deployment, canary},
         {&replicas.stable_deployment, replicas.total_replicas - canary}}};
    // Grow first: when the canary shrinks, the stable Deployment is scaled up before it.
    if (canary < Replicas(*canary_now)) std::swap(order[0], order[1]);
    for (const auto& [name, count] : order) {
      if (Status scaled = Scale(target, *name, count); !scaled.ok()) return scaled;
    }
    return OkStatus();
  }

 private:
  static Status Valid(const TrafficTarget& target) {
    if (Status valid = CheckTrafficTarget(target); !valid.ok()) return valid;
    if (!target.router.replicas) {
      return InvalidArgument("traffic: this router scales Deployments only (traffic.replicas)");
    }
    return OkStatus();
  }

  static std::string Where(const TrafficTarget& target, const std::string& name) {
    return "deployment " + target.namespace_ + "/" + name;
  }

  // The Deployment's autoscaling/v1 Scale: all the router reads or writes of it.
  Result<json> Read(const TrafficTarget& target, const std::string& name) {
    auto scale = client_.Get(kDeployments, target.namespace_, name, kGetScale);
    if (scale.ok()) return std::move(*scale);
    if (kube::IsNotFound(scale.error())) return NotFound(Where(target, name) + ": not found");
    return scale.error().WithContext(Where(target, name));
  }

  Status Scale(const TrafficTarget& target, const std::string& name, std::int32_t count) {
    const std::string where = Where(target, name);
    return RetryOnConflict(retry_, where, [&]() -> Status {
      auto scale = Read(target, name);
      if (!scale.ok()) return scale.error();
      if (Replicas(*scale) == count) return OkStatus();
      // The resourceVersion in the patch makes it conditional: 409 when it is stale.
      const json* metadata = Member(*scale, "metadata");
      const json* version = metadata ? Member(*metadata, "resourceVersion") : nullptr;
      const json patch = {{"metadata", {{"resourceVersion", version ? *version : json()}}},
                          {"spec", {{"replicas", count}}}};
      const auto written = client_.Patch(kDeployments, target.namespace_, name,
                                         kube::PatchType::kMerge, patch, kPatchScale);
      return written.ok() ? OkStatus() : written.error().WithContext(where);
    });
  }

  kube::Client& client_;
  const ConflictRetry retry_;
};

}  // namespace

std::int32_t CanaryReplicas(std::int32_t total, std::int32_t weight) {
  return static_cast<std::int32_t>((static_cast<std::int64_t>(total) * weight + 99) / 100);
}

TrafficRouterPtr NewReplicasRouter(kube::Client& client, const ConflictRetry& retry) {
  return std::make_unique<ReplicasRouter>(client, retry);
}

}  // namespace agentrollout::controllers
