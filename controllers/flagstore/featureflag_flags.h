// The OpenFeature store (API.md §5.2): flags in a core.openfeature.dev/v1beta1
// FeatureFlag, which flagd reads. Each flag becomes spec.flagSpec.flags.<key>:
//
//   {"state": "ENABLED",                     // DISABLED when the flag is off (rollback)
//    "variants": {"on": true, "off": false}, "defaultVariant": "off",
//    "targeting": {"if": [
//        {"in": [{"var": "targetingKey"}, ["t-vip-bank"]]}, "off",      // disabled tenants
//        {"in": [{"var": "targetingKey"}, ["t-internal-1"]]}, "on",     // enabled tenants
//        {"fractional": [["on", P], ["off", 100 - P]]}]},
//    "metadata": {"rollout": "voice/voice-agent-v2"}}
//
// (a branch is left out when its tenant list is empty; with neither, the targeting is the
// bare `fractional`). flagd's `fractional` buckets by murmur3(flagKey + targetingKey), the
// ConfigMap store's bucketing, so both stores put the same tenants in the rollout.
//
// Apply creates the object when missing, writes only the rollout's own flags (other flags,
// $evaluators, flag-set metadata and extra fields of its own flags are kept), writes
// nothing when every flag is already in state, and retries on 409 with a fresh read.
// metadata.rollout records the owner: a flag owned by another rollout, or an object whose
// spec.flagSpec.flags is not an object, is refused with kFailedPrecondition, nothing
// written; a flag without metadata.rollout (written by hand) is taken over. Release (the
// rollout's deletion) removes metadata.rollout from the rollout's own flags (with
// ReleaseMode::kWithState also writing their state) and never creates the object.
#pragma once

#include "controllers/conflict_retry.h"
#include "controllers/flagstore/flag_store.h"
#include "kube/client.h"

namespace agentrollout::controllers {

inline const kube::ResourceRef kFeatureFlags{"core.openfeature.dev", "v1beta1", "featureflags",
                                             true};

// A store for DesiredFlags with `feature_flag` set, writing through `client` (which must
// outlive it).
FlagStorePtr NewFeatureFlagStore(kube::Client& client, const ConflictRetry& retry = {});

}  // namespace agentrollout::controllers
