// Ordering of resourceVersions (KEP-5504, stable in Kubernetes 1.35): two versions of
// objects of the same resource compare as decimal integers. Servers before 1.35 (and
// aggregated API servers) promise only equality, so a version that is not well formed
// compares with nothing and callers fall back to equality.
#pragma once

#include <optional>
#include <string_view>

namespace agentrollout::kube {

// -1, 0 or +1 as `a` is older than, the same as or newer than `b`; nullopt when either is
// not well formed (empty, a character other than 0-9, or a leading zero).
std::optional<int> CompareResourceVersions(std::string_view a, std::string_view b);

}  // namespace agentrollout::kube
