#include "kube/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace agentrollout::kube {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// "hello" and friends in base64.
constexpr char kCaPem[] = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
constexpr char kCaB64[] =
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkNBCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K";
constexpr char kCertB64[] = "Y2VydA==";  // "cert"
constexpr char kKeyB64[] = "a2V5";       // "key"

class KubeconfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kubeconfig-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ::unsetenv("KUBECONFIG");
    ::unsetenv("KUBERNETES_SERVICE_HOST");
    ::unsetenv("KUBERNETES_SERVICE_PORT");
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
    ::unsetenv("KUBECONFIG");
    ::unsetenv("KUBERNETES_SERVICE_HOST");
    ::unsetenv("KUBERNETES_SERVICE_PORT");
  }

  std::string Write(const std::string& relative, const std::string& content) {
    fs::path path = dir_ / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << content;
    return path.string();
  }

  Result<RestConfig> Load(const std::string& path, const std::string& context = "") {
    KubeconfigOptions options;
    options.path = path;
    options.context = context;
    return LoadKubeconfig(options);
  }

  fs::path dir_;
};

std::string Kubeconfig(const std::string& users, const std::string& extra_contexts = "") {
  return std::string(R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: )") +
         kCaB64 + R"(
contexts:
- name: dev
  context:
    cluster: local
    user: admin
    namespace: team-a
)" + extra_contexts +
         "users:\n" + users;
}

TEST_F(KubeconfigTest, ReadsInlineDataAndCurrentContext) {
  const std::string path = Write("config", Kubeconfig(std::string(R"(- name: admin
  user:
    client-certificate-data: )") + kCertB64 + R"(
    client-key-data: )" + kKeyB64 + "\n"));
  auto config = Load(path);
  ASSERT_TRUE(config.ok()) << config.error().ToString();
  EXPECT_EQ(config->server, "https://127.0.0.1:6443");
  EXPECT_EQ(config->tls.ca_pem, kCaPem);
  EXPECT_EQ(config->tls.client_cert_pem, "cert");
  EXPECT_EQ(config->tls.client_key_pem, "key");
  EXPECT_FALSE(config->tls.insecure_skip_verify);
  EXPECT_EQ(config->namespace_, "team-a");
  EXPECT_EQ(config->bearer_token, "");
  EXPECT_THAT(config->source, HasSubstr("context \"dev\""));
}

TEST_F(KubeconfigTest, ResolvesFilePathsRelativeToTheKubeconfig) {
  Write("certs/ca.crt", kCaPem);
  Write("certs/client.crt", "CERT");
  Write("certs/client.key", "KEY");
  Write("token", "  file-token\n");
  const std::string path = Write("sub/../config", R"(clusters:
- name: c
  cluster:
    server: https://kube.example:443
    certificate-authority: certs/ca.crt
    tls-server-name: kubernetes
users:
- name: u
  user:
    client-certificate: certs/client.crt
    client-key: )" + (dir_ / "certs/client.key").string() +
                                                      R"(
    tokenFile: token
contexts:
- name: ctx
  context: {cluster: c, user: u}
current-context: ctx
)");
  auto config = Load(path);
  ASSERT_TRUE(config.ok()) << config.error().ToString();
  EXPECT_EQ(config->tls.ca_pem, kCaPem);
  EXPECT_EQ(config->tls.client_cert_pem, "CERT");
  EXPECT_EQ(config->tls.client_key_pem, "KEY");
  EXPECT_EQ(config->tls.server_name, "kubernetes");
  EXPECT_EQ(config->bearer_token, "file-token");
  EXPECT_EQ(config->bearer_token_file, (dir_ / "token").string());
  EXPECT_EQ(config->namespace_, "default");
}

TEST_F(KubeconfigTest, NamedContextTokenAndInsecure) {
  const std::string path = Write("config", R"(current-context: a
clusters:
- name: one
  cluster: {server: "https://one:6443"}
- name: two
  cluster: {server: "two.example:8443", insecure-skip-tls-verify: true}
users:
- name: bot
  user: {token: s3cret}
contexts:
- name: a
  context: {cluster: one}
- name: b
  context: {cluster: two, user: bot, namespace: ops}
)");
  auto a = Load(path);
  ASSERT_TRUE(a.ok()) << a.error().ToString();
  EXPECT_EQ(a->server, "https://one:6443");
  EXPECT_EQ(a->bearer_token, "");
  auto b = Load(path, "b");
  ASSERT_TRUE(b.ok()) << b.error().ToString();
  EXPECT_EQ(b->server, "https://two.example:8443");  // no scheme: https, as kubectl does
  EXPECT_TRUE(b->tls.insecure_skip_verify);
  EXPECT_EQ(b->bearer_token, "s3cret");
  EXPECT_EQ(b->namespace_, "ops");
}

TEST_F(KubeconfigTest, MissingFile) {
  const std::string path = (dir_ / "nope").string();
  auto config = Load(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(config.error().message(),
            "kubeconfig " + path + ": cannot read " + path + ": No such file or directory");
}

TEST_F(KubeconfigTest, UnknownContext) {
  const std::string path = Write("config", Kubeconfig("- name: admin\n  user: {token: t}\n"));
  auto config = Load(path, "prod");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().message(), "kubeconfig " + path + ": context \"prod\" not found");
}

TEST_F(KubeconfigTest, BadBase64) {
  const std::string path = Write("config", Kubeconfig(R"(- name: admin
  user:
    client-certificate-data: "not*base64"
    client-key-data: a2V5
)"));
  auto config = Load(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(config.error().message(),
            "kubeconfig " + path + ": users[0].user.client-certificate-data: invalid base64");
}

TEST_F(KubeconfigTest, BadBase64LengthInCluster) {
  const std::string path = Write("config", R"(clusters:
- name: c
  cluster: {server: "https://x", certificate-authority-data: "QUJDRA="}
contexts:
- name: x
  context: {cluster: c}
current-context: x
)");
  auto config = Load(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(
      config.error().message(),
      "kubeconfig " + path + ": clusters[0].cluster.certificate-authority-data: invalid base64");
}

TEST_F(KubeconfigTest, MissingUser) {
  const std::string path =
      Write("config", Kubeconfig("- name: someone-else\n  user: {token: t}\n"));
  auto config = Load(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(
      config.error().message(),
      "kubeconfig " + path + ": context \"dev\" refers to user \"admin\", which is not defined");
}

TEST_F(KubeconfigTest, MissingCluster) {
  const std::string path = Write("config", R"(contexts:
- name: x
  context: {cluster: gone, user: u}
current-context: x
)");
  auto config = Load(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(
      config.error().message(),
      "kubeconfig " + path + ": context \"x\" refers to cluster \"gone\", which is not defined");
}

TEST_F(KubeconfigTest, MissingServerAndCurrentContext) {
  const std::string no_server = Write("a", R"(clusters:
- name: c
  cluster: {}
contexts:
- name: x
  context: {cluster: c}
current-context: x
)");
  auto config = Load(no_server);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().message(),
            "kubeconfig " + no_server + ": clusters[0].cluster.server: missing");

  const std::string no_current = Write("b", "clusters: []\n");
  config = Load(no_current);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().message(),
            "kubeconfig " + no_current + ": no context given and current-context is not set");
}

TEST_F(KubeconfigTest, UnreadableReferencedFileNamesFieldAndPath) {
  const std::string path = Write("config", Kubeconfig(R"(- name: admin
  user:
    client-certificate: missing.crt
    client-key: missing.key
)"));
  auto config = Load(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().message(),
            "kubeconfig " + path + ": users[0].user.client-certificate: cannot read " +
                (dir_ / "missing.crt").string() + ": No such file or directory");
}

TEST_F(KubeconfigTest, RejectsMalformedYamlAndUnsupportedAuth) {
  const std::string yaml = Write("bad", "clusters: [\n");
  auto config = Load(yaml);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.error().message(), HasSubstr("kubeconfig " + yaml + ": invalid YAML"));

  const std::string half = Write("half", Kubeconfig(std::string(R"(- name: admin
  user:
    client-certificate-data: )") + kCertB64 + "\n"));
  config = Load(half);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().message(),
            "kubeconfig " + half +
                ": users[0].user.client-key-data: missing (a client certificate needs its key)");

  const std::string list = Write("list", "clusters: {a: b}\n");
  config = Load(list);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().message(), "kubeconfig " + list + ": clusters: must be a list");
}

TEST_F(KubeconfigTest, ReadsAnExecPluginAsKubectlDoes) {
  const std::string path = Write("sub/config", Kubeconfig(R"(- name: admin
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args: [eks, get-token, --cluster-name, prod]
      env:
      - {name: AWS_PROFILE, value: prod}
      - {name: EMPTY}
      installHint: "brew install awscli\n\x1b[31mred\x1b[0m"
      provideClusterInfo: true
)"));
  auto config = Load(path);
  ASSERT_TRUE(config.ok()) << config.error().ToString();
  ASSERT_TRUE(config->exec.has_value());
  const ExecConfig& exec = *config->exec;
  EXPECT_EQ(exec.api_version, "client.authentication.k8s.io/v1beta1");
  EXPECT_EQ(exec.command, "aws");
  EXPECT_EQ(exec.args, (std::vector<std::string>{"eks", "get-token", "--cluster-name", "prod"}));
  EXPECT_EQ(exec.env, (std::vector<std::pair<std::string, std::string>>{{"AWS_PROFILE", "prod"},
                                                                        {"EMPTY", ""}}));
  // v1beta1 defaults to IfAvailable; the hint loses its escape sequences.
  EXPECT_EQ(exec.interactive_mode, ExecConfig::InteractiveMode::kIfAvailable);
  EXPECT_EQ(exec.install_hint, "brew install awscli\n[31mred[0m");
  EXPECT_TRUE(exec.provide_cluster_info);
  EXPECT_EQ(exec.user, "user \"admin\" of kubeconfig " + path);
  EXPECT_EQ(config->bearer_token, "");
  EXPECT_EQ(config->tls.ca_pem, kCaPem);

  // A command with a path separator is relative to the kubeconfig's directory.
  const std::string relative = Write("sub/relative", Kubeconfig(R"(- name: admin
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./bin/login
      interactiveMode: Never
)"));
  config = Load(relative);
  ASSERT_TRUE(config.ok()) << config.error().ToString();
  EXPECT_EQ(config->exec->command, (dir_ / "sub/bin/login").string());
  EXPECT_EQ(config->exec->interactive_mode, ExecConfig::InteractiveMode::kNever);
}

TEST_F(KubeconfigTest, RejectsBadExecSectionsNamingTheField) {
  struct Case {
    std::string exec;
    std::string error;
  };
  const Case cases[] = {
      {"exec: {command: aws}", "users[0].user.exec.apiVersion: \"\" is not supported"},
      {"exec: {apiVersion: client.authentication.k8s.io/v1alpha1, command: aws}",
       "exec.apiVersion: \"client.authentication.k8s.io/v1alpha1\" is not supported"},
      {"exec: {apiVersion: client.authentication.k8s.io/v1, command: aws}",
       "exec.interactiveMode: missing (required by client.authentication.k8s.io/v1"},
      {"exec: {apiVersion: client.authentication.k8s.io/v1, command: aws, interactiveMode: Yes}",
       "exec.interactiveMode: \"Yes\" is not one of Never, IfAvailable, Always"},
      {"exec: {apiVersion: client.authentication.k8s.io/v1beta1}", "exec.command: missing"},
      {"exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: aws, args: x}",
       "exec.args: must be a list"},
      {"exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: aws, env: [{value: 1}]}",
       "exec.env[0].name: must be a variable name"},
      {"exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: aws}\n    token: t",
       "user \"admin\" of kubeconfig PATH has both exec and token; use one"},
      {"auth-provider: {name: gcp}",
       "users[0].user.auth-provider: user \"admin\" of kubeconfig PATH logs in with the legacy "
       "\"gcp\" auth-provider, which kubectl dropped in 1.26; install gke-gcloud-auth-plugin"},
      {"auth-provider: {name: azure}", "install kubelogin and run `kubelogin convert-kubeconfig`"},
      {"auth-provider: {name: oidc}", "kubelogin"},
  };
  for (const Case& c : cases) {
    const std::string path =
        Write("config", Kubeconfig("- name: admin\n  user:\n    " + c.exec + "\n"));
    auto config = Load(path);
    ASSERT_FALSE(config.ok()) << c.exec;
    std::string expected = c.error;
    if (auto at = expected.find("PATH"); at != std::string::npos) expected.replace(at, 4, path);
    EXPECT_THAT(config.error().message(), HasSubstr(expected)) << c.exec;
  }
}

TEST_F(KubeconfigTest, RefusesAProxyNamingTheCluster) {
  const std::string path = Write("config", R"(clusters:
- name: behind-proxy
  cluster: {server: https://10.0.0.1, proxy-url: http://proxy:3128}
contexts:
- name: c
  context: {cluster: behind-proxy}
current-context: c
)");
  auto config = Load(path);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.error().message(),
              HasSubstr("clusters[0].cluster.proxy-url: cluster \"behind-proxy\" of kubeconfig " +
                        path + " names a proxy; proxies are not supported"));
}

TEST_F(KubeconfigTest, KubeconfigEnvListMergesFirstWins) {
  const std::string first = Write("first", R"(current-context: from-first
contexts:
- name: from-first
  context: {cluster: shared, user: u1}
users:
- name: u1
  user: {token: first-token}
)");
  const std::string second = Write("second", R"(current-context: from-second
clusters:
- name: shared
  cluster: {server: "https://second:6443"}
users:
- name: u1
  user: {token: second-token}
contexts:
- name: from-second
  context: {cluster: shared}
)");
  const std::string list = first + ":" + (dir_ / "missing").string() + ":" + second;
  ::setenv("KUBECONFIG", list.c_str(), 1);
  auto config = LoadKubeconfig({});
  ASSERT_TRUE(config.ok()) << config.error().ToString();
  EXPECT_EQ(config->server, "https://second:6443");
  EXPECT_EQ(config->bearer_token, "first-token");  // the first definition of u1 wins
  EXPECT_THAT(config->source, HasSubstr("context \"from-first\""));

  ::setenv("KUBECONFIG", (dir_ / "none1").string().append(":/nonexistent/2").c_str(), 1);
  config = LoadKubeconfig({});
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(config.error().message(), HasSubstr("none of the files in $KUBECONFIG exist"));
}

TEST_F(KubeconfigTest, InClusterReadsServiceAccountAndBracketsIpv6) {
  InClusterOptions options;
  options.token_file = Write("sa/token", "sa-token\n");
  options.ca_file = Write("sa/ca.crt", kCaPem);
  options.namespace_file = Write("sa/namespace", "operators\n");
  ::setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
  ::setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  auto config = LoadInCluster(options);
  ASSERT_TRUE(config.ok()) << config.error().ToString();
  EXPECT_EQ(config->server, "https://10.0.0.1:443");
  EXPECT_EQ(config->bearer_token, "sa-token");
  EXPECT_EQ(config->bearer_token_file, options.token_file);
  EXPECT_EQ(config->tls.ca_pem, kCaPem);
  EXPECT_EQ(config->namespace_, "operators");

  ::setenv("KUBERNETES_SERVICE_HOST", "fd00:10::1", 1);
  config = LoadInCluster(options);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->server, "https://[fd00:10::1]:443");

  // LoadDefault picks in-cluster when no kubeconfig is named.
  auto defaulted = LoadDefault({}, options);
  ASSERT_TRUE(defaulted.ok()) << defaulted.error().ToString();
  EXPECT_EQ(defaulted->source, "in-cluster service account");
}

TEST_F(KubeconfigTest, InClusterErrors) {
  InClusterOptions options;
  options.token_file = (dir_ / "missing-token").string();
  options.ca_file = Write("ca.crt", kCaPem);
  auto config = LoadInCluster(options);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(config.error().message(), HasSubstr("KUBERNETES_SERVICE_HOST"));
  ::setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
  ::setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  config = LoadInCluster(options);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().message(), "in-cluster config: token: cannot read " +
                                          options.token_file + ": No such file or directory");
}

}  // namespace
}  // namespace agentrollout::kube
