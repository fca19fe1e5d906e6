#include "tests/crd/crd_schema.h"

#include "tests/harness/cluster.h"
#include "tests/harness/yaml_json.h"

namespace agentrollout::testing {

using nlohmann::json;

std::filesystem::path CrdPath() {
  return SourceDir() / "crds" / "agentrollouts.rollouts.agentops.dev.yaml";
}

Result<json> LoadCrd() {
  auto documents = LoadYamlDocuments(CrdPath());
  if (!documents.ok()) return documents.error();
  if (documents->size() != 1) {
    return InvalidArgument(CrdPath().string() + ": expected one YAML document, got " +
                           std::to_string(documents->size()));
  }
  return std::move(documents->front());
}

const json& OpenApiSchema(const json& crd) {
  return crd.at("spec").at("versions").at(0).at("schema").at("openAPIV3Schema");
}

namespace {

void CollectSchemaPaths(const json& schema, const std::string& path, std::set<std::string>& out) {
  out.insert(path);
  if (schema.contains("properties")) {
    for (const auto& [name, child] : schema["properties"].items()) {
      CollectSchemaPaths(child, path + "." + name, out);
    }
  }
  if (schema.contains("additionalProperties") && schema["additionalProperties"].is_object()) {
    CollectSchemaPaths(schema["additionalProperties"], path + "{}", out);
  }
  if (schema.contains("items")) CollectSchemaPaths(schema["items"], path + "[]", out);
}

void CollectInstancePaths(const json& instance, const json& schema, const std::string& path,
                          std::set<std::string>& out) {
  out.insert(path);
  if (instance.is_array() && schema.contains("items")) {
    for (const auto& item : instance) CollectInstancePaths(item, schema["items"], path + "[]", out);
  } else if (instance.is_object()) {
    for (const auto& [name, value] : instance.items()) {
      if (schema.contains("properties") && schema["properties"].contains(name)) {
        CollectInstancePaths(value, schema["properties"][name], path + "." + name, out);
      } else if (schema.contains("additionalProperties") &&
                 schema["additionalProperties"].is_object()) {
        CollectInstancePaths(value, schema["additionalProperties"], path + "{}", out);
      } else {
        out.insert("undeclared: " + path + "." + name);
      }
    }
  }
}

}  // namespace

std::set<std::string> SchemaPaths(const json& schema, const std::string& root) {
  std::set<std::string> out;
  CollectSchemaPaths(schema, root, out);
  return out;
}

std::set<std::string> InstancePaths(const json& instance, const json& schema,
                                    const std::string& root) {
  std::set<std::string> out;
  CollectInstancePaths(instance, schema, root, out);
  return out;
}

void ApplyDefaults(json& instance, const json& schema) {
  if (instance.is_object()) {
    if (schema.contains("properties")) {
      for (const auto& [name, child] : schema["properties"].items()) {
        if (!instance.contains(name) && child.contains("default"))
          instance[name] = child["default"];
        if (instance.contains(name)) ApplyDefaults(instance[name], child);
      }
    }
    if (schema.contains("additionalProperties") && schema["additionalProperties"].is_object()) {
      for (auto& [name, value] : instance.items()) {
        ApplyDefaults(value, schema["additionalProperties"]);
      }
    }
  } else if (instance.is_array() && schema.contains("items")) {
    for (auto& item : instance) ApplyDefaults(item, schema["items"]);
  }
}

}  // namespace agentrollout::testing
