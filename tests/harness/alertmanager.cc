#include "tests/harness/alertmanager.h"

namespace agentrollout::testing {

AlertmanagerFixture::AlertmanagerFixture()
    : server_({.script = "alertmanager.sh",
               .state_env = "AGENTROLLOUT_ALERTMANAGER_STATE_DIR",
               .name = "alertmanager",
               .stop_command = "down",
               .kept_files = {"alertmanager.log", "alertmanager.yml"}}) {}

AlertmanagerFixture::~AlertmanagerFixture() = default;

Status AlertmanagerFixture::Start(const std::string& webhook_url,
                                  const std::vector<std::string>& matchers) {
  std::vector<std::string> args = {"up", webhook_url};
  args.insert(args.end(), matchers.begin(), matchers.end());
  Result<std::string> url = server_.Start(args);
  if (!url.ok()) return url.error();
  base_url_ = *url;
  return OkStatus();
}

Status AlertmanagerFixture::Stop() {
  base_url_.clear();
  return server_.Stop();
}

}  // namespace agentrollout::testing
