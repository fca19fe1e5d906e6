#include "plugin/dashboard/view.h"

#include <algorithm>
#include <map>
#include <utility>

#include "analysis/template.h"
#include "api/codec.h"
#include "api/names.h"
#include "api/threshold.h"
#include "api/time.h"
#include "plugin/commands.h"

namespace agentrollout::plugin::dashboard {
namespace {

using Json = nlohmann::json;
using std::chrono::duration_cast;
using std::chrono::seconds;

constexpr char kUnknown[] = "unknown";

Json Time(const std::optional<api::Timestamp>& at) {
  if (!at || *at == api::Timestamp{}) return nullptr;
  return api::FormatTime(*at);
}

long long SecondsOf(api::Duration duration) { return duration_cast<seconds>(duration).count(); }

bool HasTraffic(const api::AgentRollout& rollout) {
  const auto& traffic = rollout.spec.traffic;
  return traffic && (traffic->gateway_api || traffic->istio || traffic->replicas);
}

std::string PhaseName(const RolloutRecord& record) {
  return record.status_known ? std::string(api::Name(record.rollout.status.phase)) : kUnknown;
}

std::string VerdictName(const RolloutRecord& record) {
  return record.status_known ? std::string(api::Name(record.rollout.status.verdict)) : kUnknown;
}

int Rank(const RolloutRecord& record) {
  using api::RolloutPhase;
  if (!record.status_known) return 1;
  const api::AgentRolloutStatus& status = record.rollout.status;
  switch (status.phase) {
    case RolloutPhase::kRollingBack:
    case RolloutPhase::kRolledBack:
    case RolloutPhase::kFailed:
      return 0;
    case RolloutPhase::kPaused:
    case RolloutPhase::kAwaitingApproval:
      return 1;
    case RolloutPhase::kSucceeded:
      return 3;
    default:
      break;
  }
  const bool holding = status.verdict == api::Verdict::kNoGo ||
                       status.verdict == api::Verdict::kHold ||
                       status.verdict == api::Verdict::kError;
  return holding ? 1 : 2;
}

// A string member of `object`, "" when absent or of another type.
std::string StringAt(const Json& object, const char* key) {
  if (!object.is_object()) return "";
  const auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : "";
}

// A number from a JSON number or a numeric string ("0.013"); null otherwise.
Json NumberAt(const Json& value) {
  if (value.is_number()) return value;
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    char* end = nullptr;
    const double number = std::strtod(text.c_str(), &end);
    if (!text.empty() && end == text.c_str() + text.size()) return number;
  }
  return nullptr;
}

Json Counts(const Json& side) {
  if (!side.is_object()) return nullptr;
  return {{"events", NumberAt(side.value("events", Json()))},
          {"total", NumberAt(side.value("total", Json()))}};
}

}  // namespace

nlohmann::json ComparisonsJson(const nlohmann::json& raw_status) {
  Json out = Json::array();
  if (!raw_status.is_object()) return out;
  const auto analysis = raw_status.find("analysis");
  if (analysis == raw_status.end() || !analysis->is_object()) return out;
  for (const char* list : {"comparisons", "metrics"}) {
    const auto entries = analysis->find(list);
    if (entries == analysis->end() || !entries->is_array()) continue;
    for (const Json& entry : *entries) {
      if (!entry.is_object() || !entry.contains("interval")) continue;
      const Json& interval = entry["interval"];
      Json low = nullptr;
      Json high = nullptr;
      if (interval.is_array() && interval.size() == 2) {
        low = NumberAt(interval[0]);
        high = NumberAt(interval[1]);
      } else if (interval.is_object()) {
        low = NumberAt(interval.value("low", Json()));
        high = NumberAt(interval.value("high", Json()));
      }
      out.push_back({{"name", StringAt(entry, "name")},
                     {"verdict", StringAt(entry, "verdict")},
                     {"value", NumberAt(entry.value("value", Json()))},
                     {"low", low},
                     {"high", high},
                     {"go", StringAt(entry, "go")},
                     {"noGo", StringAt(entry, "noGo")},
                     {"message", StringAt(entry, "message")},
                     {"canary", Counts(entry.value("canary", Json()))},
                     {"stable", Counts(entry.value("stable", Json()))}});
    }
  }
  return out;
}

namespace {

std::string ConfirmText(Action action, const api::AgentRollout& rollout) {
  const auto& current = rollout.status.current_phase;
  const std::string phase = current ? "phase " + current->name : "the current phase";
  switch (action) {
    case Action::kPromote:
      return "promote: skip the rest of the bake time in " + phase +
             " and grant any approval; the operator still needs a Go before it advances";
    case Action::kAbort:
      return "abort: flag off, all traffic to stable, now (a total rollback)";
    case Action::kPause:
      return "pause: hold in " + phase + "; analysis and automatic rollback continue";
    case Action::kResume:
      return "resume: continue advancing from " + phase;
    case Action::kRetry: {
      const std::string first =
          rollout.spec.phases.empty() ? "the first phase" : rollout.spec.phases.front().name;
      return "retry: start again at phase 1 (" + first + "), the flag and traffic at its values";
    }
  }
  return "";
}

Json MetricTable(const api::AgentRollout& rollout) {
  Json rows = Json::array();
  std::map<std::string, const api::MetricStatus*> live;
  for (const api::MetricStatus& metric : rollout.status.analysis.metrics) {
    live[metric.name] = &metric;
  }
  const auto row = [](const std::string& name, const api::MetricStatus* status, std::string go,
                      std::string no_go, std::string abort, bool dry_run) {
    return Json{{"name", name},
                {"value", status ? status->value : ""},
                {"verdict", status ? std::string(api::Name(status->verdict)) : ""},
                {"go", std::move(go)},
                {"noGo", std::move(no_go)},
                {"abort", std::move(abort)},
                {"message", status ? status->message : ""},
                {"dryRun", dry_run || (status && status->dry_run)}};
  };
  for (const api::MetricSpec& spec : rollout.spec.analysis.metrics) {
    const auto found = live.find(spec.name);
    const api::MetricStatus* status = found == live.end() ? nullptr : found->second;
    rows.push_back(row(spec.name, status, api::FormatThreshold(spec.go),
                       api::FormatThreshold(spec.no_go),
                       spec.abort ? api::FormatThreshold(*spec.abort) : "", spec.dry_run));
    if (found != live.end()) live.erase(found);
  }
  for (const api::MetricStatus& metric : rollout.status.analysis.metrics) {
    if (live.contains(metric.name)) {
      rows.push_back(row(metric.name, &metric, metric.go, metric.no_go, metric.abort, false));
    }
  }
  return rows;
}

}  // namespace

Result<RolloutRecord> DecodeRecord(const nlohmann::json& object) {
  RolloutRecord record;
  if (object.is_object() && object.contains("status")) record.raw_status = object["status"];
  Result<api::AgentRollout> full = api::DecodeAgentRollout(object);
  if (full.ok()) {
    record.rollout = std::move(full).value();
    return record;
  }
  if (!object.is_object() || !object.contains("metadata")) return full.error();
  Result<api::ObjectMeta> metadata = api::DecodeObjectMeta(object["metadata"]);
  if (!metadata.ok()) return metadata.error();
  if (metadata->name.empty()) return InvalidArgument("metadata.name is missing");
  // Which half is unreadable: the status alone, else the spec (it may be both).
  Result<api::AgentRolloutStatus> status =
      api::DecodeStatus(record.raw_status.is_null() ? Json::object() : record.raw_status);
  if (status.ok()) {
    record.rollout.status = std::move(status).value();
    record.spec_known = false;
  } else {
    record.status_known = false;
    Json without_status = object;
    without_status.erase("status");
    Result<api::AgentRollout> spec_only = api::DecodeAgentRollout(without_status);
    if (spec_only.ok()) {
      record.rollout = std::move(spec_only).value();
    } else {
      record.spec_known = false;
    }
  }
  record.rollout.metadata = std::move(metadata).value();
  return record;
}

nlohmann::json SummaryJson(const RolloutRecord& record, api::Timestamp now) {
  const api::AgentRollout& rollout = record.rollout;
  const api::AgentRolloutStatus& status = rollout.status;
  const auto& current = record.status_known ? status.current_phase : std::nullopt;
  Json phases = Json::array();
  for (const api::PhaseSpec& phase : rollout.spec.phases) {
    phases.push_back({{"name", phase.name},
                      {"flagPercent", phase.flag_percent},
                      {"trafficWeight", phase.traffic_weight},
                      {"durationSeconds", SecondsOf(phase.duration)},
                      {"approval", phase.approval}});
  }
  Json bake_left = nullptr;
  bool approval = false;
  if (current && current->index >= 0 &&
      static_cast<std::size_t>(current->index) < rollout.spec.phases.size()) {
    const api::PhaseSpec& phase = rollout.spec.phases[static_cast<std::size_t>(current->index)];
    approval = phase.approval;
    using api::RolloutPhase;
    const RolloutPhase at = status.phase;
    const bool baking = at == RolloutPhase::kProgressing || at == RolloutPhase::kPaused ||
                        at == RolloutPhase::kAwaitingApproval;
    if (baking && phase.duration.count() > 0 && current->started_at != api::Timestamp{}) {
      const long long left =
          SecondsOf(phase.duration) - duration_cast<seconds>(now - current->started_at).count();
      bake_left = std::max(0LL, left);
    }
  }
  const auto action = rollout.metadata.annotations.find(api::kActionAnnotation);
  Json summary = {
      {"namespace", rollout.metadata.namespace_},
      {"name", rollout.metadata.name},
      {"revision", record.spec_known ? Json(rollout.spec.revision) : Json(kUnknown)},
      {"phase", PhaseName(record)},
      {"verdict", VerdictName(record)},
      {"message", record.status_known ? status.message : "status could not be read"},
      {"phases", phases},
      {"step", current ? Json{{"index", current->index}, {"name", current->name}} : Json()},
      {"phaseStartedAt", current ? Time(current->started_at) : Json()},
      {"flagKey", rollout.spec.flag ? Json(rollout.spec.flag->key) : Json()},
      {"flagPercent", rollout.spec.flag && current ? Json(current->flag_percent) : Json()},
      {"trafficWeight", HasTraffic(rollout) && current ? Json(current->traffic_weight) : Json()},
      {"bakeLeftSeconds", bake_left},
      {"approval", approval},
      {"promoted", current && current->promoted},
      {"paused", rollout.spec.paused || !status.pause_reason.empty()},
      {"pauseReason", rollout.spec.paused ? std::string("spec.paused") : status.pause_reason},
      {"pendingAction",
       action == rollout.metadata.annotations.end() ? Json() : Json(action->second)},
      {"createdAt", Time(rollout.metadata.creation_timestamp)},
      {"ageSeconds",
       rollout.metadata.creation_timestamp
           ? duration_cast<seconds>(now - *rollout.metadata.creation_timestamp).count()
           : 0},
      {"specKnown", record.spec_known},
      {"statusKnown", record.status_known},
      {"rank", Rank(record)},
  };
  return summary;
}

nlohmann::json OverviewJson(const std::vector<const RolloutRecord*>& records, api::Timestamp now) {
  std::vector<Json> rows;
  rows.reserve(records.size());
  for (const RolloutRecord* record : records) rows.push_back(SummaryJson(*record, now));
  std::sort(rows.begin(), rows.end(), [](const Json& a, const Json& b) {
    return std::tie(a["rank"].get_ref<const Json::number_integer_t&>(),
                    a["namespace"].get_ref<const std::string&>(),
                    a["name"].get_ref<const std::string&>()) <
           std::tie(b["rank"].get_ref<const Json::number_integer_t&>(),
                    b["namespace"].get_ref<const std::string&>(),
                    b["name"].get_ref<const std::string&>());
  });
  return {{"rollouts", std::move(rows)}, {"now", api::FormatTime(now)}};
}

nlohmann::json ActionsJson(const api::AgentRollout& rollout, const Permission& permission) {
  Json actions = Json::array();
  for (Action action : kActions) {
    Status allowed = CheckAction(action, rollout);
    std::string reason = allowed.ok() ? "" : allowed.error().message();
    if (allowed.ok() && !permission.can_patch) reason = permission.reason;
    actions.push_back({{"name", std::string(ActionName(action))},
                       {"allowed", allowed.ok() && permission.can_patch},
                       {"reason", reason},
                       {"confirm", ConfirmText(action, rollout)}});
  }
  return actions;
}

nlohmann::json DetailJson(const RolloutRecord& record, const nlohmann::json& events,
                          const Permission& permission, api::Timestamp now) {
  const api::AgentRollout& rollout = record.rollout;
  const api::AgentRolloutStatus& status = rollout.status;
  Json detail = SummaryJson(record, now);
  const api::AnalysisSpec& analysis = rollout.spec.analysis;
  detail["analysis"] = {
      {"intervalSeconds", SecondsOf(analysis.interval)},
      {"failureLimit", analysis.failure_limit},
      {"errorLimit", analysis.error_limit},
      {"prometheus", analysis.prometheus ? Json(analysis.prometheus->address) : Json()},
      {"lastEvaluated", record.status_known ? Time(status.analysis.last_evaluated) : Json()},
      {"consecutiveNoGo", status.analysis.consecutive_no_go},
      {"consecutiveErrors", status.analysis.consecutive_errors},
  };
  detail["metrics"] = MetricTable(rollout);
  detail["comparisons"] = ComparisonsJson(record.raw_status);
  if (record.status_known && status.rollback) {
    const api::RollbackStatus& rollback = *status.rollback;
    detail["rollback"] = {{"at", Time(rollback.at)},   {"fromPhase", rollback.from_phase},
                          {"metric", rollback.metric}, {"value", rollback.value},
                          {"line", rollback.line},     {"reason", rollback.reason}};
  } else {
    detail["rollback"] = nullptr;
  }
  Json history = Json::array();
  for (const api::HistoryEntry& entry : status.history) {
    history.push_back(
        {{"at", Time(entry.at)}, {"from", entry.from}, {"to", entry.to}, {"reason", entry.reason}});
  }
  detail["history"] = std::move(history);
  Json conditions = Json::array();
  for (const api::Condition& condition : status.conditions) {
    conditions.push_back({{"type", condition.type},
                          {"status", std::string(api::Name(condition.status))},
                          {"reason", condition.reason},
                          {"message", condition.message},
                          {"at", Time(condition.last_transition_time)}});
  }
  detail["conditions"] = std::move(conditions);
  detail["events"] = events;
  detail["canPatch"] = permission.can_patch;
  detail["actions"] = ActionsJson(rollout, permission);
  return detail;
}

nlohmann::json EventsJson(const std::vector<nlohmann::json>& items, std::size_t limit) {
  constexpr std::size_t kMaxMessage = 1000;
  std::vector<Json> events;
  for (const Json& item : items) {
    if (!item.is_object()) continue;
    std::string last = StringAt(item, "lastTimestamp");
    if (last.empty()) last = StringAt(item, "eventTime");
    if (last.empty()) last = StringAt(item.value("metadata", Json()), "creationTimestamp");
    std::string message = StringAt(item, "message");
    if (message.size() > kMaxMessage) message.resize(kMaxMessage);
    const Json count = item.value("count", Json());
    events.push_back({{"type", StringAt(item, "type")},
                      {"reason", StringAt(item, "reason")},
                      {"message", message},
                      {"count", count.is_number_integer() ? count : Json(1)},
                      {"last", last}});
  }
  std::stable_sort(events.begin(), events.end(), [](const Json& a, const Json& b) {
    return a["last"].get_ref<const std::string&>() > b["last"].get_ref<const std::string&>();
  });
  if (events.size() > limit) events.resize(limit);
  return events;
}

nlohmann::json ChartQueries(const api::AgentRollout& rollout) {
  const auto& current = rollout.status.current_phase;
  const std::string phase = current                        ? current->name
                            : !rollout.spec.phases.empty() ? rollout.spec.phases.front().name
                                                           : "";
  const analysis::TemplateVars vars = analysis::BuildTemplateVars(rollout, phase);
  analysis::TemplateVars stable_vars = vars;
  stable_vars["canary"] = vars.at("stable");
  Json out = Json::array();
  for (const api::MetricSpec& metric : rollout.spec.analysis.metrics) {
    Json entry = {{"name", metric.name},
                  {"go", api::FormatThreshold(metric.go)},
                  {"noGo", api::FormatThreshold(metric.no_go)},
                  {"abort", metric.abort ? api::FormatThreshold(*metric.abort) : ""}};
    Result<std::string> canary = analysis::Render(metric.query, vars);
    if (!canary.ok()) {
      entry["error"] = canary.error().message();
      out.push_back(std::move(entry));
      continue;
    }
    entry["canary"] = *canary;
    entry["stable"] = nullptr;
    const bool per_version = metric.query.find("{{canary}}") != std::string::npos;
    if (per_version && !vars.at("stable").empty()) {
      if (Result<std::string> stable = analysis::Render(metric.query, stable_vars); stable.ok()) {
        entry["stable"] = *stable;
      }
    }
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace agentrollout::plugin::dashboard
