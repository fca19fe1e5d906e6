// notifications[].type `alertmanager` (API.md §10): alerts POSTed to an Alertmanager's
// /api/v2/alerts (https://prometheus.io/docs/alerting/latest/clients/), which routes them
// to whatever the team uses. Two alerts:
//   AgentRolloutRolledBack  severity critical, on RollingBack and RolledBack
//   AgentRolloutNoGo        severity warning, on AnalysisNoGo (re-sent at every No-Go
//                           evaluation, like a Prometheus rule)
// with the labels a team routes on: alertname, severity, namespace, rollout, revision,
// phase (the rollout phase it happened in, spec.phases[].name) and metric (the one that
// decided; absent when none did); annotations carry the sentence and the rest.
// startsAt is the event's time; endsAt bounds a firing alert (AgentRolloutNoGo: 4 analysis
// intervals, at least 5 minutes; AgentRolloutRolledBack: 24 hours) and resolves it:
// - Succeeded, and the start of a rollout that ran before (retry, new revision), resolve
//   both alerts of the rollout, of every revision;
// - PhaseAdvanced resolves its AgentRolloutNoGo.
// A resolve asks Alertmanager for the rollout's firing alerts (GET /api/v2/alerts with
// matchers) and POSTs each back with endsAt = now, so labels need not be remembered.
// `events` chooses the firing reasons; a target that may fire also gets the resolves.
#pragma once

#include <chrono>

#include "controllers/notify/channel.h"

namespace agentrollout::controllers {

inline constexpr char kAlertRolledBack[] = "AgentRolloutRolledBack";
inline constexpr char kAlertNoGo[] = "AgentRolloutNoGo";
inline constexpr std::chrono::hours kRolledBackAlertFor{24};
inline constexpr std::chrono::minutes kMinNoGoAlertFor{5};
// At most this many alerts are resolved per request (a rollout has two at a time).
inline constexpr std::size_t kMaxResolvedAlerts = 100;

// The channel's message: {"alerts": [...]} (the POST body of firing alerts), or
// {"resolve": {"alertnames": [...], "namespace", "rollout", "endsAt"}}; nullopt when the
// notification says nothing to Alertmanager.
std::optional<nlohmann::json> AlertmanagerMessage(const Notification& notification,
                                                  const api::NotificationSpec& target);

// GET /api/v2/alerts target (under `base_path`) listing the rollout's alerts with one of
// `alertnames`: filter matchers with the values quoted and the query URL-encoded.
std::string AlertmanagerQuery(std::string_view base_path, const nlohmann::json& resolve);

class AlertmanagerChannel final : public Channel {
 public:
  std::optional<nlohmann::json> Message(const Notification& notification,
                                        const api::NotificationSpec& target) const override {
    return AlertmanagerMessage(notification, target);
  }
  Result<http::Response> Deliver(const nlohmann::json& message, const Credentials& credentials,
                                 std::string_view base_path,
                                 const SendRequest& send) const override;
};

}  // namespace agentrollout::controllers
