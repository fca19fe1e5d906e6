// notifications[].type `pagerduty` (API.md §10): PagerDuty Events API v2,
// https://developer.pagerduty.com/docs/events-api-v2/trigger-events/ and
// .../resolve-events/. One alert per rollout revision, dedup_key
// "<namespace>/<name>/<revision>":
//   trigger, severity critical   on RollingBack and RolledBack
//   trigger, severity warning    on AnalysisNoGo (PagerDuty folds repeats into one alert)
//   resolve                      on Succeeded, and on the start of a rollout that ran
//                                before (retry, or a new revision: the earlier
//                                revision's alert is resolved)
// Other reasons page nobody. `events` chooses the triggers; a target that may trigger
// also gets the resolves, so nothing it opened is left open.
// The routing key comes from routingKeySecretRef at every attempt and goes only into the
// body; the URL defaults to https://events.pagerduty.com/v2/enqueue.
#pragma once

#include <cstddef>
#include <string>

#include "controllers/notify/channel.h"

namespace agentrollout::controllers {

inline constexpr char kPagerDutyEventsUrl[] = "https://events.pagerduty.com/v2/enqueue";
// Events API v2 bounds: dedup_key at most 255 characters, payload.summary at most 1024.
inline constexpr std::size_t kPagerDutyMaxDedupKey = 255;
inline constexpr std::size_t kPagerDutyMaxSummary = 1024;

// "<namespace>/<name>/<revision>"; longer than 255 bytes, its first 238 bytes, "#" and 16
// hex digits of a hash of the whole (stable across versions of the operator).
std::string PagerDutyDedupKey(std::string_view ns, std::string_view name,
                              std::string_view revision);

// The event without routing_key (added at each attempt from the Secret), or nullopt when
// the notification pages nobody.
std::optional<nlohmann::json> PagerDutyEvent(const Notification& notification,
                                             const api::NotificationSpec& target);

class PagerDutyChannel final : public Channel {
 public:
  std::string_view DefaultUrl() const override { return kPagerDutyEventsUrl; }
  std::optional<nlohmann::json> Message(const Notification& notification,
                                        const api::NotificationSpec& target) const override {
    return PagerDutyEvent(notification, target);
  }
  // POSTs the event with routing_key from `credentials`.
  Result<http::Response> Deliver(const nlohmann::json& message, const Credentials& credentials,
                                 std::string_view base_path,
                                 const SendRequest& send) const override;
};

}  // namespace agentrollout::controllers
