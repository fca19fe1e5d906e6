#include "controllers/notify/pagerduty_channel.h"

#include <algorithm>
#include <cstdint>

#include "api/names.h"
#include "api/time.h"
#include "common/text.h"

namespace agentrollout::controllers {
namespace {

using api::EventReason;
using nlohmann::json;

std::uint64_t Fnv1a64(std::string_view text) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

json Resolve(std::string dedup_key) {
  return {{"event_action", "resolve"}, {"dedup_key", std::move(dedup_key)}};
}

}  // namespace

std::string PagerDutyDedupKey(std::string_view ns, std::string_view name,
                              std::string_view revision) {
  std::string key = std::string(ns) + "/" + std::string(name) + "/" + std::string(revision);
  if (key.size() <= kPagerDutyMaxDedupKey) return key;
  static constexpr char kHex[] = "0123456789abcdef";
  std::uint64_t hash = Fnv1a64(key);
  std::string suffix = "#";
  for (int shift = 60; shift >= 0; shift -= 4) suffix += kHex[(hash >> shift) & 0xf];
  return std::string(CutOnCharacterBoundary(key, kPagerDutyMaxDedupKey - suffix.size())) + suffix;
}

std::optional<json> PagerDutyEvent(const Notification& notification,
                                   const api::NotificationSpec& target) {
  const RolloutFields f = FieldsOf(notification);
  switch (AlertActionOf(notification, target)) {
    case AlertAction::kOpen:
      break;
    case AlertAction::kResolveAll:
      // A start after an earlier run resolves that run's alert (the revision it had).
      return Resolve(PagerDutyDedupKey(f.namespace_, f.name,
                                       notification.reason == EventReason::kPhaseStarted
                                           ? notification.previous_revision
                                           : f.revision));
    case AlertAction::kResolveNoGo:  // one alert per revision: it stays until the end
    case AlertAction::kNone:
      return std::nullopt;
  }
  const bool no_go = notification.reason == EventReason::kAnalysisNoGo;
  json details = {{"namespace", f.namespace_},
                  {"name", f.name},
                  {"revision", f.revision},
                  {"phase", f.phase},
                  {"step", f.step},
                  {"flagPercent", f.flag_percent},
                  {"trafficWeight", f.traffic_weight},
                  {"verdict", f.verdict},
                  {"reason", f.reason},
                  {"message", f.message}};
  if (notification.metric) {
    details["metric"] = notification.metric->name;
    details["value"] = notification.metric->value;
    details["line"] = notification.metric->line;
  }
  json payload = {
      {"summary", std::string(CutOnCharacterBoundary(f.namespace_ + "/" + f.name + ": " + f.message,
                                                     kPagerDutyMaxSummary))},
      {"source", f.namespace_ + "/" + f.name},
      {"severity", no_go ? "warning" : "critical"},
      {"component", f.name},
      {"group", f.namespace_},
      {"class", f.reason},
      {"custom_details", std::move(details)}};
  if (notification.at != api::Timestamp{}) payload["timestamp"] = api::FormatTime(notification.at);
  return json{{"event_action", "trigger"},
              {"dedup_key", PagerDutyDedupKey(f.namespace_, f.name, f.revision)},
              {"client", "agentrollout"},
              {"payload", std::move(payload)}};
}

Result<http::Response> PagerDutyChannel::Deliver(const json& message,
                                                 const Credentials& credentials,
                                                 std::string_view base_path,
                                                 const SendRequest& send) const {
  if (credentials.routing_key.empty()) {
    return InvalidArgument("routingKeySecretRef: the routing key is empty");
  }
  json event = message;
  event["routing_key"] = credentials.routing_key;
  return Channel::Deliver(event, credentials, base_path, send);
}

}  // namespace agentrollout::controllers
