// Values of core/v1 Secrets, whose `data` members are base64 (RFC 4648, with padding).
// Secret values are credentials: errors name the Secret and the key, never the value.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace agentrollout::kube {

// Standard base64; whitespace is skipped (kubeconfig files and `base64` output wrap
// lines). nullopt for anything else that is not base64.
std::optional<std::string> DecodeBase64(std::string_view text);

// The decoded data[key] of `secret`. Errors: kNotFound `secret NS/NAME has no key "KEY"`,
// kInvalidArgument `secret NS/NAME: data[KEY] is not valid base64`.
Result<std::string> SecretData(const nlohmann::json& secret, std::string_view key);

// The label that opts a Secret in to being read on behalf of AgentRollouts (API.md §2):
// whoever may create an AgentRollout could otherwise have the operator send any Secret of
// the namespace to an address of their choosing.
inline constexpr std::string_view kSecretUseLabel = "rollouts.agentops.dev/use";

// SecretData for a Secret an AgentRollout names (every secretRef): only if `secret`
// carries the label kSecretUseLabel with the value "true". Error (kPermissionDenied):
// `secret NS/NAME lacks the label rollouts.agentops.dev/use: "true" (only Secrets with it
// may be read for AgentRollouts)`; otherwise SecretData's errors.
Result<std::string> LabelledSecretData(const nlohmann::json& secret, std::string_view key);

}  // namespace agentrollout::kube
