// The alertmanager notification kind against a real Alertmanager (the Debian package,
// started by hack/alertmanager.sh): the operator's alerts are accepted, grouped and routed
// by their labels - here the team's route matches namespace="payments" - and Alertmanager's
// own webhook_configs receiver delivers them to a local HTTP receiver of the test, firing
// with the labels a team routes on, then resolved once the rollout moves on.
#include "tests/harness/alertmanager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "api/names.h"
#include "api/time.h"
#include "controllers/notify/webhook_notifier.h"
#include "http/test_server.h"

namespace agentrollout::testing {
namespace {

using api::EventReason;
using controllers::DecidingMetric;
using controllers::Notification;
using controllers::WebhookNotifier;
using controllers::WebhookNotifierOptions;
using nlohmann::json;
using std::chrono::milliseconds;

// Receives Alertmanager's webhook deliveries
// (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config):
// {"version": "4", "status": "firing"|"resolved", "receiver", "groupLabels",
//  "commonLabels", "alerts": [{"status", "labels", "annotations", "startsAt", "endsAt"}]}.
class WebhookReceiver {
 public:
  WebhookReceiver() {
    auto server = http::testing::StartTestServer([this](http::testing::Exchange& ex) {
      {
        std::lock_guard lock(mu_);
        deliveries_.push_back(json::parse(ex.request().body, nullptr, false));
      }
      ex.Respond(200, {}, "");
    });
    EXPECT_TRUE(server.ok()) << server.error().ToString();
    server_ = std::move(server).value();
  }
  ~WebhookReceiver() { server_->Stop(); }
  std::string url() const { return server_->url() + "/alertmanager-webhook"; }
  std::vector<json> deliveries() {
    std::lock_guard lock(mu_);
    return deliveries_;
  }
  // The first delivery with `status` whose alerts include one named `alertname`; waits up
  // to 30 s.
  std::optional<json> WaitFor(const std::string& status, const std::string& alertname) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      for (const json& delivery : deliveries()) {
        if (!delivery.is_object() || delivery.value("status", "") != status) continue;
        for (const json& alert : delivery.value("alerts", json::array())) {
          if (alert["labels"].value("alertname", "") == alertname) return delivery;
        }
      }
      std::this_thread::sleep_for(milliseconds(100));
    }
    return std::nullopt;
  }

 private:
  std::mutex mu_;
  std::vector<json> deliveries_;
  http::testing::TestServerPtr server_;
};

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
  WebhookReceiver receiver;
  AlertmanagerFixture alertmanager;
  Status started = alertmanager.Start(receiver.url(), {"namespace=\"payments\""});
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

  const std::optional<json> firing = receiver.WaitFor("firing", "AgentRolloutRolledBack");
  ASSERT_TRUE(firing) << json(receiver.deliveries()).dump(2);
  EXPECT_EQ((*firing)["receiver"], "webhook");
  EXPECT_EQ((*firing)["groupLabels"], json({{"alertname", "AgentRolloutRolledBack"},
                                            {"namespace", "payments"},
                                            {"rollout", "checkout-v2"}}));
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

  const std::optional<json> no_go_firing = receiver.WaitFor("firing", "AgentRolloutNoGo");
  ASSERT_TRUE(no_go_firing) << json(receiver.deliveries()).dump(2);
  EXPECT_EQ((*no_go_firing)["alerts"][0]["labels"]["severity"], "warning");
  EXPECT_EQ((*no_go_firing)["alerts"][0]["labels"]["metric"], "error-rate");

  // retry: the rollout starts again, which resolves both alerts of the rollout.
  Notification retry =
      Event("payments", EventReason::kPhaseStarted, "Progressing", alertmanager.base_url());
  retry.previous_revision = "7.1.0";
  notifier.Notify(retry);
  const std::optional<json> resolved = receiver.WaitFor("resolved", "AgentRolloutRolledBack");
  ASSERT_TRUE(resolved) << json(receiver.deliveries()).dump(2);
  const json& resolved_alert = (*resolved)["alerts"][0];
  EXPECT_EQ(resolved_alert["status"], "resolved");
  EXPECT_EQ(resolved_alert["labels"]["revision"], "7.1.0");
  EXPECT_EQ(resolved_alert["annotations"]["summary"], "checkout-v2 RolledBack in majority")
      << "the resolve keeps what the alert said";
  auto ends = api::ParseTime(resolved_alert["endsAt"].get<std::string>());
  ASSERT_TRUE(ends.ok()) << resolved_alert.dump();
  EXPECT_LE(*ends, std::chrono::system_clock::now());
  EXPECT_TRUE(receiver.WaitFor("resolved", "AgentRolloutNoGo"));

  // Nothing of the voice namespace reached the payments team's receiver.
  for (const json& delivery : receiver.deliveries()) {
    EXPECT_EQ(delivery["commonLabels"].value("namespace", ""), "payments") << delivery.dump();
  }
  // ... though Alertmanager accepted it: every post and the resolve were answered 2xx.
  EXPECT_EQ(notifier.Stats(), (controllers::WebhookStats{.sent = 4}));
}

}  // namespace
}  // namespace agentrollout::testing
