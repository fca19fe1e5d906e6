// The kubectl plugin as users run it: `kubectl agentrollout ...`, with the built
// kubectl-agentrollout on PATH and the cached kubectl, against a real kube-apiserver.
#include <agentrollout/flag_client.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <sstream>
#include <thread>

#include "api/test_manifest.h"
#include "api/types.h"
#include "kube/files.h"
#include "tests/kube/kube_test_support.h"

extern char** environ;

namespace agentrollout::plugin {
namespace {

using agentrollout::testing::Cluster;
using agentrollout::testing::CreateTestNamespace;
using agentrollout::testing::KubeBinDir;
using agentrollout::testing::ProcessOptions;
using agentrollout::testing::ProcessResult;
using agentrollout::testing::RunProcess;
using kube::testing::ClusterClient;
using kube::testing::Eventually;
using nlohmann::json;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

const auto* const kCluster = agentrollout::testing::RegisterClusterEnvironment();

const kube::ResourceRef kRollouts{api::kGroup, api::kVersion, api::kPlural, true};

// kubectl finds kubectl-agentrollout on PATH.
std::map<std::string, std::string> PluginEnv() {
  const char* path = std::getenv("PATH");
  return {{"PATH", std::string(AGENTROLLOUT_PLUGIN_DIR) + ":" + KubeBinDir().string() + ":" +
                       (path != nullptr ? path : "/usr/bin:/bin")},
          {"KUBECONFIG", Cluster().kubeconfig().string()}};
}

// `kubectl agentrollout ARGS...`
ProcessResult KubectlAgentrollout(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {(KubeBinDir() / "kubectl").string(), "agentrollout"};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessOptions options;
  options.env = PluginEnv();
  options.timeout = std::chrono::seconds(60);
  auto result = RunProcess(argv, options);
  EXPECT_TRUE(result.ok()) << result.error().ToString();
  return result.ok() ? *result : ProcessResult{};
}

class PluginIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = ClusterClient();
    ASSERT_NE(client_, nullptr);
    ns_ = CreateTestNamespace();
  }

  // The API.md example with its §8 status, written through the status subresource.
  void CreateVoiceAgent(const json& status) {
    json object = api::testing::VoiceAgentManifest();
    object.erase("status");
    object["metadata"] = {{"name", "voice-agent-v2"}};
    auto created = client_->Create(kRollouts, ns_, object);
    ASSERT_TRUE(created.ok()) << created.error().ToString();
    json with_status = *created;
    with_status["status"] = status;
    auto written = client_->UpdateStatus(kRollouts, ns_, with_status);
    ASSERT_TRUE(written.ok()) << written.error().ToString();
  }

  json ExampleStatus() { return api::testing::VoiceAgentManifest()["status"]; }

  kube::ClientPtr client_;
  std::string ns_;
};

TEST_F(PluginIntegration, ListShowsTheStatusWritten) {
  CreateVoiceAgent(ExampleStatus());
  ProcessResult list = KubectlAgentrollout({"list", "-n", ns_});
  ASSERT_EQ(list.exit_code, 0) << list.Describe();
  EXPECT_THAT(list.out, HasSubstr("NAME             PHASE         STEP            FLAG%   WEIGHT   "
                                  "VERDICT   AGE\n"));
  EXPECT_THAT(list.out,
              HasSubstr("voice-agent-v2   Progressing   3/5 expansion   25%     25%      Hold"));

  ProcessResult all = KubectlAgentrollout({"list", "-A"});
  ASSERT_EQ(all.exit_code, 0) << all.Describe();
  EXPECT_THAT(all.out, HasSubstr("NAMESPACE"));
  EXPECT_THAT(all.out, ContainsRegex("\n" + ns_ + " +voice-agent-v2 +Progressing +3/5 expansion"));

  ProcessResult empty = KubectlAgentrollout({"list", "-n", "default"});
  ASSERT_EQ(empty.exit_code, 0) << empty.Describe();
  EXPECT_THAT(empty.out, Not(HasSubstr("voice-agent-v2")));
}

TEST_F(PluginIntegration, StatusShowsTheGoNoGoTableWithLiveValues) {
  CreateVoiceAgent(ExampleStatus());
  // --kubeconfig instead of $KUBECONFIG, and the flags after the name.
  std::vector<std::string> argv = {(KubeBinDir() / "kubectl").string(),
                                   "agentrollout",
                                   "status",
                                   "voice-agent-v2",
                                   "--namespace",
                                   ns_,
                                   "--kubeconfig",
                                   Cluster().kubeconfig().string()};
  ProcessOptions options;
  options.env = {{"PATH", PluginEnv()["PATH"]}, {"KUBECONFIG", "/nonexistent"}};
  auto status = RunProcess(argv, options);
  ASSERT_TRUE(status.ok()) << status.error().ToString();
  ASSERT_EQ(status->exit_code, 0) << status->Describe();
  const std::string& out = status->out;
  EXPECT_THAT(out, HasSubstr("Namespace:  " + ns_ + "\n"));
  EXPECT_THAT(out, HasSubstr("Phase:      Progressing\n"));
  EXPECT_THAT(out, HasSubstr("Step:       3/5 expansion (for "));
  EXPECT_THAT(out, HasSubstr("Flag:       voice_agent_v2 at 25%\n"));
  EXPECT_THAT(out, HasSubstr("Weight:     25%\n"));
  EXPECT_THAT(out, HasSubstr("Message:    holding in expansion: latency-p95-ms 912 is not < 800"));
  EXPECT_THAT(out, HasSubstr("  METRIC                     VALUE    VERDICT   GO       NO-GO    "
                             "ABORT   MESSAGE\n"));
  EXPECT_THAT(out, HasSubstr("  error-rate                 0.0131   Go        < 0.02   > 0.05   "
                             "> 0.5\n"));
  EXPECT_THAT(out, HasSubstr("  latency-p95-ms (dry run)   912      Hold      < 800    > 1200"));
  EXPECT_THAT(out, HasSubstr("  Metric:       error-rate = 0.071, crossed > 0.05\n"));
  EXPECT_THAT(out, HasSubstr("  early-adopters   expansion        PhaseAdvanced\n"));
  EXPECT_THAT(out, HasSubstr("  Ready         False     Progressing"));
}

TEST_F(PluginIntegration, PromoteSetsTheAnnotation) {
  CreateVoiceAgent(ExampleStatus());
  ProcessResult promote = KubectlAgentrollout({"promote", "voice-agent-v2", "-n", ns_});
  ASSERT_EQ(promote.exit_code, 0) << promote.Describe();
  EXPECT_THAT(promote.out, HasSubstr(ns_ + "/voice-agent-v2: promote requested"));
  auto object = client_->Get(kRollouts, ns_, "voice-agent-v2");
  ASSERT_TRUE(object.ok()) << object.error().ToString();
  EXPECT_EQ((*object)["metadata"]["annotations"][api::kActionAnnotation], "promote");

  // status shows the pending request
  ProcessResult status = KubectlAgentrollout({"status", "voice-agent-v2", "-n", ns_});
  EXPECT_THAT(status.out, HasSubstr("Action:     promote (requested, not yet acted on)\n"));
}

TEST_F(PluginIntegration, InvalidTransitionsAreRefusedWithoutWriting) {
  json succeeded = ExampleStatus();
  succeeded["phase"] = "Succeeded";
  CreateVoiceAgent(succeeded);
  ProcessResult promote = KubectlAgentrollout({"promote", "voice-agent-v2", "-n", ns_});
  EXPECT_EQ(promote.exit_code, 1) << promote.Describe();
  EXPECT_EQ(promote.err, "error: cannot promote " + ns_ +
                             "/voice-agent-v2: nothing to promote while it is Succeeded\n");
  ProcessResult retry = KubectlAgentrollout({"retry", "voice-agent-v2", "-n", ns_});
  EXPECT_EQ(retry.exit_code, 1) << retry.Describe();
  EXPECT_THAT(retry.err, HasSubstr("retry restarts a RolledBack rollout, and it is Succeeded"));
  auto object = client_->Get(kRollouts, ns_, "voice-agent-v2");
  ASSERT_TRUE(object.ok());
  EXPECT_FALSE((*object)["metadata"].contains("annotations") &&
               (*object)["metadata"]["annotations"].contains(api::kActionAnnotation))
      << object->dump();

  ProcessResult abort = KubectlAgentrollout({"abort", "voice-agent-v2", "-n", ns_});
  EXPECT_EQ(abort.exit_code, 0) << abort.Describe() << ": abort turns a Succeeded rollout off";
}

TEST_F(PluginIntegration, UnknownRolloutFailsNamingIt) {
  for (const char* command : {"status", "promote", "retry"}) {
    ProcessResult result = KubectlAgentrollout({command, "no-such-rollout", "-n", ns_});
    EXPECT_NE(result.exit_code, 0) << command;
    EXPECT_EQ(result.err,
              "error: agentrollout \"no-such-rollout\" not found in namespace \"" + ns_ + "\"\n")
        << command;
  }
}

TEST_F(PluginIntegration, BucketMatchesTheHeaderAndTheSharedVectors) {
  auto text = kube::ReadFileToString(std::string(AGENTROLLOUT_SOURCE_DIR) +
                                     "/include/agentrollout/testdata/bucket_vectors.json");
  ASSERT_TRUE(text.ok()) << text.error().ToString();
  std::map<std::string, std::vector<std::pair<std::string, int>>> by_flag;
  const json vectors_file = json::parse(*text);
  for (const json& vector : vectors_file["bucket"]) {
    const std::string flag = vector["flagKey"];
    const std::string tenant = vector["tenantId"];
    if (flag.empty() || tenant.empty()) continue;  // not something to type on a command line
    by_flag[flag].emplace_back(tenant, vector["bucket"].get<int>());
  }
  ASSERT_FALSE(by_flag.empty());
  int rows = 0;
  for (const auto& [flag, vectors] : by_flag) {
    std::vector<std::string> args = {"bucket", flag};
    for (const auto& [tenant, bucket] : vectors) args.push_back(tenant);
    args.insert(args.end(), {"--percent", "50"});
    ProcessResult result = KubectlAgentrollout(args);
    ASSERT_EQ(result.exit_code, 0) << result.Describe();
    std::istringstream lines(result.out);
    std::string line;
    std::getline(lines, line);  // header
    EXPECT_EQ(line.substr(0, 6), "TENANT");
    for (const auto& [tenant, bucket] : vectors) {
      ASSERT_TRUE(std::getline(lines, line)) << flag << " " << tenant;
      std::istringstream cells(line);
      std::string name, printed, in;
      cells >> name >> printed >> in;
      EXPECT_EQ(name, tenant);
      EXPECT_EQ(printed, std::to_string(bucket)) << flag << " " << tenant << " (shared vector)";
      EXPECT_EQ(printed, std::to_string(flag::bucket(flag, tenant))) << flag << " " << tenant;
      EXPECT_EQ(in, bucket < 50 ? "yes" : "no") << flag << " " << tenant;
      ++rows;
    }
  }
  EXPECT_GE(rows, 30);
}

// A child whose pid the test knows, with stdout and stderr in a file.
class WatchProcess {
 public:
  WatchProcess(const std::vector<std::string>& argv, const std::string& output) : output_(output) {
    std::vector<std::string> env_strings;
    std::map<std::string, std::string> overrides = PluginEnv();
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry(*e);
      if (!overrides.contains(entry.substr(0, entry.find('=')))) env_strings.push_back(entry);
    }
    for (const auto& [name, value] : overrides) env_strings.push_back(name + "=" + value);
    std::vector<char*> envp;
    for (std::string& entry : env_strings) envp.push_back(entry.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = argv;
    std::vector<char*> c_argv;
    for (std::string& arg : args) c_argv.push_back(arg.data());
    c_argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, output.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    const int rc = posix_spawn(&pid_, c_argv[0], &actions, nullptr, c_argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    EXPECT_EQ(rc, 0) << "posix_spawn " << argv[0];
    if (rc != 0) pid_ = -1;
  }
  ~WatchProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  std::string Output() const { return agentrollout::testing::ReadFileOrEmpty(output_); }
  void Signal(int signal) const { ::kill(pid_, signal); }
  // The exit code (128 + signal when killed), or nullopt while it runs after `timeout`.
  std::optional<int> Wait(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return std::nullopt;
  }

 private:
  pid_t pid_ = -1;
  std::string output_;
};

std::size_t Count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

TEST_F(PluginIntegration, StatusQueriesPrintsTheQueriesAsTheOperatorRendersThem) {
  CreateVoiceAgent(ExampleStatus());
  ProcessResult status = KubectlAgentrollout({"status", "voice-agent-v2", "-n", ns_, "--queries"});
  ASSERT_EQ(status.exit_code, 0) << status.Describe();
  EXPECT_THAT(status.out, HasSubstr("\nQueries (phase expansion):\n  error-rate:\n    "
                                    "sum(rate(agent_requests_total{agent=\"voice\",version=\""
                                    "voice-agent-v2\",outcome=\"error\"}[5m]))\n"));
  EXPECT_THAT(status.out, Not(HasSubstr("{{canary}}")));
}

TEST_F(PluginIntegration, BucketWithRolloutHonoursThePinsOfTheLiveFlag) {
  CreateVoiceAgent(ExampleStatus());
  // The flag entry as the operator writes it (API.md §5.1): 10 %, pins.
  json entry = {{"voice_agent_v2",
                 {{"enabled", true},
                  {"percentage", 10},
                  {"enabledTenants", {"t-internal-1"}},
                  {"disabledTenants", {"t-vip-bank"}}}}};
  ASSERT_TRUE(client_
                  ->Create(kube::kConfigMaps, ns_,
                           json{{"metadata", {{"name", "feature-flags"}}},
                                {"data", {{"flags.json", entry.dump()}}}})
                  .ok());
  ASSERT_GE(flag::bucket("voice_agent_v2", "t-internal-1"), 10) << "pinned on, out by bucket";
  ProcessResult bucket =
      KubectlAgentrollout({"bucket", "voice_agent_v2", "t-internal-1", "t-vip-bank", "--rollout",
                           "voice-agent-v2", "-n", ns_});
  ASSERT_EQ(bucket.exit_code, 0) << bucket.Describe();
  EXPECT_THAT(bucket.out, HasSubstr("flag voice_agent_v2 in ConfigMap " + ns_ +
                                    "/feature-flags key flags.json: enabled at 10%, 1 pinned on, "
                                    "1 pinned off\n"));
  EXPECT_THAT(bucket.out, ContainsRegex("\nt-internal-1 +[0-9]+ +on +yes\n"));
  EXPECT_THAT(bucket.out, ContainsRegex("\nt-vip-bank +[0-9]+ +off +no\n"));

  ProcessResult wrong = KubectlAgentrollout(
      {"bucket", "other_flag", "t-1", "--rollout", "voice-agent-v2", "-n", ns_});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_THAT(wrong.err, HasSubstr("switches flag \"voice_agent_v2\", not \"other_flag\""));
}

TEST_F(PluginIntegration, WatchReprintsOnChangesAndEndsOnCtrlC) {
  CreateVoiceAgent(ExampleStatus());
  auto dir = agentrollout::testing::MakeTempDir("plugin-watch");
  ASSERT_TRUE(dir.ok()) << dir.error().ToString();
  WatchProcess status({(KubeBinDir() / "kubectl").string(), "agentrollout", "status",
                       "voice-agent-v2", "-n", ns_, "--watch"},
                      (*dir / "status.out").string());
  WatchProcess list({(KubeBinDir() / "kubectl").string(), "agentrollout", "list", "-n", ns_, "-w"},
                    (*dir / "list.out").string());
  ASSERT_TRUE(Eventually([&] { return Count(status.Output(), "Phase:      Progressing") == 1; }))
      << status.Output();
  ASSERT_TRUE(Eventually([&] { return Count(list.Output(), "Progressing") == 1; }))
      << list.Output();

  kube::PatchOptions subresource;
  subresource.subresource = "status";
  ASSERT_TRUE(client_
                  ->Patch(kRollouts, ns_, "voice-agent-v2", kube::PatchType::kMerge,
                          {{"status", {{"phase", "Succeeded"}, {"verdict", "Go"}}}}, subresource)
                  .ok());
  ASSERT_TRUE(Eventually([&] { return Count(status.Output(), "Phase:      Succeeded") == 1; }))
      << status.Output();
  ASSERT_TRUE(Eventually([&] { return Count(list.Output(), "Succeeded") == 1; })) << list.Output();
  EXPECT_EQ(Count(list.Output(), "NAME "), 2u) << "the table again after the change";

  status.Signal(SIGINT);
  list.Signal(SIGINT);
  EXPECT_EQ(status.Wait(std::chrono::seconds(10)), 0) << status.Output();
  EXPECT_EQ(list.Wait(std::chrono::seconds(10)), 0) << list.Output();
}

}  // namespace
}  // namespace agentrollout::plugin
