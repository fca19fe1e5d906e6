#include "api/codec.h"

#include <gtest/gtest.h>

#include "api/test_manifest.h"
#include "api/time.h"

namespace agentrollout::api {
namespace {

using nlohmann::json;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

using testing::VoiceAgentManifest;

Timestamp At(const char* rfc3339) { return *ParseTime(rfc3339); }

AgentRollout Decoded(const json& object) {
  auto rollout = DecodeAgentRollout(object);
  EXPECT_TRUE(rollout.ok()) << rollout.error().message();
  return rollout.ok() ? *rollout : AgentRollout{};
}

TEST(DecodeAgentRollout, ReadsMetadata) {
  const ObjectMeta meta = Decoded(VoiceAgentManifest()).metadata;
  EXPECT_EQ(meta.name, "voice-agent-v2");
  EXPECT_EQ(meta.namespace_, "voice");
  EXPECT_EQ(meta.uid, "6f1c2a52-6a8e-4c8f-9d55-0c9d3f1e2b7a");
  EXPECT_EQ(meta.resource_version, "48213");
  EXPECT_EQ(meta.generation, 4);
  EXPECT_EQ(meta.creation_timestamp, At("2026-11-20T09:15:00Z"));
  EXPECT_EQ(meta.annotations, (std::map<std::string, std::string>{
                                  {"rollouts.agentops.dev/action", "promote"}, {"team", "voice"}}));
}

TEST(DecodeAgentRollout, ReadsTheExampleSpec) {
  const AgentRolloutSpec spec = Decoded(VoiceAgentManifest()).spec;
  EXPECT_EQ(spec.revision, "2.0.0");
  EXPECT_FALSE(spec.paused);

  FlagSpec flag;
  flag.key = "voice_agent_v2";
  flag.config_map = ConfigMapFlagStore{"feature-flags", "flags.json"};
  flag.enabled_tenants = {"t-internal-1", "t-internal-2"};
  flag.disabled_tenants = {"t-vip-bank"};
  EXPECT_EQ(spec.flag, flag);

  TrafficSpec traffic;
  traffic.gateway_api = GatewayApiTraffic{"voice-agent", "voice-agent-v1", "voice-agent-v2"};
  EXPECT_EQ(spec.traffic, traffic);

  PrometheusSpec prometheus;
  prometheus.address = "http://prometheus.monitoring.svc:9090";
  prometheus.timeout = seconds(5);
  EXPECT_EQ(spec.analysis.prometheus, prometheus);
  EXPECT_EQ(spec.analysis.interval, minutes(1));
  EXPECT_EQ(spec.analysis.failure_limit, 0);
  EXPECT_EQ(spec.analysis.error_limit, 3);
  EXPECT_EQ(spec.analysis.no_data, NoDataPolicy::kHold);
  EXPECT_TRUE(spec.analysis.args.empty());
  ASSERT_EQ(spec.analysis.metrics.size(), 3u);
  const MetricSpec& error_rate = spec.analysis.metrics[0];
  EXPECT_EQ(error_rate.name, "error-rate");
  EXPECT_EQ(error_rate.query,
            "sum(rate(agent_requests_total{agent=\"voice\",version=\"{{canary}}\",outcome="
            "\"error\"}[5m]))\n/ sum(rate(agent_requests_total{agent=\"voice\",version=\""
            "{{canary}}\"}[5m]))\n");
  EXPECT_FALSE(error_rate.dry_run);
  EXPECT_EQ(error_rate.go, (Threshold{CompareOp::kLess, 0.02}));
  EXPECT_EQ(error_rate.no_go, (Threshold{CompareOp::kGreater, 0.05}));
  EXPECT_EQ(error_rate.abort, (Threshold{CompareOp::kGreater, 0.5}));
  EXPECT_EQ(spec.analysis.metrics[1].name, "latency-p95-ms");
  EXPECT_EQ(spec.analysis.metrics[1].go, (Threshold{CompareOp::kLess, 800}));
  EXPECT_EQ(spec.analysis.metrics[1].no_go, (Threshold{CompareOp::kGreater, 1200}));
  EXPECT_EQ(spec.analysis.metrics[1].abort, std::nullopt);
  EXPECT_EQ(spec.analysis.metrics[2].go, (Threshold{CompareOp::kEqual, 0}));
  EXPECT_EQ(spec.analysis.metrics[2].no_go, (Threshold{CompareOp::kGreater, 2}));

  EXPECT_EQ(spec.rollback_mode, RollbackMode::kTotal);
  const std::vector<PhaseSpec> phases = {
      {"canary", 5, 5, hours(4), false, {}},
      {"early-adopters", 10, 10, hours(24), false, {}},
      {"expansion", 25, 25, hours(24), false, {}},
      {"majority", 50, 50, hours(48), true, {}},
      {"complete", 100, 100, Duration(0), false, {}},
  };
  EXPECT_EQ(spec.phases, phases);

  ASSERT_EQ(spec.notifications.size(), 1u);
  EXPECT_EQ(spec.notifications[0].url, "https://hooks.slack.com/services/XXX");
  EXPECT_EQ(spec.notifications[0].secret_ref, (SecretKeyRef{"slack-webhook", "url"}));
  EXPECT_EQ(spec.notifications[0].events,
            (std::vector<EventReason>{EventReason::kPhaseAdvanced, EventReason::kRolledBack,
                                      EventReason::kAwaitingApproval, EventReason::kSucceeded}));
}

TEST(DecodeSpec, ReadsEveryOptionalField) {
  json spec = VoiceAgentManifest()["spec"];
  spec["paused"] = true;
  spec["onDelete"] = "rollback";
  spec["flag"].erase("configMap");
  spec["flag"]["featureFlag"] = {{"name", "voice-flags"}};
  spec["analysis"]["prometheus"] = {
      {"address", "https://mimir.example:443/prometheus"},
      {"timeout", "2.5s"},
      {"headers", {{"X-Scope-OrgID", "voice"}, {"X-Extra", ""}}},
      {"bearerTokenSecretRef", {{"name", "prom-token"}, {"key", "token"}}},
      {"basicAuthSecretRef", {{"name", "prom-basic"}}},
      {"insecureSkipVerify", true},
      {"caSecretRef", {{"name", "prom-ca"}, {"key", "ca.crt"}}}};
  spec["analysis"]["interval"] = "30s";
  spec["analysis"]["failureLimit"] = 2;
  spec["analysis"]["errorLimit"] = 0;
  spec["analysis"]["noData"] = "noGo";
  spec["analysis"]["args"] = {{"agent", "voice"}, {"region.name", "eu-west"}};
  spec["analysis"]["metrics"][1]["dryRun"] = true;
  spec["rollback"]["mode"] = "stepBack";
  spec["phases"][1]["flags"] = {{"voucher_creation", 100}, {"telemetry", 100}};
  spec["phases"][2]["flags"] = {{"whatsapp.integration", 50.0}};
  spec["traffic"] = {{"istio",
                      {{"virtualService", "voice"},
                       {"stableHost", "voice.svc"},
                       {"canaryHost", "voice-canary.svc"},
                       {"stableSubset", "v1"},
                       {"canarySubset", "v2"}}}};

  auto decoded = DecodeSpec(spec);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  EXPECT_TRUE(decoded->paused);
  EXPECT_EQ(decoded->on_delete, DeletePolicy::kRollback);
  EXPECT_EQ(decoded->flag->config_map, std::nullopt);
  EXPECT_EQ(decoded->flag->feature_flag, FeatureFlagStore{"voice-flags"});
  const PrometheusSpec& prometheus = *decoded->analysis.prometheus;
  EXPECT_EQ(prometheus.address, "https://mimir.example:443/prometheus");
  EXPECT_EQ(prometheus.timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(prometheus.headers,
            (std::map<std::string, std::string>{{"X-Scope-OrgID", "voice"}, {"X-Extra", ""}}));
  EXPECT_EQ(prometheus.bearer_token_secret_ref, (SecretKeyRef{"prom-token", "token"}));
  EXPECT_EQ(prometheus.basic_auth_secret_ref, SecretRef{"prom-basic"});
  EXPECT_TRUE(prometheus.insecure_skip_verify);
  EXPECT_EQ(prometheus.ca_secret_ref, (SecretKeyRef{"prom-ca", "ca.crt"}));
  EXPECT_EQ(decoded->analysis.interval, seconds(30));
  EXPECT_EQ(decoded->analysis.failure_limit, 2);
  EXPECT_EQ(decoded->analysis.error_limit, 0);
  EXPECT_EQ(decoded->analysis.no_data, NoDataPolicy::kNoGo);
  EXPECT_EQ(decoded->analysis.args,
            (std::map<std::string, std::string>{{"agent", "voice"}, {"region.name", "eu-west"}}));
  EXPECT_FALSE(decoded->analysis.metrics[0].dry_run);
  EXPECT_TRUE(decoded->analysis.metrics[1].dry_run);
  EXPECT_EQ(decoded->rollback_mode, RollbackMode::kStepBack);
  EXPECT_TRUE(decoded->phases[0].flags.empty());
  EXPECT_EQ(decoded->phases[1].flags,
            (std::map<std::string, std::int32_t>{{"telemetry", 100}, {"voucher_creation", 100}}));
  EXPECT_EQ(decoded->phases[2].flags,
            (std::map<std::string, std::int32_t>{{"whatsapp.integration", 50}}));
  EXPECT_EQ(decoded->traffic->gateway_api, std::nullopt);
  EXPECT_EQ(decoded->traffic->istio,
            (IstioTraffic{"voice", "voice.svc", "voice-canary.svc", "v1", "v2"}));
}

TEST(DecodeSpec, ReadsReplicasRouterAndTrafficOnlyRollouts) {
  const json spec = {{"traffic",
                      {{"replicas",
                        {{"stableDeployment", "voice-v1"},
                         {"canaryDeployment", "voice-v2"},
                         {"totalReplicas", 10}}}}},
                     {"phases", {{{"name", "half"}, {"trafficWeight", 50}}}}};
  auto decoded = DecodeSpec(spec);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  EXPECT_EQ(decoded->flag, std::nullopt);
  EXPECT_EQ(decoded->traffic->replicas, (ReplicasTraffic{"voice-v1", "voice-v2", 10}));
  EXPECT_EQ(decoded->phases[0].traffic_weight, 50);
  EXPECT_EQ(decoded->phases[0].flag_percent, 0);
}

TEST(DecodeSpec, ReadsEveryNotificationType) {
  json spec = VoiceAgentManifest()["spec"];
  spec["notifications"] = {
      {{"type", "pagerduty"},
       {"routingKeySecretRef", {{"name", "pagerduty"}, {"key", "routing-key"}}},
       {"events", {"RolledBack"}}},
      {{"type", "alertmanager"}, {"url", "http://alertmanager.monitoring:9093"}},
      {{"type", "webhook"}, {"url", "https://hooks.internal/agentrollout"}},
      {{"type", "slack"}, {"secretRef", {{"name", "slack"}, {"key", "url"}}}}};
  auto decoded = DecodeSpec(spec);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  ASSERT_EQ(decoded->notifications.size(), 4u);
  EXPECT_EQ(decoded->notifications[0].type, NotificationType::kPagerDuty);
  EXPECT_EQ(decoded->notifications[0].routing_key_secret_ref,
            (SecretKeyRef{"pagerduty", "routing-key"}));
  EXPECT_EQ(decoded->notifications[0].url, "");
  EXPECT_EQ(decoded->notifications[1].type, NotificationType::kAlertmanager);
  EXPECT_EQ(decoded->notifications[1].url, "http://alertmanager.monitoring:9093");
  EXPECT_EQ(decoded->notifications[2].type, NotificationType::kWebhook);
  EXPECT_EQ(decoded->notifications[3].type, NotificationType::kSlack);
  // The encoder writes every type, so what the apiserver stores round-trips.
  const json encoded = EncodeSpec(*decoded);
  EXPECT_EQ(encoded["notifications"][0]["type"], "pagerduty");
  EXPECT_EQ(encoded["notifications"][0]["routingKeySecretRef"]["key"], "routing-key");
  EXPECT_EQ(encoded["notifications"][3]["type"], "slack");
  auto again = DecodeSpec(encoded);
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(again->notifications, decoded->notifications);
}

TEST(DecodeSpec, AppliesEveryDefault) {
  const json spec = {
      {"flag", {{"key", "k"}, {"configMap", {{"name", "ff"}}}}},
      {"analysis", {{"prometheus", {{"address", "http://p:9090"}}}}},
      {"phases",
       {{{"name", "a"}},
        {{"name", "b"}, {"flagPercent", 10}},
        {{"name", "c"}, {"trafficWeight", 20}},
        {{"name", "d"}}}},
      {"notifications", {{{"url", "http://hook"}}}},
  };
  auto decoded = DecodeSpec(spec);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  EXPECT_EQ(decoded->revision, "");
  EXPECT_FALSE(decoded->paused);
  EXPECT_EQ(decoded->on_delete, DeletePolicy::kKeep);
  EXPECT_EQ(decoded->flag->config_map->key, "flags.json");
  EXPECT_TRUE(decoded->flag->enabled_tenants.empty());
  EXPECT_TRUE(decoded->flag->disabled_tenants.empty());
  EXPECT_EQ(decoded->traffic, std::nullopt);
  const PrometheusSpec& prometheus = *decoded->analysis.prometheus;
  EXPECT_EQ(prometheus.timeout, seconds(5));
  EXPECT_TRUE(prometheus.headers.empty());
  EXPECT_EQ(prometheus.bearer_token_secret_ref, std::nullopt);
  EXPECT_EQ(prometheus.basic_auth_secret_ref, std::nullopt);
  EXPECT_FALSE(prometheus.insecure_skip_verify);
  EXPECT_EQ(prometheus.ca_secret_ref, std::nullopt);
  EXPECT_EQ(decoded->analysis.interval, minutes(1));
  EXPECT_EQ(decoded->analysis.failure_limit, 0);
  EXPECT_EQ(decoded->analysis.error_limit, 3);
  EXPECT_EQ(decoded->analysis.no_data, NoDataPolicy::kHold);
  EXPECT_TRUE(decoded->analysis.args.empty());
  EXPECT_TRUE(decoded->analysis.metrics.empty());
  EXPECT_EQ(decoded->rollback_mode, RollbackMode::kTotal);
  // flagPercent / trafficWeight: the previous phase's value, 0 for the first.
  const std::vector<PhaseSpec> phases = {
      {"a", 0, 0, Duration(0), false, {}},
      {"b", 10, 0, Duration(0), false, {}},
      {"c", 10, 20, Duration(0), false, {}},
      {"d", 10, 20, Duration(0), false, {}},
  };
  EXPECT_EQ(decoded->phases, phases);
  EXPECT_EQ(decoded->notifications[0].type, NotificationType::kSlack);
  EXPECT_EQ(decoded->notifications[0].secret_ref, std::nullopt);
  EXPECT_EQ(decoded->notifications[0].routing_key_secret_ref, std::nullopt);
  EXPECT_TRUE(decoded->notifications[0].events.empty());

  // An empty analysis object and a metric without dryRun / abort.
  const json with_metric = {
      {"flag", spec["flag"]},
      {"analysis",
       {{"metrics", {{{"name", "m"}, {"query", "up"}, {"go", "> 0"}, {"noGo", "<= 0"}}}}}},
      {"phases", {{{"name", "only"}}}}};
  auto metric_defaults = DecodeSpec(with_metric);
  ASSERT_TRUE(metric_defaults.ok()) << metric_defaults.error().message();
  EXPECT_EQ(metric_defaults->analysis.prometheus, std::nullopt);
  EXPECT_FALSE(metric_defaults->analysis.metrics[0].dry_run);
  EXPECT_EQ(metric_defaults->analysis.metrics[0].abort, std::nullopt);
}

TEST(DecodeSpec, TreatsNullAsAbsentAndIgnoresUnknownFields) {
  const json spec = {{"revision", nullptr},
                     {"futureField", {{"x", 1}}},
                     {"flag", {{"key", "k"}, {"configMap", {{"name", "ff"}, {"key", nullptr}}}}},
                     {"phases", {{{"name", "a"}, {"flagPercent", nullptr}, {"extra", true}}}}};
  auto decoded = DecodeSpec(spec);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  EXPECT_EQ(decoded->revision, "");
  EXPECT_EQ(decoded->flag->config_map->key, "flags.json");
  EXPECT_EQ(decoded->phases[0].flag_percent, 0);
}

TEST(DecodeStatus, ReadsEveryField) {
  const AgentRolloutStatus status = Decoded(VoiceAgentManifest()).status;
  EXPECT_EQ(status.observed_generation, 4);
  EXPECT_EQ(status.revision, "2.0.0");
  EXPECT_EQ(status.phase, RolloutPhase::kProgressing);
  EXPECT_EQ(status.current_phase,
            (CurrentPhaseStatus{2, "expansion", At("2026-11-22T10:00:00Z"), 25, 25}));
  EXPECT_EQ(status.verdict, Verdict::kHold);
  EXPECT_EQ(status.message,
            "holding in expansion: latency-p95-ms 912 is not < 800 (go); 3h12m of bake left");
  EXPECT_EQ(status.analysis.last_evaluated, At("2026-11-22T10:48:00Z"));
  EXPECT_EQ(status.analysis.consecutive_no_go, 0);
  EXPECT_EQ(status.analysis.consecutive_errors, 1);
  const std::vector<MetricStatus> metrics = {
      {"error-rate", "0.0131", Verdict::kGo, "< 0.02", "> 0.05", "> 0.5", "", false, std::nullopt},
      {"latency-p95-ms", "912", Verdict::kHold, "< 800", "> 1200", "", "912 is between the lines",
       true, std::nullopt},
  };
  EXPECT_EQ(status.analysis.metrics, metrics);
  EXPECT_EQ(status.rollback,
            (RollbackStatus{At("2026-11-21T08:00:00Z"), "majority", "error-rate", "0.071", "> 0.05",
                            "error-rate 0.071 crossed noGo > 0.05"}));
  const std::vector<HistoryEntry> history = {
      {At("2026-11-21T10:00:00Z"), "canary", "early-adopters", "PhaseAdvanced"},
      {At("2026-11-22T10:00:00Z"), "early-adopters", "expansion", "PhaseAdvanced"},
  };
  EXPECT_EQ(status.history, history);
  const Timestamp started = At("2026-11-20T09:15:02Z");
  const std::vector<Condition> conditions = {
      {"Ready", ConditionStatus::kFalse, "Progressing", "in expansion", 4, started},
      {"Reconciling", ConditionStatus::kTrue, "Progressing", "", 4, started},
      {"Stalled", ConditionStatus::kFalse, "Progressing", "", 4, started},
      {"Healthy", ConditionStatus::kUnknown, "Hold", "", 3, At("2026-11-22T10:48:00Z")},
  };
  EXPECT_EQ(status.conditions, conditions);
}

TEST(DecodeSpec, OnDeleteNamesTheFieldWhenWrong) {
  json spec = VoiceAgentManifest()["spec"];
  spec["onDelete"] = "delete";
  auto decoded = DecodeSpec(spec);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error().message(),
            R"(spec.onDelete: must be one of keep, rollback, got "delete")");
  spec["onDelete"] = true;
  decoded = DecodeSpec(spec);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error().message(), "spec.onDelete: must be a string, got true");
}

TEST(DecodeSpec, ReadsComparisonsWithDefaults) {
  json spec = VoiceAgentManifest()["spec"];
  spec["analysis"]["comparisons"] = json::parse(R"j([{"name": "errors-vs-stable",
      "events": "sum(increase(e{version=\"{{version}}\"}[{{window}}]))",
      "total": "sum(increase(t{version=\"{{version}}\"}[{{window}}]))",
      "go": "< 0.005", "noGo": "> 0.02"}])j");
  auto decoded = DecodeSpec(spec);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  ASSERT_EQ(decoded->analysis.comparisons.size(), 1u);
  const ComparisonSpec& comparison = decoded->analysis.comparisons[0];
  EXPECT_EQ(comparison.name, "errors-vs-stable");
  EXPECT_EQ(comparison.go, (Threshold{CompareOp::kLess, 0.005}));
  EXPECT_EQ(comparison.no_go, (Threshold{CompareOp::kGreater, 0.02}));
  EXPECT_EQ(comparison.confidence, 0.95);
  EXPECT_EQ(comparison.min_total, 100);
}

TEST(DecodeSpec, ComparisonErrorsNameTheField) {
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"confidence", 0.5}},
       "spec.analysis.comparisons[0].confidence: must be in [0.8, 0.999], got 0.5"},
      {{{"confidence", "high"}},
       R"(spec.analysis.comparisons[0].confidence: must be a number, got "high")"},
      {{{"minTotal", 0}}, "spec.analysis.comparisons[0].minTotal: must be 1..1000000000, got 0"},
      {{{"minTotal", 2.5}}, "spec.analysis.comparisons[0].minTotal: must be an integer, got 2.5"},
      {{{"noGo", "above 2"}},
       R"(spec.analysis.comparisons[0].noGo: invalid threshold "above 2": )"},
      {{{"name", "Errors"}},
       "spec.analysis.comparisons[0].name: must be a DNS label (lower-case letters, digits and "
       "'-', at most 63), got \"Errors\""},
  };
  for (const auto& [patch, message] : cases) {
    json spec = VoiceAgentManifest()["spec"];
    json comparison = {{"name", "errors-vs-stable"},
                       {"events", "e"},
                       {"total", "t"},
                       {"go", "< 0.005"},
                       {"noGo", "> 0.02"}};
    comparison.update(patch);
    spec["analysis"]["comparisons"] = json::array({comparison});
    auto decoded = DecodeSpec(spec);
    ASSERT_FALSE(decoded.ok()) << message;
    EXPECT_TRUE(decoded.error().message().starts_with(message)) << decoded.error().message();
  }
  json spec = VoiceAgentManifest()["spec"];
  spec["analysis"]["comparisons"] =
      json::array({{{"name", "x"}, {"total", "t"}, {"go", "< 0"}, {"noGo", "> 0"}}});
  EXPECT_EQ(DecodeSpec(spec).error().message(), "spec.analysis.comparisons[0].events: is required");
}

TEST(DecodeObjectMeta, ReadsDeletionAndFinalizers) {
  auto meta = DecodeObjectMeta(json::parse(R"({"name": "a", "namespace": "n",
      "deletionTimestamp": "2026-11-22T10:00:00Z",
      "finalizers": ["example.com/other", "rollouts.agentops.dev/rollback-on-delete"]})"));
  ASSERT_TRUE(meta.ok()) << meta.error().message();
  EXPECT_EQ(meta->deletion_timestamp, At("2026-11-22T10:00:00Z"));
  EXPECT_EQ(meta->finalizers,
            (std::vector<std::string>{"example.com/other", kRollbackOnDeleteFinalizer}));
  EXPECT_EQ(EncodeObjectMeta(*meta), json::parse(R"({"name": "a", "namespace": "n",
      "deletionTimestamp": "2026-11-22T10:00:00Z",
      "finalizers": ["example.com/other", "rollouts.agentops.dev/rollback-on-delete"]})"));
  auto bad = DecodeObjectMeta(json::parse(R"({"finalizers": "x"})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), R"(metadata.finalizers: must be a list, got "x")");
}

TEST(DecodeStatus, ReadsTheControllersMemoryFields) {
  auto status = DecodeStatus(json::parse(R"({
      "phase": "Failed", "currentPhase": {"index": 1, "name": "b", "promoted": true},
      "pauseReason": "PauseAction", "handledAction": "pause", "interruptedPhase": "Paused"})"));
  ASSERT_TRUE(status.ok()) << status.error().message();
  EXPECT_TRUE(status->current_phase->promoted);
  EXPECT_EQ(status->pause_reason, "PauseAction");
  EXPECT_EQ(status->handled_action, "pause");
  EXPECT_EQ(status->interrupted_phase, RolloutPhase::kPaused);
  EXPECT_EQ(EncodeStatus(*status), json::parse(R"({
      "observedGeneration": 0, "phase": "Failed",
      "currentPhase": {"index": 1, "name": "b", "startedAt": "1970-01-01T00:00:00Z",
                       "flagPercent": 0, "trafficWeight": 0, "promoted": true},
      "pauseReason": "PauseAction", "handledAction": "pause", "interruptedPhase": "Paused"})"));

  auto bad = DecodeStatus(json::parse(R"({"interruptedPhase": "Gone"})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(),
            R"(status.interruptedPhase: must be one of Pending, Progressing, Paused, )"
            R"(AwaitingApproval, RollingBack, RolledBack, Succeeded, Failed, got "Gone")");
  bad = DecodeStatus(json::parse(R"({"currentPhase": {"promoted": "yes"}})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), R"(status.currentPhase.promoted: must be a boolean, got "yes")");
}

TEST(DecodeStatus, DefaultsWhenAbsent) {
  json object = VoiceAgentManifest();
  object.erase("status");
  EXPECT_EQ(Decoded(object).status, AgentRolloutStatus{});
  auto empty = DecodeStatus(json::object());
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, AgentRolloutStatus{});
}

TEST(StatusRoundTrip, DecodeOfEncodeIsIdentity) {
  const AgentRolloutStatus full = Decoded(VoiceAgentManifest()).status;
  AgentRolloutStatus sparse;
  sparse.phase = RolloutPhase::kRolledBack;
  sparse.rollback = RollbackStatus{At("2026-11-21T08:00:00Z"), "canary", "", "", "", "abort"};
  AgentRolloutStatus counters;
  counters.analysis.consecutive_no_go = 2;
  AgentRolloutStatus memory = full;
  memory.phase = RolloutPhase::kFailed;
  memory.current_phase->promoted = true;
  memory.pause_reason = "SteppedBack";
  memory.handled_action = "promote";
  memory.interrupted_phase = RolloutPhase::kPaused;
  memory.analysis.metrics.push_back(
      {"error-rate-vs-stable", "0.0125", Verdict::kHold, "< 0.005", "> 0.02", "",
       "needs 140 more stable calls", false,
       ComparisonStatus{"-0.0031", "0.0342", {"12", "480.5"}, {"0", "60"}}});
  for (const AgentRolloutStatus& status : {full, sparse, counters, memory, AgentRolloutStatus{}}) {
    const json encoded = EncodeStatus(status);
    auto decoded = DecodeStatus(encoded);
    ASSERT_TRUE(decoded.ok()) << decoded.error().message() << "\n" << encoded.dump(2);
    EXPECT_EQ(*decoded, status) << encoded.dump(2);
  }
}

TEST(EncodeStatus, WritesKubernetesShapes) {
  const json encoded = EncodeStatus(Decoded(VoiceAgentManifest()).status);
  // Exactly the manifest's status: same members, RFC 3339 "Z" timestamps, empty omitted.
  EXPECT_EQ(encoded, VoiceAgentManifest()["status"]) << encoded.dump(2);

  AgentRolloutStatus fresh;
  fresh.observed_generation = 1;
  fresh.phase = RolloutPhase::kPending;
  fresh.current_phase = CurrentPhaseStatus{0, "canary", At("2026-11-22T10:00:00.75Z"), 5, 0};
  EXPECT_EQ(EncodeStatus(fresh), json::parse(R"({
      "observedGeneration": 1, "phase": "Pending",
      "currentPhase": {"index": 0, "name": "canary", "startedAt": "2026-11-22T10:00:00Z",
                       "flagPercent": 5, "trafficWeight": 0}})"));
  EXPECT_EQ(EncodeStatus(AgentRolloutStatus{}), json::parse(R"({"observedGeneration": 0})"));
}

TEST(SpecRoundTrip, DecodeOfEncodeIsIdentity) {
  const json manifest = VoiceAgentManifest();
  const AgentRolloutSpec example = Decoded(manifest).spec;
  auto minimal = DecodeSpec(json::parse(R"({"traffic": {"replicas": {"stableDeployment": "a",
      "canaryDeployment": "b", "totalReplicas": 3}}, "phases": [{"name": "x"}]})"));
  ASSERT_TRUE(minimal.ok());
  AgentRolloutSpec odd = example;
  odd.paused = true;
  odd.on_delete = DeletePolicy::kRollback;
  odd.flag->feature_flag = FeatureFlagStore{"ff"};
  odd.analysis.metrics[0].go = Threshold{CompareOp::kLessEqual, 0.1 + 0.2};
  odd.analysis.metrics[0].abort = Threshold{CompareOp::kNotEqual, -1e-300};
  odd.analysis.prometheus->timeout = std::chrono::milliseconds(1500);
  odd.analysis.prometheus->headers = {{"X-Scope-OrgID", "t"}};
  odd.analysis.prometheus->bearer_token_secret_ref = SecretKeyRef{"t", "token"};
  odd.analysis.prometheus->basic_auth_secret_ref = SecretRef{"b"};
  odd.analysis.prometheus->ca_secret_ref = SecretKeyRef{"ca", "ca.crt"};
  odd.analysis.args = {{"agent", "voice"}};
  odd.analysis.no_data = NoDataPolicy::kNoGo;
  odd.phases[0].duration = hours(1) + std::chrono::milliseconds(1);
  odd.phases[1].flags = {{"telemetry", 100}};
  odd.rollback_mode = RollbackMode::kStepBack;
  odd.traffic->istio = IstioTraffic{"vs", "a", "b", "", "v2"};
  odd.notifications.push_back(
      NotificationSpec{"", SecretKeyRef{"s", "url"}, {}, NotificationType::kSlack, std::nullopt});
  odd.analysis.comparisons.push_back(ComparisonSpec{
      "errors-vs-stable", "e{v=\"{{version}}\"}", "t[{{window}}]",
      Threshold{CompareOp::kLess, 0.005}, Threshold{CompareOp::kGreaterEqual, 0.02}, 0.99, 250});
  for (const AgentRolloutSpec& spec : {example, *minimal, odd}) {
    const json encoded = EncodeSpec(spec);
    auto decoded = DecodeSpec(encoded);
    ASSERT_TRUE(decoded.ok()) << decoded.error().message() << "\n" << encoded.dump(2);
    EXPECT_EQ(*decoded, spec) << encoded.dump(2);
  }
}

TEST(EncodeSpec, WritesDefaultsExplicitly) {
  auto spec = DecodeSpec(json::parse(R"({"flag": {"key": "k", "configMap": {"name": "ff"}},
                      "phases": [{"name": "a", "flagPercent": 10}, {"name": "b"}]})"));
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(EncodeSpec(*spec), json::parse(R"({
      "paused": false,
      "onDelete": "keep",
      "flag": {"key": "k", "configMap": {"name": "ff", "key": "flags.json"}},
      "analysis": {"interval": "1m0s", "failureLimit": 0, "errorLimit": 3, "noData": "hold"},
      "rollback": {"mode": "total"},
      "phases": [
        {"name": "a", "flagPercent": 10, "trafficWeight": 0, "duration": "0s", "approval": false},
        {"name": "b", "flagPercent": 10, "trafficWeight": 0, "duration": "0s", "approval": false}
      ]})"));
}

TEST(AgentRolloutRoundTrip, DecodeOfEncodeIsIdentity) {
  const AgentRollout rollout = Decoded(VoiceAgentManifest());
  const json encoded = EncodeAgentRollout(rollout);
  EXPECT_EQ(encoded["apiVersion"], "rollouts.agentops.dev/v1alpha1");
  EXPECT_EQ(encoded["kind"], "AgentRollout");
  EXPECT_EQ(encoded["metadata"]["creationTimestamp"], "2026-11-20T09:15:00Z");
  EXPECT_FALSE(encoded["metadata"].contains("labels"));
  EXPECT_EQ(Decoded(encoded), rollout);

  AgentRollout no_status = rollout;
  no_status.status = {};
  EXPECT_FALSE(EncodeAgentRollout(no_status).contains("status"));
}

}  // namespace
}  // namespace agentrollout::api
