// The Deployment environment store (API.md §5.4): flags as environment variables of one
// container of a Deployment's pod template, for applications that read flags from their
// environment. With flag.deploymentEnv
//   {deployment: voice-agent, container: app, variables: {enabled: VOICE_V2_ENABLED,
//                                                        percentage: VOICE_V2_PERCENT}}
// the rollout's own flag (DesiredFlags.flags[0], spec.flag.key) sets VOICE_V2_ENABLED to
// "true"/"false" and VOICE_V2_PERCENT to the number; every further flag (phases[].flags,
// keyed by variable name) sets its variable to "true" at 100, "false" at 0 (or when off),
// else the number. Each change starts a new ReplicaSet: that is how such applications
// pick up flags.
//
// Apply reads the Deployment and writes one JSON patch (RFC 6902) of only the variables
// that differ: `test` ops pin the container and entries at the indices read, and the read's
// resourceVersion makes the patch conditional, so a concurrent edit is a 409 (read again
// and redo), never a variable written into the wrong entry. Other variables, `valueFrom`
// entries, `envFrom` and other containers are untouched; nothing is written when every
// variable is already set. A variable of the rollout that comes from `valueFrom` is
// refused with kFailedPrecondition (it is never overwritten); a missing Deployment or
// container is kNotFound naming it (Ready=False, reason FlagTargetNotFound), nothing written.
//
// A Deployment has no place for a per-variable owner, so there is none to release: Release
// writes the variables' state with ReleaseMode::kWithState (never creating anything, and
// a missing Deployment or container is left alone) and does nothing with kOwnerOnly.
#pragma once

#include <string>

#include "controllers/conflict_retry.h"
#include "controllers/flagstore/flag_store.h"
#include "kube/client.h"

namespace agentrollout::controllers {

// A store for DesiredFlags with `deployment_env` set, writing through `client` (which must
// outlive it).
FlagStorePtr NewDeploymentEnvFlagStore(kube::Client& client, const ConflictRetry& retry = {});

// The value a flag's environment variable holds: "true" at 100, "false" at 0 or when
// disabled, else the number.
std::string EnvFlagValue(const flag::FlagState& state);

}  // namespace agentrollout::controllers
