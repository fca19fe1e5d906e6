// A real Prometheus (hack/prometheus.sh, the Debian package) for integration tests:
// scrapes the given targets every second, on a free loopback port, with a state directory
// of its own. The log is kept when the test that owns the fixture failed.
#pragma once

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.h"
#include "tests/harness/script_server.h"

namespace agentrollout::testing {

class PrometheusFixture {
 public:
  PrometheusFixture();
  PrometheusFixture(const PrometheusFixture&) = delete;
  PrometheusFixture& operator=(const PrometheusFixture&) = delete;
  ~PrometheusFixture();

  // Starts Prometheus scraping `targets` ("host:port" or "http://host:port/path") and waits
  // until it is ready. Prometheus also scrapes itself as job "prometheus".
  Status Start(const std::vector<std::string>& targets);
  // Stops it (idempotent); keeps the log under agentrollout-logs/ if the current test failed.
  Status Stop();

  // http://127.0.0.1:PORT ("" before Start).
  const std::string& base_url() const { return base_url_; }
  const std::filesystem::path& state_dir() const { return server_.state_dir(); }

  // GET /api/v1/query?query=PROMQL; the parsed `data` object of a success response.
  Result<nlohmann::json> Query(const std::string& promql) const;
  // Polls Query until it returns at least one sample or `timeout` passes; the result array.
  Result<nlohmann::json> WaitForSamples(const std::string& promql,
                                        std::chrono::milliseconds timeout) const;

 private:
  ScriptServer server_;
  std::string base_url_;
};

}  // namespace agentrollout::testing
