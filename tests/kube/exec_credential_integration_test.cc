// Kubeconfig exec credential plugins against the real kube-apiserver: a plugin script
// (written here) hands out a ServiceAccount token from the TokenRequest API; the API server
// must accept it, the plugin must run again once its credential expires, and a refused
// credential must make the client run it again and repeat the request. The script appends
// to a file on every run, so the runs are counted, not guessed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "kube/files.h"
#include "tests/kube/kube_test_support.h"

namespace agentrollout::kube {
namespace {

namespace fs = std::filesystem;
using agentrollout::testing::Cluster;
using agentrollout::testing::CreateTestNamespace;
using nlohmann::json;
using testing::ClusterClient;
using testing::ClusterConfig;

const ResourceRef kServiceAccounts{"", "v1", "serviceaccounts", true};
const ResourceRef kSelfSubjectReviews{"authentication.k8s.io", "v1", "selfsubjectreviews", false};

class ExecCredentialIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    admin_ = ClusterClient();
    ASSERT_NE(admin_, nullptr);
    ns_ = CreateTestNamespace();
    ASSERT_TRUE(
        admin_->Create(kServiceAccounts, ns_, json{{"metadata", {{"name", "deployer"}}}}).ok());
    auto token = Cluster().Kubectl({"create", "token", "deployer", "-n", ns_, "--duration=10m"});
    ASSERT_EQ(token.exit_code, 0) << token.Describe();
    char tmpl[] = "/tmp/exec-plugin-it-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::ofstream(dir_ / "good-token") << TrimSpace(token.out);
    std::ofstream(dir_ / "ca.crt") << ClusterConfig().tls.ca_pem;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  // A kubeconfig whose user logs in with bin/login.sh (a path relative to the
  // kubeconfig). The script's credential expires `lifetime_seconds` after each run; with
  // `bad-first` present, the first run hands out a token the server refuses.
  std::string WriteKubeconfig(int lifetime_seconds) {
    fs::create_directories(dir_ / "bin");
    const std::string runs = (dir_ / "runs").string();
    const fs::path script = dir_ / "bin/login.sh";
    std::ofstream(script)
        << "#!/bin/sh\n"
        << "echo run >> " << runs << "\n"
        << "RUN=$(wc -l < " << runs << ")\n"
        << "TOKEN=$(cat " << (dir_ / "good-token").string() << ")\n"
        << "if [ -f " << (dir_ / "bad-first").string()
        << " ] && [ \"$RUN\" -eq 1 ]; then TOKEN=not-a-token-the-server-knows; fi\n"
        << "case \"$KUBERNETES_EXEC_INFO\" in *'\"interactive\":false'*) ;; *) exit 9;; esac\n"
        << "EXPIRES=$(date -u -d \"+" << lifetime_seconds << " seconds\" +%Y-%m-%dT%H:%M:%SZ)\n"
        << "echo \"login.sh: run $RUN for $CLUSTER_NAME\" >&2\n"
        << "printf "
           "'{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
           "\"status\":{\"token\":\"%s\",\"expirationTimestamp\":\"%s\"}}' \"$TOKEN\" "
           "\"$EXPIRES\"\n";
    ::chmod(script.c_str(), 0755);
    const fs::path kubeconfig = dir_ / "kubeconfig";
    std::ofstream(kubeconfig) << "apiVersion: v1\nkind: Config\ncurrent-context: cloud\n"
                              << "clusters:\n- name: cloud\n  cluster:\n    server: "
                              << ClusterConfig().server << "\n    certificate-authority: ca.crt\n"
                              << "users:\n- name: deployer\n  user:\n    exec:\n"
                              << "      apiVersion: client.authentication.k8s.io/v1\n"
                              << "      command: ./bin/login.sh\n"
                              << "      env: [{name: CLUSTER_NAME, value: cloud}]\n"
                              << "      interactiveMode: Never\n"
                              << "contexts:\n- name: cloud\n  context: {cluster: cloud, user: "
                                 "deployer}\n";
    return kubeconfig.string();
  }

  ClientPtr ExecClient(const std::string& kubeconfig) {
    KubeconfigOptions options;
    options.path = kubeconfig;
    auto config = LoadKubeconfig(options);
    EXPECT_TRUE(config.ok()) << config.error().ToString();
    if (!config.ok()) return nullptr;
    ClientOptions client_options;
    client_options.exec.on_stderr = [this](std::string_view chunk) {
      plugin_stderr_.append(chunk);
    };
    auto client = NewClient(*config, client_options);
    EXPECT_TRUE(client.ok()) << client.error().ToString();
    return client.ok() ? *client : nullptr;
  }

  // Who the API server says the client is.
  std::string Username(Client& client) {
    auto review = client.Create(
        kSelfSubjectReviews, "",
        json{{"apiVersion", "authentication.k8s.io/v1"}, {"kind", "SelfSubjectReview"}});
    if (!review.ok()) return "error: " + review.error().ToString();
    return (*review)["status"]["userInfo"].value("username", "");
  }

  int Runs() {
    auto text = ReadFileToString((dir_ / "runs").string());
    return text.ok() ? static_cast<int>(std::count(text->begin(), text->end(), '\n')) : 0;
  }

  ClientPtr admin_;
  std::string ns_;
  fs::path dir_;
  std::string plugin_stderr_;
};

TEST_F(ExecCredentialIntegration, ThePluginsTokenIsAcceptedAndCachedUntilItExpires) {
  auto client = ExecClient(WriteKubeconfig(/*lifetime_seconds=*/4));
  ASSERT_NE(client, nullptr);
  const std::string deployer = "system:serviceaccount:" + ns_ + ":deployer";
  EXPECT_EQ(Username(*client), deployer);
  EXPECT_EQ(Username(*client), deployer);
  EXPECT_EQ(Runs(), 1);
  EXPECT_EQ(plugin_stderr_, "login.sh: run 1 for cloud\n");
  // Past expirationTimestamp (second precision, so up to a second early): run again.
  std::this_thread::sleep_for(std::chrono::seconds(5));
  EXPECT_EQ(Username(*client), deployer);
  EXPECT_EQ(Runs(), 2);
}

TEST_F(ExecCredentialIntegration, ARefusedTokenRunsThePluginAgainAndRepeatsTheRequest) {
  std::ofstream(dir_ / "bad-first") << "";
  auto client = ExecClient(WriteKubeconfig(/*lifetime_seconds=*/3600));
  ASSERT_NE(client, nullptr);
  // The first token is refused (401); the client runs the plugin again and the same
  // request succeeds with the second.
  auto object = client->Create(
      kSelfSubjectReviews, "",
      json{{"apiVersion", "authentication.k8s.io/v1"}, {"kind", "SelfSubjectReview"}});
  ASSERT_TRUE(object.ok()) << object.error().ToString();
  EXPECT_EQ((*object)["status"]["userInfo"]["username"],
            "system:serviceaccount:" + ns_ + ":deployer");
  EXPECT_EQ(Runs(), 2);
  // A watch works with the cached credential, no further run.
  auto watch = client->Watch(kServiceAccounts, ns_, {});
  ASSERT_FALSE(watch.ok());  // the deployer may not watch: 403, not 401
  EXPECT_EQ(watch.api_status()->code, 403);
  EXPECT_EQ(Runs(), 2);
}

TEST_F(ExecCredentialIntegration, ATokenTheServerNeverAcceptsEndsIn401AfterOneRetry) {
  std::ofstream(dir_ / "good-token") << "still-not-a-token";
  auto client = ExecClient(WriteKubeconfig(/*lifetime_seconds=*/3600));
  ASSERT_NE(client, nullptr);
  auto got = client->Get(kServiceAccounts, ns_, "deployer");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.api_status()->code, 401);
  EXPECT_EQ(Runs(), 2);  // once, and once more after the 401; never a loop
}

TEST_F(ExecCredentialIntegration, APluginsClientCertificateIsUsedForTls) {
  // The plugin hands out the cluster admin's client certificate instead of a token.
  const RestConfig admin = ClusterConfig();
  ASSERT_FALSE(admin.tls.client_cert_pem.empty());
  const fs::path credential = dir_ / "credential.json";
  std::ofstream(credential) << json{{"apiVersion", "client.authentication.k8s.io/v1beta1"},
                                    {"kind", "ExecCredential"},
                                    {"status",
                                     {{"clientCertificateData", admin.tls.client_cert_pem},
                                      {"clientKeyData", admin.tls.client_key_pem}}}}
                                   .dump();
  const fs::path script = dir_ / "cert.sh";
  std::ofstream(script) << "#!/bin/sh\necho run >> " << (dir_ / "runs").string() << "\ncat "
                        << credential.string() << "\n";
  ::chmod(script.c_str(), 0755);
  const fs::path kubeconfig = dir_ / "cert-kubeconfig";
  std::ofstream(kubeconfig) << "current-context: c\nclusters:\n- name: c\n  cluster:\n    server: "
                            << admin.server << "\n    certificate-authority: ca.crt\n"
                            << "users:\n- name: u\n  user:\n    exec:\n"
                            << "      apiVersion: client.authentication.k8s.io/v1beta1\n"
                            << "      command: " << script.string() << "\n"
                            << "contexts:\n- name: c\n  context: {cluster: c, user: u}\n";
  auto client = ExecClient(kubeconfig.string());
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(Username(*client), "agentrollout-admin");
  EXPECT_EQ(Username(*client), "agentrollout-admin");
  EXPECT_EQ(Runs(), 1);
}

}  // namespace
}  // namespace agentrollout::kube
