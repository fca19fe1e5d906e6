// One kind of notification target (API.md §10 `notifications[].type`): what its receiver
// is told and in which form. The notifier (webhook_notifier.h) owns everything around it -
// the queue, retries with backoff, URLs and Secrets, connections - so a channel is only
// the translation from a rollout event to its receiver's API:
//   slack_channel.h        Slack incoming webhook: text and Block Kit blocks
//   pagerduty_channel.h    PagerDuty Events API v2: trigger / resolve by dedup_key
//   alertmanager_channel.h Alertmanager /api/v2/alerts: alerts with startsAt / endsAt
//   webhook_channel.h      the generic {"text", "rollout"} body
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "api/types.h"
#include "common/result.h"
#include "controllers/notify/notifier.h"
#include "http/transport.h"

namespace agentrollout::controllers {

// Secret values a channel needs for one attempt (read by the notifier at every attempt, so
// a rotated key is picked up). Never logged, never in status, events or messages.
struct Credentials {
  std::string routing_key;  // PagerDuty: routingKeySecretRef's value
};

// Sends one request to the target's origin (the notifier adds headers, timeout and the
// response bound); `target` is the path and query.
using SendRequest = std::function<Result<http::Response>(http::Request request)>;

class Channel {
 public:
  virtual ~Channel() = default;

  // The URL used when the target names neither url nor secretRef; "" = it must name one.
  virtual std::string_view DefaultUrl() const { return {}; }

  // What `target` is told about `notification`, or nullopt when it is told nothing (its
  // `events` do not list the reason, or the kind has nothing to say about it). Made once,
  // when the notification is queued; opaque to the notifier.
  virtual std::optional<nlohmann::json> Message(const Notification& notification,
                                                const api::NotificationSpec& target) const = 0;

  // One attempt at delivering `message`: the requests it takes, through `send`, with paths
  // under `base_path` (the target URL's path and query, "/" when it has none). The response
  // returned decides the attempt: 2xx sent, 429 and 5xx retried, anything else failed.
  // The default POSTs the message as JSON to the URL itself.
  virtual Result<http::Response> Deliver(const nlohmann::json& message,
                                         const Credentials& credentials, std::string_view base_path,
                                         const SendRequest& send) const;
};

using Channels = std::map<api::NotificationType, std::shared_ptr<const Channel>>;
// One channel of each kind of API.md §10.
Channels DefaultChannels();

// ------------------------------------------------------------- shared by the channels

// Whether `target` lists `reason` (empty `events` = every event).
bool Subscribed(const api::NotificationSpec& target, api::EventReason reason);

// What a notification means to an alerting target (pagerduty, alertmanager):
// - kOpen: RollingBack, RolledBack (the rollback alert) and AnalysisNoGo (the No-Go
//   alert), when the target lists the reason;
// - kResolveAll: Succeeded, and the PhaseStarted of a rollout that ran before (retry, or a
//   new revision; Notification::previous_revision);
// - kResolveNoGo: PhaseAdvanced (the phase went on, so the No-Go is over);
// - kNone: anything else.
// A target that may open an alert gets the resolves whether or not it lists their
// reasons, so nothing it opened is left open; any other target only those it lists.
enum class AlertAction { kNone, kOpen, kResolveAll, kResolveNoGo };
AlertAction AlertActionOf(const Notification& notification, const api::NotificationSpec& target);

// The rollout fields every target gets (API.md §10), read from Notification::rollout with
// the notification's own namespace, name and reason when the caller left them out.
struct RolloutFields {
  std::string namespace_;
  std::string name;
  std::string revision;
  std::string phase;  // status.phase, e.g. "RolledBack"
  std::string step;   // status.currentPhase.name, e.g. "majority"
  int flag_percent = 0;
  int traffic_weight = 0;
  std::string verdict;
  std::string reason;
  std::string message;  // the one plain sentence, cleaned like an Event message
};
RolloutFields FieldsOf(const Notification& notification);

// A receiver's path joined to `suffix`: "/" + "/api/v2/alerts" = "/api/v2/alerts",
// "/am/" + "/api/v2/alerts" = "/am/api/v2/alerts"; a query of `base` is kept at the end.
std::string JoinPath(std::string_view base, std::string_view suffix);

}  // namespace agentrollout::controllers
