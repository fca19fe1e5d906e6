// The AgentRollout CRD (crds/agentrollouts.rollouts.agentops.dev.yaml) as JSON, and walks
// of its OpenAPI schema, for the tests that keep the CRD, the API contract and the C++
// model in step.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"

namespace agentrollout::testing {

std::filesystem::path CrdPath();

// The CRD document, converted with YamlToJson.
Result<nlohmann::json> LoadCrd();

// spec.versions[0].schema.openAPIV3Schema
const nlohmann::json& OpenApiSchema(const nlohmann::json& crd);

// Paths of every property a schema declares, in the notation `spec.phases[].name`: `.name`
// for an object property, `[]` for array items, `{}` for the values of a map
// (additionalProperties). Objects, arrays and maps themselves are listed too.
std::set<std::string> SchemaPaths(const nlohmann::json& schema, const std::string& root);

// Paths (same notation) of every value present in `instance`, read with `schema` to tell
// maps from objects. Members the schema does not declare are listed with the prefix
// "undeclared: ".
std::set<std::string> InstancePaths(const nlohmann::json& instance, const nlohmann::json& schema,
                                    const std::string& root);

// Applies the schema's `default`s to `instance` as the apiserver does: a missing property
// with a default gets it (objects defaulted to {} are then defaulted inside), recursively
// through arrays and maps.
void ApplyDefaults(nlohmann::json& instance, const nlohmann::json& schema);

}  // namespace agentrollout::testing
