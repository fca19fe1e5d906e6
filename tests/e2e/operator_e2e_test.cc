// The agentrollout-operator binary end to end: a real kube-apiserver + etcd
// (hack/cluster.sh), a real Prometheus scraping agentrollout-test-exporter, the operator
// started as a process per test (watching the test's namespace, electing a leader in it),
// and AgentRollouts over a ConfigMap flag store and a Gateway API HTTPRoute with
// second-long phases and a one-second analysis interval.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>

#include <array>
#include <chrono>
#include <functional>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "api/codec.h"
#include "api/names.h"
#include "api/types.h"
#include "http/transport.h"
#include "kube/client.h"
#include "kube/config.h"
#include "tests/harness/alertmanager.h"
#include "tests/harness/cluster.h"
#include "tests/harness/operator_command.h"
#include "tests/harness/postgres.h"
#include "tests/harness/process.h"
#include "tests/harness/prometheus.h"
#include "tests/harness/test_exporter.h"

namespace agentrollout {
namespace {

using namespace std::chrono_literals;
using api::RolloutPhase;
using nlohmann::json;
using testing::AlertmanagerFixture;
using testing::BackgroundProcess;
using testing::Cluster;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::PrometheusFixture;
using testing::TestExporter;

const auto* const kCluster = testing::RegisterClusterEnvironment();

const kube::ResourceRef kRollouts{api::kGroup, api::kVersion, api::kPlural, true};
const kube::ResourceRef kHttpRoutes{"gateway.networking.k8s.io", "v1", "httproutes", true};

constexpr char kRollout[] = "voice-agent-v2";
constexpr char kRoute[] = "voice-agent";
constexpr char kStable[] = "voice-agent-v1";
constexpr char kCanary[] = "voice-agent-v2";  // also the exporter's version label
constexpr char kFlag[] = "voice_agent_v2";

// API.md §1's error rate over a 5 s window ({{canary}} is the canary backend's name).
constexpr char kErrorRateQuery[] =
    "sum(rate(agent_requests_total{agent=\"voice\",version=\"{{canary}}\",outcome=\"error\"}[5s]))"
    " / sum(rate(agent_requests_total{agent=\"voice\",version=\"{{canary}}\"}[5s]))";

json Phase(const std::string& name, int percent, const std::string& duration,
           bool approval = false) {
  json phase = {{"name", name}, {"flagPercent", percent}, {"trafficWeight", percent}};
  if (!duration.empty()) phase["duration"] = duration;
  if (approval) phase["approval"] = true;
  return phase;
}

// What the operator wrote for one observation of the world.
struct Observed {
  api::AgentRolloutStatus status;
  std::optional<json> flag;   // the rollout's entry in flags.json; nullopt: no entry
  std::optional<int> canary;  // canary backend weight in the HTTPRoute
  std::optional<int> stable;  // stable backend weight
  std::string Describe() const {
    std::string text = std::string(api::Name(status.phase));
    if (status.current_phase) text += " in " + status.current_phase->name;
    text += " (" + status.message + "); flag " + (flag ? flag->dump() : "none");
    text += "; weights " + (stable ? std::to_string(*stable) : "?") + "/" +
            (canary ? std::to_string(*canary) : "?");
    return text;
  }
};

class OperatorE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto dir = testing::MakeTempDir("agentrollout-e2e");
    if (!dir.ok()) return Fail(dir.error().ToString());
    dir_ = *dir;
    auto exporter = TestExporter::Start(AGENTROLLOUT_TEST_EXPORTER, kCanary, dir_);
    if (!exporter.ok()) return Fail("exporter: " + exporter.error().ToString());
    exporter_ = std::move(*exporter);
    prometheus_ = std::make_unique<PrometheusFixture>();
    if (Status started = prometheus_->Start({exporter_->target()}); !started.ok()) {
      return Fail("prometheus: " + started.error().ToString());
    }
  }

  static void TearDownTestSuite() {
    prometheus_.reset();
    exporter_.reset();
  }

  static void Fail(const std::string& why) { setup_error_ = why; }

  void SetUp() override {
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    // A healthy canary, as Prometheus sees it over the whole rate window (an earlier test
    // of this process may have degraded it).
    ASSERT_TRUE(exporter_->Set(0, 100).ok());
    auto healthy = prometheus_->WaitForSamples(
        "(sum(rate(agent_requests_total{version=\"voice-agent-v2\",outcome=\"error\"}[5s])) == 0)"
        " and (sum(rate(agent_requests_total{version=\"voice-agent-v2\"}[5s])) > 0)",
        60s);
    ASSERT_TRUE(healthy.ok()) << healthy.error().ToString();
    kube::KubeconfigOptions kubeconfig;
    kubeconfig.path = Cluster().kubeconfig().string();
    auto config = kube::LoadKubeconfig(kubeconfig);
    ASSERT_TRUE(config.ok()) << config.error().ToString();
    auto client = kube::NewClient(*config);
    ASSERT_TRUE(client.ok()) << client.error().ToString();
    client_ = *client;
    ns_ = testing::CreateTestNamespace();
  }

  // ---- the operator process

  void StartOperator(const std::vector<std::string>& extra_args = {}) {
    const std::filesystem::path log = dir_ / ("operator-" + ns_ + ".log");
    testing::OperatorCommand command;
    command.binary = AGENTROLLOUT_OPERATOR;
    command.kubeconfig = Cluster().kubeconfig().string();
    command.ns = ns_;
    command.pod_name = "e2e";
    std::vector<std::string> args = testing::OperatorArgv(command);
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    auto process = BackgroundProcess::Start(args, log);
    ASSERT_TRUE(process.ok()) << process.error().ToString();
    operator_ = std::make_unique<BackgroundProcess>(std::move(*process));
    auto started = operator_->WaitForLog("serving /healthz and /readyz on port ", 20s);
    ASSERT_TRUE(started.ok()) << started.error().ToString();
    health_port_ = PortAfter(*started, "/readyz on port ");
    metrics_port_ = PortAfter(*started, "/metrics on port ");
    log_ = log;
  }

  static int PortAfter(const std::string& log, const std::string& text) {
    const std::regex pattern(text + "([0-9]+)");
    std::smatch match;
    return std::regex_search(log, match, pattern) ? std::stoi(match[1]) : 0;
  }

  static Result<http::Response> HttpGet(int port, const std::string& path) {
    http::ClientConfig config;
    config.base_url = "http://127.0.0.1:" + std::to_string(port);
    auto client = http::NewClient(config);
    if (!client.ok()) return client.error();
    http::Request request;
    request.target = path;
    request.timeout = 5s;
    return (*client)->Send(request);
  }

  std::string OperatorLog() const { return testing::ReadFileOrEmpty(log_); }

  // ---- objects

  void CreateRoute() {
    json route = {{"apiVersion", "gateway.networking.k8s.io/v1"},
                  {"kind", "HTTPRoute"},
                  {"metadata", {{"name", kRoute}}},
                  {"spec",
                   {{"rules",
                     {{{"backendRefs",
                        {{{"name", kStable}, {"port", 80}, {"weight", 100}},
                         {{"name", kCanary}, {"port", 80}, {"weight", 0}}}}}}}}}};
    auto created = client_->Create(kHttpRoutes, ns_, route);
    ASSERT_TRUE(created.ok()) << created.error().ToString();
  }

  json Spec(json phases, const std::string& rollback_mode = "total") const {
    return {{"revision", "2.0.0"},
            {"flag",
             {{"key", kFlag},
              {"configMap", {{"name", "feature-flags"}}},
              {"enabledTenants", {"t-internal-1"}},
              {"disabledTenants", {"t-vip-bank"}}}},
            {"traffic",
             {{"gatewayAPI",
               {{"httpRoute", kRoute}, {"stableBackend", kStable}, {"canaryBackend", kCanary}}}}},
            {"analysis",
             {{"prometheus", {{"address", prometheus_->base_url()}, {"timeout", "2s"}}},
              {"interval", "1s"},
              {"failureLimit", 0},
              {"errorLimit", 3},
              {"metrics",
               {{{"name", "error-rate"},
                 {"query", kErrorRateQuery},
                 {"go", "< 0.02"},
                 {"noGo", "> 0.05"},
                 {"abort", "> 0.9"}}}}}},
            {"rollback", {{"mode", rollback_mode}}},
            {"phases", std::move(phases)}};
  }

  void CreateRollout(json spec) {
    json object = {{"apiVersion", api::kApiVersion},
                   {"kind", api::kKind},
                   {"metadata", {{"name", kRollout}}},
                   {"spec", std::move(spec)}};
    auto created = client_->Create(kRollouts, ns_, object);
    ASSERT_TRUE(created.ok()) << created.error().ToString();
  }

  // `kubectl annotate`, as a person (or the kubectl plugin) sets a manual action.
  void Annotate(const std::string& action) {
    auto result = Cluster().Kubectl({"-n", ns_, "annotate", "--overwrite", "agentrollout", kRollout,
                                     std::string(api::kActionAnnotation) + "=" + action});
    ASSERT_EQ(result.exit_code, 0) << result.Describe();
  }

  json Rollout() {
    auto object = client_->Get(kRollouts, ns_, kRollout);
    return object.ok() ? *object : json::object();
  }

  static api::AgentRolloutStatus StatusOf(const json& rollout) {
    if (!rollout.contains("status")) return {};
    auto status = api::DecodeStatus(rollout["status"]);
    EXPECT_TRUE(status.ok()) << status.error().ToString();
    return status.ok() ? *status : api::AgentRolloutStatus{};
  }
  api::AgentRolloutStatus RolloutStatus() { return StatusOf(Rollout()); }

  static std::optional<json> FlagEntryOf(const json& config_map) {
    const json data = config_map.value("data", json::object());
    const json flags = json::parse(data.value("flags.json", "{}"), nullptr, false);
    if (!flags.is_object() || !flags.contains(kFlag)) return std::nullopt;
    return flags[kFlag];
  }
  std::optional<json> FlagEntry() {
    auto config_map = client_->Get(kube::kConfigMaps, ns_, "feature-flags");
    return config_map.ok() ? FlagEntryOf(*config_map) : std::nullopt;
  }

  // Rollout, flag ConfigMap and route as one instant saw them. Three GETs are not a
  // snapshot: the operator writes flag then route on an advance, so a flag read before the
  // write and a route read after it would show traffic ahead of the flag that never was.
  // Reading all three twice with the same resourceVersions proves each was unchanged from
  // its first read to its second, so all three held together when the third was first read.
  Observed Observe() {
    const auto read = [this] {
      std::array<json, 3> objects;
      const std::array<const kube::ResourceRef*, 3> kinds = {&kRollouts, &kube::kConfigMaps,
                                                             &kHttpRoutes};
      const std::array<std::string, 3> names = {kRollout, "feature-flags", kRoute};
      for (std::size_t i = 0; i < objects.size(); ++i) {
        auto object = client_->Get(*kinds[i], ns_, names[i]);
        objects[i] = object.ok() ? std::move(*object) : json::object();
      }
      return objects;
    };
    const auto versions = [](const std::array<json, 3>& objects) {
      std::array<std::string, 3> result;
      for (std::size_t i = 0; i < objects.size(); ++i) {
        result[i] = objects[i].value("metadata", json::object()).value("resourceVersion", "");
      }
      return result;
    };
    std::array<json, 3> objects = read();
    for (int attempt = 0; attempt < 50; ++attempt) {
      std::array<json, 3> again = read();
      const bool unchanged = versions(again) == versions(objects);
      objects = std::move(again);
      if (unchanged) break;
    }
    Observed observed;
    observed.status = StatusOf(objects[0]);
    observed.flag = FlagEntryOf(objects[1]);
    for (const json& rule :
         objects[2].value("spec", json::object()).value("rules", json::array())) {
      for (const json& ref : rule.value("backendRefs", json::array())) {
        const std::string name = ref.value("name", "");
        if (name == kCanary) observed.canary = ref.value("weight", 1);
        if (name == kStable) observed.stable = ref.value("weight", 1);
      }
    }
    return observed;
  }

  // Polls every 20 ms until `done` holds for what the operator wrote; the last observation.
  Observed WaitFor(const std::function<bool(const Observed&)>& done,
                   std::chrono::milliseconds timeout = 60s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    Observed observed = Observe();
    while (!done(observed) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);
      observed = Observe();
    }
    return observed;
  }

  static bool In(const Observed& o, RolloutPhase phase, const std::string& step = "") {
    return o.status.phase == phase &&
           (step.empty() || (o.status.current_phase && o.status.current_phase->name == step));
  }

  // Reasons of the Events about the rollout.
  std::multiset<std::string> EventReasons() {
    std::multiset<std::string> reasons;
    auto events = client_->List(kube::kEvents, ns_);
    if (!events.ok()) return reasons;
    for (const json& event : events->items) {
      if (event["involvedObject"].value("name", "") == kRollout) {
        reasons.insert(event.value("reason", ""));
      }
    }
    return reasons;
  }
  bool WaitForEvent(const std::string& reason) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (EventReasons().count(reason) == 0) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(50ms);
    }
    return true;
  }

  bool ActionAnnotationPresent() {
    const json metadata = Rollout().value("metadata", json::object());
    return metadata.contains("annotations") &&
           metadata["annotations"].contains(api::kActionAnnotation);
  }

  // Watches a rollout through `steps` (name, percent) in order. Flag and traffic are written
  // before the status that announces them, so while the status shows a phase the flag and
  // route carry its values or, mid-advance, the next phase's -- never anything else. Each
  // phase must be seen with exactly its own values at least once.
  void ExpectPhaseByPhase(const std::vector<std::pair<std::string, int>>& steps,
                          RolloutPhase final_phase) {
    std::set<std::string> verified;
    const auto deadline = std::chrono::steady_clock::now() + 90s;
    Observed o;
    while (std::chrono::steady_clock::now() < deadline) {
      o = Observe();
      for (std::size_t i = 0; o.status.current_phase && i < steps.size(); ++i) {
        if (o.status.current_phase->name != steps[i].first) continue;
        const int percent = steps[i].second;
        const int next = i + 1 < steps.size() ? steps[i + 1].second : percent;
        ASSERT_TRUE(o.flag.has_value()) << o.Describe();
        const int flag = (*o.flag)["percentage"];
        EXPECT_TRUE(flag == percent || flag == next) << o.Describe();
        EXPECT_TRUE(o.canary == percent || o.canary == next) << o.Describe();
        EXPECT_LE(o.canary.value_or(0), flag) << "traffic ahead of the flag: " << o.Describe();
        EXPECT_EQ(o.stable.value_or(0) + o.canary.value_or(0), 100) << o.Describe();
        if (flag == percent && o.canary == percent && (*o.flag)["enabled"] == true) {
          verified.insert(steps[i].first);
        }
      }
      if (verified.size() == steps.size() && In(o, final_phase, steps.back().first)) break;
      std::this_thread::sleep_for(20ms);
    }
    for (const auto& step : steps) {
      EXPECT_THAT(verified, Contains(step.first))
          << "phase " << step.first << " never seen; last: " << o.Describe() << "\n"
          << OperatorLog();
    }
    ASSERT_TRUE(In(o, final_phase, steps.back().first)) << o.Describe();
  }

  void DegradeCanary(double error_ratio) { ASSERT_TRUE(exporter_->Set(error_ratio, 100).ok()); }

  static inline std::string setup_error_;
  static inline std::filesystem::path dir_;
  static inline std::unique_ptr<TestExporter> exporter_;
  static inline std::unique_ptr<PrometheusFixture> prometheus_;

  kube::ClientPtr client_;
  std::string ns_;
  std::unique_ptr<BackgroundProcess> operator_;
  std::filesystem::path log_;
  int health_port_ = 0;
  int metrics_port_ = 0;
};

// The PostgreSQL flag store (API.md §5.3) under the real operator: a real PostgreSQL
// (hack/postgres.sh), the URI with a password in a labelled Secret, a feature_flags table.
class PostgresE2ETest : public OperatorE2ETest {
 protected:
  static void SetUpTestSuite() {
    OperatorE2ETest::SetUpTestSuite();
    postgres_ = std::make_unique<testing::PostgresFixture>();
    if (Status started = postgres_->Start(); !started.ok()) {
      return Fail("postgres: " + started.error().ToString());
    }
  }
  static void TearDownTestSuite() {
    postgres_.reset();
    OperatorE2ETest::TearDownTestSuite();
  }

  void SetUp() override {
    OperatorE2ETest::SetUp();
    admin_.reset(PQconnectdb(postgres_->uri().c_str()));
    ASSERT_EQ(PQstatus(admin_.get()), CONNECTION_OK) << PQerrorMessage(admin_.get());
    Sql("DROP TABLE IF EXISTS feature_flags; DROP ROLE IF EXISTS flag_writer;"
        "CREATE ROLE flag_writer LOGIN PASSWORD 'e2e-Pw-7781';"
        "CREATE TABLE feature_flags (name text PRIMARY KEY, enabled boolean NOT NULL DEFAULT "
        "false, percentage integer NOT NULL DEFAULT 0, enabled_tenants text[] NOT NULL DEFAULT "
        "'{}', disabled_tenants text[] NOT NULL DEFAULT '{}');"
        "GRANT SELECT, UPDATE (enabled, percentage, enabled_tenants, disabled_tenants) ON "
        "feature_flags TO flag_writer");
    const json secret = {
        {"apiVersion", "v1"},
        {"kind", "Secret"},
        {"metadata", {{"name", "flags-db"}, {"labels", {{"rollouts.agentops.dev/use", "true"}}}}},
        {"stringData", {{"url", postgres_->UriFor("flag_writer", "e2e-Pw-7781")}}}};
    auto created = client_->Create(kube::kSecrets, ns_, secret);
    ASSERT_TRUE(created.ok()) << created.error().ToString();
  }

  // The first value of `sql` on the admin connection ("" when none).
  std::string Sql(const std::string& sql) {
    std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(admin_.get(), sql.c_str()),
                                                         PQclear);
    const ExecStatusType status = PQresultStatus(result.get());
    EXPECT_TRUE(status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
        << sql << ": " << PQerrorMessage(admin_.get());
    return PQntuples(result.get()) > 0 ? PQgetvalue(result.get(), 0, 0) : "";
  }
  // "enabled percentage enabled_tenants" of the flag's row.
  std::string Row() {
    return Sql(
        "SELECT enabled::text || ' ' || percentage || ' ' || enabled_tenants::text FROM "
        "feature_flags WHERE name = 'voice_agent_v2'");
  }
  std::string WaitForRow(const std::string& want) {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    std::string row = Row();
    while (row != want && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(50ms);
      row = Row();
    }
    return row;
  }

  json PostgresSpec(json phases) const {
    json spec = Spec(std::move(phases));
    spec["flag"].erase("configMap");
    spec["flag"]["postgres"] = {{"connectionSecretRef", {{"name", "flags-db"}, {"key", "url"}}},
                                {"table", "public.feature_flags"},
                                {"keyColumn", "name"},
                                {"columns",
                                 {{"enabled", "enabled"},
                                  {"percentage", "percentage"},
                                  {"enabledTenants", "enabled_tenants"},
                                  {"disabledTenants", "disabled_tenants"}}}};
    return spec;
  }

  static inline std::unique_ptr<testing::PostgresFixture> postgres_;
  std::unique_ptr<PGconn, decltype(&PQfinish)> admin_{nullptr, PQfinish};
};

// No row yet: Ready=False, FlagTargetNotFound, nothing written (the route stays at 0).
// Once the row is inserted the rollout starts and advances; a No-Go rolls it back, the row
// at enabled false / 0 %. The password never shows in status, Events or the log.
TEST_F(PostgresE2ETest, HoldsOnAMissingRowThenAdvancesAndRollsBackInTheTable) {
  CreateRoute();
  CreateRollout(PostgresSpec({Phase("canary", 10, "2s"), Phase("half", 50, "1h")}));
  StartOperator();
  Observed held = WaitFor([](const Observed& o) {
    for (const auto& condition : o.status.conditions) {
      if (condition.type == "Ready" && condition.reason == "FlagTargetNotFound") return true;
    }
    return false;
  });
  EXPECT_THAT(held.status.message,
              HasSubstr("flag target not found: postgres table public.feature_flags: has no row "
                        "with name = \"voice_agent_v2\""))
      << held.Describe() << "\n"
      << OperatorLog();
  EXPECT_EQ(held.canary, 0) << "nothing written while the flag's row is missing";
  EXPECT_TRUE(WaitForEvent("FlagTargetNotFound"));

  Sql("INSERT INTO feature_flags (name) VALUES ('voice_agent_v2')");
  EXPECT_EQ(WaitForRow("true 50 {t-internal-1}"), "true 50 {t-internal-1}") << OperatorLog();
  Observed half =
      WaitFor([](const Observed& o) { return In(o, RolloutPhase::kProgressing, "half"); });
  EXPECT_EQ(half.canary, 50) << half.Describe();

  DegradeCanary(1.0);
  Observed rolled_back =
      WaitFor([](const Observed& o) { return o.status.phase == RolloutPhase::kRolledBack; });
  EXPECT_EQ(rolled_back.canary, 0) << rolled_back.Describe();
  EXPECT_EQ(WaitForRow("false 0 {t-internal-1}"), "false 0 {t-internal-1}") << OperatorLog();

  auto events = client_->List(kube::kEvents, ns_);
  ASSERT_TRUE(events.ok()) << events.error().ToString();
  const std::string everything = Rollout().dump() + OperatorLog() + json(events->items).dump();
  EXPECT_THAT(everything, Not(HasSubstr("e2e-Pw-7781")));
}

TEST_F(OperatorE2ETest, AdvancesPhaseByPhaseThenRollsBackFullyWhenTheErrorRateRises) {
  CreateRoute();
  CreateRollout(Spec({Phase("canary", 5, "2s"), Phase("early-adopters", 20, "2s"),
                      Phase("expansion", 50, "10m")}));
  StartOperator();
  ExpectPhaseByPhase({{"canary", 5}, {"early-adopters", 20}, {"expansion", 50}},
                     RolloutPhase::kProgressing);
  const Observed healthy =
      WaitFor([](const Observed& x) { return x.status.verdict == api::Verdict::kGo; });
  EXPECT_EQ(healthy.status.verdict, api::Verdict::kGo) << healthy.Describe();
  EXPECT_EQ((*healthy.flag)["rollout"], ns_ + "/" + kRollout);
  EXPECT_EQ((*healthy.flag)["disabledTenants"], json::array({"t-vip-bank"}));

  DegradeCanary(0.3);
  const Observed o = WaitFor([](const Observed& x) { return In(x, RolloutPhase::kRolledBack); });
  ASSERT_TRUE(In(o, RolloutPhase::kRolledBack)) << o.Describe() << "\n" << OperatorLog();
  ASSERT_TRUE(o.flag.has_value());
  EXPECT_EQ((*o.flag)["enabled"], false);
  EXPECT_EQ((*o.flag)["percentage"], 0);
  EXPECT_EQ(o.canary, 0);
  EXPECT_EQ(o.stable, 100);
  ASSERT_TRUE(o.status.rollback.has_value());
  EXPECT_EQ(o.status.rollback->metric, "error-rate");
  EXPECT_EQ(o.status.rollback->line, "> 0.05");
  EXPECT_EQ(o.status.rollback->from_phase, "expansion");
  EXPECT_FALSE(o.status.rollback->value.empty());
  EXPECT_THAT(o.status.message, HasSubstr("error-rate"));
  for (const char* reason :
       {"PhaseStarted", "PhaseAdvanced", "AnalysisNoGo", "RollingBack", "RolledBack"}) {
    EXPECT_TRUE(WaitForEvent(reason)) << reason;  // Events are sent asynchronously
  }

  // /metrics shows it: the rollout's phase gauge and the rollback by reason.
  auto metrics = HttpGet(metrics_port_, "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.error().ToString();
  EXPECT_THAT(metrics->body, HasSubstr("agentrollout_rollbacks_total{reason=\"no_go\"} 1"));
  EXPECT_THAT(metrics->body, HasSubstr("phase=\"RolledBack\"} 1"));
  EXPECT_THAT(metrics->body, HasSubstr("agentrollout_leader 1"));
}

// The value of an unlabelled counter in a /metrics text; -1 when it is not there.
double CounterValue(const std::string& metrics, const std::string& name) {
  const std::regex pattern("\n" + name + " ([0-9.e+]+)");
  std::smatch match;
  return std::regex_search(metrics, match, pattern) ? std::stod(match[1]) : -1;
}

// Verdicts counted by agentrollout_analysis_verdicts_total, every verdict summed.
double VerdictsValue(const std::string& metrics) {
  static const std::regex pattern(R"(\nagentrollout_analysis_verdicts_total\{[^}]*\} ([0-9.e+]+))");
  double sum = 0;
  for (auto it = std::sregex_iterator(metrics.begin(), metrics.end(), pattern);
       it != std::sregex_iterator(); ++it) {
    sum += std::stod((*it)[1]);
  }
  return sum;
}

// A steady rollout (one-second interval, verdict Go, error rate 0) writes its status once
// per --status-refresh-interval, not once per evaluation: counted by the operator's own
// agentrollout_status_writes_total and by the object's resourceVersion as the apiserver
// reports it.
TEST_F(OperatorE2ETest, ASteadyRolloutWritesItsStatusOncePerRefreshInterval) {
  CreateRoute();
  CreateRollout(Spec({Phase("canary", 5, "10m")}));
  StartOperator({"--status-refresh-interval", "4s"});
  const Observed go =
      WaitFor([](const Observed& x) { return x.status.verdict == api::Verdict::kGo; });
  ASSERT_EQ(go.status.verdict, api::Verdict::kGo) << go.Describe() << "\n" << OperatorLog();
  auto before = HttpGet(metrics_port_, "/metrics");
  ASSERT_TRUE(before.ok()) << before.error().ToString();
  const double writes_before = CounterValue(before->body, "agentrollout_status_writes_total");
  const double verdicts_before = VerdictsValue(before->body);
  ASSERT_GE(writes_before, 1) << before->body;

  // 13 s of one-second evaluations: every resourceVersion the object goes through.
  std::set<std::string> versions;
  std::optional<api::Timestamp> first_evaluated;
  api::AgentRolloutStatus last;
  const auto end = std::chrono::steady_clock::now() + 13s;
  while (std::chrono::steady_clock::now() < end) {
    const json object = Rollout();
    versions.insert(object["metadata"].value("resourceVersion", ""));
    auto status = api::DecodeStatus(object.value("status", json::object()));
    ASSERT_TRUE(status.ok()) << status.error().ToString();
    if (!first_evaluated) first_evaluated = status->analysis.last_evaluated;
    last = *status;
    std::this_thread::sleep_for(50ms);
  }
  auto after = HttpGet(metrics_port_, "/metrics");
  ASSERT_TRUE(after.ok()) << after.error().ToString();
  const double writes =
      CounterValue(after->body, "agentrollout_status_writes_total") - writes_before;
  const double verdicts = VerdictsValue(after->body) - verdicts_before;

  EXPECT_EQ(last.verdict, api::Verdict::kGo) << last.message;
  EXPECT_EQ(last.phase, RolloutPhase::kProgressing) << last.message;
  EXPECT_GE(verdicts, 9) << "evaluations in 13 s at a 1 s interval";
  // At most one write per 4 s (13 s: 3, 4 with the edges), and the values were refreshed.
  EXPECT_GE(writes, 2);
  EXPECT_LE(writes, 4) << "of " << verdicts << " evaluations";
  EXPECT_LE(versions.size(), 5u) << "resourceVersions seen: every write plus the first";
  EXPECT_GE(versions.size(), 2u);
  ASSERT_TRUE(first_evaluated && last.analysis.last_evaluated);
  EXPECT_GE(*last.analysis.last_evaluated - *first_evaluated, 4s);
  EXPECT_THAT(last.message, HasSubstr("analysis is Go in canary; bake ends at "));
}

// The operator's alertmanager notifications reach a real Alertmanager, whose route for the
// rollout's namespace delivers the rollback with the labels a team routes on; a retry
// resolves it.
TEST_F(OperatorE2ETest, ARollbackFiresInAlertmanagerAndARetryResolvesIt) {
  AlertmanagerFixture alertmanager;
  Status started = alertmanager.Start({"namespace=\"" + ns_ + "\""});
  ASSERT_TRUE(started.ok()) << started.error().ToString();
  CreateRoute();
  json spec = Spec({Phase("canary", 5, "2s"), Phase("expansion", 50, "10m")});
  spec["notifications"] = {{{"type", "alertmanager"}, {"url", alertmanager.base_url()}}};
  CreateRollout(spec);
  StartOperator();
  ExpectPhaseByPhase({{"canary", 5}, {"expansion", 50}}, RolloutPhase::kProgressing);
  DegradeCanary(0.3);
  const Observed o = WaitFor([](const Observed& x) { return In(x, RolloutPhase::kRolledBack); });
  ASSERT_TRUE(In(o, RolloutPhase::kRolledBack)) << o.Describe() << "\n" << OperatorLog();

  const auto firing = alertmanager.WaitForDelivery("firing", "AgentRolloutRolledBack");
  ASSERT_TRUE(firing) << json(alertmanager.deliveries()).dump(2) << "\n" << OperatorLog();
  const json alert = AlertmanagerFixture::AlertIn(*firing, "firing", "AgentRolloutRolledBack");
  EXPECT_EQ(alert["labels"], json({{"alertname", "AgentRolloutRolledBack"},
                                   {"severity", "critical"},
                                   {"namespace", ns_},
                                   {"rollout", kRollout},
                                   {"revision", "2.0.0"},
                                   {"phase", "expansion"},
                                   {"metric", "error-rate"}}));
  EXPECT_EQ(alert["annotations"]["line"], "> 0.05");
  EXPECT_THAT(alert["annotations"]["summary"].get<std::string>(),
              HasSubstr("rolled back from expansion"));
  EXPECT_EQ(alert["annotations"]["value"], o.status.rollback->value);
  // The No-Go before the rollback fired too.
  EXPECT_TRUE(alertmanager.WaitForDelivery("firing", "AgentRolloutNoGo"));

  // A retry resolves it. (The canary may fail again in its first phase - Prometheus's rate
  // window still holds the bad requests - which is another alert, phase "canary".)
  DegradeCanary(0.0);
  Annotate("retry");
  const auto resolved = alertmanager.WaitForDelivery("resolved", "AgentRolloutRolledBack");
  ASSERT_TRUE(resolved) << json(alertmanager.deliveries()).dump(2) << "\n" << OperatorLog();
  const json resolved_alert =
      AlertmanagerFixture::AlertIn(*resolved, "resolved", "AgentRolloutRolledBack");
  EXPECT_EQ(resolved_alert["labels"], alert["labels"]);
}

TEST_F(OperatorE2ETest, StepBackReturnsToThePreviousPhaseThenRollsBackFromPhaseZero) {
  CreateRoute();
  CreateRollout(Spec(
      {Phase("canary", 5, "2s"), Phase("early-adopters", 20, "2s"), Phase("expansion", 50, "10m")},
      "stepBack"));
  StartOperator();
  ExpectPhaseByPhase({{"canary", 5}, {"early-adopters", 20}, {"expansion", 50}},
                     RolloutPhase::kProgressing);

  DegradeCanary(0.3);
  // The first step back: Paused (SteppedBack) in early-adopters at its percentages.
  const Observed stepped = WaitFor([](const Observed& x) {
    return In(x, RolloutPhase::kPaused, "early-adopters") || In(x, RolloutPhase::kRolledBack);
  });
  ASSERT_TRUE(In(stepped, RolloutPhase::kPaused, "early-adopters")) << stepped.Describe();
  EXPECT_EQ(stepped.status.pause_reason, "SteppedBack");
  EXPECT_EQ(stepped.status.rollback->from_phase, "expansion");

  // Still failing: steps back again, and the trigger in phase 0 is total.
  const Observed o = WaitFor([](const Observed& x) { return In(x, RolloutPhase::kRolledBack); });
  ASSERT_TRUE(In(o, RolloutPhase::kRolledBack)) << o.Describe() << "\n" << OperatorLog();
  EXPECT_EQ((*o.flag)["enabled"], false);
  EXPECT_EQ(o.canary, 0);
  std::vector<std::string> transitions;
  for (const api::HistoryEntry& entry : o.status.history) {
    transitions.push_back(entry.from + ">" + entry.to + ":" + entry.reason);
  }
  EXPECT_THAT(transitions, Contains("expansion>early-adopters:SteppedBack"));
  EXPECT_THAT(transitions, Contains("early-adopters>canary:SteppedBack"));
  EXPECT_THAT(transitions, Contains("canary>RolledBack:RolledBack"));
}

TEST_F(OperatorE2ETest, PromoteGrantsApprovalAndTheAnnotationIsRemoved) {
  CreateRoute();
  CreateRollout(Spec(
      {Phase("canary", 10, "1s"), Phase("majority", 50, "1s", true), Phase("complete", 100, "")}));
  StartOperator();
  ExpectPhaseByPhase({{"canary", 10}, {"majority", 50}}, RolloutPhase::kAwaitingApproval);
  EXPECT_THAT(RolloutStatus().message, HasSubstr("promote"));
  ASSERT_TRUE(WaitForEvent("AwaitingApproval"));

  Annotate("promote");
  const Observed o = WaitFor([](const Observed& x) { return In(x, RolloutPhase::kSucceeded); });
  ASSERT_TRUE(In(o, RolloutPhase::kSucceeded, "complete")) << o.Describe() << "\n" << OperatorLog();
  EXPECT_EQ((*o.flag)["percentage"], 100);
  EXPECT_EQ(o.canary, 100);
  EXPECT_EQ(o.stable, 0);
  EXPECT_TRUE(WaitForEvent("Promoted"));
  EXPECT_TRUE(WaitForEvent("Succeeded"));
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (ActionAnnotationPresent() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_FALSE(ActionAnnotationPresent());
}

TEST_F(OperatorE2ETest, AbortRollsBackFullyAtOnce) {
  CreateRoute();
  CreateRollout(Spec({Phase("canary", 10, "10m"), Phase("complete", 100, "")}));
  StartOperator();
  ExpectPhaseByPhase({{"canary", 10}}, RolloutPhase::kProgressing);

  Annotate("abort");
  const Observed o = WaitFor([](const Observed& x) { return In(x, RolloutPhase::kRolledBack); });
  ASSERT_TRUE(In(o, RolloutPhase::kRolledBack)) << o.Describe() << "\n" << OperatorLog();
  EXPECT_EQ((*o.flag)["enabled"], false);
  EXPECT_EQ((*o.flag)["percentage"], 0);
  EXPECT_EQ(o.canary, 0);
  ASSERT_TRUE(o.status.rollback.has_value());
  EXPECT_THAT(o.status.rollback->reason, HasSubstr("abort"));
  EXPECT_TRUE(WaitForEvent("RolledBack"));
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (ActionAnnotationPresent() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_FALSE(ActionAnnotationPresent());
  auto metrics = HttpGet(metrics_port_, "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_THAT(metrics->body, HasSubstr("agentrollout_rollbacks_total{reason=\"manual\"} 1"));
}

TEST_F(OperatorE2ETest, SigtermFinishesAndReleasesTheLease) {
  CreateRoute();
  CreateRollout(Spec({Phase("canary", 10, "10m"), Phase("complete", 100, "")}));
  StartOperator();
  ExpectPhaseByPhase({{"canary", 10}}, RolloutPhase::kProgressing);

  auto lease = client_->Get(kube::kLeases, ns_, "agentrollout-operator");
  ASSERT_TRUE(lease.ok()) << lease.error().ToString();
  EXPECT_THAT((*lease)["spec"].value("holderIdentity", ""), ::testing::StartsWith("e2e_"));
  // Ready: the cache has synced and a leader is known.
  Result<http::Response> ready = HttpGet(health_port_, "/readyz");
  const auto ready_by = std::chrono::steady_clock::now() + 5s;
  while ((!ready.ok() || ready->status != 200) && std::chrono::steady_clock::now() < ready_by) {
    std::this_thread::sleep_for(20ms);
    ready = HttpGet(health_port_, "/readyz");
  }
  ASSERT_TRUE(ready.ok()) << ready.error().ToString();
  EXPECT_EQ(ready->status, 200) << ready->body;

  ASSERT_EQ(::kill(operator_->pid(), SIGTERM), 0);
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (operator_->Running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_FALSE(operator_->Running()) << OperatorLog();
  EXPECT_EQ(operator_->exit_code(), 0) << OperatorLog();
  EXPECT_THAT(OperatorLog(), HasSubstr("shutting down: SIGTERM"));

  lease = client_->Get(kube::kLeases, ns_, "agentrollout-operator");
  ASSERT_TRUE(lease.ok()) << lease.error().ToString();
  EXPECT_EQ((*lease)["spec"].value("holderIdentity", ""), "") << lease->dump();

  // What it wrote stays; a successor picks up from status alone.
  const Observed o = Observe();
  EXPECT_TRUE(In(o, RolloutPhase::kProgressing, "canary")) << o.Describe();
  EXPECT_EQ((*o.flag)["percentage"], 10);
}

TEST_F(OperatorE2ETest, LosingTheLeaseEndsTheProcess) {
  CreateRoute();
  CreateRollout(Spec({Phase("canary", 10, "10m"), Phase("complete", 100, "")}));
  StartOperator();
  ExpectPhaseByPhase({{"canary", 10}}, RolloutPhase::kProgressing);

  // Another candidate takes the Lease (as one would after a network partition): our
  // renewals fail for --renew-deadline (3s), and the process must stop, not keep writing.
  auto lease = client_->Get(kube::kLeases, ns_, "agentrollout-operator");
  ASSERT_TRUE(lease.ok()) << lease.error().ToString();
  json stolen = *lease;
  stolen["spec"]["holderIdentity"] = "another-replica";
  stolen["spec"]["leaseDurationSeconds"] = 600;
  auto updated = client_->Update(kube::kLeases, ns_, stolen);
  ASSERT_TRUE(updated.ok()) << updated.error().ToString();

  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (operator_->Running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_FALSE(operator_->Running()) << OperatorLog();
  EXPECT_EQ(operator_->exit_code(), 1) << OperatorLog();
  EXPECT_THAT(OperatorLog(), HasSubstr("shutting down: lost the leader-election Lease"));
  lease = client_->Get(kube::kLeases, ns_, "agentrollout-operator");
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ((*lease)["spec"].value("holderIdentity", ""), "another-replica");
}

TEST_F(OperatorE2ETest, AMissingRouteHoldsWithNothingWritten) {
  // A long bake: once started, the rollout stays in canary while the test looks (with a
  // 1s bake a loaded machine's polls could miss the phase and see it Succeeded).
  CreateRollout(Spec({Phase("canary", 10, "10m"), Phase("complete", 100, "")}));
  StartOperator();
  const Observed o = WaitFor([](const Observed& x) {
    for (const api::Condition& condition : x.status.conditions) {
      if (condition.type == "Ready" && condition.reason == "TrafficTargetNotFound") return true;
    }
    return false;
  });
  const api::Condition* ready = nullptr;
  for (const api::Condition& condition : o.status.conditions) {
    if (condition.type == "Ready") ready = &condition;
  }
  ASSERT_NE(ready, nullptr) << o.Describe() << "\n" << OperatorLog();
  EXPECT_EQ(ready->status, api::ConditionStatus::kFalse);
  EXPECT_EQ(ready->reason, "TrafficTargetNotFound") << o.Describe();
  EXPECT_THAT(o.status.message, HasSubstr(kRoute));
  EXPECT_EQ(o.status.phase, RolloutPhase::kPending);
  EXPECT_TRUE(WaitForEvent("TrafficTargetNotFound"));
  // Nothing written: no flag store object at all.
  auto config_map = client_->Get(kube::kConfigMaps, ns_, "feature-flags");
  ASSERT_FALSE(config_map.ok());
  EXPECT_TRUE(kube::IsNotFound(config_map.error()));

  // Once the route exists the rollout starts (retried with backoff; nothing watches routes).
  CreateRoute();
  const Observed started = WaitFor(
      [](const Observed& x) { return In(x, RolloutPhase::kProgressing) && x.canary == 10; }, 90s);
  EXPECT_TRUE(In(started, RolloutPhase::kProgressing)) << started.Describe();
  EXPECT_EQ(started.canary, 10);
}

// ---- the safety net is never suspended (API.md §4.8), as reported

// Reported: a rollout at phase 1 whose HTTPRoute was deleted, then whose error rate jumped
// to 30 %, kept its flag at 50 % (stepBack, failureLimit 1; the same for total).
TEST_F(OperatorE2ETest, ADeletedRouteDoesNotStopTheRollback) {
  CreateRoute();
  json spec = Spec({Phase("canary", 5, "2s"), Phase("majority", 50, "10m")}, "stepBack");
  spec["analysis"]["failureLimit"] = 1;
  CreateRollout(spec);
  StartOperator();
  ExpectPhaseByPhase({{"canary", 5}, {"majority", 50}}, RolloutPhase::kProgressing);
  ASSERT_TRUE(client_->Delete(kHttpRoutes, ns_, kRoute).ok());

  DegradeCanary(0.3);
  // Two No-Go evaluations (failureLimit 1) step back to canary: the flag goes down to 5 %
  // although the route is gone; one more in phase 0 is total.
  const Observed stepped = WaitFor([](const Observed& x) {
    return In(x, RolloutPhase::kPaused, "canary") || In(x, RolloutPhase::kRolledBack);
  });
  ASSERT_TRUE(stepped.flag.has_value()) << stepped.Describe() << "\n" << OperatorLog();
  EXPECT_TRUE(In(stepped, RolloutPhase::kPaused, "canary") ||
              In(stepped, RolloutPhase::kRolledBack))
      << stepped.Describe();
  const Observed o = WaitFor([](const Observed& x) { return In(x, RolloutPhase::kRolledBack); });
  ASSERT_TRUE(In(o, RolloutPhase::kRolledBack)) << o.Describe() << "\n" << OperatorLog();
  EXPECT_EQ((*o.flag)["enabled"], false);
  EXPECT_EQ((*o.flag)["percentage"], 0);
  ASSERT_TRUE(o.status.rollback.has_value());
  EXPECT_EQ(o.status.rollback->metric, "error-rate");
}

// Reported: an edit that passes the CRD but not the operator's validation made a live
// rollout Failed/InvalidSpec, and a breach then left flag and weight up with a stale Go.
TEST_F(OperatorE2ETest, AnInvalidEditOfALiveRolloutStillRollsBack) {
  CreateRoute();
  CreateRollout(Spec({Phase("canary", 5, "2s"), Phase("majority", 50, "10m")}));
  StartOperator();
  ExpectPhaseByPhase({{"canary", 5}, {"majority", 50}}, RolloutPhase::kProgressing);

  json patch = {
      {"spec", {{"analysis", {{"metrics", Spec(json::array())["analysis"]["metrics"]}}}}}};
  patch["spec"]["analysis"]["metrics"][0]["go"] = "< 0.5";  // overlaps noGo "> 0.05"
  auto edited = client_->Patch(kRollouts, ns_, kRollout, kube::PatchType::kMerge, patch);
  ASSERT_TRUE(edited.ok()) << edited.error().ToString();
  const Observed held = WaitFor([](const Observed& x) {
    for (const api::Condition& condition : x.status.conditions) {
      if (condition.type == "Ready" && condition.reason == "InvalidSpec") return true;
    }
    return false;
  });
  EXPECT_TRUE(In(held, RolloutPhase::kProgressing, "majority")) << held.Describe();
  EXPECT_THAT(held.status.message, HasSubstr("last valid go/no-go table"));

  DegradeCanary(0.3);
  const Observed o = WaitFor([](const Observed& x) { return In(x, RolloutPhase::kRolledBack); });
  ASSERT_TRUE(In(o, RolloutPhase::kRolledBack)) << o.Describe() << "\n" << OperatorLog();
  EXPECT_EQ((*o.flag)["enabled"], false);
  EXPECT_EQ(o.canary, 0);
  ASSERT_TRUE(o.status.rollback.has_value());
  EXPECT_EQ(o.status.rollback->metric, "error-rate") << "decided by the last valid table";
}

// ---- onDelete (API.md §2)

class OnDeleteE2ETest : public OperatorE2ETest {
 protected:
  // A rollout at its first phase (10 %, a long bake) with the given onDelete.
  void ExposeCanary(const std::string& on_delete, const std::vector<std::string>& args = {}) {
    CreateRoute();
    json spec = Spec({Phase("canary", 10, "10m"), Phase("complete", 100, "")});
    spec["onDelete"] = on_delete;
    CreateRollout(spec);
    StartOperator(args);
    ExpectPhaseByPhase({{"canary", 10}}, RolloutPhase::kProgressing);
  }

  bool HasFinalizer() {
    for (const json& finalizer : Rollout()["metadata"].value("finalizers", json::array())) {
      if (finalizer == api::kRollbackOnDeleteFinalizer) return true;
    }
    return false;
  }

  void Delete() {
    auto deleted = client_->Delete(kRollouts, ns_, kRollout);
    ASSERT_TRUE(deleted.ok()) << deleted.error().ToString();
  }

  // Waits until the AgentRollout is gone; how long that took.
  std::optional<std::chrono::milliseconds> WaitUntilGone(std::chrono::milliseconds timeout) {
    const auto start = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - start < timeout) {
      auto object = client_->Get(kRollouts, ns_, kRollout);
      if (!object.ok() && kube::IsNotFound(object.error())) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - start);
      }
      std::this_thread::sleep_for(20ms);
    }
    return std::nullopt;
  }
};

TEST_F(OnDeleteE2ETest, RollbackTakesTheFlagAndTheCanaryDownThenTheObjectGoes) {
  ExposeCanary("rollback");
  ASSERT_TRUE(HasFinalizer()) << Rollout().dump();
  Delete();
  ASSERT_TRUE(WaitUntilGone(30s)) << OperatorLog();
  const Observed o = Observe();
  ASSERT_TRUE(o.flag.has_value());
  EXPECT_EQ((*o.flag)["enabled"], false) << o.Describe();
  EXPECT_EQ((*o.flag)["percentage"], 0) << o.Describe();
  EXPECT_FALSE(o.flag->contains("rollout")) << "the owner is cleared: " << o.Describe();
  EXPECT_EQ(o.canary, 0) << o.Describe();
  EXPECT_EQ(o.stable, 100) << o.Describe();
  EXPECT_TRUE(WaitForEvent("RolledBack"));
}

TEST_F(OnDeleteE2ETest, RollbackWithTheRouteGoneStillLetsTheObjectGo) {
  ExposeCanary("rollback");
  ASSERT_TRUE(HasFinalizer());
  ASSERT_TRUE(client_->Delete(kHttpRoutes, ns_, kRoute).ok());
  Delete();
  ASSERT_TRUE(WaitUntilGone(30s)) << OperatorLog();
  const Observed o = Observe();
  ASSERT_TRUE(o.flag.has_value());
  EXPECT_EQ((*o.flag)["enabled"], false) << o.Describe();
  EXPECT_FALSE(o.flag->contains("rollout")) << o.Describe();
}

TEST_F(OnDeleteE2ETest, ARefusingFlagStoreHoldsTheObjectUntilTheTimeoutThenAnEvent) {
  ExposeCanary("rollback", {"--rollback-on-delete-timeout", "4s"});
  ASSERT_TRUE(HasFinalizer());
  // A flags document the store refuses to overwrite (not a JSON object).
  auto config_map = client_->Get(kube::kConfigMaps, ns_, "feature-flags");
  ASSERT_TRUE(config_map.ok());
  (*config_map)["data"]["flags.json"] = "[\"not\", \"an object\"]";
  ASSERT_TRUE(client_->Update(kube::kConfigMaps, ns_, *config_map).ok());
  Delete();
  const auto gone = WaitUntilGone(60s);
  ASSERT_TRUE(gone.has_value()) << Rollout().dump() << "\n" << OperatorLog();
  EXPECT_GE(*gone, 2s) << "held while the writes failed";
  std::string gave_up;  // the Event's message (Events are recorded asynchronously)
  for (const auto deadline = std::chrono::steady_clock::now() + 30s;
       gave_up.empty() && std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(50ms)) {
    auto events = client_->List(kube::kEvents, ns_);
    ASSERT_TRUE(events.ok());
    for (const json& event : events->items) {
      const std::string message = event.value("message", "");
      if (event.value("reason", "") == "WriteFailed" &&
          message.find("gave up") != std::string::npos) {
        gave_up = message;
      }
    }
  }
  EXPECT_THAT(gave_up, HasSubstr("configmap " + ns_ + "/feature-flags")) << OperatorLog();
  const Observed o = Observe();
  EXPECT_EQ(o.canary, 0) << "the route was still taken down: " << o.Describe();
  auto left = client_->Get(kube::kConfigMaps, ns_, "feature-flags");
  ASSERT_TRUE(left.ok());
  EXPECT_EQ((*left)["data"]["flags.json"], "[\"not\", \"an object\"]") << "never overwritten";
}

TEST_F(OnDeleteE2ETest, KeepLeavesFlagAndRouteAndClearsTheOwner) {
  ExposeCanary("keep");
  EXPECT_FALSE(HasFinalizer());
  Delete();
  ASSERT_TRUE(WaitUntilGone(10s));
  const Observed o =
      WaitFor([](const Observed& x) { return x.flag.has_value() && !x.flag->contains("rollout"); });
  ASSERT_TRUE(o.flag.has_value());
  EXPECT_FALSE(o.flag->contains("rollout")) << o.Describe() << "\n" << OperatorLog();
  EXPECT_EQ((*o.flag)["enabled"], true) << o.Describe();
  EXPECT_EQ((*o.flag)["percentage"], 10) << o.Describe();
  EXPECT_EQ(o.canary, 10) << o.Describe();
}

}  // namespace
}  // namespace agentrollout
