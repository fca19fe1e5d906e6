// Notifications (API.md §10): for the events a rollout subscribes to, a message to each
// target in the form its kind speaks (Slack, PagerDuty Events API v2, Alertmanager, a
// generic webhook; channel.h). Sending is asynchronous: Notify() only queues, so a slow or
// failing receiver never blocks or fails the rollout; failed sends are retried with
// backoff and finally dropped (and counted).
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/types.h"

namespace agentrollout::controllers {

// The metric that decided a verdict or a rollback, with its value and the line it crossed.
struct DecidingMetric {
  std::string name;
  std::string value;  // formatted number, "" when there was no data
  std::string line;   // e.g. "> 0.05"
  friend bool operator==(const DecidingMetric&, const DecidingMetric&) = default;
};

struct Notification {
  std::string namespace_;  // the rollout's namespace (Secrets are read from it)
  std::string name;        // the rollout's name
  api::EventReason reason = api::EventReason::kPhaseStarted;
  std::string text;     // one plain sentence, the Event's message
  api::Timestamp at{};  // when it happened (alerts' startsAt / endsAt, incidents' timestamp)
  // For AnalysisNoGo / AnalysisHold / RollingBack / RolledBack: the metric that decided.
  std::optional<DecidingMetric> metric;
  // status.revision before this event ("" for a new rollout): a start after a rollback
  // (retry, or a new revision) resolves what the earlier run raised.
  std::string previous_revision;
  // spec.analysis.interval: a repeated No-Go is re-sent at this pace, so an alert about it
  // may end by itself a few intervals after the last one.
  api::Duration analysis_interval{std::chrono::minutes(1)};
  // {"namespace", "name", "revision", "phase", "step", "flagPercent", "trafficWeight",
  //  "verdict", "reason"}: what a webhook receiver can route or template on.
  nlohmann::json rollout;
  // spec.notifications as written; each target's channel decides whether it is told
  // (its `events`, plus the kind's own rules: PagerDuty pages only about rollbacks).
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
