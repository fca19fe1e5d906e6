#include "controllers/notify/channel.h"

#include <algorithm>

#include "api/codec.h"
#include "api/names.h"
#include "controllers/notify/alertmanager_channel.h"
#include "controllers/notify/pagerduty_channel.h"
#include "controllers/notify/slack_channel.h"
#include "controllers/notify/webhook_channel.h"
#include "kube/event_recorder.h"

namespace agentrollout::controllers {
namespace {

std::string StringField(const nlohmann::json& rollout, const char* name, std::string fallback) {
  const auto found = rollout.find(name);
  if (found == rollout.end() || !found->is_string()) return fallback;
  return found->get<std::string>();
}

int IntField(const nlohmann::json& rollout, const char* name) {
  const auto found = rollout.find(name);
  if (found == rollout.end() || !found->is_number_integer()) return 0;
  return found->get<int>();
}

}  // namespace

Result<http::Response> Channel::Deliver(const nlohmann::json& message, const Credentials&,
                                        std::string_view base_path, const SendRequest& send) const {
  http::Request request;
  request.method = "POST";
  request.target = std::string(base_path);
  request.body = api::ToWireJson(message);
  return send(std::move(request));
}

Channels DefaultChannels() {
  return {{api::NotificationType::kSlack, std::make_shared<SlackChannel>()},
          {api::NotificationType::kPagerDuty, std::make_shared<PagerDutyChannel>()},
          {api::NotificationType::kAlertmanager, std::make_shared<AlertmanagerChannel>()},
          {api::NotificationType::kWebhook, std::make_shared<WebhookChannel>()}};
}

bool Subscribed(const api::NotificationSpec& target, api::EventReason reason) {
  return target.events.empty() ||
         std::find(target.events.begin(), target.events.end(), reason) != target.events.end();
}

AlertAction AlertActionOf(const Notification& notification, const api::NotificationSpec& target) {
  using api::EventReason;
  constexpr EventReason kOpening[] = {EventReason::kRollingBack, EventReason::kRolledBack,
                                      EventReason::kAnalysisNoGo};
  const bool opens = std::find(std::begin(kOpening), std::end(kOpening), notification.reason) !=
                     std::end(kOpening);
  if (opens) {
    return Subscribed(target, notification.reason) ? AlertAction::kOpen : AlertAction::kNone;
  }
  const bool told_of_resolves =
      Subscribed(target, notification.reason) ||
      std::any_of(std::begin(kOpening), std::end(kOpening),
                  [&](EventReason reason) { return Subscribed(target, reason); });
  if (!told_of_resolves) return AlertAction::kNone;
  switch (notification.reason) {
    case EventReason::kSucceeded:
      return AlertAction::kResolveAll;
    case EventReason::kPhaseStarted:
      return notification.previous_revision.empty() ? AlertAction::kNone : AlertAction::kResolveAll;
    case EventReason::kPhaseAdvanced:
      return AlertAction::kResolveNoGo;
    default:
      return AlertAction::kNone;
  }
}

RolloutFields FieldsOf(const Notification& notification) {
  const nlohmann::json& rollout =
      notification.rollout.is_object() ? notification.rollout : nlohmann::json::object();
  RolloutFields fields;
  fields.namespace_ = StringField(rollout, "namespace", notification.namespace_);
  fields.name = StringField(rollout, "name", notification.name);
  fields.revision = StringField(rollout, "revision", "");
  fields.phase = StringField(rollout, "phase", "");
  fields.step = StringField(rollout, "step", "");
  fields.flag_percent = IntField(rollout, "flagPercent");
  fields.traffic_weight = IntField(rollout, "trafficWeight");
  fields.verdict = StringField(rollout, "verdict", "");
  fields.reason = StringField(rollout, "reason", std::string(api::Name(notification.reason)));
  // The text may quote a server (API.md §3.1): cleaned and bounded like an Event message.
  fields.message = kube::EventMessage(notification.text);
  if (fields.message.empty()) {
    fields.message = fields.namespace_ + "/" + fields.name + ": " + fields.reason;
  }
  return fields;
}

std::string JoinPath(std::string_view base, std::string_view suffix) {
  const std::size_t query = base.find('?');
  std::string_view path = base.substr(0, query);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  std::string out(path);
  out += suffix;
  if (query != std::string_view::npos) out += base.substr(query);
  return out;
}

}  // namespace agentrollout::controllers
