#include "tests/crd/model_samples.h"

#include <chrono>

namespace agentrollout::testing {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

api::Timestamp At(long long unix_seconds) { return api::Timestamp(seconds(unix_seconds)); }

}  // namespace

api::AgentRolloutSpec FullSpec() {
  api::AgentRolloutSpec spec;
  spec.revision = "2.0.0";
  spec.paused = true;
  spec.on_delete = api::DeletePolicy::kRollback;
  spec.flag = api::FlagSpec{.key = "voice_agent_v2",
                            .config_map = api::ConfigMapFlagStore{"feature-flags", "rollout.json"},
                            .feature_flag = std::nullopt,
                            .postgres = std::nullopt,
                            .deployment_env = std::nullopt,
                            .enabled_tenants = {"t-internal-1"},
                            .disabled_tenants = {"t-vip-bank"}};
  spec.traffic = api::TrafficSpec{
      .gateway_api = api::GatewayApiTraffic{"voice-agent", "voice-agent-v1", "voice-agent-v2"},
      .istio = std::nullopt,
      .replicas = std::nullopt};
  api::PrometheusSpec prometheus;
  prometheus.address = "https://prometheus.example:9090";
  prometheus.timeout = seconds(7);
  prometheus.headers = {{"X-Scope-OrgID", "tenant-1"}};
  prometheus.bearer_token_secret_ref = api::SecretKeyRef{"prom-token", "token"};
  prometheus.insecure_skip_verify = false;
  prometheus.ca_secret_ref = api::SecretKeyRef{"prom-ca", "ca.crt"};
  spec.analysis.prometheus = prometheus;
  spec.analysis.interval = seconds(30);
  spec.analysis.failure_limit = 2;
  spec.analysis.error_limit = 5;
  spec.analysis.no_data = api::NoDataPolicy::kNoGo;
  spec.analysis.args = {{"region", "eu"}};
  spec.analysis.metrics = {api::MetricSpec{
      .name = "error-rate",
      .query = "sum(rate(errors{version=\"{{canary}}\",region=\"{{region}}\"}[5m]))",
      .dry_run = true,
      .go = {api::CompareOp::kLess, 0.02},
      .no_go = {api::CompareOp::kGreater, 0.05},
      .abort = api::Threshold{api::CompareOp::kGreaterEqual, 0.5}}};
  spec.analysis.comparisons = {
      api::ComparisonSpec{.name = "error-rate-vs-stable",
                          .events = "sum(increase(errors{version=\"{{version}}\"}[{{window}}]))",
                          .total = "sum(increase(calls{version=\"{{version}}\"}[{{window}}]))",
                          .go = {api::CompareOp::kLessEqual, 0.005},
                          .no_go = {api::CompareOp::kGreaterEqual, 0.02},
                          .confidence = 0.99,
                          .min_total = 250}};
  spec.rollback_mode = api::RollbackMode::kStepBack;
  spec.phases = {
      api::PhaseSpec{.name = "canary",
                     .flag_percent = 5,
                     .traffic_weight = 5,
                     .duration = hours(1) + minutes(30),
                     .approval = true,
                     .flags = {{"vouchers", 100}}},
      api::PhaseSpec{.name = "complete",
                     .flag_percent = 100,
                     .traffic_weight = 100,
                     .duration = milliseconds(250),
                     .approval = false,
                     .flags = {}},
  };
  spec.notifications = {api::NotificationSpec{
      .url = "https://hooks.example.com/services/x",
      .secret_ref = api::SecretKeyRef{"slack-webhook", "url"},
      .events = {api::EventReason::kPhaseAdvanced, api::EventReason::kRolledBack},
      .type = api::NotificationType::kSlack,
      .routing_key_secret_ref = std::nullopt}};
  api::NotificationSpec pagerduty;
  pagerduty.url = "https://events.eu.pagerduty.com/v2/enqueue";
  pagerduty.type = api::NotificationType::kPagerDuty;
  pagerduty.routing_key_secret_ref = api::SecretKeyRef{"pagerduty", "key"};
  spec.notifications.push_back(pagerduty);
  return spec;
}

api::AgentRolloutSpec WithIstio(api::AgentRolloutSpec spec) {
  spec.traffic =
      api::TrafficSpec{.gateway_api = std::nullopt,
                       .istio = api::IstioTraffic{"voice-vs", "voice", "voice", "v1", "v2"},
                       .replicas = std::nullopt};
  spec.flag->config_map.reset();
  spec.flag->feature_flag = api::FeatureFlagStore{"voice-flags"};
  spec.analysis.prometheus->bearer_token_secret_ref.reset();
  spec.analysis.prometheus->basic_auth_secret_ref = api::SecretRef{"prom-basic"};
  return spec;
}

api::AgentRolloutSpec WithDeploymentEnv(api::AgentRolloutSpec spec) {
  spec.flag->config_map.reset();
  spec.flag->deployment_env = api::DeploymentEnvFlagStore{
      "voice-agent", "agent", api::DeploymentEnvVariables{"VOICE_V2_ENABLED", "VOICE_V2_PERCENT"}};
  return spec;
}

api::AgentRolloutSpec WithReplicas(api::AgentRolloutSpec spec) {
  spec.traffic = api::TrafficSpec{.gateway_api = std::nullopt,
                                  .istio = std::nullopt,
                                  .replicas = api::ReplicasTraffic{"voice-v1", "voice-v2", 10}};
  return spec;
}

api::AgentRolloutSpec WithPostgresRows(api::AgentRolloutSpec spec) {
  spec.flag->config_map.reset();
  spec.flag->postgres = api::PostgresFlagStore{
      .connection_secret_ref = {"flags-db", "url"},
      .table = "public.feature_flags",
      .key_column = "name",
      .columns = {"enabled", "percentage", "enabled_tenants", "disabled_tenants"},
      .json_column = "",
      .json_paths = {}};
  return spec;
}

api::AgentRolloutSpec WithPostgresDocument(api::AgentRolloutSpec spec) {
  spec.flag->config_map.reset();
  spec.flag->postgres =
      api::PostgresFlagStore{.connection_secret_ref = {"flags-db", "url"},
                             .table = "app_config",
                             .key_column = "key",
                             .columns = {},
                             .json_column = "value",
                             .json_paths = {"unifiedServiceEnabled", "unifiedServiceRolloutPercent",
                                            "tenants.on", "tenants.off"}};
  return spec;
}

api::AgentRolloutStatus FullStatus() {
  api::AgentRolloutStatus status;
  status.observed_generation = 4;
  status.revision = "2.0.0";
  status.phase = api::RolloutPhase::kFailed;
  status.current_phase = api::CurrentPhaseStatus{.index = 2,
                                                 .name = "expansion",
                                                 .started_at = At(1795000000),
                                                 .flag_percent = 25,
                                                 .traffic_weight = 25,
                                                 .promoted = true};
  status.verdict = api::Verdict::kHold;
  status.message = "holding in expansion";
  status.analysis.last_evaluated = At(1795000100);
  status.analysis.consecutive_no_go = 1;
  status.analysis.consecutive_errors = 2;
  status.analysis.metrics = {api::MetricStatus{.name = "latency-p95-ms",
                                               .value = "912",
                                               .verdict = api::Verdict::kHold,
                                               .go = "< 800",
                                               .no_go = "> 1200",
                                               .abort = "> 5000",
                                               .message = "912 is not < 800",
                                               .dry_run = true,
                                               .comparison = std::nullopt},
                             api::MetricStatus{.name = "error-rate-vs-stable",
                                               .value = "0.0125",
                                               .verdict = api::Verdict::kHold,
                                               .go = "< 0.005",
                                               .no_go = "> 0.02",
                                               .abort = "",
                                               .message = "needs 140 more stable calls",
                                               .dry_run = false,
                                               .comparison = api::ComparisonStatus{
                                                   .low = "-0.0031",
                                                   .high = "0.0342",
                                                   .canary = {.events = "12", .total = "480.5"},
                                                   .stable = {.events = "0", .total = "60"}}}};
  status.rollback = api::RollbackStatus{.at = At(1795000200),
                                        .from_phase = "majority",
                                        .metric = "error-rate",
                                        .value = "0.071",
                                        .line = "> 0.05",
                                        .reason = "error-rate 0.071 crossed > 0.05"};
  status.history = {api::HistoryEntry{.at = At(1795000300),
                                      .from = "early-adopters",
                                      .to = "expansion",
                                      .reason = "PhaseAdvanced"}};
  status.conditions = {api::Condition{.type = "Ready",
                                      .status = api::ConditionStatus::kFalse,
                                      .reason = "InvalidSpec",
                                      .message = "spec.flag.key: ...",
                                      .observed_generation = 4,
                                      .last_transition_time = At(1795000400)}};
  status.pause_reason = "SteppedBack";
  status.handled_action = "promote";
  status.interrupted_phase = api::RolloutPhase::kProgressing;
  return status;
}

}  // namespace agentrollout::testing
