#include "plugin/commands.h"

#include <agentrollout/flag_client.h>
#include <agentrollout/flag_client_json.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>
#include <system_error>
#include <utility>

#include "analysis/compare.h"
#include "analysis/template.h"
#include "api/codec.h"
#include "api/names.h"
#include "api/threshold.h"
#include "api/time.h"
#include "common/text.h"

namespace agentrollout::plugin {
namespace {

using std::chrono::seconds;

std::string Or(std::string_view text, std::string_view fallback = "-") {
  return std::string(text.empty() ? fallback : text);
}

std::string Age(const std::optional<api::Timestamp>& at, api::Timestamp now) {
  if (!at || *at == api::Timestamp{}) return "<unknown>";
  return HumanDuration(std::chrono::duration_cast<seconds>(now - *at));
}

std::string Age(api::Timestamp at, api::Timestamp now) {
  return Age(std::optional<api::Timestamp>(at), now);
}

std::string Step(const api::AgentRollout& rollout) {
  const auto& current = rollout.status.current_phase;
  if (!current) return "-";
  const std::string total =
      rollout.spec.phases.empty() ? "?" : std::to_string(rollout.spec.phases.size());
  return std::to_string(current->index + 1) + "/" + total + " " + current->name;
}

std::string Percent(bool applies, const std::optional<api::CurrentPhaseStatus>& current,
                    std::int32_t api::CurrentPhaseStatus::*field) {
  if (!applies || !current) return "-";
  return std::to_string((*current).*field) + "%";
}

bool HasFlag(const api::AgentRollout& rollout) { return rollout.spec.flag.has_value(); }
bool HasTraffic(const api::AgentRollout& rollout) {
  const auto& traffic = rollout.spec.traffic;
  return traffic && (traffic->gateway_api || traffic->istio || traffic->replicas);
}

std::string Qualified(const api::AgentRollout& rollout) {
  return rollout.metadata.namespace_ + "/" + rollout.metadata.name;
}

void Field(std::ostringstream& out, std::string_view label, std::string_view value) {
  constexpr std::size_t kWidth = 11;
  out << label << ':' << std::string(label.size() < kWidth ? kWidth - label.size() : 1, ' ')
      << value << '\n';
}

// The go/no-go table: spec order, live values from status.analysis by name; status rows
// for metrics no longer in the spec come last.
std::vector<std::vector<std::string>> MetricRows(const api::AgentRollout& rollout) {
  std::vector<std::vector<std::string>> rows = {
      {"METRIC", "VALUE", "VERDICT", "GO", "NO-GO", "ABORT", "MESSAGE"}};
  std::map<std::string, const api::MetricStatus*> live;
  for (const api::MetricStatus& metric : rollout.status.analysis.metrics) {
    live[metric.name] = &metric;
  }
  auto name_of = [](const std::string& name, bool dry_run) {
    return dry_run ? name + " (dry run)" : name;
  };
  for (const api::MetricSpec& spec : rollout.spec.analysis.metrics) {
    const auto found = live.find(spec.name);
    const api::MetricStatus* status = found == live.end() ? nullptr : found->second;
    rows.push_back({name_of(spec.name, spec.dry_run || (status && status->dry_run)),
                    status ? Or(status->value) : "-", status ? Or(api::Name(status->verdict)) : "-",
                    api::FormatThreshold(spec.go), api::FormatThreshold(spec.no_go),
                    spec.abort ? api::FormatThreshold(*spec.abort) : "-",
                    status ? status->message : ""});
    if (found != live.end()) live.erase(found);
  }
  for (const api::ComparisonSpec& comparison : rollout.spec.analysis.comparisons) {
    live.erase(comparison.name);  // shown by ComparisonRows
  }
  for (const api::MetricStatus& metric : rollout.status.analysis.metrics) {
    if (!live.contains(metric.name) || metric.comparison) continue;
    rows.push_back({name_of(metric.name, metric.dry_run), Or(metric.value),
                    Or(api::Name(metric.verdict)), Or(metric.go), Or(metric.no_go),
                    Or(metric.abort), metric.message});
  }
  return rows;
}

// A number of status, if it is one.
std::optional<double> Number(const std::string& text) {
  double value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

// "46/2000 (2.3%)": a version's events of its calls, and their share.
std::string Counts(const api::CountsStatus& counts) {
  std::string text = Or(counts.events) + "/" + Or(counts.total);
  const auto events = Number(counts.events);
  const auto total = Number(counts.total);
  if (events && total && *total > 0) {
    char share[32];
    std::snprintf(share, sizeof share, " (%.3g%%)", 100 * *events / *total);
    text += share;
  }
  return text;
}

// "+1.2..+3.4 pts": the interval for canary - stable in percentage points.
std::string Points(double low, double high) {
  char text[64];
  std::snprintf(text, sizeof text, "%+.3g..%+.3g pts", 100 * low, 100 * high);
  return text;
}

}  // namespace

std::string IntervalBar(double low, double high, double go, double no_go) {
  constexpr int kWidth = 31;
  // The scale spans the interval and both lines, with a margin so no mark sits on an edge.
  double from = std::min({low, go, no_go});
  double to = std::max({high, go, no_go});
  const double margin = std::max((to - from) * 0.1, 1e-9);
  from -= margin;
  to += margin;
  const auto column = [&](double value) {
    const double at = (value - from) / (to - from) * (kWidth - 1);
    return std::clamp(static_cast<int>(std::lround(at)), 0, kWidth - 1);
  };
  std::string bar(kWidth, '.');
  const int first = column(low);
  const int last = column(high);
  for (int i = first; i <= last; ++i) bar[static_cast<std::size_t>(i)] = '=';
  bar[static_cast<std::size_t>(first)] = '[';
  bar[static_cast<std::size_t>(last)] = ']';
  bar[static_cast<std::size_t>(column(go))] = 'G';
  bar[static_cast<std::size_t>(column(no_go))] = 'N';
  return bar;
}

namespace {

// The comparisons (API.md §3.3): spec order, live counts and interval from status.
std::vector<std::vector<std::string>> ComparisonRows(const api::AgentRollout& rollout) {
  std::vector<std::vector<std::string>> rows = {{"COMPARISON", "CANARY", "STABLE", "CANARY-STABLE",
                                                 "INTERVAL (G go, N no-go)", "VERDICT", "MESSAGE"}};
  std::map<std::string, const api::MetricStatus*> live;
  for (const api::MetricStatus& metric : rollout.status.analysis.metrics) {
    live[metric.name] = &metric;
  }
  for (const api::ComparisonSpec& spec : rollout.spec.analysis.comparisons) {
    const auto found = live.find(spec.name);
    const api::MetricStatus* status = found == live.end() ? nullptr : found->second;
    std::vector<std::string> row = {spec.name, "-", "-", "-", "-", "-", ""};
    if (status != nullptr) {
      row[5] = Or(api::Name(status->verdict));
      row[6] = status->message;
    }
    if (status != nullptr && status->comparison) {
      const api::ComparisonStatus& comparison = *status->comparison;
      row[1] = Counts(comparison.canary);
      row[2] = Counts(comparison.stable);
      const auto low = Number(comparison.low);
      const auto high = Number(comparison.high);
      if (low && high) {
        row[3] = Points(*low, *high);
        row[4] = IntervalBar(*low, *high, spec.go.value, spec.no_go.value);
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

Error RolloutNotFound(std::string_view ns, std::string_view name) {
  return NotFound("agentrollout \"" + std::string(name) + "\" not found in namespace \"" +
                  std::string(ns) + "\"");
}

Error Refuse(Action action, const api::AgentRollout& rollout, const std::string& why) {
  return Error(ErrorCode::kFailedPrecondition,
               "cannot " + std::string(ActionName(action)) + " " + Qualified(rollout) + ": " + why);
}

std::vector<api::AgentRollout> Sorted(const std::map<std::string, nlohmann::json>& objects) {
  std::vector<api::AgentRollout> out;
  for (const auto& [key, object] : objects) {
    Result<api::AgentRollout> rollout = DecodeForDisplay(object);
    if (rollout.ok()) out.push_back(std::move(rollout).value());
  }
  return out;  // the map is keyed by namespace/name
}

// metadata[field] when it is a string, else "".
std::string MetadataString(const nlohmann::json& object, const char* field) {
  if (!object.is_object()) return "";
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return "";
  const auto value = metadata->find(field);
  return value != metadata->end() && value->is_string() ? value->get<std::string>() : "";
}

}  // namespace

std::optional<std::string> ObjectKey(const nlohmann::json& object) {
  const std::string name = MetadataString(object, "name");
  if (name.empty()) return std::nullopt;
  return MetadataString(object, "namespace") + "/" + name;
}

std::string HumanDuration(seconds duration) {
  const long long s = duration.count();
  if (s < -1) return "<invalid>";
  if (s < 0) return "0s";
  if (s < 120) return std::to_string(s) + "s";
  const long long minutes = s / 60;
  if (minutes < 10) {
    return std::to_string(minutes) + "m" + (s % 60 == 0 ? "" : std::to_string(s % 60) + "s");
  }
  if (minutes < 180) return std::to_string(minutes) + "m";
  const long long hours = s / 3600;
  if (hours < 8) {
    return std::to_string(hours) + "h" +
           (minutes % 60 == 0 ? "" : std::to_string(minutes % 60) + "m");
  }
  if (hours < 48) return std::to_string(hours) + "h";
  if (hours < 24 * 8) {
    return std::to_string(hours / 24) + "d" +
           (hours % 24 == 0 ? "" : std::to_string(hours % 24) + "h");
  }
  if (hours < 24 * 365 * 2) return std::to_string(hours / 24) + "d";
  if (hours < 24 * 365 * 8) {
    const long long days = (hours / 24) % 365;
    return std::to_string(hours / 24 / 365) + "y" + (days == 0 ? "" : std::to_string(days) + "d");
  }
  return std::to_string(hours / 24 / 365) + "y";
}

std::string FormatTable(const std::vector<std::vector<std::string>>& rows,
                        std::string_view indent) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line(indent);
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 3, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + '\n';
  }
  return out;
}

std::string FormatList(const std::vector<api::AgentRollout>& rollouts, bool with_namespace,
                       api::Timestamp now) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = {"NAME", "PHASE", "STEP", "FLAG%", "WEIGHT", "VERDICT", "AGE"};
  if (with_namespace) header.insert(header.begin(), "NAMESPACE");
  rows.push_back(std::move(header));
  for (const api::AgentRollout& rollout : rollouts) {
    const auto& current = rollout.status.current_phase;
    std::vector<std::string> row = {
        rollout.metadata.name,
        Or(api::Name(rollout.status.phase)),
        Step(rollout),
        Percent(HasFlag(rollout), current, &api::CurrentPhaseStatus::flag_percent),
        Percent(HasTraffic(rollout), current, &api::CurrentPhaseStatus::traffic_weight),
        Or(api::Name(rollout.status.verdict)),
        Age(rollout.metadata.creation_timestamp, now)};
    if (with_namespace) row.insert(row.begin(), rollout.metadata.namespace_);
    rows.push_back(std::move(row));
  }
  return FormatTable(rows);
}

std::string FormatStatus(const api::AgentRollout& rollout, api::Timestamp now) {
  const api::AgentRolloutStatus& status = rollout.status;
  const auto& current = status.current_phase;
  std::ostringstream out;
  Field(out, "Name", rollout.metadata.name);
  Field(out, "Namespace", rollout.metadata.namespace_);
  Field(out, "Revision", Or(rollout.spec.revision, "\"\""));
  Field(out, "Phase", Or(api::Name(status.phase), "- (not reconciled yet)"));
  std::string step = Step(rollout);
  if (current) step += " (for " + Age(current->started_at, now) + ")";
  Field(out, "Step", step);
  if (rollout.spec.flag) {
    Field(out, "Flag",
          rollout.spec.flag->key + " at " +
              Percent(true, current, &api::CurrentPhaseStatus::flag_percent));
  }
  if (HasTraffic(rollout)) {
    Field(out, "Weight", Percent(true, current, &api::CurrentPhaseStatus::traffic_weight));
  }
  Field(out, "Verdict", Or(api::Name(status.verdict)));
  Field(out, "Message", Or(status.message));
  if (rollout.spec.paused || !status.pause_reason.empty()) {
    Field(out, "Paused",
          rollout.spec.paused ? std::string("spec.paused") : "by " + status.pause_reason);
  }
  if (const auto it = rollout.metadata.annotations.find(api::kActionAnnotation);
      it != rollout.metadata.annotations.end()) {
    Field(out, "Action", it->second + " (requested, not yet acted on)");
  }
  Field(out, "Age", Age(rollout.metadata.creation_timestamp, now));

  const api::AnalysisStatus& analysis = status.analysis;
  out << "\nGo/No-Go";
  if (analysis.last_evaluated) {
    out << " (evaluated " << Age(*analysis.last_evaluated, now) << " ago; consecutive NoGo "
        << analysis.consecutive_no_go << ", errors " << analysis.consecutive_errors << ")";
  }
  out << ":\n";
  const auto metric_rows = MetricRows(rollout);
  if (metric_rows.size() > 1) {
    out << FormatTable(metric_rows, "  ");
  } else if (rollout.spec.analysis.comparisons.empty()) {
    out << "  no metrics: phases advance on time alone\n";
  } else {
    out << "  no metrics, only the comparisons below\n";
  }
  if (!rollout.spec.analysis.comparisons.empty()) {
    out << "\nCanary vs stable (events/calls in this phase; interval of canary - stable):\n"
        << FormatTable(ComparisonRows(rollout), "  ");
  }

  out << "\nRollback:";
  if (!status.rollback) {
    out << " none\n";
  } else {
    const api::RollbackStatus& rollback = *status.rollback;
    out << '\n';
    std::vector<std::vector<std::string>> rows = {
        {"At:", api::FormatTime(rollback.at) + " (" + Age(rollback.at, now) + " ago)"},
        {"From phase:", Or(rollback.from_phase)}};
    if (!rollback.metric.empty()) {
      rows.push_back({"Metric:", rollback.metric + " = " + Or(rollback.value) + ", crossed " +
                                     Or(rollback.line)});
    }
    rows.push_back({"Reason:", Or(rollback.reason)});
    out << FormatTable(rows, "  ");
  }

  out << "\nHistory:";
  if (status.history.empty()) {
    out << " none\n";
  } else {
    out << '\n';
    std::vector<std::vector<std::string>> rows = {{"AGE", "FROM", "TO", "REASON"}};
    for (const api::HistoryEntry& entry : status.history) {
      rows.push_back({Age(entry.at, now), Or(entry.from), Or(entry.to), Or(entry.reason)});
    }
    out << FormatTable(rows, "  ");
  }

  out << "\nConditions:";
  if (status.conditions.empty()) {
    out << " none\n";
  } else {
    out << '\n';
    std::vector<std::vector<std::string>> rows = {{"TYPE", "STATUS", "REASON", "AGE", "MESSAGE"}};
    for (const api::Condition& condition : status.conditions) {
      rows.push_back({condition.type, std::string(api::Name(condition.status)),
                      Or(condition.reason), Age(condition.last_transition_time, now),
                      condition.message});
    }
    out << FormatTable(rows, "  ");
  }
  return out.str();
}

std::string FormatQueries(const api::AgentRollout& rollout, api::Timestamp now) {
  const api::AnalysisSpec& analysis = rollout.spec.analysis;
  std::string phase;
  std::string when;
  api::Duration since_start{0};
  if (rollout.status.current_phase) {
    phase = rollout.status.current_phase->name;
    when = "phase " + phase;
    since_start =
        std::chrono::duration_cast<api::Duration>(now - rollout.status.current_phase->started_at);
  } else if (!rollout.spec.phases.empty()) {
    phase = rollout.spec.phases.front().name;
    when = "phase " + phase + ", not started yet";
  }
  std::ostringstream out;
  out << "\nQueries";
  if (!when.empty()) out << " (" << when << ")";
  if (analysis.metrics.empty() && analysis.comparisons.empty()) {
    out << ": none (no metrics: phases advance on time alone)\n";
    return out.str();
  }
  out << ":\n";
  const auto print = [&out](const std::string& title, const Result<std::string>& rendered) {
    if (!rendered.ok()) {
      out << "  " << title << ": does not render: " << rendered.error().message() << '\n';
      return;
    }
    out << "  " << title << ":\n";
    std::istringstream lines(*rendered);
    for (std::string line; std::getline(lines, line);) out << "    " << line << '\n';
  };
  const analysis::TemplateVars vars = analysis::BuildTemplateVars(rollout, phase);
  for (const api::MetricSpec& metric : analysis.metrics) {
    print(metric.name + (metric.dry_run ? " (dryRun)" : ""), analysis::Render(metric.query, vars));
  }
  // As the operator sends them now: {{window}} is the time since the phase started.
  const analysis::Versions versions = analysis::VersionsOf(vars);
  const std::string window = analysis::PromQLWindow(since_start);
  for (const api::ComparisonSpec& comparison : analysis.comparisons) {
    const auto queries = analysis::RenderComparison(comparison, vars, versions, window);
    const std::array<std::string, analysis::kQueriesPerComparison> titles = {
        "events, canary " + QuoteForMessage(versions.canary),
        "total, canary " + QuoteForMessage(versions.canary),
        "events, stable " + QuoteForMessage(versions.stable),
        "total, stable " + QuoteForMessage(versions.stable)};
    for (std::size_t i = 0; i < queries.size(); ++i) {
      print(comparison.name + " (" + titles[i] + ")", queries[i]);
    }
  }
  return out.str();
}

std::string FormatBuckets(std::string_view flag, const std::vector<std::string>& tenants,
                          const BucketState& state) {
  const auto contains = [](const std::vector<std::string>& list, const std::string& tenant) {
    return std::find(list.begin(), list.end(), tenant) != list.end();
  };
  const bool pins = !state.enabled_tenants.empty() || !state.disabled_tenants.empty();
  std::vector<std::vector<std::string>> rows = {{"TENANT", "BUCKET"}};
  if (pins) rows[0].push_back("PINNED");
  if (state.percent) {
    rows[0].push_back(!state.enabled ? "IN (flag disabled)"
                      : pins ? "IN (pinned, else bucket < " + std::to_string(*state.percent) + ")"
                             : "IN (bucket < " + std::to_string(*state.percent) + ")");
  }
  flag::FlagState flag_state;
  flag_state.key = std::string(flag);
  flag_state.enabled = state.enabled;
  flag_state.percentage = state.percent.value_or(0);
  flag_state.enabled_tenants = state.enabled_tenants;
  flag_state.disabled_tenants = state.disabled_tenants;
  for (const std::string& tenant : tenants) {
    std::vector<std::string> row = {tenant, std::to_string(flag::bucket(flag, tenant))};
    if (pins) {
      row.push_back(contains(state.disabled_tenants, tenant)  ? "off"
                    : contains(state.enabled_tenants, tenant) ? "on"
                                                              : "-");
    }
    if (state.percent) row.push_back(flag::isOn(flag_state, tenant) ? "yes" : "no");
    rows.push_back(std::move(row));
  }
  std::string out;
  if (!state.source.empty()) out = state.source + "\n";
  return out + FormatTable(rows);
}

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kPromote:
      return "promote";
    case Action::kAbort:
      return "abort";
    case Action::kPause:
      return "pause";
    case Action::kResume:
      return "resume";
    case Action::kRetry:
      return "retry";
  }
  return "";
}

Status CheckAction(Action action, const api::AgentRollout& rollout) {
  using api::RolloutPhase;
  const api::AgentRolloutStatus& status = rollout.status;
  const RolloutPhase phase = status.phase;
  const std::string phase_name(api::Name(phase));
  // Not reconciled yet: the operator starts the rollout first, then acts on the action.
  const bool starting = phase == RolloutPhase::kNone || phase == RolloutPhase::kPending;
  const bool live = starting || phase == RolloutPhase::kProgressing ||
                    phase == RolloutPhase::kPaused || phase == RolloutPhase::kAwaitingApproval;
  if (phase == RolloutPhase::kFailed) {
    return Refuse(action, rollout,
                  "its spec is invalid (Failed: " + Or(status.message) + "); fix the spec first");
  }
  switch (action) {
    case Action::kPromote:
      if (!live) return Refuse(action, rollout, "nothing to promote while it is " + phase_name);
      return OkStatus();
    case Action::kAbort:
      if (phase == RolloutPhase::kRollingBack) {
        return Refuse(action, rollout, "it is already rolling back fully");
      }
      if (phase == RolloutPhase::kRolledBack) {
        return Refuse(action, rollout, "it is already RolledBack; `retry` starts it again");
      }
      return OkStatus();  // live, or Succeeded: turn everything off
    case Action::kPause:
      if (!live) return Refuse(action, rollout, "nothing to pause while it is " + phase_name);
      if (!status.pause_reason.empty()) {
        return Refuse(action, rollout, "it is already paused (" + status.pause_reason + ")");
      }
      return OkStatus();
    case Action::kResume:
      if (!status.pause_reason.empty()) return OkStatus();
      if (rollout.spec.paused) {
        return Refuse(action, rollout,
                      "it is paused by spec.paused; set spec.paused to false to resume");
      }
      return Refuse(action, rollout, "it is not paused (it is " + Or(phase_name) + ")");
    case Action::kRetry:
      if (phase != RolloutPhase::kRolledBack) {
        return Refuse(action, rollout,
                      "retry restarts a RolledBack rollout, and it is " + Or(phase_name));
      }
      return OkStatus();
  }
  return OkStatus();
}

nlohmann::json ActionPatch(Action action) {
  return {{"metadata", {{"annotations", {{api::kActionAnnotation, ActionName(action)}}}}}};
}

Result<api::AgentRollout> DecodeForDisplay(const nlohmann::json& object) {
  Result<api::AgentRollout> full = api::DecodeAgentRollout(object);
  if (full.ok()) return full;
  if (!object.is_object() || !object.contains("metadata")) return full.error();
  api::AgentRollout partial;
  Result<api::ObjectMeta> metadata = api::DecodeObjectMeta(object["metadata"]);
  if (!metadata.ok()) return metadata.error();
  partial.metadata = std::move(metadata).value();
  if (object.contains("status") && !object["status"].is_null()) {
    Result<api::AgentRolloutStatus> status = api::DecodeStatus(object["status"]);
    if (!status.ok()) return status.error();
    partial.status = std::move(status).value();
  }
  return partial;
}

Result<std::vector<api::AgentRollout>> ListRollouts(kube::Client& client, std::string_view ns) {
  kube::ApiResult<kube::ObjectList> list = kube::ListAll(client, kAgentRollouts, ns, {});
  if (!list.ok()) return list.error();
  std::map<std::string, nlohmann::json> objects;
  for (nlohmann::json& item : list->items) {
    // The key before the move: json's operator= takes its argument by value.
    if (std::optional<std::string> key = ObjectKey(item)) objects[*key] = std::move(item);
  }
  return Sorted(objects);
}

Result<api::AgentRollout> GetRollout(kube::Client& client, std::string_view ns,
                                     std::string_view name) {
  kube::ApiResult<nlohmann::json> object = client.Get(kAgentRollouts, ns, name);
  if (!object.ok()) {
    if (kube::IsNotFound(object.error())) return RolloutNotFound(ns, name);
    return object.error();
  }
  return DecodeForDisplay(*object);
}

namespace {

std::string DescribeBucketState(const BucketState& state) {
  if (!state.enabled) return "disabled: every tenant is off";
  std::string out = "enabled at " + std::to_string(state.percent.value_or(0)) + "%";
  for (const auto& [tenants, how] : {std::pair{&state.enabled_tenants, "pinned on"},
                                     std::pair{&state.disabled_tenants, "pinned off"}}) {
    if (!tenants->empty()) out += ", " + std::to_string(tenants->size()) + " " + how;
  }
  return out;
}

}  // namespace

Result<BucketState> BucketStateOfRollout(kube::Client& client, std::string_view ns,
                                         std::string_view name, std::string_view flag) {
  Result<api::AgentRollout> rollout = GetRollout(client, ns, name);
  if (!rollout.ok()) return rollout.error();
  const std::string rollout_name = "agentrollout " + Qualified(*rollout);
  const std::optional<api::FlagSpec>& spec = rollout->spec.flag;
  if (!spec) return InvalidArgument(rollout_name + " has no flag (spec.flag)");
  if (spec->key != flag) {
    return InvalidArgument(rollout_name + " switches flag \"" + spec->key + "\", not \"" +
                           std::string(flag) + "\"");
  }
  BucketState state;
  state.enabled_tenants = spec->enabled_tenants;
  state.disabled_tenants = spec->disabled_tenants;
  if (!spec->config_map) {
    // The FeatureFlag object is flagd's and a PostgreSQL row the application's (the plugin
    // has no database access); the operator writes either from the spec and status.
    const auto& current = rollout->status.current_phase;
    state.enabled = current && rollout->status.phase != api::RolloutPhase::kRolledBack;
    state.percent = current ? current->flag_percent : 0;
    state.source = "flag " + spec->key + " of " + rollout_name + " (spec pins, status phase " +
                   std::string(api::Name(rollout->status.phase)) +
                   "): " + DescribeBucketState(state);
    return state;
  }
  const api::ConfigMapFlagStore& store = *spec->config_map;
  const std::string where = "ConfigMap " + std::string(ns) + "/" + store.name + " key " + store.key;
  kube::ApiResult<nlohmann::json> object = client.Get(kube::kConfigMaps, ns, store.name);
  if (!object.ok() && !kube::IsNotFound(object.error())) {
    return object.error().WithContext("reading " + where);
  }
  std::string document;
  if (object.ok()) {
    const nlohmann::json& data = object->contains("data") ? (*object)["data"] : nlohmann::json();
    if (data.is_object() && data.contains(store.key) && data[store.key].is_string()) {
      document = data[store.key].get<std::string>();
    }
  }
  const flag::ParsedFlags parsed = flag::parseFlags(document.empty() ? "{}" : document);
  auto entry = parsed.flags.find(spec->key);
  if (entry == parsed.flags.end()) {
    for (const std::string& error : parsed.errors) {
      if (error.starts_with(spec->key + ".") || error.starts_with(spec->key + ":")) {
        return InvalidArgument(where + ": " + error);
      }
    }
    state.enabled = false;
    state.percent = 0;
    state.source =
        "flag " + spec->key + ": no entry in " + where + " yet (not started?): every tenant is off";
    return state;
  }
  state.enabled = entry->second.enabled;
  state.percent = entry->second.percentage;
  state.enabled_tenants = entry->second.enabled_tenants;
  state.disabled_tenants = entry->second.disabled_tenants;
  state.source = "flag " + spec->key + " in " + where + ": " + DescribeBucketState(state);
  return state;
}

Result<std::string> RequestAction(kube::Client& client, std::string_view ns, std::string_view name,
                                  Action action) {
  Result<api::AgentRollout> rollout = GetRollout(client, ns, name);
  if (!rollout.ok()) return rollout.error();
  if (Status allowed = CheckAction(action, *rollout); !allowed.ok()) return allowed.error();
  kube::ApiResult<nlohmann::json> patched =
      client.Patch(kAgentRollouts, ns, name, kube::PatchType::kMerge, ActionPatch(action));
  if (!patched.ok()) {
    if (kube::IsNotFound(patched.error())) return RolloutNotFound(ns, name);
    return patched.error();
  }
  return "agentrollout " + Qualified(*rollout) + ": " + std::string(ActionName(action)) +
         " requested (" + api::kActionAnnotation + "=" + std::string(ActionName(action)) +
         "); the operator acts on it and removes the annotation";
}

bool WatchStop::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stopped_ = true;
  if (stream_ != nullptr) stream_->Stop();
  return watching_;
}

bool WatchStop::Attach(kube::WatchStream* stream) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return false;
  stream_ = stream;
  return true;
}

void WatchStop::Detach() {
  std::lock_guard<std::mutex> lock(mu_);
  stream_ = nullptr;
}

void WatchStop::SetWatching() {
  std::lock_guard<std::mutex> lock(mu_);
  watching_ = true;
}

Status WatchRollouts(kube::Client& client, std::string_view ns, std::string_view name,
                     WatchStop& stop,
                     const std::function<void(const std::vector<api::AgentRollout>&)>& on_change) {
  stop.SetWatching();
  const std::string field_selector = name.empty() ? "" : "metadata.name=" + std::string(name);
  while (!stop.stopped()) {
    kube::ListOptions list_options;
    list_options.field_selector = field_selector;
    kube::ApiResult<kube::ObjectList> list =
        kube::ListAll(client, kAgentRollouts, ns, list_options);
    if (!list.ok()) return list.error();
    std::map<std::string, nlohmann::json> objects;
    for (nlohmann::json& item : list->items) {
      // The key before the move: json's operator= takes its argument by value.
      if (std::optional<std::string> key = ObjectKey(item)) objects[*key] = std::move(item);
    }
    on_change(Sorted(objects));
    std::string resource_version = list->resource_version;

    bool relist = false;
    while (!relist && !stop.stopped()) {
      kube::WatchOptions watch_options;
      watch_options.field_selector = field_selector;
      watch_options.resource_version = resource_version;
      kube::ApiResult<kube::WatchStreamPtr> watch = client.Watch(kAgentRollouts, ns, watch_options);
      if (!watch.ok()) {
        if (stop.stopped()) break;
        if (kube::IsGone(watch.error())) {
          relist = true;
          break;
        }
        return watch.error();
      }
      kube::WatchStream& stream = **watch;
      if (!stop.Attach(&stream)) break;
      while (true) {
        Result<std::optional<kube::WatchEvent>> next = stream.Next();
        if (!next.ok() || !next->has_value()) break;  // ended or broken: watch again
        const kube::WatchEvent& event = **next;
        using Type = kube::WatchEvent::Type;
        if (event.type == Type::kError) {
          const kube::ApiStatus status = kube::StatusFromJson(event.object, 500);
          if (status.code == 410) {
            relist = true;
            break;
          }
          stop.Detach();
          return kube::ErrorFromStatus(status);
        }
        if (std::string version = MetadataString(event.object, "resourceVersion");
            !version.empty()) {
          resource_version = std::move(version);
        }
        if (event.type == Type::kBookmark) continue;
        const std::optional<std::string> key = ObjectKey(event.object);
        if (!key) continue;  // no metadata.name: nothing a table could show
        if (event.type == Type::kDeleted) {
          objects.erase(*key);
        } else {
          objects[*key] = event.object;
        }
        on_change(Sorted(objects));
      }
      stop.Detach();
    }
  }
  return OkStatus();
}

}  // namespace agentrollout::plugin
