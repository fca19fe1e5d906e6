// What Argo CD and Flux make of AgentRollouts, decided by their own code rather than by a
// re-implementation: live AgentRollouts of real rollouts (a real kube-apiserver + etcd, the
// operator process) at every phase go through
//   argocd-health  deploy/argocd/argocd-cm-patch.yaml's health Lua run by Argo CD's util/lua
//                  in gopher-lua (the application controller's code path), and
//   kstatus        sigs.k8s.io/cli-utils kstatus status.Compute (what Flux gates on),
// both built from the Go module proxy by hack/gitops-engines.sh, and the results must be
// what docs/operations.md ("GitOps") promises.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "api/names.h"
#include "api/types.h"
#include "kube/client.h"
#include "tests/harness/cluster.h"
#include "tests/harness/operator_command.h"
#include "tests/harness/process.h"
#include "tests/kube/kube_test_support.h"

namespace agentrollout {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::BackgroundProcess;
using testing::Cluster;
using ::testing::StartsWith;

const auto* const kCluster = testing::RegisterClusterEnvironment();

const kube::ResourceRef kRollouts{api::kGroup, api::kVersion, api::kPlural, true};
const kube::ResourceRef kHttpRoutes{"gateway.networking.k8s.io", "v1", "httproutes", true};

// The engines' verdict on one object.
struct Assessment {
  std::string argocd;  // Argo CD health status
  std::string argocd_message;
  std::string kstatus;  // kstatus status
};

// NAME=PATH lines of hack/gitops-engines.sh (which builds the probes on first use).
std::map<std::string, std::string> EngineBinaries() {
  testing::ProcessOptions options;
  options.timeout = std::chrono::minutes(25);  // the first build, on a loaded machine
  auto result =
      testing::RunProcess({(testing::SourceDir() / "hack/gitops-engines.sh").string()}, options);
  std::map<std::string, std::string> binaries;
  if (!result.ok() || result->exit_code != 0) {
    ADD_FAILURE() << "hack/gitops-engines.sh: "
                  << (result.ok() ? result->Describe() : result.error().ToString());
    return binaries;
  }
  std::istringstream lines(result->out);
  for (std::string line; std::getline(lines, line);) {
    const auto equals = line.find('=');
    if (equals != std::string::npos) binaries[line.substr(0, equals)] = line.substr(equals + 1);
  }
  return binaries;
}

// One JSON line of a probe's output per object fed, in order.
std::vector<json> RunProbe(const std::vector<std::string>& argv, const std::vector<json>& objects) {
  std::string input;
  for (const json& object : objects) input += object.dump() + "\n";
  testing::ProcessOptions options;
  options.stdin_data = input;
  options.timeout = 60s;
  auto result = testing::RunProcess(argv, options);
  std::vector<json> lines;
  if (!result.ok() || result->exit_code != 0) {
    ADD_FAILURE() << argv[0] << ": "
                  << (result.ok() ? result->Describe() : result.error().ToString());
    return lines;
  }
  std::istringstream out(result->out);
  for (std::string line; std::getline(out, line);) lines.push_back(json::parse(line));
  EXPECT_EQ(lines.size(), objects.size()) << result->out;
  return lines;
}

class GitopsEnginesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = kube::testing::ClusterClient();
    ASSERT_NE(client_, nullptr);
    ns_ = testing::CreateTestNamespace();
    auto dir = testing::MakeTempDir("agentrollout-gitops-engines");
    ASSERT_TRUE(dir.ok()) << dir.error().ToString();
    dir_ = *dir;
  }

  void StartOperator() {
    testing::OperatorCommand command;
    command.binary = AGENTROLLOUT_OPERATOR;
    command.kubeconfig = Cluster().kubeconfig().string();
    command.ns = ns_;
    command.pod_name = "gitops-engines";
    log_ = dir_ / "operator.log";
    auto process = BackgroundProcess::Start(testing::OperatorArgv(command), log_);
    ASSERT_TRUE(process.ok()) << process.error().ToString();
    operator_ = std::make_unique<BackgroundProcess>(std::move(*process));
    auto started = operator_->WaitForLog("serving /healthz and /readyz on port ", 20s);
    ASSERT_TRUE(started.ok()) << started.error().ToString();
  }

  void CreateRoute(const std::string& name) {
    json route = {{"apiVersion", "gateway.networking.k8s.io/v1"},
                  {"kind", "HTTPRoute"},
                  {"metadata", {{"name", name}}},
                  {"spec",
                   {{"rules",
                     {{{"backendRefs",
                        {{{"name", "stable"}, {"port", 80}, {"weight", 100}},
                         {{"name", "canary"}, {"port", 80}, {"weight", 0}}}}}}}}}};
    auto created = client_->Create(kHttpRoutes, ns_, route);
    ASSERT_TRUE(created.ok()) << created.error().ToString();
  }

  // A rollout named `name` on a route of the same name and flag key `name` in the ConfigMap
  // `flags`; without metrics, time (and promote) alone advances.
  void CreateRollout(const std::string& name, json phases, json analysis = nullptr,
                     const std::string& flags = "feature-flags") {
    json spec = {
        {"revision", "2.0.0"},
        {"flag", {{"key", name}, {"configMap", {{"name", flags}}}}},
        {"traffic",
         {{"gatewayAPI",
           {{"httpRoute", name}, {"stableBackend", "stable"}, {"canaryBackend", "canary"}}}}},
        {"phases", std::move(phases)}};
    if (!analysis.is_null()) spec["analysis"] = std::move(analysis);
    json object = {{"apiVersion", api::kApiVersion},
                   {"kind", api::kKind},
                   {"metadata", {{"name", name}}},
                   {"spec", std::move(spec)}};
    auto created = client_->Create(kRollouts, ns_, object);
    ASSERT_TRUE(created.ok()) << created.error().ToString();
  }

  // Replaces the flags document of ConfigMap `name` (data key flags.json).
  void SetFlagDocument(const std::string& name, const std::string& document) {
    auto patched = client_->Patch(kube::kConfigMaps, ns_, name, kube::PatchType::kMerge,
                                  {{"data", {{"flags.json", document}}}});
    ASSERT_TRUE(patched.ok()) << patched.error().ToString();
  }

  void Annotate(const std::string& name, const std::string& action) {
    auto result = Cluster().Kubectl({"-n", ns_, "annotate", "--overwrite", "agentrollout", name,
                                     std::string(api::kActionAnnotation) + "=" + action});
    ASSERT_EQ(result.exit_code, 0) << result.Describe();
  }

  json Live(const std::string& name) {
    auto object = client_->Get(kRollouts, ns_, name);
    return object.ok() ? *object : json::object();
  }

  static std::string PhaseOf(const json& object) {
    return object.contains("status") ? object["status"].value("phase", "") : "";
  }

  // Polls the live object until `done` holds (or 90 s pass) and keeps that object as the
  // sample of `label`.
  void Capture(const std::string& label, const std::string& name,
               const std::function<bool(const json&)>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 90s;
    json object = Live(name);
    while (!done(object) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(50ms);
      object = Live(name);
    }
    ASSERT_TRUE(done(object)) << label << ": last seen " << object.dump() << "\n"
                              << testing::ReadFileOrEmpty(log_);
    samples_.emplace_back(label, object);
  }
  void CapturePhase(const std::string& name, const std::string& phase) {
    Capture(phase, name, [&](const json& object) { return PhaseOf(object) == phase; });
  }

  // Both engines' verdicts on every sample, by label.
  std::map<std::string, Assessment> Assess() {
    const std::map<std::string, std::string> binaries = EngineBinaries();
    if (!binaries.contains("argocd-health") || !binaries.contains("kstatus")) {
      ADD_FAILURE() << "hack/gitops-engines.sh printed no argocd-health/kstatus paths";
      return {};
    }
    std::vector<json> objects;
    for (const auto& sample : samples_) objects.push_back(sample.second);
    const std::vector<json> argocd =
        RunProbe({binaries.at("argocd-health"),
                  (testing::SourceDir() / "deploy/argocd/argocd-cm-patch.yaml").string()},
                 objects);
    const std::vector<json> kstatus = RunProbe({binaries.at("kstatus")}, objects);
    std::map<std::string, Assessment> assessed;
    for (std::size_t i = 0; i < samples_.size() && i < argocd.size() && i < kstatus.size(); ++i) {
      assessed[samples_[i].first] = {argocd[i].value("status", ""), argocd[i].value("message", ""),
                                     kstatus[i].value("status", "")};
    }
    return assessed;
  }

  kube::ClientPtr client_;
  std::string ns_;
  std::filesystem::path dir_;
  std::filesystem::path log_;
  std::unique_ptr<BackgroundProcess> operator_;
  std::vector<std::pair<std::string, json>> samples_;  // label, live AgentRollout
};

TEST_F(GitopsEnginesTest, ArgoCdAndKstatusSeeEveryPhaseAsTheOperationsGuideSays) {
  StartOperator();

  // 1. Progressing, Paused, AwaitingApproval, Succeeded; then a spec edit the operator has
  //    not observed (it is stopped).
  CreateRoute("journey");
  CreateRollout(
      "journey",
      {{{"name", "canary"}, {"flagPercent", 10}, {"trafficWeight", 10}, {"duration", "10m"}},
       {{"name", "majority"},
        {"flagPercent", 50},
        {"trafficWeight", 50},
        {"duration", "1s"},
        {"approval", true}},
       {{"name", "complete"}, {"flagPercent", 100}, {"trafficWeight", 100}}});
  CapturePhase("journey", "Progressing");
  Annotate("journey", "pause");
  CapturePhase("journey", "Paused");
  Annotate("journey", "resume");
  Capture("Progressing again", "journey",
          [](const json& o) { return PhaseOf(o) == "Progressing"; });
  Annotate("journey", "promote");  // skips canary's bake
  CapturePhase("journey", "AwaitingApproval");
  Annotate("journey", "promote");  // grants majority's approval
  CapturePhase("journey", "Succeeded");

  // 2. RollingBack while the flag store refuses the write (API.md §4.8: it retries until
  //    every part has landed; the ConfigMap store never overwrites a document that is not
  //    JSON), then RolledBack once the document is fixed.
  CreateRoute("aborted");
  CreateRollout(
      "aborted",
      {{{"name", "canary"}, {"flagPercent", 10}, {"trafficWeight", 10}, {"duration", "10m"}},
       {{"name", "complete"}, {"flagPercent", 100}, {"trafficWeight", 100}}},
      nullptr, "aborted-flags");
  Capture("Progressing (aborted)", "aborted",
          [](const json& o) { return PhaseOf(o) == "Progressing"; });
  SetFlagDocument("aborted-flags", "not JSON");
  Annotate("aborted", "abort");
  CapturePhase("aborted", "RollingBack");
  SetFlagDocument("aborted-flags", "{}");
  CapturePhase("aborted", "RolledBack");

  // 3. Failed: a spec the CRD admits but the operator rejects (go and noGo overlap).
  CreateRoute("invalid");
  CreateRollout(
      "invalid",
      {{{"name", "canary"}, {"flagPercent", 10}, {"trafficWeight", 10}, {"duration", "1m"}}},
      {{"prometheus", {{"address", "http://127.0.0.1:9"}}},
       {"interval", "1s"},
       {"metrics",
        {{{"name", "error-rate"}, {"query", "vector(0)"}, {"go", "< 0.5"}, {"noGo", "> 0.05"}}}}});
  CapturePhase("invalid", "Failed");

  // 4. A spec edit not yet observed: metadata.generation ahead of status.observedGeneration.
  operator_.reset();
  auto edited = client_->Patch(kRollouts, ns_, "journey", kube::PatchType::kMerge,
                               {{"spec", {{"paused", true}}}});
  ASSERT_TRUE(edited.ok()) << edited.error().ToString();
  Capture("unobserved generation", "journey", [](const json& o) {
    return o["metadata"].value("generation", 0) > o["status"].value("observedGeneration", 0);
  });

  // docs/operations.md, "Argo CD" and "Flux".
  const std::map<std::string, std::pair<std::string, std::string>> promised = {
      {"Progressing", {"Progressing", "InProgress"}},
      {"Progressing again", {"Progressing", "InProgress"}},
      {"Progressing (aborted)", {"Progressing", "InProgress"}},
      {"Paused", {"Suspended", "InProgress"}},
      {"AwaitingApproval", {"Suspended", "InProgress"}},
      {"Succeeded", {"Healthy", "Current"}},
      {"RollingBack", {"Progressing", "InProgress"}},
      {"RolledBack", {"Degraded", "Failed"}},
      {"Failed", {"Degraded", "Failed"}},
      {"unobserved generation", {"Progressing", "InProgress"}},
  };
  const std::map<std::string, Assessment> assessed = Assess();
  ASSERT_EQ(assessed.size(), promised.size());
  for (const auto& [label, expected] : promised) {
    SCOPED_TRACE(label);
    ASSERT_TRUE(assessed.contains(label));
    const Assessment& got = assessed.at(label);
    EXPECT_EQ(got.argocd, expected.first) << got.argocd_message;
    EXPECT_EQ(got.kstatus, expected.second);
    // "The health message is PHASE (STEP): status.message."
    if (label != "unobserved generation") {
      EXPECT_THAT(got.argocd_message, StartsWith(label.substr(0, label.find(' '))));
    }
  }
}

}  // namespace
}  // namespace agentrollout
