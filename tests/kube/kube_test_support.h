// Helpers shared by the Kubernetes-client integration tests (real kube-apiserver).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "kube/client.h"
#include "kube/config.h"
#include "tests/harness/cluster.h"

namespace agentrollout::kube::testing {

// The cluster's admin identity, read through our own kubeconfig loader.
inline RestConfig ClusterConfig() {
  KubeconfigOptions options;
  options.path = agentrollout::testing::Cluster().kubeconfig().string();
  auto config = LoadKubeconfig(options);
  EXPECT_TRUE(config.ok()) << config.error().ToString();
  return config.ok() ? *config : RestConfig{};
}

inline ClientPtr ClusterClient(const ClientOptions& options = {}) {
  auto client = NewClient(ClusterConfig(), options);
  EXPECT_TRUE(client.ok()) << client.error().ToString();
  return client.ok() ? *client : nullptr;
}

// Polls `condition` until it holds; false after `timeout`.
template <typename Condition>
bool Eventually(Condition condition, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

inline nlohmann::json ConfigMap(const std::string& name,
                                nlohmann::json data = nlohmann::json::object(),
                                nlohmann::json labels = nullptr) {
  nlohmann::json object = {{"apiVersion", "v1"},
                           {"kind", "ConfigMap"},
                           {"metadata", {{"name", name}}},
                           {"data", std::move(data)}};
  if (!labels.is_null()) object["metadata"]["labels"] = std::move(labels);
  return object;
}

// A typed view of a ConfigMap, as a controller caches it.
struct Flags {
  std::string ns;
  std::string name;
  std::string resource_version;
  std::map<std::string, std::string> data;
};

inline Result<Flags> DecodeFlags(const nlohmann::json& object) {
  Flags flags;
  const nlohmann::json& metadata = object.at("metadata");
  flags.ns = metadata.value("namespace", "");
  flags.name = metadata.value("name", "");
  flags.resource_version = metadata.value("resourceVersion", "");
  if (object.contains("data")) {
    for (const auto& [key, value] : object["data"].items()) {
      if (!value.is_string()) return InvalidArgument("data." + key + ": must be a string");
      flags.data[key] = value.get<std::string>();
    }
  }
  return flags;
}

inline std::string NameOf(const nlohmann::json& object) {
  return object["metadata"]["name"].get<std::string>();
}

}  // namespace agentrollout::kube::testing
