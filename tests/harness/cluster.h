// A real Kubernetes control plane (etcd + kube-apiserver from hack/cluster.sh) for
// integration tests.
//
// Usage, once per test binary (in any one .cc file of it):
//   const auto* const kCluster = agentrollout::testing::RegisterClusterEnvironment();
// and in tests: agentrollout::testing::Cluster().Kubectl({"get", "aro"}).
//
// When AGENTROLLOUT_KUBECONFIG is set (hack/test.sh starts one cluster for the whole ctest
// run), that cluster is reused; otherwise the environment runs `hack/cluster.sh up` with a
// state directory of its own and `down` at the end, keeping the etcd and apiserver logs
// when a test failed. A watchdog tears an own cluster down if the binary crashes.
//
// StopApiserver/RestartApiserver/CompactEtcd disturb every test using the same cluster, so
// binaries that call them register with ClusterMode::kPrivate: a cluster of their own even
// when a shared one is available.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/result.h"
#include "tests/harness/process.h"

namespace agentrollout::testing {

// The repository root (crds/, examples/, hack/).
std::filesystem::path SourceDir();

// The cached control-plane binaries (hack/kube-bins.sh --print-dir).
std::filesystem::path KubeBinDir();

enum class ClusterMode {
  kShared,   // reuse AGENTROLLOUT_KUBECONFIG's cluster when set, else start one
  kPrivate,  // always start one for this binary
};

class ClusterEnvironment : public ::testing::Environment {
 public:
  explicit ClusterEnvironment(ClusterMode mode) : mode_(mode) {}
  void SetUp() override;
  void TearDown() override;

  // True once SetUp brought a cluster up (or found the shared one).
  bool ready() const { return ready_; }
  // True when this binary started the cluster (and will tear it down).
  bool owned() const { return owned_; }

  const std::filesystem::path& kubeconfig() const { return kubeconfig_; }
  const std::filesystem::path& state_dir() const { return state_dir_; }
  // https://127.0.0.1:PORT
  const std::string& server_url() const { return server_url_; }
  // http://127.0.0.1:PORT (etcd client URL)
  const std::string& etcd_url() const { return etcd_url_; }

  // Runs the cached kubectl against this cluster: `kubectl --kubeconfig K args...`.
  ProcessResult Kubectl(const std::vector<std::string>& args, const std::string& stdin_data = "",
                        std::chrono::milliseconds timeout = std::chrono::minutes(2)) const;

  // Control-plane disruptions for resilience tests (hack/cluster.sh of this state dir).
  Status StopApiserver() const;
  Status StartApiserver() const;  // same port, waits for /readyz
  Status RestartApiserver() const;
  // Compacts etcd to its current revision; returns that revision. The apiserver's watch
  // cache still serves the events it holds, so to make a watch from an older
  // resourceVersion end with 410 Expired ("too old resource version"), compact and then
  // RestartApiserver (tests/cluster/cluster_ops_test.cc shows the sequence).
  Result<long long> CompactEtcd() const;

 private:
  Status RunClusterScript(const std::vector<std::string>& args, std::string* out = nullptr) const;
  Status LoadEnv();

  ClusterMode mode_;
  bool ready_ = false;
  bool owned_ = false;
  std::filesystem::path kubeconfig_;
  std::filesystem::path state_dir_;
  std::string server_url_;
  std::string etcd_url_;
};

// Adds the environment to GoogleTest (once per binary; later calls return the first one).
ClusterEnvironment* RegisterClusterEnvironment(ClusterMode mode = ClusterMode::kShared);

// The registered environment; fails the calling test (fatal) if none is registered or it
// did not come up.
ClusterEnvironment& Cluster();

// A namespace name unique to the calling test (lowercase, <= 63 chars), created on the
// cluster. There is no namespace controller to delete namespaces, so tests leave them.
std::string CreateTestNamespace();

}  // namespace agentrollout::testing
