#include "controllers/notify/alertmanager_channel.h"

#include <algorithm>
#include <cctype>

#include "api/codec.h"
#include "api/time.h"

namespace agentrollout::controllers {
namespace {

using api::EventReason;
using nlohmann::json;

api::Timestamp When(const Notification& notification) {
  return notification.at == api::Timestamp{} ? std::chrono::system_clock::now() : notification.at;
}

// A label value quoted for an Alertmanager matcher: "value" with \ and " escaped.
std::string MatcherValue(std::string_view value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

const std::string* LabelOf(const json& labels, const char* name) {
  const auto found = labels.find(name);
  return found != labels.end() && found->is_string() ? found->get_ptr<const std::string*>()
                                                     : nullptr;
}

// The string members of an object (labels, annotations); anything else is dropped.
json Strings(const json& object) {
  json out = json::object();
  if (!object.is_object()) return out;
  for (const auto& [key, value] : object.items()) {
    if (value.is_string()) out[key] = value;
  }
  return out;
}

json Resolve(const RolloutFields& f, std::vector<std::string> alertnames, api::Timestamp at) {
  return {{"resolve",
           {{"alertnames", std::move(alertnames)},
            {"namespace", f.namespace_},
            {"rollout", f.name},
            {"endsAt", api::FormatTime(at)}}}};
}

}  // namespace

std::optional<json> AlertmanagerMessage(const Notification& notification,
                                        const api::NotificationSpec& target) {
  const RolloutFields f = FieldsOf(notification);
  const api::Timestamp at = When(notification);
  switch (AlertActionOf(notification, target)) {
    case AlertAction::kOpen:
      break;
    case AlertAction::kResolveAll:
      return Resolve(f, {kAlertRolledBack, kAlertNoGo}, at);
    case AlertAction::kResolveNoGo:
      return Resolve(f, {kAlertNoGo}, at);
    case AlertAction::kNone:
      return std::nullopt;
  }
  const bool no_go = notification.reason == EventReason::kAnalysisNoGo;
  const api::Duration firing_for =
      no_go ? std::max<api::Duration>(4 * notification.analysis_interval, kMinNoGoAlertFor)
            : std::chrono::duration_cast<api::Duration>(kRolledBackAlertFor);
  json labels = {{"alertname", no_go ? kAlertNoGo : kAlertRolledBack},
                 {"severity", no_go ? "warning" : "critical"},
                 {"namespace", f.namespace_},
                 {"rollout", f.name},
                 {"revision", f.revision},
                 {"phase", f.step}};
  json annotations = {{"summary", f.message},
                      {"rolloutPhase", f.phase},
                      {"flagPercent", std::to_string(f.flag_percent)},
                      {"trafficWeight", std::to_string(f.traffic_weight)},
                      {"verdict", f.verdict},
                      {"reason", f.reason}};
  if (notification.metric) {
    labels["metric"] = notification.metric->name;
    annotations["value"] = notification.metric->value;
    annotations["line"] = notification.metric->line;
  }
  // Alertmanager treats an empty label as an absent one; leave them out.
  for (auto it = labels.begin(); it != labels.end();) {
    it = it->get_ref<const std::string&>().empty() ? labels.erase(it) : std::next(it);
  }
  return json{{"alerts",
               {{{"labels", std::move(labels)},
                 {"annotations", std::move(annotations)},
                 {"startsAt", api::FormatTime(at)},
                 {"endsAt", api::FormatTime(at + firing_for)}}}}};
}

std::string AlertmanagerQuery(std::string_view base_path, const json& resolve) {
  std::string names;
  for (const json& name : resolve.at("alertnames")) {
    if (!names.empty()) names += "|";
    names += name.get<std::string>();
  }
  const std::string filters[] = {
      "alertname=~" + MatcherValue(names),
      "namespace=" + MatcherValue(resolve.at("namespace").get<std::string>()),
      "rollout=" + MatcherValue(resolve.at("rollout").get<std::string>())};
  std::string query = "?active=true&silenced=true&inhibited=true&unprocessed=true";
  for (const std::string& filter : filters) query += "&filter=" + UrlEncode(filter);
  std::string target = JoinPath(base_path, "/api/v2/alerts");
  // The receiver URL's own query, if any, comes first.
  return target.find('?') == std::string::npos ? target + query : target + "&" + query.substr(1);
}

Result<http::Response> AlertmanagerChannel::Deliver(const json& message, const Credentials&,
                                                    std::string_view base_path,
                                                    const SendRequest& send) const {
  const std::string alerts_path = JoinPath(base_path, "/api/v2/alerts");
  http::Request post;
  post.method = "POST";
  post.target = alerts_path;
  const auto resolve = message.find("resolve");
  if (resolve == message.end()) {
    post.body = api::ToWireJson(message.at("alerts"));
    return send(std::move(post));
  }
  http::Request get;
  get.method = "GET";
  get.target = AlertmanagerQuery(base_path, *resolve);
  Result<http::Response> listed = send(std::move(get));
  if (!listed.ok() || listed->status < 200 || listed->status >= 300) return listed;
  const json alerts = json::parse(listed->body, nullptr, /*allow_exceptions=*/false);
  if (!alerts.is_array()) {
    return Error(ErrorCode::kInternal, "GET /api/v2/alerts answered without a JSON list");
  }
  const std::string& ns = resolve->at("namespace").get_ref<const std::string&>();
  const std::string& rollout = resolve->at("rollout").get_ref<const std::string&>();
  const json& alertnames = resolve->at("alertnames");
  json resolved = json::array();
  for (const json& alert : alerts) {
    if (resolved.size() >= kMaxResolvedAlerts) break;
    const auto labels = alert.is_object() ? alert.find("labels") : alert.end();
    if (!alert.is_object() || labels == alert.end() || !labels->is_object()) continue;
    // Alertmanager filtered already; what is posted back is checked again all the same.
    const std::string* name = LabelOf(*labels, "alertname");
    const std::string* alert_ns = LabelOf(*labels, "namespace");
    const std::string* alert_rollout = LabelOf(*labels, "rollout");
    if (!name || !alert_ns || !alert_rollout || *alert_ns != ns || *alert_rollout != rollout ||
        std::find(alertnames.begin(), alertnames.end(), *name) == alertnames.end()) {
      continue;
    }
    // Alertmanager keeps the annotations of the latest post: the resolve repeats them.
    resolved.push_back({{"labels", Strings(*labels)},
                        {"annotations", Strings(alert.value("annotations", json::object()))},
                        {"startsAt", resolve->at("endsAt")},
                        {"endsAt", resolve->at("endsAt")}});
  }
  if (resolved.empty()) return listed;  // nothing fires: nothing to resolve
  post.body = api::ToWireJson(resolved);
  return send(std::move(post));
}

}  // namespace agentrollout::controllers
