#include "kube/exec_credential.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "api/time.h"
#include "kube/files.h"

namespace agentrollout::kube {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kV1[] = "client.authentication.k8s.io/v1";
constexpr char kV1beta1[] = "client.authentication.k8s.io/v1beta1";

std::string Credential(std::string_view api_version, const nlohmann::json& status) {
  return nlohmann::json{{"apiVersion", api_version}, {"kind", "ExecCredential"}, {"status", status}}
      .dump();
}

TEST(ParseExecCredential, TokenWithExpiry) {
  auto parsed = ParseExecCredential(
      Credential(kV1, {{"token", "abc.def"}, {"expirationTimestamp", "2030-01-02T03:04:05Z"}}),
      kV1);
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  EXPECT_EQ(parsed->token, "abc.def");
  EXPECT_EQ(parsed->expires, *api::ParseTime("2030-01-02T03:04:05Z"));
  EXPECT_TRUE(parsed->client_cert_pem.empty());
}

TEST(ParseExecCredential, ClientCertificateWithoutExpiry) {
  auto parsed = ParseExecCredential(
      Credential(kV1beta1, {{"clientCertificateData", "-----BEGIN CERTIFICATE-----\nx\n"},
                            {"clientKeyData", "-----BEGIN PRIVATE KEY-----\ny\n"}}),
      kV1beta1);
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  EXPECT_EQ(parsed->token, "");
  EXPECT_EQ(parsed->client_cert_pem, "-----BEGIN CERTIFICATE-----\nx\n");
  EXPECT_EQ(parsed->expires, std::nullopt);
}

TEST(ParseExecCredential, RejectsHostileOrIncompleteOutput) {
  struct Case {
    std::string output;
    std::string error;
  };
  const Case cases[] = {
      {"not json", "not a JSON object"},
      {"[1]", "not a JSON object"},
      {Credential(kV1beta1, {{"token", "t"}}), "apiVersion: must be " + std::string(kV1)},
      {nlohmann::json{{"apiVersion", kV1}, {"kind", "Other"}}.dump(),
       "kind: must be ExecCredential"},
      {nlohmann::json{{"apiVersion", kV1}, {"kind", "ExecCredential"}}.dump(), "status: missing"},
      {Credential(kV1, nlohmann::json::object()), "neither token nor clientCertificateData"},
      {Credential(kV1, {{"token", 42}}), "status.token: must be a string"},
      {Credential(kV1, {{"token", "a\r\nX-Injected: 1"}}), "status.token: contains a control"},
      {Credential(kV1, {{"token", std::string(70000, 'a')}}), "status.token: longer than"},
      {Credential(kV1, {{"clientCertificateData", "-----BEGIN CERTIFICATE-----"}}),
       "status.clientKeyData: missing"},
      {Credential(kV1, {{"clientCertificateData", "abc"}, {"clientKeyData", "def"}}), "not PEM"},
      {Credential(kV1, {{"token", "t"}, {"expirationTimestamp", "tomorrow"}}),
       "status.expirationTimestamp: invalid time"},
  };
  for (const Case& c : cases) {
    auto parsed = ParseExecCredential(c.output, kV1);
    ASSERT_FALSE(parsed.ok()) << c.output;
    EXPECT_EQ(parsed.error().code(), ErrorCode::kUnauthenticated);
    EXPECT_THAT(parsed.error().message(), HasSubstr(c.error)) << c.output.substr(0, 100);
    // A credential is never echoed into a message.
    EXPECT_THAT(parsed.error().message(), Not(HasSubstr("X-Injected")));
  }
}

TEST(ExecInfo, CarriesInteractiveAndClusterInfoWhenAsked) {
  ExecConfig exec;
  exec.api_version = kV1;
  http::TlsConfig tls;
  tls.ca_pem = "hello";
  tls.server_name = "api.internal";
  auto info = nlohmann::json::parse(ExecInfo(exec, true, "https://1.2.3.4", tls));
  EXPECT_EQ(info["apiVersion"], kV1);
  EXPECT_EQ(info["kind"], "ExecCredential");
  EXPECT_EQ(info["spec"]["interactive"], true);
  EXPECT_FALSE(info["spec"].contains("cluster"));
  exec.provide_cluster_info = true;
  info = nlohmann::json::parse(ExecInfo(exec, false, "https://1.2.3.4", tls));
  EXPECT_EQ(info["spec"]["interactive"], false);
  EXPECT_EQ(info["spec"]["cluster"]["server"], "https://1.2.3.4");
  EXPECT_EQ(info["spec"]["cluster"]["certificate-authority-data"], "aGVsbG8=");
  EXPECT_EQ(info["spec"]["cluster"]["tls-server-name"], "api.internal");
}

// Plugins are shell scripts in a temporary directory; each run appends to `runs`.
class ExecCredentialSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/exec-credential-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  // A plugin printing `body` (shell, may use $RUN: the number of this run, from 1).
  std::string Plugin(const std::string& body) {
    const fs::path path = dir_ / "plugin.sh";
    std::ofstream(path) << "#!/bin/sh\necho run >> " << (dir_ / "runs").string()
                        << "\nRUN=$(wc -l < " << (dir_ / "runs").string() << ")\n"
                        << body << "\n";
    ::chmod(path.c_str(), 0755);
    return path.string();
  }

  int Runs() {
    auto text = ReadFileToString((dir_ / "runs").string());
    if (!text.ok()) return 0;
    return static_cast<int>(std::count(text->begin(), text->end(), '\n'));
  }

  ExecCredentialSource Source(const std::string& command, bool terminal = false) {
    ExecConfig exec;
    exec.api_version = kV1;
    exec.command = command;
    exec.interactive_mode = mode_;
    exec.install_hint = "install it with: brew install the-plugin";
    exec.user = "user \"eks\" of kubeconfig /k";
    ExecOptions options;
    options.clock = clock_;
    options.on_stderr = [this](std::string_view chunk) { stderr_.append(chunk); };
    options.stdin_is_terminal = [terminal] { return terminal; };
    options.timeout = std::chrono::seconds(20);
    return ExecCredentialSource(exec, "https://127.0.0.1:6443", {}, options);
  }

  fs::path dir_;
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  ExecConfig::InteractiveMode mode_ = ExecConfig::InteractiveMode::kNever;
  std::string stderr_;
};

// An ExecCredential with token tok-$RUN, expiring `seconds` after the fake clock's now.
std::string TokenScript(const std::shared_ptr<FakeClock>& clock, int seconds) {
  const std::string expires = api::FormatTime(clock->WallNow() + std::chrono::seconds(seconds));
  return std::string("printf '{\"apiVersion\":\"") + kV1 +
         "\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"tok-%s\","
         "\"expirationTimestamp\":\"" +
         expires + "\"}}' \"$RUN\"";
}

TEST_F(ExecCredentialSourceTest, CachesUntilExpiryThenRunsAgain) {
  auto source = Source(Plugin(TokenScript(clock_, 60) + "\necho from-plugin >&2"));
  EXPECT_EQ(*source.Token(), "tok-1");
  EXPECT_EQ(*source.Token(), "tok-1");
  EXPECT_EQ(Runs(), 1);
  EXPECT_EQ(stderr_, "from-plugin\n");
  clock_->Advance(std::chrono::seconds(59));
  EXPECT_EQ(*source.Token(), "tok-1");
  clock_->Advance(std::chrono::seconds(2));
  EXPECT_EQ(*source.Token(), "tok-2");
  EXPECT_EQ(Runs(), 2);
}

TEST_F(ExecCredentialSourceTest, RefreshDropsOnlyTheRejectedCredential) {
  auto source = Source(Plugin(TokenScript(clock_, 3600)));
  EXPECT_EQ(*source.Token(), "tok-1");
  EXPECT_TRUE(source.Refresh("some-older-token"));
  EXPECT_EQ(*source.Token(), "tok-1");
  EXPECT_TRUE(source.Refresh("tok-1"));
  EXPECT_EQ(*source.Token(), "tok-2");
  EXPECT_EQ(Runs(), 2);
}

TEST_F(ExecCredentialSourceTest, EnvArgsAndInteractiveFlagReachThePlugin) {
  mode_ = ExecConfig::InteractiveMode::kIfAvailable;
  // The token is built from what the plugin saw: $1, $REGION and spec.interactive.
  const std::string body =
      std::string("I=$(echo \"$KUBERNETES_EXEC_INFO\" | grep -c '\"interactive\":true')\n") +
      "printf '{\"apiVersion\":\"" + kV1 +
      "\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"%s-%s-%s\"}}' "
      "\"$1\" \"$REGION\" \"$I\"";
  ExecConfig exec;
  exec.api_version = kV1;
  exec.command = Plugin(body);
  exec.args = {"arg1"};
  exec.env = {{"REGION", "eu"}};
  exec.interactive_mode = mode_;
  ExecOptions options;
  options.stdin_is_terminal = [] { return true; };
  ExecCredentialSource interactive(exec, "https://x", {}, options);
  EXPECT_EQ(*interactive.Token(), "arg1-eu-1");
  options.stdin_is_terminal = [] { return false; };
  ExecCredentialSource batch(exec, "https://x", {}, options);
  EXPECT_EQ(*batch.Token(), "arg1-eu-0");
}

TEST_F(ExecCredentialSourceTest, AlwaysInteractiveWithoutATerminalFailsWithoutRunning) {
  mode_ = ExecConfig::InteractiveMode::kAlways;
  auto source = Source(Plugin(TokenScript(clock_, 60)), /*terminal=*/false);
  auto token = source.Token();
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.error().code(), ErrorCode::kUnauthenticated);
  EXPECT_THAT(token.error().message(), HasSubstr("interactiveMode is Always"));
  EXPECT_THAT(token.error().message(), HasSubstr("not a terminal"));
  EXPECT_EQ(Runs(), 0);
}

TEST_F(ExecCredentialSourceTest, MissingCommandShowsTheInstallHint) {
  auto source = Source("agentrollout-test-no-such-auth-plugin");
  auto token = source.Token();
  ASSERT_FALSE(token.ok());
  EXPECT_THAT(token.error().message(),
              HasSubstr("executable agentrollout-test-no-such-auth-plugin not found"));
  EXPECT_THAT(token.error().message(), HasSubstr("brew install the-plugin"));
  EXPECT_THAT(token.error().message(), HasSubstr("user \"eks\" of kubeconfig /k"));
}

TEST_F(ExecCredentialSourceTest, FailingPluginIsAnErrorAndIsRunAgainNextTime) {
  auto source = Source(Plugin("echo 'token expired, run aws sso login' >&2\nexit 1"));
  auto token = source.Token();
  ASSERT_FALSE(token.ok());
  EXPECT_THAT(token.error().message(), HasSubstr("exited with status 1"));
  EXPECT_EQ(stderr_, "token expired, run aws sso login\n");
  ASSERT_FALSE(source.Token().ok());
  EXPECT_EQ(Runs(), 2);
}

}  // namespace
}  // namespace agentrollout::kube
