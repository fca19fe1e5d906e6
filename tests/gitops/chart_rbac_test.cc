// The chart's RBAC on a real kube-apiserver (authorization-mode RBAC): apply the rendered
// chart, then ask the apiserver what its ServiceAccount may do (`kubectl auth can-i --as`,
// a SubjectAccessReview), for every rule of the README's table and for the things it must
// not do. Label integration: needs the cluster of hack/cluster.sh and helm.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "tests/gitops/helm.h"
#include "tests/harness/cluster.h"

namespace agentrollout::gitops_test {
namespace {

const auto* const kCluster = agentrollout::testing::RegisterClusterEnvironment();

struct Access {
  std::string verb;
  std::string resource;     // resource.group, as kubectl names it
  std::string subresource;  // "" or "status"
  std::string namespace_;   // "" = all namespaces (--all-namespaces)
};

std::string Describe(const Access& a) {
  return a.verb + " " + a.resource + (a.subresource.empty() ? "" : "/" + a.subresource) + " in " +
         (a.namespace_.empty() ? "all namespaces" : "namespace " + a.namespace_);
}

class ChartRbacTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(Helm().empty()) << "hack/helm-bin.sh failed"; }

  // Renders the chart as release `release` into `release_namespace` and applies it.
  void Install(const std::string& release, const std::string& release_namespace,
               const std::vector<std::string>& sets) {
    const auto rendered = Render(release, release_namespace, sets);
    ASSERT_FALSE(rendered.objects.empty());
    service_account_ =
        "system:serviceaccount:" + release_namespace + ":" +
        rendered.OfKind("ServiceAccount").at(0)["metadata"]["name"].as<std::string>();
    const auto applied = agentrollout::testing::Cluster().Kubectl(
        {"apply", "--server-side", "--field-manager=chart-rbac-test", "-f", "-"}, rendered.text);
    ASSERT_EQ(applied.exit_code, 0) << applied.Describe();
  }

  // Whether the apiserver lets the chart's ServiceAccount do `a`.
  bool Can(const Access& a) {
    std::vector<std::string> args = {"auth", "can-i", a.verb, a.resource, "--as", service_account_};
    if (!a.subresource.empty()) args.push_back("--subresource=" + a.subresource);
    if (a.namespace_.empty()) {
      args.push_back("--all-namespaces");
    } else {
      args.insert(args.end(), {"-n", a.namespace_});
    }
    const auto result = agentrollout::testing::Cluster().Kubectl(args);
    EXPECT_TRUE(result.out.starts_with("yes") || result.out.starts_with("no"))
        << Describe(a) << ": " << result.Describe();
    return result.exit_code == 0 && result.out.starts_with("yes");
  }

  void ExpectAllowed(const std::vector<Access>& accesses) {
    for (const auto& a : accesses) EXPECT_TRUE(Can(a)) << "should be allowed: " << Describe(a);
  }
  void ExpectForbidden(const std::vector<Access>& accesses) {
    for (const auto& a : accesses) EXPECT_FALSE(Can(a)) << "should be forbidden: " << Describe(a);
  }

  std::string service_account_;
};

// Everything the operator does in a namespace it watches (the README's table; the verbs
// its code calls, rbac_verbs_test.cc).
std::vector<Access> WatchedNamespaceAccess(const std::string& ns) {
  std::vector<Access> out;
  for (const char* verb : {"get", "list", "watch", "patch"}) {
    out.push_back({verb, "agentrollouts.rollouts.agentops.dev", "", ns});
    out.push_back({verb, "deployments.apps", "", ns});
  }
  out.push_back({"update", "agentrollouts.rollouts.agentops.dev", "status", ns});
  for (const char* verb : {"get", "list", "watch", "update"}) {
    out.push_back({verb, "httproutes.gateway.networking.k8s.io", "", ns});
    out.push_back({verb, "virtualservices.networking.istio.io", "", ns});
  }
  for (const char* verb : {"get", "list", "watch", "create", "update"}) {
    out.push_back({verb, "configmaps", "", ns});
    out.push_back({verb, "featureflags.core.openfeature.dev", "", ns});
  }
  out.push_back({"get", "secrets", "", ns});
  out.push_back({"create", "events", "", ns});
  out.push_back({"patch", "events", "", ns});
  return out;
}

// What it must never do, wherever it watches: among others every verb its code does not
// call on the resources it uses (`update` on agentrollouts would let it rewrite spec).
std::vector<Access> NeverAllowed(const std::string& ns) {
  return {
      {"list", "secrets", "", ns},
      {"watch", "secrets", "", ns},
      {"update", "secrets", "", ns},
      {"update", "agentrollouts.rollouts.agentops.dev", "", ns},
      {"delete", "agentrollouts.rollouts.agentops.dev", "", ns},
      {"create", "agentrollouts.rollouts.agentops.dev", "", ns},
      {"get", "agentrollouts.rollouts.agentops.dev", "status", ns},
      {"patch", "agentrollouts.rollouts.agentops.dev", "status", ns},
      {"patch", "configmaps", "", ns},
      {"delete", "configmaps", "", ns},
      {"patch", "featureflags.core.openfeature.dev", "", ns},
      {"delete", "featureflags.core.openfeature.dev", "", ns},
      {"patch", "httproutes.gateway.networking.k8s.io", "", ns},
      {"delete", "httproutes.gateway.networking.k8s.io", "", ns},
      {"patch", "virtualservices.networking.istio.io", "", ns},
      {"update", "deployments.apps", "", ns},
      {"delete", "deployments.apps", "", ns},
      {"update", "deployments.apps", "scale", ns},
      {"patch", "deployments.apps", "scale", ns},
      {"get", "pods", "", ns},
      {"create", "pods", "", ns},
      {"create", "serviceaccounts", "", ns},
      {"create", "leases.coordination.k8s.io", "", ns},
      {"create", "rolebindings.rbac.authorization.k8s.io", "", ns},
  };
}

TEST_F(ChartRbacTest, AllNamespacesGrantsExactlyTheTableEverywhereAndTheLeaseAtHome) {
  const std::string release_ns = agentrollout::testing::CreateTestNamespace();
  const std::string other_ns = agentrollout::testing::CreateTestNamespace();
  Install("cw-" + release_ns.substr(release_ns.rfind('-') + 1), release_ns, {});

  ExpectAllowed(WatchedNamespaceAccess(other_ns));
  ExpectAllowed({{"list", "agentrollouts.rollouts.agentops.dev", "", ""},
                 {"watch", "agentrollouts.rollouts.agentops.dev", "", ""},
                 {"list", "configmaps", "", ""}});
  ExpectForbidden(NeverAllowed(other_ns));
  ExpectForbidden({{"list", "secrets", "", ""},
                   {"update", "customresourcedefinitions.apiextensions.k8s.io", "", ""},
                   {"create", "clusterrolebindings.rbac.authorization.k8s.io", "", ""}});

  // Leases: in the release namespace only, and never deleted.
  ExpectAllowed({{"get", "leases.coordination.k8s.io", "", release_ns},
                 {"create", "leases.coordination.k8s.io", "", release_ns},
                 {"update", "leases.coordination.k8s.io", "", release_ns}});
  ExpectForbidden({{"delete", "leases.coordination.k8s.io", "", release_ns},
                   {"list", "leases.coordination.k8s.io", "", release_ns},
                   {"update", "leases.coordination.k8s.io", "", other_ns}});
}

TEST_F(ChartRbacTest, OneWatchNamespaceGrantsNothingOutsideIt) {
  const std::string release_ns = agentrollout::testing::CreateTestNamespace();
  const std::string watched_ns = agentrollout::testing::CreateTestNamespace();
  const std::string other_ns = agentrollout::testing::CreateTestNamespace();
  Install("ns-" + release_ns.substr(release_ns.rfind('-') + 1), release_ns,
          {"watchNamespace=" + watched_ns});

  ExpectAllowed(WatchedNamespaceAccess(watched_ns));
  ExpectForbidden(NeverAllowed(watched_ns));
  // The whole table is refused in any other namespace and cluster-wide.
  ExpectForbidden(WatchedNamespaceAccess(other_ns));
  ExpectForbidden({{"list", "agentrollouts.rollouts.agentops.dev", "", ""},
                   {"get", "secrets", "", release_ns}});
  ExpectAllowed({{"update", "leases.coordination.k8s.io", "", release_ns}});
}

}  // namespace
}  // namespace agentrollout::gitops_test
