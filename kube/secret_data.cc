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

const nlohmann::json* Metadata(const nlohmann::json& secret) {
  if (!secret.is_object()) return nullptr;
  const auto found = secret.find("metadata");
  return found != secret.end() && found->is_object() ? &*found : nullptr;
}

// "secret NS/NAME" for messages.
std::string Describe(const nlohmann::json& secret) {
  std::string name = "secret";
  if (const nlohmann::json* metadata = Metadata(secret)) {
    const auto text = [&](const char* field) {
      const auto found = metadata->find(field);
      return found != metadata->end() && found->is_string() ? found->get<std::string>()
                                                            : std::string();
    };
    const std::string ns = text("namespace");
    name += " " + (ns.empty() ? "" : ns + "/") + text("name");
  }
  return name;
}

}  // namespace

Result<std::string> SecretData(const nlohmann::json& secret, std::string_view key) {
  const std::string wanted(key);
  const std::string name = Describe(secret);
  const bool has_data = secret.is_object() && secret.contains("data") &&
                        secret.at("data").is_object() && secret.at("data").contains(wanted) &&
                        secret.at("data").at(wanted).is_string();
  if (!has_data) return NotFound(name + " has no key \"" + wanted + "\"");
  auto decoded = DecodeBase64(secret.at("data").at(wanted).get<std::string>());
  if (!decoded) return InvalidArgument(name + ": data[" + wanted + "] is not valid base64");
  return *decoded;
}

Result<std::string> LabelledSecretData(const nlohmann::json& secret, std::string_view key) {
  const nlohmann::json* metadata = Metadata(secret);
  const auto labels = metadata != nullptr ? metadata->find("labels") : secret.end();
  const bool opted_in = metadata != nullptr && labels != metadata->end() && labels->is_object() &&
                        labels->value(std::string(kSecretUseLabel), nlohmann::json()) == "true";
  if (!opted_in) {
    return PermissionDenied(Describe(secret) + " lacks the label " + std::string(kSecretUseLabel) +
                            ": \"true\" (only Secrets with it may be read for AgentRollouts)");
  }
  return SecretData(secret, key);
}

}  // namespace agentrollout::kube
