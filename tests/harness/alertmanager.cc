#include "tests/harness/alertmanager.h"

#include <iostream>
#include <thread>

namespace agentrollout::testing {

using nlohmann::json;

AlertmanagerFixture::AlertmanagerFixture()
    : server_({.script = "alertmanager.sh",
               .state_env = "AGENTROLLOUT_ALERTMANAGER_STATE_DIR",
               .name = "alertmanager",
               .stop_command = "down",
               .kept_files = {"alertmanager.log", "alertmanager.yml"}}) {}

AlertmanagerFixture::~AlertmanagerFixture() {
  // Alertmanager first: it must not post to a receiver that is gone.
  Status stopped = Stop();
  if (!stopped.ok()) std::cerr << "[alertmanager] " << stopped.error().ToString() << "\n";
}

Status AlertmanagerFixture::Start(const std::vector<std::string>& matchers) {
  auto receiver = http::testing::StartTestServer([this](http::testing::Exchange& ex) {
    {
      std::lock_guard lock(mu_);
      deliveries_.push_back(json::parse(ex.request().body, nullptr, /*allow_exceptions=*/false));
    }
    ex.Respond(200, {}, "");
  });
  if (!receiver.ok()) return receiver.error();
  receiver_ = std::move(receiver).value();
  std::vector<std::string> args = {"up", receiver_->url() + "/alertmanager-webhook"};
  args.insert(args.end(), matchers.begin(), matchers.end());
  Result<std::string> url = server_.Start(args);
  if (!url.ok()) return url.error();
  base_url_ = *url;
  return OkStatus();
}

Status AlertmanagerFixture::Stop() {
  base_url_.clear();
  Status stopped = server_.Stop();
  if (receiver_) receiver_->Stop();
  return stopped;
}

std::vector<json> AlertmanagerFixture::deliveries() {
  std::lock_guard lock(mu_);
  return deliveries_;
}

json AlertmanagerFixture::AlertIn(const json& delivery, const std::string& status,
                                  const std::string& alertname) {
  if (!delivery.is_object()) return nullptr;
  for (const json& alert : delivery.value("alerts", json::array())) {
    if (alert.is_object() && alert.value("status", "") == status &&
        alert.value("labels", json::object()).value("alertname", "") == alertname) {
      return alert;
    }
  }
  return nullptr;
}

std::optional<json> AlertmanagerFixture::WaitForDelivery(const std::string& status,
                                                         const std::string& alertname,
                                                         std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    for (const json& delivery : deliveries()) {
      if (!AlertIn(delivery, status, alertname).is_null()) return delivery;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace agentrollout::testing
