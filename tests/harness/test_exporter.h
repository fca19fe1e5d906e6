// A running agentrollout-test-exporter (analysis/exporter/main.cc): synthetic agent metrics
// (agent_requests_total, agent_latency_seconds) whose error ratio and latency a test
// changes at run time over POST /control. Stopped (SIGTERM) when destroyed.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "common/result.h"
#include "http/transport.h"
#include "tests/harness/process.h"

namespace agentrollout::testing {

class TestExporter {
 public:
  // Starts `binary` on a free loopback port serving series labelled agent="voice",
  // version=`version` at 200 requests/s, no errors, 100 ms each; its log goes to `dir`.
  static Result<std::unique_ptr<TestExporter>> Start(const std::string& binary,
                                                     const std::string& version,
                                                     const std::filesystem::path& dir);

  int port() const { return port_; }
  // "127.0.0.1:PORT", a Prometheus scrape target.
  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }

  // POST /control: the exporter's knobs.
  Status Set(double error_ratio, double latency_ms);

 private:
  TestExporter(BackgroundProcess process, int port, http::ClientPtr control)
      : process_(std::move(process)), port_(port), control_(std::move(control)) {}

  BackgroundProcess process_;
  int port_;
  http::ClientPtr control_;
};

}  // namespace agentrollout::testing
