#include "kube/resource_version.h"

#include <algorithm>

namespace agentrollout::kube {
namespace {

bool WellFormed(std::string_view version) {
  return !version.empty() && version.front() != '0' &&
         std::all_of(version.begin(), version.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::optional<int> CompareResourceVersions(std::string_view a, std::string_view b) {
  if (!WellFormed(a) || !WellFormed(b)) return std::nullopt;
  // Without leading zeros the longer number is the larger; of equal length, the digits say.
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  const int order = a.compare(b);
  return order < 0 ? -1 : order > 0 ? 1 : 0;
}

}  // namespace agentrollout::kube
