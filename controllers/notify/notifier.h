// Notifications (API.md §2 `notifications[]`): a Slack-compatible JSON POST
// `{"text": "...", "rollout": {...}}` for the events a rollout subscribes to. Sending is
// asynchronous: Notify() only queues, so a slow or failing webhook never blocks or fails
// the rollout; failed posts are retried with backoff and finally dropped (and counted).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/types.h"

namespace agentrollout::controllers {

struct Notification {
  std::string namespace_;  // the rollout's namespace (Secrets are read from it)
  std::string name;        // the rollout's name
  api::EventReason reason = api::EventReason::kPhaseStarted;
  std::string text;  // one plain sentence, the Event's message
  // {"namespace", "name", "revision", "phase", "step", "flagPercent", "trafficWeight",
  //  "verdict", "reason"}: what a webhook receiver can route or template on.
  nlohmann::json rollout;
  // spec.notifications as written; the notifier sends to each whose `events` is empty
  // or lists `reason`.
  std::vector<api::NotificationSpec> targets;
};

class Notifier {
 public:
  virtual ~Notifier() = default;
  // Queues the notification; never blocks on the network, never fails.
  virtual void Notify(Notification notification) = 0;
};
using NotifierPtr = std::unique_ptr<Notifier>;

}  // namespace agentrollout::controllers
