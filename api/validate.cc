#include "api/validate.h"

#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/codec.h"
#include "api/names.h"
#include "api/sql_names.h"
#include "api/template.h"
#include "api/threshold.h"

namespace agentrollout::api {
namespace {

// ---------------------------------------------------------------- threshold zones
// A threshold is a set of real numbers; metric values are finite doubles (NaN and Inf are
// query errors, API.md §3.1), so two zones overlap iff some finite double lies in both.

struct Bound {
  double value;  // may be -inf / +inf (then open)
  bool closed;
};

struct Interval {
  Bound low;
  Bound high;
};

constexpr double kInf = std::numeric_limits<double>::infinity();

// One or two intervals (two only for "!=").
std::vector<Interval> Zone(const Threshold& t) {
  const Bound below_all{-kInf, false};
  const Bound above_all{kInf, false};
  switch (t.op) {
    case CompareOp::kLess:
      return {{below_all, {t.value, false}}};
    case CompareOp::kLessEqual:
      return {{below_all, {t.value, true}}};
    case CompareOp::kGreater:
      return {{{t.value, false}, above_all}};
    case CompareOp::kGreaterEqual:
      return {{{t.value, true}, above_all}};
    case CompareOp::kEqual:
      return {{{t.value, true}, {t.value, true}}};
    case CompareOp::kNotEqual:
      return {{below_all, {t.value, false}}, {{t.value, false}, above_all}};
  }
  return {};
}

// The values that do not satisfy `t`.
Threshold Complement(const Threshold& t) {
  switch (t.op) {
    case CompareOp::kLess:
      return {CompareOp::kGreaterEqual, t.value};
    case CompareOp::kLessEqual:
      return {CompareOp::kGreater, t.value};
    case CompareOp::kGreater:
      return {CompareOp::kLessEqual, t.value};
    case CompareOp::kGreaterEqual:
      return {CompareOp::kLess, t.value};
    case CompareOp::kEqual:
      return {CompareOp::kNotEqual, t.value};
    case CompareOp::kNotEqual:
      return {CompareOp::kEqual, t.value};
  }
  return t;
}

// The intersection of two intervals, if it holds at least one finite double.
std::optional<Interval> Intersect(const Interval& a, const Interval& b) {
  Bound low = a.low;
  if (b.low.value > low.value || (b.low.value == low.value && !b.low.closed)) low = b.low;
  Bound high = a.high;
  if (b.high.value < high.value || (b.high.value == high.value && !b.high.closed)) high = b.high;
  // The smallest and largest doubles inside; nextafter(-inf, +inf) is the lowest finite.
  const double first = low.closed ? low.value : std::nextafter(low.value, kInf);
  const double last = high.closed ? high.value : std::nextafter(high.value, -kInf);
  if (!(first <= last)) return std::nullopt;
  return Interval{low, high};
}

// Some values satisfying both thresholds, if any.
std::optional<Interval> Overlap(const Threshold& a, const Threshold& b) {
  for (const Interval& x : Zone(a)) {
    for (const Interval& y : Zone(b)) {
      if (auto both = Intersect(x, y)) return both;
    }
  }
  return std::nullopt;
}

// "the value 5" or "a value in (0.02, 0.05]".
std::string DescribeValues(const Interval& values) {
  if (values.low.closed && values.high.closed && values.low.value == values.high.value) {
    return "the value " + FormatNumber(values.low.value);
  }
  return std::string("a value in ") + (values.low.closed ? "[" : "(") +
         FormatNumber(values.low.value) + ", " + FormatNumber(values.high.value) +
         (values.high.closed ? "]" : ")");
}

std::string Quoted(const Threshold& t) { return "\"" + FormatThreshold(t) + "\""; }

Status CheckZones(const MetricSpec& metric, const std::string& path) {
  if (auto both = Overlap(metric.go, metric.no_go)) {
    return InvalidArgument(path + ".noGo: " + Quoted(metric.no_go) + " overlaps go " +
                           Quoted(metric.go) + ": " + DescribeValues(*both) +
                           " would be both Go and NoGo");
  }
  if (metric.abort) {
    if (auto outside = Overlap(*metric.abort, Complement(metric.no_go))) {
      return InvalidArgument(path + ".abort: " + Quoted(*metric.abort) +
                             " is not inside the noGo zone " + Quoted(metric.no_go) + ": " +
                             DescribeValues(*outside) + " would hit abort but not noGo");
    }
  }
  return OkStatus();
}

// ---------------------------------------------------------------- the rest

// Names must be unique: the first repeat is reported against its first occurrence.
template <typename Item>
Status CheckUniqueNames(const std::vector<Item>& items, const std::string& list_path) {
  std::map<std::string_view, std::size_t> seen;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto [it, inserted] = seen.emplace(items[i].name, i);
    if (!inserted) {
      return InvalidArgument(list_path + "[" + std::to_string(i) + "].name: duplicate name \"" +
                             items[i].name + "\" (same as " + list_path + "[" +
                             std::to_string(it->second) + "].name)");
    }
  }
  return OkStatus();
}

// flag.postgres (API.md §5.3): row mode (columns) or document mode (jsonColumn +
// jsonPaths), never both; phases[].flags keys are row keys or dotted document paths.
Status CheckPostgresStore(const PostgresFlagStore& store, const std::vector<PhaseSpec>& phases) {
  const PostgresFields none;
  const bool json_mode = !store.json_column.empty();
  if (json_mode && store.columns != none) {
    return InvalidArgument(
        "spec.flag.postgres: set columns (row mode) or jsonColumn and jsonPaths (JSON document "
        "mode), not both");
  }
  if (json_mode && store.json_paths == none) {
    return InvalidArgument(
        "spec.flag.postgres.jsonPaths: map at least one of enabled, percentage, enabledTenants, "
        "disabledTenants (jsonColumn is set)");
  }
  if (!json_mode && store.json_paths != none) {
    return InvalidArgument("spec.flag.postgres.jsonColumn: required with jsonPaths");
  }
  if (!json_mode && store.columns == none) {
    return InvalidArgument(
        "spec.flag.postgres.columns: map at least one of enabled, percentage, enabledTenants, "
        "disabledTenants (or set jsonColumn and jsonPaths)");
  }
  for (std::size_t i = 0; i < phases.size(); ++i) {
    for (const auto& [key, percent] : phases[i].flags) {
      const std::string where = "spec.phases[" + std::to_string(i) + "].flags[" + key + "]";
      if (json_mode && !IsJsonPath(key)) {
        return InvalidArgument(where +
                               ": must be a dotted JSON path (the flag's jsonColumn "
                               "document), no empty segment, got \"" +
                               key + "\"");
      }
      if (!json_mode && store.columns.enabled.empty() && store.columns.percentage.empty()) {
        return InvalidArgument(where +
                               ": another row's flag needs spec.flag.postgres.columns.enabled "
                               "or .percentage to be written");
      }
    }
  }
  return OkStatus();
}

Status CheckStores(const AgentRolloutSpec& spec) {
  if (!spec.flag && !spec.traffic) {
    return InvalidArgument("spec: at least one of flag, traffic is required");
  }
  if (spec.flag) {
    std::vector<std::string> stores;
    if (spec.flag->config_map) stores.emplace_back("configMap");
    if (spec.flag->feature_flag) stores.emplace_back("featureFlag");
    if (spec.flag->postgres) stores.emplace_back("postgres");
    if (spec.flag->deployment_env) stores.emplace_back("deploymentEnv");
    if (stores.size() != 1) {
      std::string names;
      for (const std::string& name : stores) names += names.empty() ? name : ", " + name;
      return InvalidArgument(
          "spec.flag: exactly one of configMap, featureFlag, postgres, deploymentEnv must be "
          "set, got " +
          (stores.empty() ? std::string("none") : names));
    }
    if (spec.flag->postgres) {
      if (Status store = CheckPostgresStore(*spec.flag->postgres, spec.phases); !store.ok()) {
        return store;
      }
    }
    if (spec.flag->deployment_env) {
      const DeploymentEnvVariables& variables = spec.flag->deployment_env->variables;
      if (variables.enabled.empty() && variables.percentage.empty()) {
        return InvalidArgument(
            "spec.flag.deploymentEnv.variables: set at least one of enabled, percentage");
      }
      if (variables.enabled == variables.percentage) {
        return InvalidArgument(
            "spec.flag.deploymentEnv.variables: enabled and percentage are "
            "both \"" +
            variables.enabled + "\"; name two variables");
      }
    }
  }
  if (spec.traffic) {
    std::vector<std::string> routers;
    if (spec.traffic->gateway_api) routers.emplace_back("gatewayAPI");
    if (spec.traffic->istio) routers.emplace_back("istio");
    if (spec.traffic->replicas) routers.emplace_back("replicas");
    if (routers.empty()) {
      return InvalidArgument(
          "spec.traffic: exactly one of gatewayAPI, istio, replicas must be set, got none "
          "(omit traffic for a flag-only rollout)");
    }
    if (routers.size() > 1) {
      std::string names;
      for (const std::string& name : routers) names += names.empty() ? name : ", " + name;
      return InvalidArgument(
          "spec.traffic: exactly one of gatewayAPI, istio, replicas must be set, got " + names);
    }
  }
  return OkStatus();
}

// analysis.comparisons (API.md §3.3): the lines face the right way and do not overlap,
// the templates are valid with {{version}} and {{window}}, and each version has a name.
Status CheckComparisons(const AgentRolloutSpec& spec) {
  const AnalysisSpec& analysis = spec.analysis;
  for (std::size_t i = 0; i < analysis.comparisons.size(); ++i) {
    const ComparisonSpec& comparison = analysis.comparisons[i];
    const std::string path = "spec.analysis.comparisons[" + std::to_string(i) + "]";
    for (const auto& [field, query] :
         {std::pair{".events", &comparison.events}, std::pair{".total", &comparison.total}}) {
      if (Status s = CheckTemplate(*query, analysis.args, path + field, comparison.name,
                                   TemplateScope::kComparison);
          !s.ok()) {
        return s;
      }
    }
    if (comparison.go.op != CompareOp::kLess && comparison.go.op != CompareOp::kLessEqual) {
      return InvalidArgument(path + ".go: must be < or <= (canary - stable is below it), got " +
                             Quoted(comparison.go));
    }
    if (comparison.no_go.op != CompareOp::kGreater &&
        comparison.no_go.op != CompareOp::kGreaterEqual) {
      return InvalidArgument(path + ".noGo: must be > or >= (canary - stable is above it), got " +
                             Quoted(comparison.no_go));
    }
    if (auto both = Overlap(comparison.go, comparison.no_go)) {
      return InvalidArgument(path + ".noGo: " + Quoted(comparison.no_go) + " overlaps go " +
                             Quoted(comparison.go) + ": " + DescribeValues(*both) +
                             " would be both Go and NoGo");
    }
  }
  if (!analysis.comparisons.empty() && !spec.traffic) {
    for (const char* arg : {kCanaryVersionArg, kStableVersionArg}) {
      if (analysis.args.count(arg) == 0) {
        return InvalidArgument(std::string("spec.analysis.args.") + arg +
                               ": is required by spec.analysis.comparisons without "
                               "spec.traffic (it names the version {{version}} stands for)");
      }
    }
  }
  return OkStatus();
}

// Metrics and comparisons share status.analysis.metrics, so a name is unique across both;
// the first repeat is reported against its first occurrence.
Status CheckTableNames(const AnalysisSpec& analysis) {
  std::map<std::string_view, std::string> seen;  // name -> the path of its first use
  const auto check = [&](const std::string& name, const char* list, std::size_t i) -> Status {
    std::string path = std::string("spec.analysis.") + list + "[" + std::to_string(i) + "]";
    const auto [first, inserted] = seen.emplace(name, path);
    if (inserted) return OkStatus();
    return InvalidArgument(path + ".name: duplicate name \"" + name + "\" (same as " +
                           first->second + ".name)");
  };
  for (std::size_t i = 0; i < analysis.metrics.size(); ++i) {
    if (Status s = check(analysis.metrics[i].name, "metrics", i); !s.ok()) return s;
  }
  for (std::size_t i = 0; i < analysis.comparisons.size(); ++i) {
    if (Status s = check(analysis.comparisons[i].name, "comparisons", i); !s.ok()) return s;
  }
  return OkStatus();
}

Status CheckAnalysis(const AnalysisSpec& analysis) {
  if (!analysis.metrics.empty() && (!analysis.prometheus || analysis.prometheus->address.empty())) {
    return InvalidArgument(
        "spec.analysis.prometheus.address: is required when spec.analysis.metrics is not empty");
  }
  if (!analysis.comparisons.empty() &&
      (!analysis.prometheus || analysis.prometheus->address.empty())) {
    return InvalidArgument(
        "spec.analysis.prometheus.address: is required when spec.analysis.comparisons is not "
        "empty");
  }
  if (analysis.prometheus && analysis.prometheus->bearer_token_secret_ref &&
      analysis.prometheus->basic_auth_secret_ref) {
    return InvalidArgument(
        "spec.analysis.prometheus: set at most one of bearerTokenSecretRef and "
        "basicAuthSecretRef");
  }
  if (Status s = CheckTableNames(analysis); !s.ok()) return s;
  for (std::size_t i = 0; i < analysis.metrics.size(); ++i) {
    const MetricSpec& metric = analysis.metrics[i];
    const std::string path = "spec.analysis.metrics[" + std::to_string(i) + "]";
    if (Status s = CheckTemplate(metric.query, analysis.args, path + ".query", metric.name);
        !s.ok()) {
      return s;
    }
    if (Status s = CheckZones(metric, path); !s.ok()) return s;
  }
  return OkStatus();
}

// With flag.deploymentEnv a phases[].flags key is a variable of the same container.
Status CheckEnvFlags(const PhaseSpec& phase, const DeploymentEnvFlagStore& store,
                     const std::string& path) {
  for (const auto& [key, percent] : phase.flags) {
    if (!IsEnvVarName(key)) {
      return InvalidArgument(path + ".flags[" + key +
                             "]: with spec.flag.deploymentEnv a key is an environment variable "
                             "name matching ^[A-Za-z_][A-Za-z0-9_]{0,127}$");
    }
    if (key == store.variables.enabled || key == store.variables.percentage) {
      return InvalidArgument(path + ".flags[" + key +
                             "]: is one of spec.flag.deploymentEnv.variables; use flagPercent");
    }
  }
  return OkStatus();
}

Status CheckPhases(const AgentRolloutSpec& spec) {
  if (Status s = CheckUniqueNames(spec.phases, "spec.phases"); !s.ok()) return s;
  for (std::size_t i = 0; i < spec.phases.size(); ++i) {
    const PhaseSpec& phase = spec.phases[i];
    const std::string path = "spec.phases[" + std::to_string(i) + "]";
    if (i > 0) {
      const PhaseSpec& previous = spec.phases[i - 1];
      const std::string previous_path = "spec.phases[" + std::to_string(i - 1) + "]";
      if (phase.flag_percent < previous.flag_percent) {
        return InvalidArgument(path + ".flagPercent: must not decrease, got " +
                               std::to_string(phase.flag_percent) + " after " +
                               std::to_string(previous.flag_percent) + " in " + previous_path);
      }
      if (phase.traffic_weight < previous.traffic_weight) {
        return InvalidArgument(path + ".trafficWeight: must not decrease, got " +
                               std::to_string(phase.traffic_weight) + " after " +
                               std::to_string(previous.traffic_weight) + " in " + previous_path);
      }
    }
    if (!phase.flags.empty() && !spec.flag) {
      return InvalidArgument(path + ".flags: needs spec.flag (the store these flags live in)");
    }
    if (spec.flag && phase.flags.count(spec.flag->key) > 0) {
      return InvalidArgument(path + ".flags[" + spec.flag->key +
                             "]: is the rollout's own flag (spec.flag.key); use flagPercent");
    }
    if (spec.flag && spec.flag->deployment_env) {
      if (Status s = CheckEnvFlags(phase, *spec.flag->deployment_env, path); !s.ok()) return s;
    }
  }
  return OkStatus();
}

Status CheckNotifications(const std::vector<NotificationSpec>& notifications) {
  for (std::size_t i = 0; i < notifications.size(); ++i) {
    const NotificationSpec& n = notifications[i];
    const std::string path = "spec.notifications[" + std::to_string(i) + "]";
    const bool pagerduty = n.type == NotificationType::kPagerDuty;
    // PagerDuty has a well-known endpoint; every other kind needs to be told where to post.
    if (!pagerduty && n.url.empty() && !n.secret_ref) {
      return InvalidArgument(path + ": one of url, secretRef is required");
    }
    if (pagerduty && !n.routing_key_secret_ref) {
      return InvalidArgument(path + ".routingKeySecretRef: is required for type pagerduty");
    }
    if (!pagerduty && n.routing_key_secret_ref) {
      return InvalidArgument(path + ".routingKeySecretRef: is for type pagerduty only, not " +
                             std::string(Name(n.type)));
    }
  }
  return OkStatus();
}

}  // namespace

bool IsEnvVarName(std::string_view name) {
  const auto letter = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
  };
  if (name.empty() || name.size() > 128 || !letter(name.front())) return false;
  for (char c : name) {
    if (!letter(c) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

Status ValidateSpec(const AgentRolloutSpec& spec) {
  if (Status s = CheckStores(spec); !s.ok()) return s;
  if (Status s = CheckAnalysis(spec.analysis); !s.ok()) return s;
  if (Status s = CheckComparisons(spec); !s.ok()) return s;
  if (Status s = CheckPhases(spec); !s.ok()) return s;
  return CheckNotifications(spec.notifications);
}

Result<AgentRolloutSpec> DecodeAndValidateSpec(const nlohmann::json& spec) {
  Result<AgentRolloutSpec> decoded = DecodeSpec(spec);
  if (!decoded.ok()) return decoded;
  if (Status s = ValidateSpec(*decoded); !s.ok()) return s.error();
  return decoded;
}

Result<AgentRollout> DecodeAndValidate(const nlohmann::json& object) {
  Result<AgentRollout> decoded = DecodeAgentRollout(object);
  if (!decoded.ok()) return decoded;
  if (Status s = ValidateSpec(decoded->spec); !s.ok()) return s.error();
  return decoded;
}

}  // namespace agentrollout::api
