// A real Alertmanager (hack/alertmanager.sh, the Debian package prometheus-alertmanager)
// for integration tests, with the receiver a team would have: on a free loopback port, a
// state directory of its own, and a route that sends the alerts matching the given
// matchers, grouped (group_wait 1s), to a webhook_configs receiver - a local HTTP server
// of the fixture that keeps every delivery. The log and config are kept when the test
// that owns the fixture failed.
#pragma once

#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "http/test_server.h"
#include "tests/harness/script_server.h"

namespace agentrollout::testing {

class AlertmanagerFixture {
 public:
  AlertmanagerFixture();
  AlertmanagerFixture(const AlertmanagerFixture&) = delete;
  AlertmanagerFixture& operator=(const AlertmanagerFixture&) = delete;
  ~AlertmanagerFixture();

  // Starts the receiver and Alertmanager routing the alerts that match every matcher
  // (label="value"; none = all) to it, and waits until Alertmanager is ready.
  Status Start(const std::vector<std::string>& matchers);
  // Stops both (idempotent); keeps the log under agentrollout-logs/ if the test failed.
  Status Stop();

  // http://127.0.0.1:PORT of Alertmanager ("" before Start).
  const std::string& base_url() const { return base_url_; }

  // What Alertmanager's webhook delivered, oldest first
  // (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config):
  // {"version": "4", "status": "firing"|"resolved", "receiver", "groupLabels",
  //  "commonLabels", "alerts": [{"status", "labels", "annotations", "startsAt", "endsAt"}]}.
  std::vector<nlohmann::json> deliveries();
  // The first delivery with an alert named `alertname` whose own status is `status`
  // ("firing" or "resolved"; a group's delivery is "firing" while any of its alerts fires),
  // waiting up to `timeout` for it.
  std::optional<nlohmann::json> WaitForDelivery(
      const std::string& status, const std::string& alertname,
      std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // That alert of `delivery` (null when it has none).
  static nlohmann::json AlertIn(const nlohmann::json& delivery, const std::string& status,
                                const std::string& alertname);

 private:
  ScriptServer server_;
  std::string base_url_;
  http::testing::TestServerPtr receiver_;
  std::mutex mu_;
  std::vector<nlohmann::json> deliveries_;
};

}  // namespace agentrollout::testing
