// The control plane of hack/cluster.sh through the harness: what integration tests of the
// operator rely on (admin access, CRDs installed, RBAC on, disruptions that keep data).
// These tests stop and restart the apiserver, so they use a cluster of their own.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/harness/cluster.h"

namespace agentrollout::testing {
namespace {

using ::testing::HasSubstr;

const auto* const kCluster = RegisterClusterEnvironment(ClusterMode::kPrivate);

// curl against the apiserver with the admin client certificate of the state directory.
ProcessResult ApiGet(const std::string& path) {
  const auto pki = Cluster().state_dir() / "pki";
  auto result = RunProcess({"curl", "-sS", "--max-time", "5", "--cacert", (pki / "ca.crt").string(),
                            "--cert", (pki / "admin.crt").string(), "--key",
                            (pki / "admin.key").string(), Cluster().server_url() + path});
  return result.ok() ? *std::move(result) : ProcessResult{};
}

TEST(ClusterTest, ServesTheVersionsPinnedInHackVersionsEnv) {
  auto version = Cluster().Kubectl({"version", "-o", "json"});
  ASSERT_EQ(version.exit_code, 0) << version.Describe();
  auto parsed = nlohmann::json::parse(version.out);
  EXPECT_EQ(parsed["serverVersion"]["gitVersion"], "v1.36.3");
  EXPECT_EQ(parsed["clientVersion"]["gitVersion"], "v1.36.3");
  EXPECT_THAT(Cluster().server_url(), ::testing::StartsWith("https://127.0.0.1:"));
  EXPECT_THAT(Cluster().etcd_url(), ::testing::StartsWith("http://127.0.0.1:"));
  EXPECT_TRUE(std::filesystem::exists(Cluster().kubeconfig()));
}

TEST(ClusterTest, InstallsTheProjectAndThirdPartyCrds) {
  for (const std::string crd :
       {"agentrollouts.rollouts.agentops.dev", "httproutes.gateway.networking.k8s.io",
        "virtualservices.networking.istio.io", "destinationrules.networking.istio.io",
        "featureflags.core.openfeature.dev"}) {
    auto got =
        Cluster().Kubectl({"wait", "--for=condition=Established", "--timeout=5s", "crd/" + crd});
    EXPECT_EQ(got.exit_code, 0) << crd << ": " << got.Describe();
  }
}

TEST(ClusterTest, AdminIsAllowedEverythingAndRbacIsOn) {
  auto admin = Cluster().Kubectl({"auth", "can-i", "*", "*", "--all-namespaces"});
  EXPECT_EQ(admin.out, "yes\n") << admin.Describe();
  auto nobody = Cluster().Kubectl(
      {"auth", "can-i", "list", "agentrollouts", "--as=system:serviceaccount:default:nobody"});
  EXPECT_EQ(nobody.out, "no\n") << nobody.Describe();
}

TEST(ClusterTest, ApiserverStopsAndRestartsOnTheSamePortKeepingData) {
  ASSERT_EQ(Cluster().Kubectl({"create", "configmap", "kept", "--from-literal=a=1"}).exit_code, 0);
  const std::string url = Cluster().server_url();

  Status stopped = Cluster().StopApiserver();
  ASSERT_TRUE(stopped.ok()) << stopped.error().ToString();
  auto down = Cluster().Kubectl({"get", "configmap", "kept", "--request-timeout=3s"});
  EXPECT_NE(down.exit_code, 0);
  EXPECT_THAT(down.err, HasSubstr("refused"));

  Status started = Cluster().StartApiserver();
  ASSERT_TRUE(started.ok()) << started.error().ToString();
  EXPECT_EQ(Cluster().server_url(), url);
  auto kept = Cluster().Kubectl({"get", "configmap", "kept", "-o", "jsonpath={.data.a}"});
  EXPECT_EQ(kept.out, "1") << kept.Describe();

  Status restarted = Cluster().RestartApiserver();
  ASSERT_TRUE(restarted.ok()) << restarted.error().ToString();
  kept = Cluster().Kubectl({"get", "configmap", "kept", "-o", "jsonpath={.data.a}"});
  EXPECT_EQ(kept.out, "1") << kept.Describe();
}

// Compaction + restart: a watch from a resourceVersion before the compaction ends with
// 410 Expired, which clients must answer with a fresh LIST.
TEST(ClusterTest, CompactionExpiresOldResourceVersions) {
  auto created = Cluster().Kubectl({"create", "configmap", "compacted", "--from-literal=a=0", "-o",
                                    "jsonpath={.metadata.resourceVersion}"});
  ASSERT_EQ(created.exit_code, 0) << created.Describe();
  const long long old_version = std::stoll(created.out);
  for (int i = 1; i <= 3; ++i) {
    auto patched = Cluster().Kubectl({"patch", "configmap", "compacted", "-p",
                                      "{\"data\":{\"a\":\"" + std::to_string(i) + "\"}}"});
    ASSERT_EQ(patched.exit_code, 0) << patched.Describe();
  }
  auto revision = Cluster().CompactEtcd();
  ASSERT_TRUE(revision.ok()) << revision.error().ToString();
  EXPECT_GT(*revision, old_version);
  ASSERT_TRUE(Cluster().RestartApiserver().ok());

  auto watch = ApiGet("/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=" +
                      std::to_string(old_version));
  EXPECT_THAT(watch.out, HasSubstr("\"code\":410")) << watch.Describe();
  EXPECT_THAT(watch.out, HasSubstr("too old resource version"));
  // A fresh list still works.
  auto list = Cluster().Kubectl({"get", "configmap", "compacted", "-o", "jsonpath={.data.a}"});
  EXPECT_EQ(list.out, "3") << list.Describe();
}

}  // namespace
}  // namespace agentrollout::testing
