// The typed model of the AgentRollout custom resource (rollouts.agentops.dev/v1alpha1).
// ../shared/design/API.md is the contract; field names in comments are the JSON names.
//
// These structs hold *defaulted* values: the decoder (api/codec.h) applies every default
// of API.md §2, so consumers never re-implement defaulting. The model depends on nothing
// but the standard library, so controllers/ and analysis/ can both use it without
// depending on the operator process or on each other. The informer keeps one
// AgentRollout per rollout: large members that few rollouts set are BoxedOptional
// (api/boxed_optional.h), a pointer when empty.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/boxed_optional.h"

namespace agentrollout::api {

inline constexpr char kGroup[] = "rollouts.agentops.dev";
inline constexpr char kVersion[] = "v1alpha1";
inline constexpr char kApiVersion[] = "rollouts.agentops.dev/v1alpha1";
inline constexpr char kKind[] = "AgentRollout";
inline constexpr char kPlural[] = "agentrollouts";
// Annotation carrying a manual action (API.md §7).
inline constexpr char kActionAnnotation[] = "rollouts.agentops.dev/action";
// The finalizer of a rollout with spec.onDelete `rollback` (API.md §2): the operator takes
// flag and canary traffic down before the object goes.
inline constexpr char kRollbackOnDeleteFinalizer[] = "rollouts.agentops.dev/rollback-on-delete";

using Duration = std::chrono::milliseconds;
using Timestamp = std::chrono::system_clock::time_point;

// ---------------------------------------------------------------- spec

struct SecretKeyRef {  // {name, key}
  std::string name;
  std::string key;
  friend bool operator==(const SecretKeyRef&, const SecretKeyRef&) = default;
};

struct SecretRef {  // {name}
  std::string name;
  friend bool operator==(const SecretRef&, const SecretRef&) = default;
};

struct ConfigMapFlagStore {  // flag.configMap
  std::string name;
  std::string key = "flags.json";
  friend bool operator==(const ConfigMapFlagStore&, const ConfigMapFlagStore&) = default;
};

struct FeatureFlagStore {  // flag.featureFlag (core.openfeature.dev/v1beta1 FeatureFlag)
  std::string name;
  friend bool operator==(const FeatureFlagStore&, const FeatureFlagStore&) = default;
};

struct DeploymentEnvVariables {  // flag.deploymentEnv.variables; "" = not written
  std::string enabled;           // "true"/"false"
  std::string percentage;        // the number
  friend bool operator==(const DeploymentEnvVariables&, const DeploymentEnvVariables&) = default;
};

struct DeploymentEnvFlagStore {  // flag.deploymentEnv (API.md §5.4)
  std::string deployment;
  std::string container;  // "" = the pod template's first container
  DeploymentEnvVariables variables;
  friend bool operator==(const DeploymentEnvFlagStore&, const DeploymentEnvFlagStore&) = default;
};

// What a PostgreSQL store writes of a flag: columns (row mode) or dotted JSON paths
// (document mode). "" = not written.
struct PostgresFields {
  std::string enabled;
  std::string percentage;
  std::string enabled_tenants;
  std::string disabled_tenants;
  friend bool operator==(const PostgresFields&, const PostgresFields&) = default;
};

struct PostgresFlagStore {             // flag.postgres (API.md §5.3)
  SecretKeyRef connection_secret_ref;  // a libpq URI
  std::string table;                   // [schema.]table
  std::string key_column;              // the row whose key_column = a flag key
  PostgresFields columns;              // row mode
  std::string json_column;             // document mode when set: a jsonb column
  PostgresFields json_paths;           // document mode
  friend bool operator==(const PostgresFlagStore&, const PostgresFlagStore&) = default;
};

struct FlagSpec {  // flag
  std::string key;
  // Exactly one store is set.
  std::optional<ConfigMapFlagStore> config_map;
  std::optional<FeatureFlagStore> feature_flag;
  BoxedOptional<PostgresFlagStore> postgres;
  BoxedOptional<DeploymentEnvFlagStore> deployment_env;
  std::vector<std::string> enabled_tenants;
  std::vector<std::string> disabled_tenants;
  friend bool operator==(const FlagSpec&, const FlagSpec&) = default;
};

struct GatewayApiTraffic {  // traffic.gatewayAPI
  std::string http_route;
  std::string stable_backend;
  std::string canary_backend;
  friend bool operator==(const GatewayApiTraffic&, const GatewayApiTraffic&) = default;
};

struct IstioTraffic {  // traffic.istio
  std::string virtual_service;
  std::string stable_host;
  std::string canary_host;
  std::string stable_subset;  // optional: "" = match on host only
  std::string canary_subset;  // optional: "" = match on host only
  friend bool operator==(const IstioTraffic&, const IstioTraffic&) = default;
};

struct ReplicasTraffic {  // traffic.replicas
  std::string stable_deployment;
  std::string canary_deployment;
  std::int32_t total_replicas = 0;
  friend bool operator==(const ReplicasTraffic&, const ReplicasTraffic&) = default;
};

struct TrafficSpec {  // traffic: at most one router set (none = flag-only)
  std::optional<GatewayApiTraffic> gateway_api;
  BoxedOptional<IstioTraffic> istio;
  BoxedOptional<ReplicasTraffic> replicas;
  friend bool operator==(const TrafficSpec&, const TrafficSpec&) = default;
};

enum class CompareOp { kLess, kLessEqual, kGreater, kGreaterEqual, kEqual, kNotEqual };

// A go / noGo / abort line: `OP NUMBER`, e.g. "< 0.02" (api/threshold.h parses it).
struct Threshold {
  CompareOp op = CompareOp::kLess;
  double value = 0;
  friend bool operator==(const Threshold&, const Threshold&) = default;
};

struct MetricSpec {  // analysis.metrics[]
  std::string name;
  std::string query;  // PromQL template (API.md §3.2)
  bool dry_run = false;
  Threshold go;
  Threshold no_go;
  std::optional<Threshold> abort;
  friend bool operator==(const MetricSpec&, const MetricSpec&) = default;
};

struct PrometheusSpec {  // analysis.prometheus
  std::string address;
  Duration timeout = std::chrono::seconds(5);
  std::map<std::string, std::string> headers;
  std::optional<SecretKeyRef> bearer_token_secret_ref;
  std::optional<SecretRef> basic_auth_secret_ref;  // Secret with `username` and `password`
  bool insecure_skip_verify = false;
  std::optional<SecretKeyRef> ca_secret_ref;
  friend bool operator==(const PrometheusSpec&, const PrometheusSpec&) = default;
};

// analysis.comparisons[] (API.md §3.3): canary versus stable, judged on an always-valid
// confidence sequence for the difference of two proportions (analysis/judge).
struct ComparisonSpec {
  std::string name;
  // PromQL templates counting, per version, the events (e.g. failed calls) and the total
  // since the phase started; rendered with {{version}} = canary, then stable.
  std::string events;
  std::string total;
  Threshold go;                  // on canary - stable; < or <= (validated)
  Threshold no_go;               // > or >= (validated)
  double confidence = 0.95;      // in [0.8, 0.999]
  std::int64_t min_total = 100;  // per version; fewer -> Hold
  friend bool operator==(const ComparisonSpec&, const ComparisonSpec&) = default;
};

// analysis.args keys that name the versions a comparison compares (API.md §3.3); they
// override the traffic router's canary/stable names and are required without a router.
inline constexpr char kCanaryVersionArg[] = "canaryVersion";
inline constexpr char kStableVersionArg[] = "stableVersion";

enum class NoDataPolicy { kHold, kNoGo };

struct AnalysisSpec {  // analysis
  BoxedOptional<PrometheusSpec> prometheus;
  Duration interval = std::chrono::minutes(1);
  std::int32_t failure_limit = 0;
  std::int32_t error_limit = 3;
  NoDataPolicy no_data = NoDataPolicy::kHold;
  std::map<std::string, std::string> args;
  std::vector<MetricSpec> metrics;
  std::vector<ComparisonSpec> comparisons;
  friend bool operator==(const AnalysisSpec&, const AnalysisSpec&) = default;
};

enum class RollbackMode { kTotal, kStepBack };

// What deleting the AgentRollout does to the flag and traffic it wrote (spec.onDelete).
enum class DeletePolicy { kKeep, kRollback };

struct PhaseSpec {  // phases[]
  std::string name;
  // Defaulted: an omitted value is the previous phase's (0 for the first phase).
  std::int32_t flag_percent = 0;
  std::int32_t traffic_weight = 0;
  Duration duration{0};  // bake time
  bool approval = false;
  std::map<std::string, std::int32_t> flags;  // extra flags switched by this phase
  friend bool operator==(const PhaseSpec&, const PhaseSpec&) = default;
};

// Event reasons (API.md §8). Also the values of notifications[].events.
enum class EventReason {
  kPhaseStarted,
  kPhaseAdvanced,
  kAnalysisHold,
  kAnalysisNoGo,
  kRollingBack,
  kRolledBack,
  kAwaitingApproval,
  kPromoted,
  kPaused,
  kResumed,
  kSucceeded,
  kInvalidSpec,
  kTrafficTargetNotFound,
  kFlagTargetNotFound,
};

// notifications[].type (API.md §10): what the target speaks.
enum class NotificationType { kSlack, kPagerDuty, kAlertmanager, kWebhook };

struct NotificationSpec {  // notifications[]
  std::string url;
  std::optional<SecretKeyRef> secret_ref;  // URL read from a Secret instead
  std::vector<EventReason> events;         // empty = every event
  NotificationType type = NotificationType::kSlack;
  // pagerduty only: the Events API v2 routing (integration) key, read from a Secret.
  std::optional<SecretKeyRef> routing_key_secret_ref;  // routingKeySecretRef
  friend bool operator==(const NotificationSpec&, const NotificationSpec&) = default;
};

struct AgentRolloutSpec {
  std::string revision;
  bool paused = false;
  DeletePolicy on_delete = DeletePolicy::kKeep;  // onDelete
  std::optional<FlagSpec> flag;
  std::optional<TrafficSpec> traffic;
  AnalysisSpec analysis;
  RollbackMode rollback_mode = RollbackMode::kTotal;  // rollback.mode
  std::vector<PhaseSpec> phases;
  std::vector<NotificationSpec> notifications;
  friend bool operator==(const AgentRolloutSpec&, const AgentRolloutSpec&) = default;
};

// ---------------------------------------------------------------- status

enum class RolloutPhase {
  kNone,  // "" : never reconciled
  kPending,
  kProgressing,
  kPaused,
  kAwaitingApproval,
  kRollingBack,
  kRolledBack,
  kSucceeded,
  kFailed,
};

enum class Verdict { kNone, kGo, kHold, kNoGo, kError };  // kNone = ""

struct CurrentPhaseStatus {  // status.currentPhase
  std::int32_t index = 0;
  std::string name;
  Timestamp started_at{};
  std::int32_t flag_percent = 0;
  std::int32_t traffic_weight = 0;
  // Added by the controller (JSON `promoted`): a `promote` action was granted in this
  // phase (skip the rest of the bake, grant approval; a Go is still required). Status is
  // the operator's only memory, so the grant must live here; false in every new phase.
  bool promoted = false;
  friend bool operator==(const CurrentPhaseStatus&, const CurrentPhaseStatus&) = default;
};

// One version's counts of a comparison (status.analysis.metrics[].canary / .stable),
// formatted numbers: Prometheus's increase() extrapolates, so counts need not be whole,
// and strings keep floats out of the API as `value` does.
struct CountsStatus {
  std::string events;
  std::string total;
  friend bool operator==(const CountsStatus&, const CountsStatus&) = default;
};

// A comparison's judgement, on its entry in status.analysis.metrics[].
struct ComparisonStatus {
  std::string low;  // interval: [low, high] for canary - stable
  std::string high;
  CountsStatus canary;
  CountsStatus stable;
  friend bool operator==(const ComparisonStatus&, const ComparisonStatus&) = default;
};

struct MetricStatus {  // status.analysis.metrics[], a metric's or a comparison's
  std::string name;
  // Formatted number, "" when no data or error; for a comparison the estimate of
  // canary - stable.
  std::string value;
  Verdict verdict = Verdict::kNone;
  std::string go;  // the line as written, e.g. "< 0.02"
  std::string no_go;
  std::string abort;    // "" when the metric has no abort line
  std::string message;  // why Hold/Error, e.g. "query returned 2 series"
  bool dry_run = false;
  // Set for a comparison (API.md §3.3) whose counts were read, Hold included.
  BoxedOptional<ComparisonStatus> comparison;
  friend bool operator==(const MetricStatus&, const MetricStatus&) = default;
};

struct AnalysisStatus {  // status.analysis
  std::optional<Timestamp> last_evaluated;
  std::int32_t consecutive_no_go = 0;
  std::int32_t consecutive_errors = 0;
  std::vector<MetricStatus> metrics;
  friend bool operator==(const AnalysisStatus&, const AnalysisStatus&) = default;
};

struct RollbackStatus {  // status.rollback
  Timestamp at{};
  std::string from_phase;
  std::string metric;
  std::string value;
  std::string line;
  std::string reason;
  friend bool operator==(const RollbackStatus&, const RollbackStatus&) = default;
};

struct HistoryEntry {  // status.history[] (last 20, newest last)
  Timestamp at{};
  std::string from;
  std::string to;
  std::string reason;
  friend bool operator==(const HistoryEntry&, const HistoryEntry&) = default;
};
inline constexpr std::size_t kMaxHistory = 20;

enum class ConditionStatus { kTrue, kFalse, kUnknown };

struct Condition {   // status.conditions[]
  std::string type;  // Ready | Reconciling | Stalled | Healthy
  ConditionStatus status = ConditionStatus::kUnknown;
  std::string reason;
  std::string message;
  std::int64_t observed_generation = 0;
  Timestamp last_transition_time{};
  friend bool operator==(const Condition&, const Condition&) = default;
};

struct AgentRolloutStatus {
  std::int64_t observed_generation = 0;
  std::string revision;
  RolloutPhase phase = RolloutPhase::kNone;
  std::optional<CurrentPhaseStatus> current_phase;
  Verdict verdict = Verdict::kNone;
  std::string message;
  AnalysisStatus analysis;
  BoxedOptional<RollbackStatus> rollback;
  std::vector<HistoryEntry> history;
  std::vector<Condition> conditions;
  // Added by the controller; status is its only memory (API.md §4.7), so these record
  // what neither the spec nor the fields above can tell after a restart:
  // - pause_reason (JSON `pauseReason`): why the operator holds the rollout besides
  //   spec.paused: "PauseAction" (the pause action) or "SteppedBack" (a stepBack
  //   rollback); "" otherwise. Cleared by resume / promote.
  std::string pause_reason;
  // - handled_action (JSON `handledAction`): the manual action (§7) last acted on, kept
  //   until its annotation is seen removed, so a restart between the status write and
  //   the annotation removal never acts on it twice.
  std::string handled_action;
  // - interrupted_phase (JSON `interruptedPhase`): the phase that Failed (InvalidSpec)
  //   replaced, restored when the spec is valid again; kNone when not Failed.
  RolloutPhase interrupted_phase = RolloutPhase::kNone;
  friend bool operator==(const AgentRolloutStatus&, const AgentRolloutStatus&) = default;
};

// ---------------------------------------------------------------- analysis results

// One evaluation of the go/no-go table: produced by analysis/, consumed by the
// controller's state machine. `metrics` carries per-metric values and verdicts in
// spec order (the same shape status.analysis.metrics shows).
struct Evaluation {
  Timestamp at{};
  // When the oldest query whose answer this evaluation used was sent (answers may be
  // shared or reused); a phase may advance only on evidence measured after it started.
  Timestamp measured_from{};
  Verdict verdict = Verdict::kNone;
  std::vector<MetricStatus> metrics;
  friend bool operator==(const Evaluation&, const Evaluation&) = default;
};

// Why analysis demands a rollback now (API.md §3.1): an abort line was hit (always a
// total rollback), NoGo past failureLimit, or Error past errorLimit (counted as NoGo).
struct RollbackTrigger {
  enum class Kind { kAbort, kNoGo, kErrors };
  Kind kind = Kind::kNoGo;
  std::string metric;  // the metric that crossed its line ("" for kErrors with several)
  std::string value;   // its value, as shown in status
  std::string line;    // the line crossed, e.g. "> 0.05"
  std::string reason;  // one plain sentence
  friend bool operator==(const RollbackTrigger&, const RollbackTrigger&) = default;
};

// ---------------------------------------------------------------- object

// The subset of metadata the operator needs (kept small: the informer caches
// one of these per AgentRollout).
struct ObjectMeta {
  std::string name;
  std::string namespace_;
  std::string uid;
  std::string resource_version;
  std::int64_t generation = 0;
  std::optional<Timestamp> creation_timestamp;
  std::optional<Timestamp> deletion_timestamp;  // set: the object is being deleted
  std::vector<std::string> finalizers;
  std::map<std::string, std::string> annotations;
  friend bool operator==(const ObjectMeta&, const ObjectMeta&) = default;
};

struct AgentRollout {
  ObjectMeta metadata;
  AgentRolloutSpec spec;
  AgentRolloutStatus status;
  friend bool operator==(const AgentRollout&, const AgentRollout&) = default;
};

}  // namespace agentrollout::api
