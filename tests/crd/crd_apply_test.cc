// The AgentRollout CRD on a real kube-apiserver (hack/cluster.sh): it is established, shows
// its printer columns, accepts every valid manifest (the API.md example, examples/, the
// edge cases of testdata/valid-specs.yaml, the C++ model's encoding) and rejects every
// malformed one of testdata/invalid-specs.yaml at `kubectl apply` time with a message that
// names the field. Also the status subresource semantics the operator relies on.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "api/codec.h"
#include "tests/crd/crd_schema.h"
#include "tests/crd/model_samples.h"
#include "tests/harness/cluster.h"
#include "tests/harness/yaml_json.h"

namespace agentrollout::testing {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const auto* const kCluster = RegisterClusterEnvironment();

const std::filesystem::path kTestData = SourceDir() / "tests" / "crd" / "testdata";

json Manifest(const std::string& name, const std::string& ns, const json& spec) {
  return {{"apiVersion", "rollouts.agentops.dev/v1alpha1"},
          {"kind", "AgentRollout"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"spec", spec}};
}

ProcessResult Apply(const json& manifest) {
  return Cluster().Kubectl({"apply", "-f", "-"}, manifest.dump());
}

// `kubectl get -o json` of one AgentRollout.
json Get(const std::string& ns, const std::string& name) {
  auto got = Cluster().Kubectl({"get", "agentrollout", name, "-n", ns, "-o", "json"});
  EXPECT_EQ(got.exit_code, 0) << got.Describe();
  return got.exit_code == 0 ? json::parse(got.out) : json();
}

std::vector<std::string> Words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

TEST(CrdTest, IsEstablishedWithItsNamesAccepted) {
  auto got = Cluster().Kubectl(
      {"get", "crd", "agentrollouts.rollouts.agentops.dev", "-o", "jsonpath={.status.conditions}"});
  ASSERT_EQ(got.exit_code, 0) << got.Describe();
  json conditions = json::parse(got.out);
  std::vector<std::string> true_conditions;
  for (const auto& c : conditions) {
    if (c["status"] == "True") true_conditions.push_back(c["type"]);
  }
  EXPECT_THAT(true_conditions, ::testing::IsSupersetOf({"Established", "NamesAccepted"}));
}

TEST(CrdTest, ClientSideDryRunParsesTheCrdDirectory) {
  auto got =
      Cluster().Kubectl({"apply", "--dry-run=client", "-f", (SourceDir() / "crds").string()});
  ASSERT_EQ(got.exit_code, 0) << got.Describe();
  EXPECT_THAT(got.out, HasSubstr("agentrollouts.rollouts.agentops.dev"));
}

TEST(CrdTest, ShortNameAndCategoryListTheResource) {
  const std::string ns = CreateTestNamespace();
  ASSERT_EQ(Apply(Manifest("listed", ns, json::parse(R"({"flag": {"key": "f",
      "configMap": {"name": "flags"}}, "phases": [{"name": "a", "flagPercent": 10}]})")))
                .exit_code,
            0);
  for (const std::string resource : {"aro", "rollouts", "agentrollout", "agentrollouts"}) {
    auto got = Cluster().Kubectl({"get", resource, "-n", ns, "-o", "name"});
    EXPECT_EQ(got.exit_code, 0) << resource << ": " << got.Describe();
    EXPECT_THAT(got.out, HasSubstr("agentrollout.rollouts.agentops.dev/listed")) << resource;
  }
}

TEST(CrdTest, GetShowsThePrinterColumns) {
  const std::string ns = CreateTestNamespace();
  auto created = Apply(Manifest("columns", ns, json::parse(R"({"flag": {"key": "f",
      "configMap": {"name": "flags"}}, "phases": [{"name": "canary", "flagPercent": 5},
      {"name": "expansion", "flagPercent": 25}]})")));
  ASSERT_EQ(created.exit_code, 0) << created.Describe();
  json status = {{"status",
                  {{"phase", "Progressing"},
                   {"currentPhase",
                    {{"index", 1},
                     {"name", "expansion"},
                     {"startedAt", "2026-11-22T10:00:00Z"},
                     {"flagPercent", 25},
                     {"trafficWeight", 0}}},
                   {"verdict", "Hold"},
                   {"message", "holding in expansion: latency 912 is not < 800"}}}};
  auto patched = Cluster().Kubectl({"patch", "aro", "columns", "-n", ns, "--subresource=status",
                                    "--type=merge", "-p", status.dump()});
  ASSERT_EQ(patched.exit_code, 0) << patched.Describe();

  auto table = Cluster().Kubectl({"get", "aro", "-n", ns});
  ASSERT_EQ(table.exit_code, 0) << table.Describe();
  std::istringstream lines(table.out);
  std::string header, row;
  std::getline(lines, header);
  std::getline(lines, row);
  EXPECT_THAT(Words(header),
              ElementsAre("NAME", "PHASE", "STEP", "FLAG%", "WEIGHT", "VERDICT", "AGE"));
  auto cells = Words(row);
  ASSERT_EQ(cells.size(), 7u) << row;
  EXPECT_THAT(std::vector<std::string>(cells.begin(), cells.begin() + 6),
              ElementsAre("columns", "Progressing", "expansion", "25", "0", "Hold"));

  auto wide = Cluster().Kubectl({"get", "aro", "-n", ns, "-o", "wide"});
  ASSERT_EQ(wide.exit_code, 0) << wide.Describe();
  EXPECT_THAT(Words(wide.out.substr(0, wide.out.find('\n'))),
              ElementsAre("NAME", "PHASE", "STEP", "FLAG%", "WEIGHT", "VERDICT", "AGE", "MESSAGE"));
  EXPECT_THAT(wide.out, HasSubstr("holding in expansion: latency 912 is not < 800"));
}

TEST(CrdTest, AcceptsTheApiExample) {
  auto documents = LoadYamlDocuments(kTestData / "api-example.yaml");
  ASSERT_TRUE(documents.ok()) << documents.error().ToString();
  ASSERT_EQ(documents->size(), 1u);
  json manifest = documents->front();
  const std::string ns = CreateTestNamespace();
  manifest["metadata"]["namespace"] = ns;
  auto applied = Apply(manifest);
  ASSERT_EQ(applied.exit_code, 0) << applied.Describe();
  // Stored with the schema's defaults filled in.
  json stored = Get(ns, "voice-agent-v2");
  EXPECT_EQ(stored["spec"]["analysis"]["noData"], "hold");
  EXPECT_EQ(stored["spec"]["phases"][0]["approval"], false);
  EXPECT_EQ(stored["spec"]["phases"][4]["duration"], "0");
  EXPECT_FALSE(stored["spec"]["phases"][0].contains("status"));
  // ...which the model decodes to the same rollout as the manifest as written.
  auto as_written = api::DecodeSpec(manifest["spec"]);
  auto as_stored = api::DecodeSpec(stored["spec"]);
  ASSERT_TRUE(as_written.ok()) << as_written.error().ToString();
  ASSERT_TRUE(as_stored.ok()) << as_stored.error().ToString();
  EXPECT_EQ(*as_written, *as_stored);
}

// Every AgentRollout the project ships under examples/ (applied into a test namespace).
TEST(CrdTest, AcceptsEveryExample) {
  const std::filesystem::path examples = SourceDir() / "examples";
  if (!std::filesystem::is_directory(examples)) GTEST_SKIP() << "no examples/ directory yet";
  const std::string ns = CreateTestNamespace();
  int applied = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(examples)) {
    const auto ext = entry.path().extension();
    if (!entry.is_regular_file() || (ext != ".yaml" && ext != ".yml")) continue;
    auto documents = LoadYamlDocuments(entry.path());
    ASSERT_TRUE(documents.ok()) << documents.error().ToString();
    for (json document : *documents) {
      if (document.value("kind", "") != "AgentRollout") continue;
      document["metadata"]["namespace"] = ns;
      auto result = Apply(document);
      EXPECT_EQ(result.exit_code, 0) << entry.path() << ": " << result.Describe();
      ++applied;
    }
  }
  EXPECT_GT(applied, 0) << "examples/ holds no AgentRollout";
}

// What the operator's encoder writes is what the CRD accepts (spec and status).
TEST(CrdTest, AcceptsTheModelsEncoding) {
  const std::string ns = CreateTestNamespace();
  int i = 0;
  for (const auto& spec :
       {FullSpec(), WithIstio(FullSpec()), WithReplicas(FullSpec()), WithPostgresRows(FullSpec()),
        WithPostgresDocument(FullSpec()), WithDeploymentEnv(FullSpec())}) {
    const std::string name = "encoded-" + std::to_string(i++);
    auto created = Apply(Manifest(name, ns, api::EncodeSpec(spec)));
    ASSERT_EQ(created.exit_code, 0) << created.Describe();
    json status = {{"status", api::EncodeStatus(FullStatus())}};
    auto patched = Cluster().Kubectl({"patch", "aro", name, "-n", ns, "--subresource=status",
                                      "--type=merge", "-p", status.dump()});
    ASSERT_EQ(patched.exit_code, 0) << patched.Describe();
    auto decoded = api::DecodeAgentRollout(Get(ns, name));
    ASSERT_TRUE(decoded.ok()) << decoded.error().ToString();
    EXPECT_EQ(decoded->spec, spec);
    EXPECT_EQ(decoded->status, FullStatus()) << "the apiserver pruned or changed a status field";
  }
}

// GitOps tools that apply server-side (Flux, Argo CD with ServerSideApply=true) must get
// the phases exactly as the manifest writes them: a phase inserted in the middle lands in
// its place, a dropped phase is gone, order is kept. The lists are atomic on purpose: keyed
// lists (x-kubernetes-list-type: map) would merge by name, but their per-entry managedFields
// made every AgentRollout a third bigger in etcd and in the apiserver (docs/benchmarks.md).
TEST(CrdTest, ServerSideApplyKeepsThePhasesAsTheManifestWritesThem) {
  const std::string ns = CreateTestNamespace();
  const auto apply = [&](const std::vector<std::pair<std::string, int>>& phases) {
    json spec = {{"flag", {{"key", "f"}, {"configMap", {{"name", "flags"}}}}},
                 {"phases", json::array()}};
    for (const auto& [name, percent] : phases) {
      spec["phases"].push_back({{"name", name}, {"flagPercent", percent}});
    }
    auto applied =
        Cluster().Kubectl({"apply", "--server-side", "--field-manager=gitops", "-f", "-"},
                          Manifest("ssa", ns, spec).dump());
    EXPECT_EQ(applied.exit_code, 0) << applied.Describe();
    std::vector<std::pair<std::string, int>> stored;
    const json stored_phases =
        Get(ns, "ssa").value("spec", json::object()).value("phases", json::array());
    for (const json& phase : stored_phases) {
      stored.emplace_back(phase.value("name", ""), phase.value("flagPercent", -1));
    }
    return stored;
  };
  const std::vector<std::pair<std::string, int>> three = {
      {"canary", 5}, {"half", 50}, {"all", 100}};
  EXPECT_EQ(apply(three), three);
  const std::vector<std::pair<std::string, int>> inserted = {
      {"canary", 5}, {"early", 20}, {"half", 50}, {"all", 100}};
  EXPECT_EQ(apply(inserted), inserted);
  const std::vector<std::pair<std::string, int>> dropped = {{"canary", 10}, {"all", 100}};
  EXPECT_EQ(apply(dropped), dropped);
}

// ---------------------------------------------------------------- table-driven cases

struct SpecCase {
  std::string name;
  json spec;
  std::vector<std::string> expect;  // invalid cases only
};

std::vector<SpecCase> LoadCases(const std::string& file) {
  std::vector<SpecCase> cases;
  auto documents = LoadYamlDocuments(kTestData / file);
  if (!documents.ok() || documents->size() != 1) {
    ADD_FAILURE() << "cannot load " << file;
    return cases;
  }
  for (const auto& item : documents->front()) {
    SpecCase c{item.at("name"), item.at("spec"), {}};
    for (const auto& e : item.value("expect", json::array())) c.expect.push_back(e);
    cases.push_back(std::move(c));
  }
  return cases;
}

std::string CaseName(const ::testing::TestParamInfo<SpecCase>& info) {
  std::string out;
  for (char c : info.param.name) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

class ValidSpecTest : public ::testing::TestWithParam<SpecCase> {};

TEST_P(ValidSpecTest, IsAccepted) {
  const std::string ns = CreateTestNamespace();
  auto result = Apply(Manifest(GetParam().name, ns, GetParam().spec));
  EXPECT_EQ(result.exit_code, 0) << result.Describe();
  // The model agrees the spec is well-formed field by field.
  auto decoded = api::DecodeSpec(Get(ns, GetParam().name)["spec"]);
  EXPECT_TRUE(decoded.ok()) << decoded.error().ToString();
}

INSTANTIATE_TEST_SUITE_P(Crd, ValidSpecTest, ::testing::ValuesIn(LoadCases("valid-specs.yaml")),
                         CaseName);

class InvalidSpecTest : public ::testing::TestWithParam<SpecCase> {};

TEST_P(InvalidSpecTest, IsRejectedWithAMessageNamingTheField) {
  const SpecCase& c = GetParam();
  ASSERT_FALSE(c.expect.empty()) << c.name << " has no expected message";
  const std::string ns = CreateTestNamespace();
  auto result = Apply(Manifest(c.name, ns, c.spec));
  EXPECT_NE(result.exit_code, 0) << "accepted: " << c.spec.dump();
  for (const auto& expected : c.expect) {
    EXPECT_THAT(result.err, HasSubstr(expected)) << "spec: " << c.spec.dump();
  }
  auto lookup = Cluster().Kubectl({"get", "aro", c.name, "-n", ns});
  EXPECT_NE(lookup.exit_code, 0) << "the rejected object exists: " << lookup.out;
}

INSTANTIATE_TEST_SUITE_P(Crd, InvalidSpecTest, ::testing::ValuesIn(LoadCases("invalid-specs.yaml")),
                         CaseName);

TEST(InvalidSpecTableTest, HoldsAtLeastFortyCases) {
  EXPECT_GE(LoadCases("invalid-specs.yaml").size(), 40u);
}

// ---------------------------------------------------------------- status subresource

class StatusSubresourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ns_ = CreateTestNamespace();
    auto created = Apply(Manifest("sub", ns_, json::parse(R"({"flag": {"key": "f",
        "configMap": {"name": "flags"}}, "phases": [{"name": "a", "flagPercent": 10}]})")));
    ASSERT_EQ(created.exit_code, 0) << created.Describe();
  }
  ProcessResult Patch(const json& patch, bool status_subresource) {
    std::vector<std::string> args = {"patch", "aro",          "sub", "-n",
                                     ns_,     "--type=merge", "-p",  patch.dump()};
    if (status_subresource) args.push_back("--subresource=status");
    return Cluster().Kubectl(args);
  }
  std::string ns_;
};

TEST_F(StatusSubresourceTest, SpecUpdateBumpsGenerationStatusUpdateDoesNot) {
  EXPECT_EQ(Get(ns_, "sub")["metadata"]["generation"], 1);
  ASSERT_EQ(Patch({{"spec", {{"paused", true}}}}, false).exit_code, 0);
  EXPECT_EQ(Get(ns_, "sub")["metadata"]["generation"], 2);

  auto status = Patch({{"status", {{"phase", "Progressing"}, {"observedGeneration", 2}}}}, true);
  ASSERT_EQ(status.exit_code, 0) << status.Describe();
  json stored = Get(ns_, "sub");
  EXPECT_EQ(stored["metadata"]["generation"], 2);
  EXPECT_EQ(stored["status"]["phase"], "Progressing");
  EXPECT_EQ(stored["status"]["observedGeneration"], 2);
}

TEST_F(StatusSubresourceTest, StatusWrittenThroughTheMainResourceIsIgnored) {
  ASSERT_EQ(Patch({{"status", {{"phase", "Progressing"}}}}, true).exit_code, 0);
  auto patched = Patch({{"status", {{"phase", "Failed"}}}}, false);
  EXPECT_EQ(patched.exit_code, 0) << patched.Describe();
  json stored = Get(ns_, "sub");
  EXPECT_EQ(stored["status"]["phase"], "Progressing");
  EXPECT_EQ(stored["metadata"]["generation"], 1);
}

TEST_F(StatusSubresourceTest, SpecWrittenThroughTheStatusSubresourceIsIgnored) {
  ASSERT_EQ(
      Patch({{"spec", {{"paused", true}}}, {"status", {{"phase", "Pending"}}}}, true).exit_code, 0);
  json stored = Get(ns_, "sub");
  EXPECT_EQ(stored["spec"]["paused"], false);
  EXPECT_EQ(stored["status"]["phase"], "Pending");
  EXPECT_EQ(stored["metadata"]["generation"], 1);
}

TEST_F(StatusSubresourceTest, StatusIsValidatedToo) {
  auto patched = Patch({{"status", {{"phase", "Sleeping"}}}}, true);
  EXPECT_NE(patched.exit_code, 0);
  EXPECT_THAT(patched.err, HasSubstr("status.phase"));
  EXPECT_THAT(patched.err, HasSubstr("Unsupported value: \"Sleeping\""));
}

}  // namespace
}  // namespace agentrollout::testing
