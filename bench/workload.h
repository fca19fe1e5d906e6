// The objects the benchmarks create: N realistic AgentRollouts (the voice-agent runbook of
// examples/voice-agent-v2.yaml: 5 phases, 5 go/no-go metrics, a ConfigMap flag store and a
// Gateway API HTTPRoute each) and, for the side-by-side run, the equivalent Argo Rollouts
// canary (same weight steps and bake times) with an AnalysisTemplate holding the same five
// Prometheus queries.
//
// Rollout i is "progressing" or "finished" by a fixed pattern (i % 100 < share * 100), so a
// run at any N has the same mix; finished ones get a status (Succeeded, or RolledBack for
// one in four) through the status subresource, as if an earlier operator had run them.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace agentrollout::bench {

struct Workload {
  std::string namespace_;
  std::string prometheus;       // analysis.prometheus.address
  std::string interval = "1m";  // analysis.interval
  std::string timeout = "5s";   // analysis.prometheus.timeout
  int error_limit = 3;
  // How long a progressing rollout stays in its first phase (it must not advance mid-run).
  std::string first_phase_duration = "4h";
  double progressing_share = 0.2;
  // Rollouts per flag ConfigMap (many rollouts share one store, as teams do).
  int rollouts_per_config_map = 50;
  // Distinct agents: rollout i analyses agent i % query_groups, so rollouts of the same
  // agent send identical queries (what the scheduler deduplicates). 0 = every rollout
  // its own agent.
  int query_groups = 100;
  // Each rollout gets its own header value (X-Bench-Rollout) when true, so no two share a
  // Prometheus target and no query is deduplicated (the fan-out baseline).
  bool distinct_targets = false;
  // The PostgreSQL flag store instead of ConfigMaps when set: the Secret (key `url`) whose
  // URI reaches a public.feature_flags table with a row agent_<i>_v2 per rollout.
  std::string postgres_secret;
};

std::string RolloutName(int i);
std::string RouteName(int i);
std::string ConfigMapName(const Workload& w, int i);
// The canary backend / agent version rollout i analyses ({{canary}} in its queries).
std::string CanaryBackend(const Workload& w, int i);
std::string StableBackend(const Workload& w, int i);
bool IsProgressing(const Workload& w, int i);

// The five metrics of the voice-agent go/no-go table, with `{{canary}}` in the queries,
// each as `(query) or vector(0)` (an agent without traffic reads 0).
// `canary_arg` is how the template refers to the canary ({{canary}} here, {{args.canary}}
// for Argo).
nlohmann::json VoiceAgentMetrics(const std::string& canary_arg);

nlohmann::json AgentRolloutObject(const Workload& w, int i);
nlohmann::json HttpRouteObject(const Workload& w, int i);
nlohmann::json FlagConfigMapObject(const Workload& w, int i);
// The status of finished rollout i (Succeeded, or RolledBack for every fourth finished
// one), for an object created at `generation`.
nlohmann::json FinishedStatus(int i, std::int64_t generation);

// Argo Rollouts: an AnalysisTemplate with the same five queries, and a canary Rollout
// with setWeight 5/10/25/50/100 and the same bake times (a pause {} for the approval).
nlohmann::json ArgoAnalysisTemplateObject(const Workload& w, int i);
nlohmann::json ArgoRolloutObject(const Workload& w, int i, const std::string& image_tag);

}  // namespace agentrollout::bench
