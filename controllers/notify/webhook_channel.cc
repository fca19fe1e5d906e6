#include "controllers/notify/webhook_channel.h"

namespace agentrollout::controllers {

nlohmann::json WebhookBody(const Notification& notification) {
  const RolloutFields fields = FieldsOf(notification);
  nlohmann::json rollout =
      notification.rollout.is_object() ? notification.rollout : nlohmann::json::object();
  rollout["namespace"] = fields.namespace_;
  rollout["name"] = fields.name;
  rollout["reason"] = fields.reason;
  if (notification.metric) {
    rollout["metric"] = {{"name", notification.metric->name},
                         {"value", notification.metric->value},
                         {"line", notification.metric->line}};
  }
  return {{"text", fields.message}, {"rollout", std::move(rollout)}};
}

std::optional<nlohmann::json> WebhookChannel::Message(const Notification& notification,
                                                      const api::NotificationSpec& target) const {
  if (!Subscribed(target, notification.reason)) return std::nullopt;
  return WebhookBody(notification);
}

}  // namespace agentrollout::controllers
