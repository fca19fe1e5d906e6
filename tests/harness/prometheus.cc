#include "tests/harness/prometheus.h"

#include <gtest/gtest.h>

#include <thread>

#include "tests/harness/process.h"

namespace agentrollout::testing {

PrometheusFixture::PrometheusFixture()
    : server_({.script = "prometheus.sh",
               .state_env = "AGENTROLLOUT_PROM_STATE_DIR",
               .name = "prometheus",
               .stop_command = "stop",
               .kept_files = {"prometheus.log", "prometheus.yml"}}) {}

PrometheusFixture::~PrometheusFixture() = default;

Status PrometheusFixture::Start(const std::vector<std::string>& targets) {
  std::vector<std::string> args = {"start"};
  args.insert(args.end(), targets.begin(), targets.end());
  Result<std::string> url = server_.Start(args);
  if (!url.ok()) return url.error();
  base_url_ = *url;
  return OkStatus();
}

Status PrometheusFixture::Stop() {
  base_url_.clear();
  return server_.Stop();
}

Result<nlohmann::json> PrometheusFixture::Query(const std::string& promql) const {
  if (base_url_.empty()) return Error(ErrorCode::kFailedPrecondition, "Prometheus not started");
  // curl URL-encodes the query itself (--data-urlencode with -G), so PromQL needs no escaping.
  ProcessOptions options;
  options.timeout = std::chrono::seconds(15);
  auto result = RunProcess({"curl", "-sS", "--max-time", "10", "-G", base_url_ + "/api/v1/query",
                            "--data-urlencode", "query=" + promql},
                           options);
  if (!result.ok()) return result.error();
  if (result->exit_code != 0) return Unavailable("curl failed: " + result->Describe());
  nlohmann::json body = nlohmann::json::parse(result->out, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) {
    return Internal("Prometheus answered with non-JSON: " + result->out);
  }
  if (body.value("status", "") != "success") {
    return InvalidArgument("query " + promql + " failed: " + result->out);
  }
  return body["data"];
}

Result<nlohmann::json> PrometheusFixture::WaitForSamples(const std::string& promql,
                                                         std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last;
  while (true) {
    auto data = Query(promql);
    if (data.ok()) {
      const auto& samples = (*data)["result"];
      if (samples.is_array() && !samples.empty()) return samples;
      last = data->dump();
    } else {
      last = data.error().ToString();
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Error(ErrorCode::kDeadlineExceeded, "no samples for " + promql + " within " +
                                                     std::to_string(timeout.count()) +
                                                     " ms; last answer: " + last);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

}  // namespace agentrollout::testing
