// notifications[].type `webhook` (API.md §10): the generic JSON body, the operator's
// earlier format, for receivers of one's own (a chat bridge, an automation hook).
#pragma once

#include "controllers/notify/channel.h"

namespace agentrollout::controllers {

// {"text": the message, "rollout": {namespace, name, revision, phase, step, flagPercent,
// trafficWeight, verdict, reason[, metric: {name, value, line}]}}. `rollout` gets
// namespace, name and reason from the notification when the caller left them out.
nlohmann::json WebhookBody(const Notification& notification);

class WebhookChannel final : public Channel {
 public:
  // Every reason the target subscribes to.
  std::optional<nlohmann::json> Message(const Notification& notification,
                                        const api::NotificationSpec& target) const override;
};

}  // namespace agentrollout::controllers
