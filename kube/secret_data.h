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

// The label a Secret carries to let the operator read it on an AgentRollout's behalf.
inline constexpr char kSecretOptInLabel[] = "rollouts.agentops.dev/use";

// OK when `secret` carries kSecretOptInLabel: "true" (API.md §2: without the opt-in,
// whoever may create an AgentRollout could send any Secret of the namespace to an address
// of their choosing). Else kPermissionDenied naming the Secret and the label.
Status CheckSecretOptIn(const nlohmann::json& secret);

}  // namespace agentrollout::kube
