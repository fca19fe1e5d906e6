#include "controllers/flagstore/flag_stores.h"

#include <set>
#include <string>

#include "controllers/flagstore/configmap_flags.h"
#include "controllers/flagstore/deployment_env_flags.h"
#include "controllers/flagstore/featureflag_flags.h"
#include "controllers/flagstore/postgres_flags.h"

namespace agentrollout::controllers {
namespace {

// flag.deploymentEnv in an installation that did not turn it on.
class DisabledDeploymentEnvStore final : public FlagStore {
 public:
  Status Apply(const DesiredFlags& desired) override { return Refuse(desired); }
  // Nothing of it was ever written: there is no owner to clear, only a state to refuse.
  Status Release(const DesiredFlags& desired, ReleaseMode mode) override {
    return mode == ReleaseMode::kOwnerOnly ? OkStatus() : Refuse(desired);
  }

 private:
  static Status Refuse(const DesiredFlags& desired) {
    return Error(ErrorCode::kFailedPrecondition,
                 "flag.deploymentEnv (deployment " + desired.namespace_ + "/" +
                     desired.deployment_env->deployment +
                     "): this operator does not write Deployments' environment; install it "
                     "with the chart value deploymentEnv.enabled=true (--deployment-env-store)");
  }
};

class AnyFlagStore final : public FlagStore {
 public:
  AnyFlagStore(kube::Client& client, const ConflictRetry& retry, const FlagStoreOptions& options)
      : config_map_(NewConfigMapFlagStore(client, retry)),
        feature_flag_(NewFeatureFlagStore(client, retry)),
        postgres_(NewPostgresFlagStore(LabelledSecretUris(client))),
        deployment_env_(options.deployment_env ? NewDeploymentEnvFlagStore(client, retry)
                                               : std::make_unique<DisabledDeploymentEnvStore>()) {}

  Status Apply(const DesiredFlags& desired) override {
    if (Status valid = CheckDesiredFlags(desired); !valid.ok()) return valid;
    return StoreFor(desired).Apply(desired);
  }

  Status Release(const DesiredFlags& desired, ReleaseMode mode) override {
    if (Status valid = CheckDesiredFlags(desired); !valid.ok()) return valid;
    return StoreFor(desired).Release(desired, mode);
  }

 private:
  FlagStore& StoreFor(const DesiredFlags& desired) const {
    if (desired.config_map) return *config_map_;
    if (desired.feature_flag) return *feature_flag_;
    if (desired.postgres) return *postgres_;
    return *deployment_env_;
  }

  const FlagStorePtr config_map_;
  const FlagStorePtr feature_flag_;
  const FlagStorePtr postgres_;
  const FlagStorePtr deployment_env_;
};

}  // namespace

FlagStorePtr NewFlagStore(kube::Client& client, const ConflictRetry& retry,
                          const FlagStoreOptions& options) {
  return std::make_unique<AnyFlagStore>(client, retry, options);
}

std::vector<kube::ResourceRef> FlagStoreResources() { return {kube::kConfigMaps, kFeatureFlags}; }

Status CheckDesiredFlags(const DesiredFlags& desired) {
  std::string stores;
  for (const auto& [set, name] : {std::pair{desired.config_map.has_value(), "configMap"},
                                  std::pair{desired.feature_flag.has_value(), "featureFlag"},
                                  std::pair{desired.postgres.has_value(), "postgres"},
                                  std::pair{desired.deployment_env.has_value(), "deploymentEnv"}}) {
    if (set) stores += (stores.empty() ? "" : ", ") + std::string(name);
  }
  if (stores.empty() || stores.find(',') != std::string::npos) {
    return InvalidArgument(
        "flag: exactly one of configMap, featureFlag, postgres, deploymentEnv must be set, got " +
        (stores.empty() ? std::string("none") : stores));
  }
  if (desired.config_map && desired.config_map->name.empty()) {
    return InvalidArgument("flag.configMap.name: must not be empty");
  }
  if (desired.config_map && desired.config_map->key.empty()) {
    return InvalidArgument("flag.configMap.key: must not be empty");
  }
  if (desired.feature_flag && desired.feature_flag->name.empty()) {
    return InvalidArgument("flag.featureFlag.name: must not be empty");
  }
  if (desired.deployment_env && desired.deployment_env->deployment.empty()) {
    return InvalidArgument("flag.deploymentEnv.deployment: must not be empty");
  }
  if (desired.namespace_.empty()) return InvalidArgument("flags: namespace must not be empty");
  if (desired.rollout.empty()) return InvalidArgument("flags: rollout must not be empty");
  if (desired.flags.empty()) return InvalidArgument("flags: no flag to write");
  std::set<std::string> keys;
  for (const flag::FlagState& state : desired.flags) {
    if (state.key.empty()) return InvalidArgument("flags: a flag key must not be empty");
    if (!keys.insert(state.key).second) {
      return InvalidArgument("flags: flag \"" + state.key + "\" is given twice");
    }
    if (state.percentage < 0 || state.percentage > 100) {
      return InvalidArgument("flags: flag \"" + state.key + "\" percentage must be 0..100, got " +
                             std::to_string(state.percentage));
    }
  }
  return OkStatus();
}

}  // namespace agentrollout::controllers
