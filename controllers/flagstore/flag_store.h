// The flag store a rollout writes (API.md §5): one interface, implemented on a ConfigMap
// (configmap_flags.h), an OpenFeature FeatureFlag (featureflag_flags.h), a PostgreSQL table
// (postgres_flags.h) or a Deployment's environment (deployment_env_flags.h).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agentrollout/flag_client.h"
#include "api/types.h"
#include "common/result.h"

namespace agentrollout::controllers {

// The desired state of every flag one rollout drives, in its store. Applying it is
// idempotent: entries already in this state are left untouched (updatedAt included).
struct DesiredFlags {
  std::string namespace_;  // the rollout's namespace, which holds the store object
  // Exactly one store is set (copied from spec.flag).
  std::optional<api::ConfigMapFlagStore> config_map;
  std::optional<api::FeatureFlagStore> feature_flag;
  api::BoxedOptional<api::PostgresFlagStore> postgres;
  api::BoxedOptional<api::DeploymentEnvFlagStore> deployment_env;
  std::string rollout;          // "namespace/name", recorded in each ConfigMap entry
  std::string phase;            // the current phase's name, recorded in each ConfigMap entry
  api::Timestamp updated_at{};  // recorded in each ConfigMap entry that changes
  // spec.flag.key first, then every key of phases[].flags in key order.
  std::vector<flag::FlagState> flags;
  friend bool operator==(const DesiredFlags&, const DesiredFlags&) = default;
};

// What Release does besides clearing the owner.
enum class ReleaseMode {
  kOwnerOnly,  // the entries keep their state (spec.onDelete keep)
  kWithState,  // each entry is also brought to its state in the DesiredFlags (rollback)
};

class FlagStore {
 public:
  virtual ~FlagStore() = default;
  // Brings the store to `desired`. Errors: kConflict when concurrent writers won every
  // retry, kFailedPrecondition when a key belongs to another rollout or the stored
  // document is not a JSON object (it is never overwritten), else the API's error.
  virtual Status Apply(const DesiredFlags& desired) = 0;
  // The rollout lets go of its entries: it is being deleted (API.md §2 onDelete). Every
  // entry of `desired.flags` whose owner is `desired.rollout` loses its owner (the
  // ConfigMap entry's `rollout`, the FeatureFlag's metadata.rollout), so that another
  // rollout may take it over; with kWithState it is also set to its state in `desired`.
  // An object or entry that is gone, and an entry another rollout or nobody owns, is left
  // alone; nothing is ever created. Errors as for Apply.
  virtual Status Release(const DesiredFlags& desired, ReleaseMode mode) = 0;
};
using FlagStorePtr = std::unique_ptr<FlagStore>;

}  // namespace agentrollout::controllers
