// A real Alertmanager (hack/alertmanager.sh, the Debian package prometheus-alertmanager)
// for integration tests: on a free loopback port, with a state directory of its own, and
// one webhook receiver - the test's - for the alerts matching the given matchers. The log
// and config are kept when the test that owns the fixture failed.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "tests/harness/script_server.h"

namespace agentrollout::testing {

class AlertmanagerFixture {
 public:
  AlertmanagerFixture();
  AlertmanagerFixture(const AlertmanagerFixture&) = delete;
  AlertmanagerFixture& operator=(const AlertmanagerFixture&) = delete;
  ~AlertmanagerFixture();

  // Starts Alertmanager routing the alerts that match every matcher (label="value"; none =
  // all) to a webhook_configs receiver at `webhook_url` (group_wait 1s, send_resolved), and
  // waits until it is ready.
  Status Start(const std::string& webhook_url, const std::vector<std::string>& matchers);
  // Stops it (idempotent); keeps the log under agentrollout-logs/ if the current test failed.
  Status Stop();

  // http://127.0.0.1:PORT ("" before Start).
  const std::string& base_url() const { return base_url_; }

 private:
  ScriptServer server_;
  std::string base_url_;
};

}  // namespace agentrollout::testing
