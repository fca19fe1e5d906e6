// The flag store the executor uses: one object that writes whichever store a rollout's
// DesiredFlags names (flag.configMap -> configmap_flags.h, flag.featureFlag ->
// featureflag_flags.h, flag.postgres -> postgres_flags.h, its URI from the labelled Secret
// read through the client), so the executor needs no per-store wiring.
#pragma once

#include <vector>

#include "common/result.h"
#include "controllers/conflict_retry.h"
#include "controllers/flagstore/flag_store.h"
#include "kube/client.h"

namespace agentrollout::controllers {

struct FlagStoreOptions {
  // flag.deploymentEnv is written (the operator's --deployment-env-store, the chart's
  // deploymentEnv.enabled). Off, its writes fail with kFailedPrecondition saying so: who may
  // create AgentRollouts may not thereby edit every Deployment's environment unless the
  // installation chose that.
  bool deployment_env = false;
};

// A store writing through `client`, which must outlive it. Apply checks the input
// (CheckDesiredFlags) before any read or write.
FlagStorePtr NewFlagStore(kube::Client& client, const ConflictRetry& retry = {},
                          const FlagStoreOptions& options = {});

// The resources the stores read and write that no traffic router does (ConfigMaps,
// OpenFeature FeatureFlags; the deploymentEnv store's Deployments are a router's too); the
// PostgreSQL store reads Secrets, which the operator reads for Prometheus already.
std::vector<kube::ResourceRef> FlagStoreResources();

// kInvalidArgument, naming the field and value, unless exactly one store is set with a
// name (and, for a ConfigMap, a data key), the namespace and rollout are set, and every
// flag has a unique non-empty key and a percentage in 0..100.
Status CheckDesiredFlags(const DesiredFlags& desired);

}  // namespace agentrollout::controllers
