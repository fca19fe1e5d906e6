// Kubernetes label selectors ("app=web,tier!=db,env in (a,b),!legacy"), for filtering in
// FakeClient the way the API server filters lists and watches.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace agentrollout::kube {

class LabelSelector {
 public:
  // "" selects everything. Supports =, ==, !=, in, notin, exists (key) and !key.
  static Result<LabelSelector> Parse(std::string_view text);
  bool Matches(const std::map<std::string, std::string>& labels) const;

 private:
  enum class Op { kIn, kNotIn, kExists, kDoesNotExist };
  struct Requirement {
    std::string key;
    Op op;
    std::vector<std::string> values;
  };
  std::vector<Requirement> requirements_;
};

}  // namespace agentrollout::kube
