// Test-only: the API.md §1 example as a whole object (api/testdata/voice-agent-v2.json),
// with metadata and an API.md §8 status filled in. Shared by the api tests.
#pragma once

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace agentrollout::api::testing {

inline nlohmann::json VoiceAgentManifest() {
  std::ifstream file(std::string(AGENTROLLOUT_SOURCE_DIR) + "/api/testdata/voice-agent-v2.json");
  std::stringstream text;
  text << file.rdbuf();
  return nlohmann::json::parse(text.str());
}

}  // namespace agentrollout::api::testing
