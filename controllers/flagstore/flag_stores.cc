#include "controllers/flagstore/flag_stores.h"

#include <set>
#include <string>

#include "controllers/flagstore/configmap_flags.h"
#include "controllers/flagstore/featureflag_flags.h"
#include "controllers/flagstore/postgres_flags.h"

namespace agentrollout::controllers {
namespace {

class AnyFlagStore final : public FlagStore {
 public:
  AnyFlagStore(kube::Client& client, const ConflictRetry& retry)
      : config_map_(NewConfigMapFlagStore(client, retry)),
        feature_flag_(NewFeatureFlagStore(client, retry)),
        postgres_(NewPostgresFlagStore(LabelledSecretUris(client))) {}

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
    return *postgres_;
  }

  const FlagStorePtr config_map_;
  const FlagStorePtr feature_flag_;
  const FlagStorePtr postgres_;
};

}  // namespace

FlagStorePtr NewFlagStore(kube::Client& client, const ConflictRetry& retry) {
  return std::make_unique<AnyFlagStore>(client, retry);
}

std::vector<kube::ResourceRef> FlagStoreResources() { return {kube::kConfigMaps, kFeatureFlags}; }

Status CheckDesiredFlags(const DesiredFlags& desired) {
  std::string stores;
  for (const auto& [set, name] : {std::pair{desired.config_map.has_value(), "configMap"},
                                  std::pair{desired.feature_flag.has_value(), "featureFlag"},
                                  std::pair{desired.postgres.has_value(), "postgres"}}) {
    if (set) stores += (stores.empty() ? "" : ", ") + std::string(name);
  }
  if (stores.empty() || stores.find(',') != std::string::npos) {
    return InvalidArgument(
        "flag: exactly one of configMap, featureFlag, postgres must be set, got " +
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
