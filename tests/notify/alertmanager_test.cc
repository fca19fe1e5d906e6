// The alertmanager notification kind against a real Alertmanager (the Debian package,
// started by hack/alertmanager.sh): the operator's alerts are accepted, grouped and routed
// by their labels - here the team's route matches namespace="payments" - and Alertmanager's
// own webhook_configs receiver delivers them to a local HTTP receiver of the test, firing
// with the labels a team routes on, then resolved once the rollout moves on.
#include "tests/harness/alertmanager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api/names.h"
#include "api/time.h"
#include "controllers/notify/webhook_notifier.h"

namespace agentrollout::testing {
namespace {

using api::EventReason;
using controllers::DecidingMetric;
using controllers::Notification;
using controllers::WebhookNotifier;
using controllers::WebhookNotifierOptions;
using nlohmann::json;
using std::chrono::milliseconds;

Notification Event(std::string ns, EventReason reason, std::string phase,
                   const std::string& alertmanager_url) {
  Notification n;
  n.namespace_ = ns;
  n.name = "checkout-v2";
  n.reason = reason;
  n.at = std::chrono::system_clock::now();
  n.text = "checkout-v2 " + std::string(api::Name(reason)) + " in majority";
  n.rollout = {{"namespace", ns},     {"name", "checkout-v2"}, {"revision", "7.1.0"},
               {"phase", phase},      {"step", "majority"},    {"flagPercent", 50},
               {"trafficWeight", 50}, {"verdict", "NoGo"},     {"reason", api::Name(reason)}};
  api::NotificationSpec target;
  target.type = api::NotificationType::kAlertmanager;
  target.url = alertmanager_url;
  n.targets = {target};
  return n;
}

TEST(AlertmanagerNotifications, AreRoutedByTheirLabelsAndResolved) {
  AlertmanagerFixture alertmanager;  // with the payments team's receiver
  Status started = alertmanager.Start({"namespace=\"payments\""});
  ASSERT_TRUE(started.ok()) << started.error().ToString();

  WebhookNotifierOptions options;
  options.initial_backoff = milliseconds(50);
  options.workers = 1;  // in order: a resolve never overtakes what it resolves
  WebhookNotifier notifier(nullptr, options);

  // A No-Go, then the rollback: two alerts, each delivered by Alertmanager with the labels.
  Notification no_go =
      Event("payments", EventReason::kAnalysisNoGo, "Progressing", alertmanager.base_url());
  no_go.metric = DecidingMetric{"error-rate", "0.071", "> 0.05"};
  notifier.Notify(no_go);
  Notification rolled_back =
      Event("payments", EventReason::kRolledBack, "RolledBack", alertmanager.base_url());
  rolled_back.metric = DecidingMetric{"error-rate", "0.071", "> 0.05"};
  notifier.Notify(rolled_back);
  // Another team's rollout: accepted by Alertmanager, but not routed to this receiver.
  notifier.Notify(Event("voice", EventReason::kRolledBack, "RolledBack", alertmanager.base_url()));

  const std::optional<json> firing =
      alertmanager.WaitForDelivery("firing", "AgentRolloutRolledBack");
  ASSERT_TRUE(firing) << json(alertmanager.deliveries()).dump(2);
  EXPECT_EQ((*firing)["receiver"], "webhook");
  EXPECT_EQ((*firing)["groupLabels"], json({{"alertname", "AgentRolloutRolledBack"},
                                            {"namespace", "payments"},
                                            {"rollout", "checkout-v2"}}));
  ASSERT_EQ((*firing)["alerts"].size(), 1u);
  const json& alert = (*firing)["alerts"][0];
  EXPECT_EQ(alert["status"], "firing");
  EXPECT_EQ(alert["labels"], json({{"alertname", "AgentRolloutRolledBack"},
                                   {"severity", "critical"},
                                   {"namespace", "payments"},
                                   {"rollout", "checkout-v2"},
                                   {"revision", "7.1.0"},
                                   {"phase", "majority"},
                                   {"metric", "error-rate"}}));
  EXPECT_EQ(alert["annotations"]["summary"], "checkout-v2 RolledBack in majority");
  EXPECT_EQ(alert["annotations"]["line"], "> 0.05");
  EXPECT_EQ(alert["annotations"]["flagPercent"], "50");

  const std::optional<json> no_go_firing =
      alertmanager.WaitForDelivery("firing", "AgentRolloutNoGo");
  ASSERT_TRUE(no_go_firing) << json(alertmanager.deliveries()).dump(2);
  EXPECT_EQ((*no_go_firing)["alerts"][0]["labels"]["severity"], "warning");
  EXPECT_EQ((*no_go_firing)["alerts"][0]["labels"]["metric"], "error-rate");

  // retry: the rollout starts again, which resolves both alerts of the rollout.
  Notification retry =
      Event("payments", EventReason::kPhaseStarted, "Progressing", alertmanager.base_url());
  retry.previous_revision = "7.1.0";
  notifier.Notify(retry);
  const std::optional<json> resolved =
      alertmanager.WaitForDelivery("resolved", "AgentRolloutRolledBack");
  ASSERT_TRUE(resolved) << json(alertmanager.deliveries()).dump(2);
  EXPECT_EQ((*resolved)["status"], "resolved") << "the group's only alert is resolved";
  const json resolved_alert =
      AlertmanagerFixture::AlertIn(*resolved, "resolved", "AgentRolloutRolledBack");
  EXPECT_EQ(resolved_alert["labels"]["revision"], "7.1.0");
  EXPECT_EQ(resolved_alert["annotations"]["summary"], "checkout-v2 RolledBack in majority")
      << "the resolve keeps what the alert said";
  auto ends = api::ParseTime(resolved_alert["endsAt"].get<std::string>());
  ASSERT_TRUE(ends.ok()) << resolved_alert.dump();
  EXPECT_LE(*ends, std::chrono::system_clock::now());
  EXPECT_TRUE(alertmanager.WaitForDelivery("resolved", "AgentRolloutNoGo"));

  // Nothing of the voice namespace reached the payments team's receiver.
  for (const json& delivery : alertmanager.deliveries()) {
    EXPECT_EQ(delivery["commonLabels"].value("namespace", ""), "payments") << delivery.dump();
  }
  // ... though Alertmanager accepted it: every post and the resolve were answered 2xx.
  EXPECT_EQ(notifier.Stats(), (controllers::WebhookStats{.sent = 4}));
}

}  // namespace
}  // namespace agentrollout::testing
