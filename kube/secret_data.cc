#include "kube/secret_data.h"

#include <cstdint>

namespace agentrollout::kube {

std::optional<std::string> DecodeBase64(std::string_view text) {
  auto value_of = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  std::uint32_t bits = 0;
  int nbits = 0;
  std::size_t symbols = 0;
  std::size_t padding = 0;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    int v = value_of(c);
    if (v < 0 || padding > 0) return std::nullopt;  // bad symbol, or data after padding
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    nbits += 6;
    ++symbols;
    if (nbits >= 8) {
      nbits -= 8;
      out.push_back(static_cast<char>((bits >> nbits) & 0xFF));
    }
  }
  if (symbols % 4 == 1 || padding > 2 || (padding > 0 && (symbols + padding) % 4 != 0)) {
    return std::nullopt;
  }
  return out;
}

namespace {

// A string member of `object`, "" when absent or not a string (the object is not trusted).
std::string StringMember(const nlohmann::json& object, const char* member) {
  if (!object.is_object()) return "";
  const auto found = object.find(member);
  return found != object.end() && found->is_string() ? found->get<std::string>() : "";
}

// "secret NS/NAME", for errors.
std::string SecretName(const nlohmann::json& secret) {
  std::string name = "secret";
  if (!secret.is_object()) return name;
  const auto metadata = secret.find("metadata");
  if (metadata == secret.end()) return name;
  const std::string ns = StringMember(*metadata, "namespace");
  return name + " " + (ns.empty() ? "" : ns + "/") + StringMember(*metadata, "name");
}

}  // namespace

Result<std::string> SecretData(const nlohmann::json& secret, std::string_view key) {
  const std::string wanted(key);
  const bool has_data = secret.is_object() && secret.contains("data") &&
                        secret.at("data").is_object() && secret.at("data").contains(wanted) &&
                        secret.at("data").at(wanted).is_string();
  if (!has_data) return NotFound(SecretName(secret) + " has no key \"" + wanted + "\"");
  auto decoded = DecodeBase64(secret.at("data").at(wanted).get<std::string>());
  if (!decoded) {
    return InvalidArgument(SecretName(secret) + ": data[" + wanted + "] is not valid base64");
  }
  return *decoded;
}

Status CheckSecretOptIn(const nlohmann::json& secret) {
  const auto metadata = secret.is_object() ? secret.find("metadata") : secret.end();
  const bool opted_in = metadata != secret.end() && metadata->is_object() &&
                        StringMember(metadata->value("labels", nlohmann::json::object()),
                                     kSecretOptInLabel) == "true";
  if (opted_in) return OkStatus();
  return PermissionDenied(SecretName(secret) + " is not labelled " + kSecretOptInLabel +
                          "=\"true\"; only Secrets that opt in may be read for an AgentRollout");
}

}  // namespace agentrollout::kube
