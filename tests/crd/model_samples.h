// Fully populated values of the AgentRollout model (api/types.h), shared by the tests that
// check the model against the CRD schema (unit) and against the apiserver (integration).
#pragma once

#include "api/types.h"

namespace agentrollout::testing {

// Every field set to a non-default value, every optional present, every list and map
// non-empty. Only one flag store and one traffic router may be set at a time, so the others
// are covered by the variants below.
api::AgentRolloutSpec FullSpec();
// FullSpec with the Istio router, the OpenFeature flag store and basic auth (instead of a
// bearer token: at most one of the two).
api::AgentRolloutSpec WithIstio(api::AgentRolloutSpec spec);
// FullSpec with the replicas router.
api::AgentRolloutSpec WithReplicas(api::AgentRolloutSpec spec);
// FullSpec with the PostgreSQL flag store in row mode (every column mapped), and in JSON
// document mode (every path mapped): the two modes exclude each other.
api::AgentRolloutSpec WithPostgresRows(api::AgentRolloutSpec spec);
api::AgentRolloutSpec WithPostgresDocument(api::AgentRolloutSpec spec);
// FullSpec's flag in flag.deploymentEnv (a container named, both variables).
api::AgentRolloutSpec WithDeploymentEnv(api::AgentRolloutSpec spec);

// Every status field set (as no real rollout would at once: the schema must take it all).
api::AgentRolloutStatus FullStatus();

}  // namespace agentrollout::testing
