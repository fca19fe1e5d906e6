// The fault-injection suite (issue 19): AgentRollouts over ConfigMap flag stores and Gateway
// API HTTPRoutes run to completion or rollback against a real kube-apiserver + etcd and a
// real Prometheus, while
// - a FaultProxy in front of the kube-apiserver (TLS, passed through: the operator's
//   kubeconfig points at the proxy) delays, drops, resets, truncates, garbles and
//   partitions the operator's connections,
// - a FaultProxy in front of Prometheus (plain HTTP) does the same and answers 500, 429,
//   410 and garbage bodies,
// - the operator process is SIGKILLed at random and restarted (as a Deployment would),
// - breaches are injected through the test exporters behind some rollouts.
// Every fault, kill and breach comes from one seed. The invariants (tests/chaos/
// invariants.h) are checked over the watched history of the real objects through a
// direct, un-proxied client; on top of them, with a clock:
// - a breached rollout ends with its flag disabled at 0 % and canary weight 0 within
//   interval + 5 s of the moment the faults stopped and a leader was elected again (the
//   last kill's Lease has to expire before a successor may act: that wait is reported,
//   and bounded by the lease duration + 5 s);
// - no process exit other than our SIGKILLs, an exit 1 after losing the Lease (what the
//   operator does when a partition outlasts --renew-deadline), and exit 0 on our final
//   SIGTERM; no sanitizer report or uncaught exception in any log;
// - once quiet, every rollout's flag and route match its status (terminal or its phase).
//
// Size (environment): AGENTROLLOUT_CHAOS_SEED (default: from the clock, printed),
// AGENTROLLOUT_CHAOS_FAULTS (default 60), AGENTROLLOUT_CHAOS_KILLS (default 4),
// AGENTROLLOUT_CHAOS_ROLLOUTS (per wave, default 6). hack/chaos.sh sets them; the default
// is the small run of the ordinary test suite. The run's report is printed and written to
// summary.json in its directory.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
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
#include "tests/chaos/invariants.h"
#include "tests/harness/cluster.h"
#include "tests/harness/fault_proxy.h"
#include "tests/harness/operator_command.h"
#include "tests/harness/process.h"
#include "tests/harness/prometheus.h"
#include "tests/harness/test_exporter.h"

namespace agentrollout::chaos {
namespace {

using namespace std::chrono_literals;
using api::RolloutPhase;
using nlohmann::json;
using testing::BackgroundProcess;
using testing::Cluster;
using Clock = std::chrono::steady_clock;

const auto* const kCluster = testing::RegisterClusterEnvironment();

const kube::ResourceRef kRollouts{api::kGroup, api::kVersion, api::kPlural, true};
const kube::ResourceRef kHttpRoutes{"gateway.networking.k8s.io", "v1", "httproutes", true};

constexpr auto kInterval = 1s;  // analysis interval of every rollout
constexpr auto kLeaseDuration = 4s;
constexpr auto kWave = 45s;  // a new wave of rollouts every kWave
constexpr char kStableBackend[] = "chaos-stable";
constexpr char kHealthyVersion[] = "chaos-good";
// Two ConfigMaps shared by several rollouts each, pre-filled with other teams' content.
constexpr char kSharedFlags[] = "flags-shared";
constexpr char kOtherFlags[] = "flags-other";

constexpr char kErrorRateQuery[] =
    "sum(rate(agent_requests_total{agent=\"voice\",version=\"{{canary}}\",outcome=\"error\"}[5s]))"
    " / sum(rate(agent_requests_total{agent=\"voice\",version=\"{{canary}}\"}[5s]))";

std::int64_t EnvInt(const char* name, std::int64_t fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::stoll(value) : fallback;
}

struct Config {
  std::uint64_t seed = 0;
  int faults = 0;
  int kills = 0;
  int rollouts_per_wave = 0;
  std::chrono::seconds span{0};  // how long faults and kills go on
  int waves = 0;
};

Config ConfigFromEnv() {
  Config config;
  config.seed = static_cast<std::uint64_t>(
      EnvInt("AGENTROLLOUT_CHAOS_SEED",
             std::chrono::system_clock::now().time_since_epoch().count() % 1'000'000'000));
  config.faults = static_cast<int>(EnvInt("AGENTROLLOUT_CHAOS_FAULTS", 60));
  config.kills = static_cast<int>(EnvInt("AGENTROLLOUT_CHAOS_KILLS", 4));
  config.rollouts_per_wave = static_cast<int>(EnvInt("AGENTROLLOUT_CHAOS_ROLLOUTS", 6));
  // About 2 faults a second and a kill every 9 s at most; one wave at least.
  config.span = std::max({std::chrono::seconds(kWave), std::chrono::seconds(config.faults / 2),
                          std::chrono::seconds(config.kills * 9)});
  config.waves = static_cast<int>(config.span / kWave);
  return config;
}

// ---------------------------------------------------------------- the history

// Watches AgentRollouts, ConfigMaps and HTTPRoutes of a namespace directly and keeps every
// committed version (trimmed to what the checker reads), to be replayed in
// resourceVersion order.
class HistoryRecorder {
 public:
  struct Version {
    std::int64_t rv = 0;
    int resource = 0;  // index into kResources
    json object;
  };

  HistoryRecorder(kube::ClientPtr client, std::string ns)
      : client_(std::move(client)), ns_(std::move(ns)) {
    for (int i = 0; i < 3; ++i) threads_.emplace_back([this, i] { Follow(i); });
  }
  ~HistoryRecorder() { Stop(); }

  void Stop() {
    stopping_ = true;
    {
      std::lock_guard lock(mu_);
      for (auto& stream : streams_) {
        if (stream != nullptr) stream->Stop();
      }
    }
    for (std::thread& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
  }

  std::vector<Version> Sorted() {
    std::lock_guard lock(mu_);
    std::vector<Version> sorted = versions_;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const Version& a, const Version& b) { return a.rv < b.rv; });
    return sorted;
  }
  std::vector<std::string> errors() {
    std::lock_guard lock(mu_);
    return errors_;
  }

  static const kube::ResourceRef& Resource(int index) {
    static const kube::ResourceRef* const kResources[] = {&kRollouts, &kube::kConfigMaps,
                                                          &kHttpRoutes};
    return *kResources[index];
  }

 private:
  // Status parts the checker never reads go, so a long run's history stays small.
  static json Trim(int resource, json object) {
    json trimmed = {{"metadata",
                     {{"name", object["metadata"].value("name", "")},
                      {"resourceVersion", object["metadata"].value("resourceVersion", "")}}}};
    if (resource == 0) {
      if (!object.contains("status")) return trimmed;
      json status = object["status"];
      for (const char* key : {"history", "conditions", "message"}) status.erase(key);
      if (status.contains("analysis")) status["analysis"].erase("metrics");
      trimmed["status"] = std::move(status);
    } else if (resource == 1) {
      trimmed["data"] = object.value("data", json::object());
    } else {
      trimmed["spec"] = object.value("spec", json::object());
    }
    return trimmed;
  }

  void Record(int resource, const json& object) {
    const std::string rv = object["metadata"].value("resourceVersion", "0");
    std::lock_guard lock(mu_);
    versions_.push_back({std::stoll(rv), resource, Trim(resource, object)});
  }

  void Follow(int resource) {
    const kube::ResourceRef& ref = Resource(resource);
    auto list = client_->List(ref, ns_);
    if (!list.ok()) {
      std::lock_guard lock(mu_);
      errors_.push_back("list " + ref.ToString() + ": " + list.error().ToString());
      return;
    }
    for (const json& item : list->items) Record(resource, item);
    std::string rv = list->resource_version;
    while (!stopping_) {
      kube::WatchOptions options;
      options.resource_version = rv;
      options.timeout = 60s;
      auto stream = client_->Watch(ref, ns_, options);
      if (!stream.ok()) {
        std::this_thread::sleep_for(100ms);
        continue;
      }
      {
        std::lock_guard lock(mu_);
        streams_[resource] = std::move(*stream);
        if (stopping_) return;
      }
      kube::WatchStream* watch = streams_[resource].get();
      while (!stopping_) {
        auto event = watch->Next();
        if (!event.ok() || !event->has_value()) break;
        const kube::WatchEvent& e = **event;
        if (e.type == kube::WatchEvent::Type::kError) {
          std::lock_guard lock(mu_);
          errors_.push_back("watch " + ref.ToString() + " ended with " + e.object.dump() +
                            ": events may be missing");
          return;
        }
        rv = e.object["metadata"].value("resourceVersion", rv);
        if (e.type == kube::WatchEvent::Type::kAdded ||
            e.type == kube::WatchEvent::Type::kModified) {
          Record(resource, e.object);
        }
      }
    }
  }

  kube::ClientPtr client_;
  std::string ns_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  kube::WatchStreamPtr streams_[3];
  std::vector<Version> versions_;
  std::vector<std::string> errors_;
  std::vector<std::thread> threads_;  // last: they use everything above
};

// ---------------------------------------------------------------- the operator process

// Runs the operator against the proxied kubeconfig and restarts it whenever it ended, as a
// Deployment would; every end that is not ours or a Lease loss is a crash.
class Supervisor {
 public:
  Supervisor(std::filesystem::path dir, std::filesystem::path kubeconfig, std::string ns)
      : dir_(std::move(dir)), kubeconfig_(std::move(kubeconfig)), ns_(std::move(ns)) {}

  void Start() {
    const std::filesystem::path log = dir_ / ("operator-" + std::to_string(logs_.size()) + ".log");
    testing::OperatorCommand command;
    command.binary = AGENTROLLOUT_OPERATOR;
    command.kubeconfig = kubeconfig_.string();
    command.ns = ns_;
    command.pod_name = "chaos";
    command.log_level = "info";
    command.lease_duration = std::to_string(kLeaseDuration.count()) + "s";
    auto process = BackgroundProcess::Start(testing::OperatorArgv(command), log);
    if (!process.ok()) {
      crashes_.push_back("operator did not start: " + process.error().ToString());
      return;
    }
    process_ = std::make_unique<BackgroundProcess>(std::move(*process));
    logs_.push_back(log);
  }

  // Restarts an operator that ended; classifies how it ended.
  void Tick() {
    if (process_ == nullptr || process_->Running()) return;
    const int code = process_->exit_code().value_or(-1);
    const std::string log = testing::ReadFileOrEmpty(logs_.back());
    if (killing_ && code == 128 + SIGKILL) {
      ++kills_;
    } else if (code == 1 &&
               log.find("shutting down: lost the leader-election Lease") != std::string::npos) {
      ++lease_exits_;
    } else {
      crashed_logs_.insert(logs_.back());
      crashes_.push_back(logs_.back().filename().string() + " ended with " + std::to_string(code) +
                         " on its own; log tail: " +
                         log.substr(log.size() - std::min<std::size_t>(log.size(), 400)));
    }
    killing_ = false;
    Start();
  }

  void Kill() {
    if (process_ == nullptr || !process_->Running()) return;
    killing_ = true;
    ::kill(process_->pid(), SIGKILL);
  }

  // The running operator's agentrollout_leader gauge is 1.
  bool Leads() {
    if (process_ == nullptr || !process_->Running()) return false;
    static const std::regex kPort("/metrics on port ([0-9]+)");
    const std::string log = testing::ReadFileOrEmpty(logs_.back());
    std::smatch match;
    if (!std::regex_search(log, match, kPort)) return false;
    http::ClientConfig config;
    config.base_url = "http://127.0.0.1:" + match[1].str();
    auto client = http::NewClient(config);
    if (!client.ok()) return false;
    http::Request request;
    request.target = "/metrics";
    request.timeout = 2s;
    auto response = (*client)->Send(request);
    return response.ok() && response->body.find("\nagentrollout_leader 1") != std::string::npos;
  }

  // SIGTERM; it must exit 0. Then every log is searched for signs of a crash.
  void Finish() {
    if (process_ != nullptr) {
      Tick();
      process_->Stop();
      if (process_->exit_code() != 0) {
        crashes_.push_back("the final SIGTERM ended the operator with " +
                           std::to_string(process_->exit_code().value_or(-1)));
      }
    }
    for (const auto& log : logs_) {
      if (crashed_logs_.count(log) != 0) continue;  // reported with its exit
      const std::string text = testing::ReadFileOrEmpty(log);
      for (const char* sign : {"AddressSanitizer", "runtime error:", "terminate called",
                               "Segmentation fault", "uncaught exception"}) {
        if (text.find(sign) != std::string::npos) {
          crashes_.push_back(log.filename().string() + " contains \"" + sign + "\"");
        }
      }
    }
  }

  int kills() const { return kills_; }
  int lease_exits() const { return lease_exits_; }
  int starts() const { return static_cast<int>(logs_.size()); }
  const std::vector<std::string>& crashes() const { return crashes_; }

 private:
  std::filesystem::path dir_;
  std::filesystem::path kubeconfig_;
  std::string ns_;
  std::unique_ptr<BackgroundProcess> process_;
  std::vector<std::filesystem::path> logs_;
  std::set<std::filesystem::path> crashed_logs_;
  bool killing_ = false;
  int kills_ = 0;
  int lease_exits_ = 0;
  std::vector<std::string> crashes_;
};

// ---------------------------------------------------------------- the rollouts

struct Rollout {
  RolloutPlan plan;
  std::string rollback_mode;
  int failure_limit = 0;
  std::chrono::milliseconds created_at{0};   // from the start of the run
  std::optional<Clock::duration> breach_at;  // from the start of the run
  int exporter = -1;                         // index into the breach exporters
};

// Wave k's rollouts, created one after another over the wave so that analysis (and with it
// Prometheus traffic) goes on all the time: every third one is breached at a seeded instant
// 8..30 s after its creation; most write their flag into one of two shared ConfigMaps,
// some into one of their own.
std::vector<Rollout> PlanRollouts(const Config& config, std::mt19937_64& rng) {
  std::vector<Rollout> rollouts;
  int breaches = 0;
  for (int wave = 0; wave < config.waves; ++wave) {
    for (int j = 0; j < config.rollouts_per_wave; ++j) {
      const std::string id = "w" + std::to_string(wave) + "-r" + std::to_string(j);
      Rollout r;
      r.created_at = std::chrono::duration_cast<std::chrono::milliseconds>(
          wave * kWave + j * kWave / config.rollouts_per_wave);
      r.plan.name = id;
      r.plan.flag_key = "chaos_w" + std::to_string(wave) + "_r" + std::to_string(j);
      r.plan.config_map = j % 4 == 3 ? "flags-" + id : (j % 4 == 1 ? kOtherFlags : kSharedFlags);
      r.plan.route = "route-" + id;
      r.plan.stable_backend = kStableBackend;
      r.rollback_mode = j % 4 == 1 ? "stepBack" : "total";
      r.failure_limit = j % 2;
      if (j % 3 == 2) {
        r.exporter = breaches++;
        r.plan.canary_backend = "chaos-bad-" + id;
        // Breached 8..30 s into its wave, and at least 6 s before the faults end so that
        // Prometheus's 5 s rate window has seen it by then.
        const std::chrono::milliseconds latest =
            std::min<std::chrono::milliseconds>(r.created_at + 30s, config.span - 6s);
        const std::chrono::milliseconds earliest =
            std::min<std::chrono::milliseconds>(r.created_at + 8s, latest);
        r.breach_at =
            earliest + std::chrono::milliseconds(
                           rng() % static_cast<std::uint64_t>((latest - earliest).count() + 1));
        // The last phase never ends, so the rollout is still analysed when it is breached.
        r.plan.phases = {{10, 10}, {30, 30}, {60, 60}};
      } else {
        r.plan.canary_backend = kHealthyVersion;
        r.plan.phases = {{10, 10}, {30, 30}, {60, 60}, {100, 100}};
      }
      rollouts.push_back(std::move(r));
    }
  }
  return rollouts;
}

json RolloutObject(const Rollout& r, const std::string& prometheus) {
  static const char* const kNames[] = {"canary", "early", "most", "all"};
  json phases = json::array();
  for (std::size_t i = 0; i < r.plan.phases.size(); ++i) {
    const bool last = i + 1 == r.plan.phases.size();
    phases.push_back({{"name", kNames[i]},
                      {"flagPercent", r.plan.phases[i].flag_percent},
                      {"trafficWeight", r.plan.phases[i].traffic_weight},
                      {"duration", !last ? "4s" : (r.breach_at ? "10m" : "2s")}});
  }
  return {{"apiVersion", api::kApiVersion},
          {"kind", api::kKind},
          {"metadata", {{"name", r.plan.name}}},
          {"spec",
           {{"revision", "1"},
            {"flag", {{"key", r.plan.flag_key}, {"configMap", {{"name", r.plan.config_map}}}}},
            {"traffic",
             {{"gatewayAPI",
               {{"httpRoute", r.plan.route},
                {"stableBackend", r.plan.stable_backend},
                {"canaryBackend", r.plan.canary_backend}}}}},
            {"analysis",
             {{"prometheus", {{"address", prometheus}, {"timeout", "2s"}}},
              {"interval", std::to_string(kInterval.count()) + "s"},
              {"failureLimit", r.failure_limit},
              {"errorLimit", 5},
              {"metrics",
               {{{"name", "error-rate"},
                 {"query", kErrorRateQuery},
                 {"go", "< 0.02"},
                 {"noGo", "> 0.05"}}}}}},
            {"rollback", {{"mode", r.rollback_mode}}},
            {"phases", std::move(phases)}}}};
}

json RouteObject(const RolloutPlan& plan) {
  return {{"apiVersion", "gateway.networking.k8s.io/v1"},
          {"kind", "HTTPRoute"},
          {"metadata", {{"name", plan.route}}},
          {"spec",
           {{"rules",
             {{{"backendRefs",
                {{{"name", plan.stable_backend}, {"port", 80}, {"weight", 100}},
                 {{"name", plan.canary_backend}, {"port", 80}, {"weight", 0}}}}}}}}}};
}

ForeignContent Foreign(const std::string& team) {
  ForeignContent foreign;
  foreign.data["settings.yaml"] = "owner: " + team + "\n";
  foreign.flags[team + "_checkout"] = {{"enabled", true}, {"percentage", 25}};
  return foreign;
}

json ConfigMapObject(const std::string& name, const ForeignContent& foreign) {
  json data = {{"flags.json", foreign.flags.dump()}};
  for (const auto& [key, value] : foreign.data) data[key] = value;
  return {
      {"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}}}, {"data", data}};
}

// What the world shows for one rollout, read directly.
struct Seen {
  std::optional<api::AgentRolloutStatus> status;
  std::optional<json> flag;
  RouteWeights weights;
};

Seen Read(kube::Client& client, const std::string& ns, const RolloutPlan& plan) {
  Seen seen;
  if (auto object = client.Get(kRollouts, ns, plan.name);
      object.ok() && object->contains("status")) {
    if (auto status = api::DecodeStatus((*object)["status"]); status.ok()) seen.status = *status;
  }
  if (auto config_map = client.Get(kube::kConfigMaps, ns, plan.config_map); config_map.ok()) {
    seen.flag = FlagEntryOf(*config_map, plan.flag_key);
  }
  if (auto route = client.Get(kHttpRoutes, ns, plan.route); route.ok()) {
    seen.weights = WeightsOf(*route, plan);
  }
  return seen;
}

bool Safe(const Seen& seen) {
  return seen.flag && !seen.flag->value("enabled", true) &&
         seen.flag->value("percentage", -1) == 0 && seen.weights.canary == 0;
}

// Flag and route carry what the status says: RolledBack 0, otherwise the status's phase.
bool Consistent(const Seen& seen, const RolloutPlan& plan) {
  if (!seen.status || !seen.status->current_phase) return false;
  if (seen.status->phase == RolloutPhase::kRolledBack) return Safe(seen);
  const PhasePlan& phase = plan.phases[static_cast<std::size_t>(seen.status->current_phase->index)];
  return seen.flag && EffectivePercent(*seen.flag) == phase.flag_percent &&
         seen.weights.canary == phase.traffic_weight;
}

std::string Describe(const Seen& seen) {
  std::string text = seen.status ? std::string(api::Name(seen.status->phase)) : "no status";
  if (seen.status && seen.status->current_phase) {
    text += " in " + seen.status->current_phase->name + " (" + seen.status->message + ")";
  }
  return text + "; flag " + (seen.flag ? seen.flag->dump() : "none") + "; canary weight " +
         (seen.weights.canary ? std::to_string(*seen.weights.canary) : "none");
}

int PortOf(const std::string& url) { return std::stoi(url.substr(url.rfind(':') + 1)); }

// ---------------------------------------------------------------- the run

TEST(ChaosTest, RolloutsStaySafeUnderFaultsAndKills) {
  const Config config = ConfigFromEnv();
  std::cout << "chaos: seed " << config.seed << " (replay: AGENTROLLOUT_CHAOS_SEED=" << config.seed
            << " AGENTROLLOUT_CHAOS_FAULTS=" << config.faults
            << " AGENTROLLOUT_CHAOS_KILLS=" << config.kills
            << " AGENTROLLOUT_CHAOS_ROLLOUTS=" << config.rollouts_per_wave << "), "
            << config.span.count() << " s of faults, " << config.waves << " wave(s) of "
            << config.rollouts_per_wave << " rollouts" << std::endl;
  std::mt19937_64 rng(config.seed);
  std::vector<Rollout> rollouts = PlanRollouts(config, rng);

  auto dir = testing::MakeTempDir("agentrollout-chaos");
  ASSERT_TRUE(dir.ok()) << dir.error().ToString();
  const std::string ns = testing::CreateTestNamespace();
  kube::KubeconfigOptions kubeconfig;
  kubeconfig.path = Cluster().kubeconfig().string();
  auto rest = kube::LoadKubeconfig(kubeconfig);
  ASSERT_TRUE(rest.ok()) << rest.error().ToString();
  auto direct = kube::NewClient(*rest);
  ASSERT_TRUE(direct.ok()) << direct.error().ToString();
  kube::Client& client = **direct;

  // Metrics: one healthy canary version for most rollouts, one exporter per breached one.
  std::vector<std::unique_ptr<testing::TestExporter>> exporters;
  std::vector<std::string> targets;
  auto healthy = testing::TestExporter::Start(AGENTROLLOUT_TEST_EXPORTER, kHealthyVersion, *dir);
  ASSERT_TRUE(healthy.ok()) << healthy.error().ToString();
  targets.push_back((*healthy)->target());
  for (const Rollout& r : rollouts) {
    if (r.exporter < 0) continue;
    auto exporter =
        testing::TestExporter::Start(AGENTROLLOUT_TEST_EXPORTER, r.plan.canary_backend, *dir);
    ASSERT_TRUE(exporter.ok()) << exporter.error().ToString();
    targets.push_back((*exporter)->target());
    exporters.push_back(std::move(*exporter));
  }
  testing::PrometheusFixture prometheus;
  ASSERT_TRUE(prometheus.Start(targets).ok());
  auto scraped =
      prometheus.WaitForSamples("count(sum by (version) (rate(agent_requests_total[5s])) > 0) >= " +
                                    std::to_string(targets.size()),
                                90s);
  ASSERT_TRUE(scraped.ok()) << scraped.error().ToString();

  // The faulty paths: Prometheus (HTTP) and the kube-apiserver (TLS, as bytes).
  testing::FaultProxyOptions prometheus_options;
  prometheus_options.upstream_port = PortOf(prometheus.base_url());
  prometheus_options.http = true;
  auto prometheus_proxy = testing::FaultProxy::Start(prometheus_options);
  ASSERT_TRUE(prometheus_proxy.ok()) << prometheus_proxy.error().ToString();
  testing::FaultProxyOptions apiserver_options;
  apiserver_options.upstream_port = PortOf(Cluster().server_url());
  auto apiserver_proxy = testing::FaultProxy::Start(apiserver_options);
  ASSERT_TRUE(apiserver_proxy.ok()) << apiserver_proxy.error().ToString();
  std::string proxied = testing::ReadFileOrEmpty(Cluster().kubeconfig());
  const std::size_t server = proxied.find(Cluster().server_url());
  ASSERT_NE(server, std::string::npos) << "kubeconfig names " << Cluster().server_url();
  proxied.replace(server, Cluster().server_url().size(),
                  "https://" + (*apiserver_proxy)->address());
  const std::filesystem::path proxied_kubeconfig = *dir / "kubeconfig-through-proxy";
  std::ofstream(proxied_kubeconfig) << proxied;

  std::map<std::string, ForeignContent> foreign = {{kSharedFlags, Foreign("payments")},
                                                   {kOtherFlags, Foreign("search")}};
  std::vector<RolloutPlan> plans;
  for (const Rollout& r : rollouts) plans.push_back(r.plan);
  HistoryRecorder recorder(*direct, ns);
  std::this_thread::sleep_for(500ms);  // the watches are open before anything is written
  for (const auto& [name, content] : foreign) {
    auto created = client.Create(kube::kConfigMaps, ns, ConfigMapObject(name, content));
    ASSERT_TRUE(created.ok()) << created.error().ToString();
  }

  Supervisor supervisor(*dir, proxied_kubeconfig, ns);
  supervisor.Start();
  const int apiserver_faults = config.faults * 2 / 5;
  const auto span = std::chrono::duration_cast<std::chrono::milliseconds>(config.span);
  testing::FaultRunner apiserver_faulter(
      **apiserver_proxy,
      MakeFaultSchedule(config.seed ^ 0xa11, apiserver_faults, span, testing::TcpFaultMix()));
  testing::FaultRunner prometheus_faulter(
      **prometheus_proxy, MakeFaultSchedule(config.seed ^ 0xb22, config.faults - apiserver_faults,
                                            span, testing::HttpFaultMix()));
  // Kills between 3 s and the lease duration + 2 s before the end, so that when the faults
  // stop a successor can be leading.
  std::vector<Clock::duration> kills;
  const auto kill_window = config.span - kLeaseDuration - 5s;
  for (int i = 0; i < config.kills; ++i) {
    kills.push_back(
        3s + std::chrono::milliseconds(rng() % static_cast<std::uint64_t>(kill_window / 1ms)));
  }
  std::sort(kills.begin(), kills.end());

  const std::string prometheus_url = "http://" + (*prometheus_proxy)->address();
  const auto start = Clock::now();
  std::size_t next_rollout = 0, next_kill = 0;
  std::set<std::size_t> breached;
  while (Clock::now() - start < config.span) {
    const auto now = Clock::now() - start;
    for (; next_rollout < rollouts.size() && rollouts[next_rollout].created_at <= now;
         ++next_rollout) {
      const Rollout& r = rollouts[next_rollout];
      auto route = client.Create(kHttpRoutes, ns, RouteObject(r.plan));
      ASSERT_TRUE(route.ok()) << route.error().ToString();
      auto created = client.Create(kRollouts, ns, RolloutObject(r, prometheus_url));
      ASSERT_TRUE(created.ok()) << created.error().ToString();
    }
    for (std::size_t i = 0; i < rollouts.size(); ++i) {
      if (rollouts[i].breach_at && *rollouts[i].breach_at <= now && breached.insert(i).second) {
        ASSERT_TRUE(exporters[static_cast<std::size_t>(rollouts[i].exporter)]->Set(0.3, 100).ok());
      }
    }
    if (next_kill < kills.size() && kills[next_kill] <= now) {
      supervisor.Kill();
      ++next_kill;
    }
    supervisor.Tick();
    std::this_thread::sleep_for(100ms);
  }
  apiserver_faulter.Stop();
  prometheus_faulter.Stop();
  (*apiserver_proxy)->Heal();
  (*prometheus_proxy)->Heal();
  const auto faults_stopped = Clock::now();

  std::vector<std::string> violations;
  // A leader again (the last kill's Lease expires first).
  while (!supervisor.Leads() && Clock::now() - faults_stopped < kLeaseDuration + 5s) {
    supervisor.Tick();
    std::this_thread::sleep_for(100ms);
  }
  const auto quiet = Clock::now();
  if (!supervisor.Leads())
    violations.push_back("no leader within the lease duration + 5 s of the faults' end");

  // Every breached rollout: flag disabled at 0 % and weight 0 by interval + 5 s -- per No-Go
  // evaluation its spec still needs: failureLimit + 1 for a total rollback, and that for
  // each phase left to step down through with stepBack (the status at `quiet` tells).
  std::map<std::size_t, Clock::time_point> deadlines;
  for (std::size_t i : breached) {
    const Rollout& r = rollouts[i];
    int steps = 1;
    if (r.rollback_mode == "stepBack") {
      const Seen seen = Read(client, ns, r.plan);
      if (seen.status && seen.status->current_phase) steps = seen.status->current_phase->index + 1;
    }
    deadlines[i] = quiet + (r.failure_limit + 1) * steps * kInterval + 5s;
  }
  std::map<std::size_t, double> safe_after;  // seconds after `quiet`
  while (safe_after.size() < breached.size()) {
    bool overdue = true;
    for (std::size_t i : breached) {
      if (safe_after.count(i) == 0 && Clock::now() <= deadlines[i] &&
          Safe(Read(client, ns, rollouts[i].plan))) {
        safe_after[i] = std::chrono::duration<double>(Clock::now() - quiet).count();
      }
      overdue = overdue && (safe_after.count(i) != 0 || Clock::now() > deadlines[i]);
    }
    if (overdue) break;
    supervisor.Tick();
    std::this_thread::sleep_for(100ms);
  }
  double slowest_safe = 0;
  json safe_seconds = json::object();  // per breached rollout, with its allowance
  for (std::size_t i : breached) {
    safe_seconds[rollouts[i].plan.name] = {
        {"safeAfter", safe_after.count(i) != 0 ? json(safe_after[i]) : json(nullptr)},
        {"allowed", std::chrono::duration<double>(deadlines[i] - quiet).count()},
        {"rollback", rollouts[i].rollback_mode},
        {"failureLimit", rollouts[i].failure_limit}};
    if (safe_after.count(i) == 0) {
      violations.push_back(
          rollouts[i].plan.name + ": breached, yet not flag 0 % and weight 0 " +
          std::to_string(std::chrono::duration<double>(deadlines[i] - quiet).count()) +
          " s after the faults stopped and a leader was elected: " +
          Describe(Read(client, ns, rollouts[i].plan)));
    } else {
      slowest_safe = std::max(slowest_safe, safe_after[i]);
    }
  }
  // Quiet now: flag and route match the status (a rollout may be mid-advance: 15 s to settle).
  std::map<std::string, int> outcomes;
  for (const Rollout& r : rollouts) {
    const auto settle_by = Clock::now() + 15s;
    Seen seen = Read(client, ns, r.plan);
    while (!Consistent(seen, r.plan) && Clock::now() < settle_by) {
      supervisor.Tick();
      std::this_thread::sleep_for(200ms);
      seen = Read(client, ns, r.plan);
    }
    if (!Consistent(seen, r.plan)) {
      violations.push_back(r.plan.name +
                           ": flag and route do not match the status: " + Describe(seen));
    }
    ++outcomes[seen.status ? std::string(api::Name(seen.status->phase)) : "none"];
  }
  supervisor.Finish();
  for (const std::string& crash : supervisor.crashes()) violations.push_back("crash: " + crash);

  recorder.Stop();
  InvariantChecker checker(plans, foreign);
  for (const HistoryRecorder::Version& version : recorder.Sorted()) {
    if (version.resource == 0) checker.OnRollout(version.object);
    if (version.resource == 1) checker.OnConfigMap(version.object);
    if (version.resource == 2) checker.OnRoute(version.object);
  }
  violations.insert(violations.end(), checker.violations().begin(), checker.violations().end());
  for (const std::string& error : recorder.errors()) violations.push_back("history: " + error);

  // The report.
  json faults = {{"apiserver", (*apiserver_proxy)->Counts()},
                 {"prometheus", (*prometheus_proxy)->Counts()}};
  const std::int64_t injected = (*apiserver_proxy)->Applied() + (*prometheus_proxy)->Applied();
  json summary = {
      {"seed", config.seed},
      {"faultsScheduled", config.faults},
      {"faultsInjected", injected},
      {"faultsByKind", faults},
      {"killsScheduled", config.kills},
      {"kills", supervisor.kills()},
      {"leaseLossExits", supervisor.lease_exits()},
      {"operatorStarts", supervisor.starts()},
      {"faultSeconds", config.span.count()},
      {"rollouts", rollouts.size()},
      {"breached", breached.size()},
      {"outcomes", outcomes},
      {"leaderAfterFaultsSeconds", std::chrono::duration<double>(quiet - faults_stopped).count()},
      {"slowestBreachSafeSeconds", slowest_safe},
      {"breachSafeSeconds", safe_seconds},
      {"historyVersionsChecked", checker.checked()},
      {"violations", violations}};
  std::ofstream(*dir / "summary.json") << summary.dump(2) << "\n";
  std::cout << "chaos report (" << (*dir / "summary.json").string() << "):\n"
            << summary.dump(2) << std::endl;
  EXPECT_THAT(violations, ::testing::IsEmpty()) << "seed " << config.seed;
  EXPECT_GE(supervisor.kills(), config.kills * 3 / 4) << "the kills did not happen";
  EXPECT_GT(injected, config.faults / 2) << "the faults did not happen";
}

}  // namespace
}  // namespace agentrollout::chaos
