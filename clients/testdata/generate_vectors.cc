// Writes clients/testdata/flag_vectors.json: what the C++ reference
// (include/agentrollout/flag_client.h and flag_client_json.h) answers for a set of hashes,
// flags, tenants and flags.json documents. The TypeScript, Python and Go clients each check
// themselves against the file, so all four evaluate a tenant the same way.
//
//   generate_flag_vectors                 print the vectors
//   generate_flag_vectors --check FILE    exit 1 unless FILE is exactly what it prints
//
// ctest runs the --check form on the committed file, so the file cannot drift from the
// header; after changing the cases below, regenerate it:
//   build/default/clients/generate_flag_vectors > clients/testdata/flag_vectors.json
#include <cstdint>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "agentrollout/flag_client.h"
#include "agentrollout/flag_client_json.h"

namespace agentrollout::flag {
namespace {

using Json = nlohmann::ordered_json;

// Every tail length of the hash (0..3 bytes after the 4-byte blocks), multi-byte UTF-8,
// a NUL byte and a long input.
std::vector<std::string> HashInputs() {
  return {"",
          "a",
          "ab",
          "abc",
          "abcd",
          "abcde",
          "abcdef",
          "abcdefg",
          "abcdefgh",
          "hello",
          "The quick brown fox jumps over the lazy dog",
          "\xc3\xa9t\xc3\xa9 \xe2\x98\x83",  // été ☃
          "\xf0\x9f\x99\x82",                // 🙂 (4 bytes)
          std::string("nul\0byte", 8),       // an embedded NUL
          "voice_agent_v2t-internal-1",      // a flag key + tenant id
          std::string(1000, 'x')};
}

std::vector<std::string> Tenants() {
  return {"t-internal-1",
          "t-internal-2",
          "t-vip-bank",
          "tenant-0001",
          "tenant-0042",
          "tenant-0099",
          "+34600111222",
          "user@example.com",
          "",  // the empty tenant id
          "tenant-\xc3\xb1"
          "and\xc3\xba",                  // tenant-ñandú
          "\xe7\xa7\x9f\xe6\x88\xb7-42",  // 租户-42
          "\xf0\x9f\x99\x82-tenant",      // 🙂-tenant
          "with space",
          "quote\"back\\slash",
          std::string("nul\0tenant", 10),
          std::string(300, 't')};
}

FlagState Flag(std::string key, bool enabled, int percentage, std::vector<std::string> on = {},
               std::vector<std::string> off = {}) {
  FlagState flag;
  flag.key = std::move(key);
  flag.enabled = enabled;
  flag.percentage = percentage;
  flag.enabled_tenants = std::move(on);
  flag.disabled_tenants = std::move(off);
  return flag;
}

std::vector<FlagState> Flags() {
  const std::vector<std::string> on = {"t-internal-1",
                                       "tenant-\xc3\xb1"
                                       "and\xc3\xba"};
  const std::vector<std::string> off = {"t-vip-bank", "t-internal-2"};
  return {
      Flag("voice_agent_v2", true, 10, on, off),
      Flag("voice_agent_v2", true, 25, on, off),
      Flag("voice_agent_v2", true, 0, on, off),     // 0 %: only the pinned-on tenants
      Flag("voice_agent_v2", true, 100, on, off),   // 100 %: all but the pinned-off ones
      Flag("voice_agent_v2", false, 100, on, off),  // disabled: nobody, pins included
      Flag("voice_agent_v2", true, 50, {"t-vip-bank"}, {"t-vip-bank"}),  // off wins
      Flag("whatsapp_integration", true, 1),
      Flag("whatsapp_integration", true, 99),
      Flag("voucher.creation", true, 50, {""}),    // the empty tenant pinned on
      Flag("", true, 50),                          // the empty flag key
      Flag("fl\xc3\xa4g-\xe2\x98\x83", true, 33),  // a non-ASCII flag key: fläg-☃
  };
}

Json StateJson(const FlagState& flag) {
  return Json{{"key", flag.key},
              {"enabled", flag.enabled},
              {"percentage", flag.percentage},
              {"enabledTenants", flag.enabled_tenants},
              {"disabledTenants", flag.disabled_tenants}};
}

// flags.json documents, well-formed and not: which entries the parser keeps, and how many
// errors it reports (messages are each language's own).
std::vector<std::string> Documents() {
  return {
      R"({"voice_agent_v2": {"enabled": true, "percentage": 10, "enabledTenants": ["t-internal-1"], "disabledTenants": ["t-vip-bank"], "rollout": "voice/voice-agent-v2", "phase": "early-adopters", "updatedAt": "2026-11-22T10:00:00Z"}})",
      R"({})",
      R"({"a": {}})",
      R"({"a": {"enabled": true, "percentage": 10.0, "enabledTenants": null}})",
      R"({"a": {"enabled": true, "percentage": 1e2}})",
      R"({"a": {"enabled": true, "percentage": 140}, "b": {"enabled": true, "percentage": 5}})",
      R"({"a": {"enabled": true, "percentage": -1}})",
      R"({"a": {"enabled": true, "percentage": 10.5}})",
      R"({"a": {"enabled": true, "percentage": "10"}})",
      R"({"a": {"enabled": true, "percentage": true}})",
      R"({"a": {"enabled": "yes", "percentage": 10}})",
      R"({"a": {"enabled": 1}})",
      R"({"a": {"enabled": true, "enabledTenants": "t-1"}})",
      R"({"a": {"enabled": true, "disabledTenants": ["t-1", 7]}})",
      R"({"a": [true, 10], "b": null, "c": "on", "d": {"enabled": true, "percentage": 100}})",
      R"({"a": {"enabled": true, "percentage": 100, "extra": {"nested": [1, 2]}}})",
      R"([{"a": {"enabled": true}}])",
      R"("flags")",
      R"({"a": {"enabled": true})",
      R"()",
      "not json",
  };
}

Json Vectors() {
  Json murmur = Json::array();
  for (const std::string& input : HashInputs()) {
    murmur.push_back(Json{{"input", input}, {"hash", murmur3_x86_32(input, 0)}});
  }
  Json cases = Json::array();
  for (const FlagState& flag : Flags()) {
    for (const std::string& tenant : Tenants()) {
      cases.push_back(Json{{"flag", StateJson(flag)},
                           {"tenant", tenant},
                           {"bucket", bucket(flag.key, tenant)},
                           {"isOn", isOn(flag, tenant)}});
    }
  }
  Json documents = Json::array();
  for (const std::string& document : Documents()) {
    const ParsedFlags parsed = parseFlags(document);
    Json flags = Json::array();
    for (const auto& [key, flag] : parsed.flags) flags.push_back(StateJson(flag));
    documents.push_back(Json{
        {"document", document}, {"flags", std::move(flags)}, {"errorCount", parsed.errors.size()}});
  }
  return Json{{"murmur3", std::move(murmur)},
              {"cases", std::move(cases)},
              {"documents", std::move(documents)}};
}

// One vector per line, so a diff of the file shows which vectors changed.
std::string Render(const Json& vectors) {
  std::ostringstream out;
  out << "{\n  \"comment\": "
      << Json(
             "Generated by clients/testdata/generate_vectors.cc from "
             "include/agentrollout/flag_client.h; do not edit by hand.")
             .dump()
      << ",\n";
  bool first_section = true;
  for (const auto& [section, items] : vectors.items()) {
    out << (first_section ? "" : ",\n") << "  " << Json(section).dump() << ": [\n";
    first_section = false;
    for (std::size_t i = 0; i < items.size(); ++i) {
      out << "    " << items[i].dump() << (i + 1 < items.size() ? ",\n" : "\n");
    }
    out << "  ]";
  }
  out << "\n}\n";
  return out.str();
}

int Main(int argc, char** argv) {
  const std::string rendered = Render(Vectors());
  if (argc == 1) {
    std::cout << rendered;
    return 0;
  }
  if (argc == 3 && std::string(argv[1]) == "--check") {
    std::ifstream file(argv[2], std::ios::binary);
    std::stringstream committed;
    committed << file.rdbuf();
    if (file && committed.str() == rendered) return 0;
    std::cerr << argv[2] << " is not what " << argv[0]
              << " generates from include/agentrollout/flag_client.h; regenerate it: " << argv[0]
              << " > " << argv[2] << "\n";
    return 1;
  }
  std::cerr << "usage: " << argv[0] << " [--check FILE]\n";
  return 2;
}

}  // namespace
}  // namespace agentrollout::flag

int main(int argc, char** argv) { return agentrollout::flag::Main(argc, argv); }
