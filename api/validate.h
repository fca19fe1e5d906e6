// Semantic validation of an AgentRollout spec: the checks that relate several fields.
//
// Where each check lives:
// - api/codec.h (DecodeSpec) checks every field on its own, as the CRD's OpenAPI schema
//   does: JSON types, required fields, enums, numeric ranges (0..100, >= 0, totalReplicas
//   >= 1), patterns (flag key, phases[].flags keys, metric names, URLs), list lengths
//   (phases 1..50), duration syntax and minimums (interval >= 1s), threshold syntax, and
//   analysis.args names. It also applies the defaults. Those values cannot be wrong in a
//   decoded spec, so they are not re-checked here.
// - ValidateSpec checks relations between fields, i.e. what the CRD needs CEL for plus what
//   only the operator can check:
//     at least one of flag / traffic; exactly one flag store; at most one of
//     prometheus.bearerTokenSecretRef / basicAuthSecretRef; exactly one router when
//     traffic is given; unique phase and metric names; non-decreasing flagPercent and
//     trafficWeight (after defaulting); metrics require prometheus.address; phases[].flags
//     need a flag store and may not name the rollout's own flag (with deploymentEnv: are
//     environment variable names other than its variables); each notification has a
//     url or a secretRef; no value is both Go and NoGo (go and noGo zones disjoint); every
//     value hitting `abort` also hits `noGo`; every {{variable}} of every query is known
//     (built-ins or analysis.args), and one outside a "…" or '…' string is a number or
//     a duration.
// The first error found is returned (InvalidArgument), its message naming the field:
//   spec.analysis.metrics[0].noGo: "> 0.02" overlaps go "< 0.05": a value in (0.02, 0.05)
//   would be both Go and NoGo
// The controller reports it as Ready=False, reason InvalidSpec (API.md §2).
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "api/types.h"
#include "common/result.h"

namespace agentrollout::api {

// ^[A-Za-z_][A-Za-z0-9_]{0,127}$: an environment variable name as shells read them
// (flag.deploymentEnv.variables, and phases[].flags keys of a deploymentEnv rollout).
bool IsEnvVarName(std::string_view name);

// Expects a spec as DecodeSpec produces it (per-field checks and defaults already applied).
Status ValidateSpec(const AgentRolloutSpec& spec);

// DecodeSpec, then ValidateSpec.
Result<AgentRolloutSpec> DecodeAndValidateSpec(const nlohmann::json& spec);

// DecodeAgentRollout, then ValidateSpec on its spec.
Result<AgentRollout> DecodeAndValidate(const nlohmann::json& object);

}  // namespace agentrollout::api
