#include "bench/workload.h"

#include <algorithm>
#include <string>

namespace agentrollout::bench {
namespace {

using nlohmann::json;

struct Step {
  const char* name;
  int percent;
  const char* duration;  // "" = the first phase's configurable duration
  bool approval;
};
// examples/voice-agent-v2.yaml's phases.
constexpr Step kPhases[] = {{"canary", 5, "", false},
                            {"early-adopters", 10, "24h", false},
                            {"expansion", 25, "24h", false},
                            {"majority", 50, "48h", true},
                            {"complete", 100, "0s", false}};
constexpr int kLastPhase = 4;

std::string Phase0Duration(const Workload& w) { return w.first_phase_duration; }

std::string Agent(const Workload& w, int i) {
  return "agent-" + std::to_string(w.query_groups > 0 ? i % w.query_groups : i);
}

// A fixed status time, so repeated runs write identical objects.
constexpr char kLongAgo[] = "2026-01-01T00:00:00Z";

}  // namespace

std::string RolloutName(int i) { return "rollout-" + std::to_string(i); }
std::string RouteName(int i) { return "route-" + std::to_string(i); }

std::string ConfigMapName(const Workload& w, int i) {
  return "flags-" + std::to_string(i / std::max(1, w.rollouts_per_config_map));
}

std::string CanaryBackend(const Workload& w, int i) { return Agent(w, i) + "-v2"; }
std::string StableBackend(const Workload& w, int i) { return Agent(w, i) + "-v1"; }

bool IsProgressing(const Workload& w, int i) {
  return (i % 100) < static_cast<int>(w.progressing_share * 100.0 + 0.5);
}

json VoiceAgentMetrics(const std::string& canary) {
  const std::string v = "version=\"" + canary + "\"";
  // `or vector(0)`: an agent without traffic yet reads 0 (Go) in both controllers; without
  // it the operator holds (noData: hold) while Argo counts an error per measurement.
  auto metric = [](const char* name, const std::string& query, const char* go, const char* no_go) {
    return json{
        {"name", name}, {"query", "(" + query + ") or vector(0)"}, {"go", go}, {"noGo", no_go}};
  };
  return json::array({
      metric("error-rate",
             "sum(rate(agent_requests_total{agent=\"voice\"," + v +
                 ",outcome=\"error\"}[5m])) / sum(rate(agent_requests_total{agent=\"voice\"," + v +
                 "}[5m]))",
             "< 0.02", "> 0.05"),
      metric("latency-p95-ms",
             "histogram_quantile(0.95, sum by (le) "
             "(rate(agent_latency_seconds_bucket{agent=\"voice\"," +
                 v + "}[5m]))) * 1000",
             "< 800", "> 1200"),
      metric("failed-calls",
             "sum(rate(voice_calls_total{agent=\"voice\"," + v +
                 ",outcome=\"failed\"}[5m])) / sum(rate(voice_calls_total{agent=\"voice\"," + v +
                 "}[5m]))",
             "< 0.03", "> 0.10"),
      metric("circuit-breaker-opens",
             "round(sum(increase(circuit_breaker_open_total{agent=\"voice\"," + v + "}[1h])))",
             "== 0", "> 2"),
      metric("complaints",
             "round(sum(increase(agent_complaints_total{agent=\"voice\"," + v + "}[1h])))", "== 0",
             "> 3"),
  });
}

json AgentRolloutObject(const Workload& w, int i) {
  json phases = json::array();
  for (const Step& step : kPhases) {
    json phase{{"name", step.name}, {"flagPercent", step.percent}, {"trafficWeight", step.percent}};
    phase["duration"] = *step.duration == '\0' ? Phase0Duration(w) : std::string(step.duration);
    if (step.approval) phase["approval"] = true;
    phases.push_back(std::move(phase));
  }
  json prometheus{{"address", w.prometheus}, {"timeout", w.timeout}};
  json store = {"configMap", {{"name", ConfigMapName(w, i)}, {"key", "flags.json"}}};
  if (!w.postgres_secret.empty()) {
    store = {"postgres",
             {{"connectionSecretRef", {{"name", w.postgres_secret}, {"key", "url"}}},
              {"table", "public.feature_flags"},
              {"keyColumn", "name"},
              {"columns",
               {{"enabled", "enabled"},
                {"percentage", "percentage"},
                {"enabledTenants", "enabled_tenants"},
                {"disabledTenants", "disabled_tenants"}}}}};
  }
  if (w.distinct_targets) prometheus["headers"] = {{"X-Bench-Rollout", RolloutName(i)}};
  return json{{"apiVersion", "rollouts.agentops.dev/v1alpha1"},
              {"kind", "AgentRollout"},
              {"metadata", {{"name", RolloutName(i)}, {"namespace", w.namespace_}}},
              {"spec",
               {{"revision", "2.0.0"},
                {"flag",
                 {{"key", "agent_" + std::to_string(i) + "_v2"},
                  std::move(store),
                  {"enabledTenants", {"t-internal-1", "t-internal-2"}},
                  {"disabledTenants", {"t-vip-bank"}}}},
                {"traffic",
                 {{"gatewayAPI",
                   {{"httpRoute", RouteName(i)},
                    {"stableBackend", StableBackend(w, i)},
                    {"canaryBackend", CanaryBackend(w, i)}}}}},
                {"analysis",
                 {{"prometheus", std::move(prometheus)},
                  {"interval", w.interval},
                  {"failureLimit", 0},
                  {"errorLimit", w.error_limit},
                  {"metrics", VoiceAgentMetrics("{{canary}}")}}},
                {"rollback", {{"mode", "total"}}},
                {"phases", std::move(phases)}}}};
}

json HttpRouteObject(const Workload& w, int i) {
  return json{{"apiVersion", "gateway.networking.k8s.io/v1"},
              {"kind", "HTTPRoute"},
              {"metadata", {{"name", RouteName(i)}, {"namespace", w.namespace_}}},
              {"spec",
               {{"parentRefs", {{{"name", "agents-gateway"}}}},
                {"rules",
                 {{{"backendRefs",
                    {{{"name", StableBackend(w, i)}, {"port", 8080}, {"weight", 100}},
                     {{"name", CanaryBackend(w, i)}, {"port", 8080}, {"weight", 0}}}}}}}}}};
}

json FlagConfigMapObject(const Workload& w, int i) {
  return json{{"apiVersion", "v1"},
              {"kind", "ConfigMap"},
              {"metadata", {{"name", ConfigMapName(w, i)}, {"namespace", w.namespace_}}},
              {"data", {{"flags.json", "{}"}}}};
}

json FinishedStatus(int i, std::int64_t generation) {
  // Every fourth finished rollout was rolled back in its second phase.
  const bool rolled_back = (i / 100 + i) % 4 == 0;
  const Step& at = rolled_back ? kPhases[1] : kPhases[kLastPhase];
  json status{{"observedGeneration", generation},
              {"revision", "2.0.0"},
              {"phase", rolled_back ? "RolledBack" : "Succeeded"},
              {"currentPhase",
               {{"index", rolled_back ? 1 : kLastPhase},
                {"name", at.name},
                {"startedAt", kLongAgo},
                {"flagPercent", at.percent},
                {"trafficWeight", at.percent}}},
              {"verdict", rolled_back ? "NoGo" : "Go"}};
  if (rolled_back) {
    status["rollback"] = {{"at", kLongAgo},   {"fromPhase", at.name}, {"metric", "error-rate"},
                          {"value", "0.071"}, {"line", "> 0.05"},     {"reason", "NoGo"}};
  }
  return status;
}

json ArgoAnalysisTemplateObject(const Workload& w, int i) {
  json metrics = json::array();
  for (const json& m : VoiceAgentMetrics("{{args.canary}}")) {
    // Argo's conditions are expressions over `result` (a vector's values, or a scalar).
    auto condition = [](const std::string& line) {
      return "result[0] " + line;  // "< 0.02" -> "result[0] < 0.02"
    };
    metrics.push_back(
        {{"name", m["name"]},
         {"interval", w.interval},
         {"failureLimit", 0},
         {"consecutiveErrorLimit", w.error_limit},
         {"successCondition", condition(m["go"].get<std::string>())},
         {"failureCondition", condition(m["noGo"].get<std::string>())},
         {"provider",
          {{"prometheus", {{"address", w.prometheus}, {"timeout", 5}, {"query", m["query"]}}}}}});
  }
  return json{{"apiVersion", "argoproj.io/v1alpha1"},
              {"kind", "AnalysisTemplate"},
              {"metadata", {{"name", RolloutName(i)}, {"namespace", w.namespace_}}},
              {"spec", {{"args", {{{"name", "canary"}}}}, {"metrics", std::move(metrics)}}}};
}

json ArgoRolloutObject(const Workload& w, int i, const std::string& image_tag) {
  json steps = json::array();
  for (const Step& step : kPhases) {
    steps.push_back({{"setWeight", step.percent}});
    const std::string duration =
        *step.duration == '\0' ? Phase0Duration(w) : std::string(step.duration);
    if (step.percent < 100) steps.push_back({{"pause", {{"duration", duration}}}});
    if (step.approval) steps.push_back({{"pause", json::object()}});  // waits for promote
  }
  const json labels{{"app", RolloutName(i)}};
  return json{{"apiVersion", "argoproj.io/v1alpha1"},
              {"kind", "Rollout"},
              {"metadata", {{"name", RolloutName(i)}, {"namespace", w.namespace_}}},
              {"spec",
               {{"replicas", 4},
                {"revisionHistoryLimit", 2},
                {"selector", {{"matchLabels", labels}}},
                {"template",
                 {{"metadata", {{"labels", labels}}},
                  {"spec",
                   {{"containers",
                     {{{"name", "agent"},
                       {"image", "registry.example/" + Agent(w, i) + ":" + image_tag}}}}}}}},
                {"strategy",
                 {{"canary",
                   {{"analysis",
                     {{"templates", {{{"templateName", RolloutName(i)}}}},
                      {"args", {{{"name", "canary"}, {"value", CanaryBackend(w, i)}}}}}},
                    {"steps", std::move(steps)}}}}}}}};
}

}  // namespace agentrollout::bench
