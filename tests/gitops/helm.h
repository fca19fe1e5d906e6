// helm (built from Go modules by hack/helm-bin.sh) for the chart tests: lint and render
// charts/agentrollout-operator.
#pragma once

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "tests/gitops/run_command.h"

namespace agentrollout::gitops_test {

inline const std::string kChart =
    std::string(AGENTROLLOUT_SOURCE_DIR) + "/charts/agentrollout-operator";
// Rendering does not ask a cluster; this is the version the chart is checked against.
inline constexpr char kKubeVersion[] = "1.36.0";

// The helm binary's path ("" when hack/helm-bin.sh failed); built on first use.
inline std::string Helm() {
  static const std::string path = [] {
    auto result = RunCommand(std::string(AGENTROLLOUT_SOURCE_DIR) + "/hack/helm-bin.sh");
    if (result.exit_code != 0) return std::string();
    auto& out = result.output;
    // The path is the last line; build logs (first run) come before it.
    while (!out.empty() && out.back() == '\n') out.pop_back();
    const auto last_newline = out.rfind('\n');
    return last_newline == std::string::npos ? out : out.substr(last_newline + 1);
  }();
  return path;
}

// " --set a=b --set c=d"
inline std::string SetFlags(const std::vector<std::string>& sets) {
  std::string flags;
  for (const auto& set : sets) flags += " --set " + ShellQuote(set);
  return flags;
}

struct Rendered {
  std::vector<YAML::Node> objects;
  std::string text;

  std::vector<YAML::Node> OfKind(const std::string& kind) const {
    std::vector<YAML::Node> out;
    for (const auto& o : objects) {
      if (o["kind"].as<std::string>() == kind) out.push_back(o);
    }
    return out;
  }
};

// `helm template RELEASE chart --namespace NAMESPACE --set ...` (templates only, no CRDs).
inline Rendered Render(const std::string& release, const std::string& namespace_,
                       const std::vector<std::string>& sets) {
  const auto result = RunCommand(Helm() + " template " + ShellQuote(release) + " " +
                                 ShellQuote(kChart) + " --namespace " + ShellQuote(namespace_) +
                                 " --kube-version " + kKubeVersion + SetFlags(sets));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  Rendered rendered;
  rendered.text = result.output;
  for (const auto& doc : YAML::LoadAll(result.output)) {
    if (doc.IsMap()) rendered.objects.push_back(doc);
  }
  return rendered;
}

}  // namespace agentrollout::gitops_test
