// YAML (yaml-cpp) to JSON (nlohmann) for tests that keep manifests and tables in YAML.
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/result.h"

namespace agentrollout::testing {

// Converts a node the way Kubernetes reads YAML: a quoted scalar is always a string; a plain
// one is null, a boolean, an integer or a float when it looks like one (YAML 1.2 core
// schema), else a string. Sending the JSON on (kubectl reads JSON too) keeps a quoted "10"
// a string, which re-emitting the YAML would not guarantee.
nlohmann::json YamlToJson(const YAML::Node& node);

// Every document of a YAML file, converted; an Error naming the file on a parse error.
Result<std::vector<nlohmann::json>> LoadYamlDocuments(const std::filesystem::path& path);

}  // namespace agentrollout::testing
