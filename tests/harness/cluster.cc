#include "tests/harness/cluster.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <iostream>
#include <sstream>

namespace agentrollout::testing {
namespace {

ClusterEnvironment* g_environment = nullptr;

std::string GetEnv(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

// Parses `export NAME=VALUE` lines printed by `hack/cluster.sh env` (values are %q-quoted
// only when they contain special characters, which our paths and URLs do not).
std::string EnvValue(const std::string& env_output, const std::string& name) {
  std::istringstream lines(env_output);
  std::string line;
  const std::string prefix = "export " + name + "=";
  while (std::getline(lines, line)) {
    if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
  }
  return "";
}

std::filesystem::path ClusterScript() { return SourceDir() / "hack" / "cluster.sh"; }

// Where logs of a failed run are kept: $AGENTROLLOUT_LOG_DIR, else the working directory
// (ctest runs tests in the build tree).
std::filesystem::path FailureLogDir(const std::string& what) {
  std::string base = GetEnv("AGENTROLLOUT_LOG_DIR");
  std::filesystem::path dir =
      base.empty() ? std::filesystem::current_path() : std::filesystem::path(base);
  return dir / "agentrollout-logs" / (what + "-" + std::to_string(::getpid()));
}

}  // namespace

std::filesystem::path SourceDir() {
  std::string from_env = GetEnv("AGENTROLLOUT_SOURCE_DIR");
  return from_env.empty() ? std::filesystem::path(AGENTROLLOUT_SOURCE_DIR)
                          : std::filesystem::path(from_env);
}

std::filesystem::path KubeBinDir() {
  static const std::filesystem::path dir = [] {
    auto result = RunProcess({(SourceDir() / "hack" / "kube-bins.sh").string(), "--print-dir"});
    if (!result.ok() || result->exit_code != 0) return std::filesystem::path();
    std::string out = result->out;
    while (!out.empty() && std::isspace(static_cast<unsigned char>(out.back()))) out.pop_back();
    return std::filesystem::path(out);
  }();
  return dir;
}

Status ClusterEnvironment::RunClusterScript(const std::vector<std::string>& args,
                                            std::string* out) const {
  std::vector<std::string> argv = {ClusterScript().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessOptions options;
  options.env["AGENTROLLOUT_STATE_DIR"] = state_dir_.string();
  options.timeout = std::chrono::minutes(90);  // `up` may build the binaries on a cold machine
  auto result = RunProcess(argv, options);
  if (!result.ok()) return result.error();
  if (result->exit_code != 0) {
    return Unavailable("hack/cluster.sh " + args.front() + " failed: " + result->Describe());
  }
  if (out != nullptr) *out = result->out;
  return OkStatus();
}

Status ClusterEnvironment::LoadEnv() {
  std::string env;
  if (Status s = RunClusterScript({"env"}, &env); !s.ok()) return s;
  server_url_ = EnvValue(env, "AGENTROLLOUT_APISERVER_URL");
  etcd_url_ = EnvValue(env, "AGENTROLLOUT_ETCD_URL");
  if (kubeconfig_.empty()) kubeconfig_ = EnvValue(env, "AGENTROLLOUT_KUBECONFIG");
  if (server_url_.empty() || kubeconfig_.empty()) {
    return Internal("hack/cluster.sh env printed no server URL or kubeconfig: " + env);
  }
  return OkStatus();
}

void ClusterEnvironment::SetUp() {
  std::string shared = GetEnv("AGENTROLLOUT_KUBECONFIG");
  if (mode_ == ClusterMode::kShared && !shared.empty()) {
    // The cluster of the whole ctest run; its state dir sits beside the kubeconfig.
    kubeconfig_ = shared;
    std::string state = GetEnv("AGENTROLLOUT_STATE_DIR");
    state_dir_ = state.empty() ? kubeconfig_.parent_path() : std::filesystem::path(state);
    ASSERT_TRUE(std::filesystem::exists(state_dir_ / "agentrollout-cluster"))
        << "AGENTROLLOUT_KUBECONFIG=" << shared
        << " is not in a hack/cluster.sh state directory (set AGENTROLLOUT_STATE_DIR)";
    Status loaded = LoadEnv();
    ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
    ready_ = true;
    return;
  }
  auto dir = MakeTempDir("agentrollout-cluster");
  ASSERT_TRUE(dir.ok()) << dir.error().ToString();
  state_dir_ = *dir;
  owned_ = true;
  std::vector<std::string> argv = {ClusterScript().string(), "up"};
  ProcessOptions options;
  options.env["AGENTROLLOUT_STATE_DIR"] = state_dir_.string();
  options.env["AGENTROLLOUT_CLUSTER_OWNER_PID"] = std::to_string(::getpid());
  options.timeout = std::chrono::minutes(90);
  auto up = RunProcess(argv, options);
  ASSERT_TRUE(up.ok()) << up.error().ToString();
  ASSERT_EQ(up->exit_code, 0) << "hack/cluster.sh up failed: " << up->Describe();
  Status loaded = LoadEnv();
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  ready_ = true;
}

void ClusterEnvironment::TearDown() {
  if (!owned_) return;
  const auto* unit = ::testing::UnitTest::GetInstance();
  std::vector<std::string> args = {"down"};
  if (unit->failed_test_count() > 0 || unit->ad_hoc_test_result().Failed()) {
    std::filesystem::path logs = FailureLogDir("cluster");
    args.insert(args.end(), {"--keep-logs", logs.string()});
    std::cerr << "[cluster] a test failed; etcd and kube-apiserver logs kept in " << logs << "\n";
  }
  Status down = RunClusterScript(args);
  EXPECT_TRUE(down.ok()) << down.error().ToString();
  std::vector<pid_t> left = ProcessesMentioning(state_dir_.string());
  EXPECT_TRUE(left.empty()) << left.size() << " process(es) of cluster " << state_dir_
                            << " still run after down, first pid " << left.front();
  ready_ = false;
}

ProcessResult ClusterEnvironment::Kubectl(const std::vector<std::string>& args,
                                          const std::string& stdin_data,
                                          std::chrono::milliseconds timeout) const {
  std::vector<std::string> argv = {(KubeBinDir() / "kubectl").string(), "--kubeconfig",
                                   kubeconfig_.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessOptions options;
  options.stdin_data = stdin_data;
  options.timeout = timeout;
  auto result = RunProcess(argv, options);
  if (!result.ok()) {
    ProcessResult failed;
    failed.err = result.error().ToString();
    return failed;
  }
  return *std::move(result);
}

Status ClusterEnvironment::StopApiserver() const { return RunClusterScript({"stop-apiserver"}); }
Status ClusterEnvironment::StartApiserver() const { return RunClusterScript({"start-apiserver"}); }
Status ClusterEnvironment::RestartApiserver() const {
  return RunClusterScript({"restart-apiserver"});
}

Result<long long> ClusterEnvironment::CompactEtcd() const {
  std::string out;
  if (Status s = RunClusterScript({"compact-etcd"}, &out); !s.ok()) return s.error();
  try {
    return std::stoll(out);
  } catch (const std::exception&) {
    return Internal("hack/cluster.sh compact-etcd printed no revision: " + out);
  }
}

ClusterEnvironment* RegisterClusterEnvironment(ClusterMode mode) {
  if (g_environment == nullptr) {
    g_environment = new ClusterEnvironment(mode);
    ::testing::AddGlobalTestEnvironment(g_environment);  // gtest owns it
  }
  return g_environment;
}

ClusterEnvironment& Cluster() {
  if (g_environment == nullptr || !g_environment->ready()) {
    // A failed environment SetUp already skips every test, so this is a wiring mistake.
    std::cerr << "no cluster: call RegisterClusterEnvironment() in the test binary\n";
    std::abort();
  }
  return *g_environment;
}

std::string CreateTestNamespace() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string base = info != nullptr ? std::string(info->test_suite_name()) + "-" + info->name()
                                     : std::string("test");
  std::string name;
  for (char c : base) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) {
      name += static_cast<char>(std::tolower(u));
    } else if (!name.empty() && name.back() != '-') {
      name += '-';
    }
  }
  // Unique per run: several binaries (and reruns) share one cluster.
  static int created_in_this_process = 0;
  std::string suffix =
      "-" + std::to_string(::getpid()) + "-" + std::to_string(++created_in_this_process);
  name = name.substr(0, 63 - suffix.size());
  while (!name.empty() && name.back() == '-') name.pop_back();
  name += suffix;
  auto created = Cluster().Kubectl({"create", "namespace", name});
  EXPECT_EQ(created.exit_code, 0) << "kubectl create namespace " << name << ": "
                                  << created.Describe();
  return name;
}

}  // namespace agentrollout::testing
