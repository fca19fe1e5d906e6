#include "controllers/flagstore/deployment_env_flags.h"

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "controllers/flagstore/flag_stores.h"
#include "controllers/json_members.h"
#include "controllers/traffic/replicas_router.h"

namespace agentrollout::controllers {
namespace {

using nlohmann::json;

// Variable name -> the value the rollout wants in it.
std::map<std::string, std::string> WantedValues(const DesiredFlags& desired) {
  const api::DeploymentEnvVariables& variables = desired.deployment_env->variables;
  std::map<std::string, std::string> wanted;
  const flag::FlagState& own = desired.flags.front();  // spec.flag.key comes first
  if (!variables.enabled.empty()) wanted[variables.enabled] = own.enabled ? "true" : "false";
  if (!variables.percentage.empty()) wanted[variables.percentage] = std::to_string(own.percentage);
  for (std::size_t i = 1; i < desired.flags.size(); ++i) {
    wanted[desired.flags[i].key] = EnvFlagValue(desired.flags[i]);
  }
  return wanted;
}

std::string Pointer(std::size_t container, const std::string& rest = "") {
  return "/spec/template/spec/containers/" + std::to_string(container) + rest;
}

class DeploymentEnvFlagStore final : public FlagStore {
 public:
  DeploymentEnvFlagStore(kube::Client& client, ConflictRetry retry)
      : client_(client), retry_(std::move(retry)) {}

  Status Apply(const DesiredFlags& desired) override { return Write(desired, /*create=*/true); }

  Status Release(const DesiredFlags& desired, ReleaseMode mode) override {
    if (mode == ReleaseMode::kOwnerOnly) return CheckDesiredFlags(desired);
    return Write(desired, /*create=*/false);
  }

 private:
  static std::string Where(const DesiredFlags& desired) {
    return "deployment " + desired.namespace_ + "/" + desired.deployment_env->deployment;
  }

  // Brings the variables to their wanted values. A missing Deployment or container is
  // kNotFound for Apply (`required`) and nothing to do for Release.
  Status Write(const DesiredFlags& desired, bool required) {
    if (Status valid = CheckDesiredFlags(desired); !valid.ok()) return valid;
    if (!desired.deployment_env) {
      return InvalidArgument("flag.deploymentEnv: not set (this store writes Deployments only)");
    }
    const std::string where = Where(desired);
    return RetryOnConflict(retry_, where, [&] { return WriteOnce(desired, required, where); });
  }

  Status WriteOnce(const DesiredFlags& desired, bool required, const std::string& where) {
    const api::DeploymentEnvFlagStore& store = *desired.deployment_env;
    auto deployment = client_.Get(kDeployments, desired.namespace_, store.deployment);
    if (!deployment.ok()) {
      if (!kube::IsNotFound(deployment.error())) return deployment.error().WithContext(where);
      return required ? Status(NotFound(where + ": not found (spec.flag.deploymentEnv.deployment)"))
                      : OkStatus();
    }
    const json* spec = Member(*deployment, "spec");
    const json* pod = spec ? Member(*spec, "template") : nullptr;
    const json* pod_spec = pod ? Member(*pod, "spec") : nullptr;
    const json* containers = pod_spec ? Member(*pod_spec, "containers") : nullptr;
    std::size_t index = 0;
    const json* container = nullptr;
    for (; containers && containers->is_array() && index < containers->size(); ++index) {
      const json& candidate = (*containers)[index];
      if (store.container.empty() || StringMember(candidate, "name") == store.container) {
        container = &candidate;
        break;
      }
    }
    if (!container) {
      if (!required) return OkStatus();
      return NotFound(where + ": " +
                      (store.container.empty()
                           ? std::string("the pod template has no container")
                           : "no container \"" + store.container +
                                 "\" in the pod template (spec.flag.deploymentEnv.container)"));
    }
    const std::string name = StringMember(*container, "name");

    std::map<std::string, std::string> wanted = WantedValues(desired);
    json patch = json::array();
    patch.push_back({{"op", "test"}, {"path", Pointer(index, "/name")}, {"value", name}});
    const json* env = Member(*container, "env");
    const bool has_env = env && env->is_array();
    for (std::size_t i = 0; has_env && i < env->size(); ++i) {
      const json& entry = (*env)[i];
      const std::string variable = StringMember(entry, "name");
      const auto it = wanted.find(variable);
      if (it == wanted.end()) continue;
      if (Member(entry, "valueFrom")) {
        return Error(ErrorCode::kFailedPrecondition,
                     where + " container " + name + ": env " + variable +
                         " comes from valueFrom; remove that entry to let the rollout set it (it "
                         "is never overwritten)");
      }
      const json* value = Member(entry, "value");
      const std::string current = value && value->is_string() ? value->get<std::string>() : "";
      if (current != it->second) {
        const std::string at = Pointer(index, "/env/" + std::to_string(i));
        patch.push_back({{"op", "test"}, {"path", at + "/name"}, {"value", variable}});
        patch.push_back({{"op", "add"}, {"path", at + "/value"}, {"value", it->second}});
      }
    }
    // Variables the container does not have yet are appended; an entry seen once is done
    // (a name listed twice gets each of its entries set above).
    if (has_env) {
      for (const json& entry : *env) wanted.erase(StringMember(entry, "name"));
    }
    json added = json::array();
    for (const auto& [variable, value] : wanted) {
      added.push_back({{"name", variable}, {"value", value}});
    }
    if (!added.empty() && !has_env) {
      patch.push_back({{"op", "add"}, {"path", Pointer(index, "/env")}, {"value", added}});
    } else {
      for (const json& entry : added) {
        patch.push_back({{"op", "add"}, {"path", Pointer(index, "/env/-")}, {"value", entry}});
      }
    }
    if (patch.size() == 1) return OkStatus();  // every variable already set
    // The read's resourceVersion makes the patch conditional: 409 when it is stale.
    const json* metadata = Member(*deployment, "metadata");
    const json* version = metadata ? Member(*metadata, "resourceVersion") : nullptr;
    if (version) {
      patch.push_back(
          {{"op", "replace"}, {"path", "/metadata/resourceVersion"}, {"value", *version}});
    }
    const auto written = client_.Patch(kDeployments, desired.namespace_, store.deployment,
                                       kube::PatchType::kJson, patch);
    return written.ok() ? OkStatus() : written.error().WithContext(where + " container " + name);
  }

  kube::Client& client_;
  const ConflictRetry retry_;
};

}  // namespace

std::string EnvFlagValue(const flag::FlagState& state) {
  if (!state.enabled || state.percentage == 0) return "false";
  if (state.percentage == 100) return "true";
  return std::to_string(state.percentage);
}

FlagStorePtr NewDeploymentEnvFlagStore(kube::Client& client, const ConflictRetry& retry) {
  return std::make_unique<DeploymentEnvFlagStore>(client, retry);
}

}  // namespace agentrollout::controllers
