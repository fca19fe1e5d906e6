// Small file helpers shared by config and token loading.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace agentrollout::kube {

// The whole file. Errors: `cannot read PATH: No such file or directory` (kNotFound when
// the file is missing, kPermissionDenied when unreadable, kInternal otherwise).
Result<std::string> ReadFileToString(const std::string& path);

// `text` without leading and trailing whitespace.
std::string TrimSpace(std::string_view text);

}  // namespace agentrollout::kube
