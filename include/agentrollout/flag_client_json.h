// Reads the flags.json document of the native ConfigMap flag store (docs/api-reference.md) into
// FlagState values for flag_client.h. Header-only, C++17, needs nlohmann/json >= 3.
//
//   auto parsed = agentrollout::flag::parseFlags(file_contents);
//   auto it = parsed.flags.find("voice_agent_v2");
//   bool on = it != parsed.flags.end() && agentrollout::flag::isOn(it->second, tenant);
//
// Never throws. A malformed entry is left out and reported in `errors`; the other entries
// are still usable, so one bad key in a shared ConfigMap does not switch every flag off.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "agentrollout/flag_client.h"

namespace agentrollout::flag {

struct ParsedFlags {
  std::map<std::string, FlagState, std::less<>> flags;
  std::vector<std::string> errors;  // e.g. `voice_agent_v2.percentage: must be 0..100, got 140`
  bool ok() const { return errors.empty(); }
};

namespace internal {

inline bool ReadTenants(const nlohmann::json& entry, const std::string& key, const char* field,
                        std::vector<std::string>& tenants, std::vector<std::string>& errors) {
  const auto it = entry.find(field);
  if (it == entry.end() || it->is_null()) {
    return true;
  }
  if (!it->is_array()) {
    errors.push_back(key + "." + field + ": must be an array of strings");
    return false;
  }
  for (const auto& tenant : *it) {
    if (!tenant.is_string()) {
      errors.push_back(key + "." + field + ": must be an array of strings, got " + tenant.dump());
      return false;
    }
    tenants.push_back(tenant.get<std::string>());
  }
  return true;
}

inline bool ReadEntry(const std::string& key, const nlohmann::json& entry, FlagState& flag,
                      std::vector<std::string>& errors) {
  if (!entry.is_object()) {
    errors.push_back(key + ": must be an object, got " + entry.dump());
    return false;
  }
  flag.key = key;
  if (const auto it = entry.find("enabled"); it != entry.end()) {
    if (!it->is_boolean()) {
      errors.push_back(key + ".enabled: must be true or false, got " + it->dump());
      return false;
    }
    flag.enabled = it->get<bool>();
  }
  if (const auto it = entry.find("percentage"); it != entry.end()) {
    const double value = it->is_number() ? it->get<double>() : -1;
    if (!it->is_number() || value < 0 || value > 100 || value != static_cast<int>(value)) {
      errors.push_back(key + ".percentage: must be an integer 0..100, got " + it->dump());
      return false;
    }
    flag.percentage = static_cast<int>(value);
  }
  return ReadTenants(entry, key, "enabledTenants", flag.enabled_tenants, errors) &&
         ReadTenants(entry, key, "disabledTenants", flag.disabled_tenants, errors);
}

}  // namespace internal

inline ParsedFlags parseFlags(std::string_view document) {
  ParsedFlags parsed;
  const nlohmann::json doc = nlohmann::json::parse(document, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    parsed.errors.push_back("flags document: not valid JSON");
    return parsed;
  }
  if (!doc.is_object()) {
    parsed.errors.push_back("flags document: must be a JSON object of flag key -> state");
    return parsed;
  }
  for (const auto& [key, entry] : doc.items()) {
    FlagState flag;
    if (internal::ReadEntry(key, entry, flag, parsed.errors)) {
      parsed.flags.emplace(key, std::move(flag));
    }
  }
  return parsed;
}

}  // namespace agentrollout::flag
