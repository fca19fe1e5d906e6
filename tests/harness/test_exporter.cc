#include "tests/harness/test_exporter.h"

#include <atomic>
#include <chrono>
#include <regex>

#include "api/threshold.h"

namespace agentrollout::testing {

Result<std::unique_ptr<TestExporter>> TestExporter::Start(const std::string& binary,
                                                          const std::string& version,
                                                          const std::filesystem::path& dir) {
  static std::atomic<int> counter{0};
  const std::filesystem::path log = dir / ("exporter-" + std::to_string(counter++) + ".log");
  auto process = BackgroundProcess::Start(
      {binary, "--listen", "127.0.0.1:0", "--version-label", version, "--agent", "voice", "--rps",
       "200", "--error-ratio", "0", "--latency-ms", "100"},
      log);
  if (!process.ok()) return process.error();
  auto started =
      process->WaitForLog("serving /metrics and /control on port ", std::chrono::seconds(20));
  if (!started.ok()) return started.error();
  std::smatch match;
  static const std::regex kPort("on port ([0-9]+)");
  if (!std::regex_search(*started, match, kPort)) return Internal("no port in " + *started);
  const int port = std::stoi(match[1]);
  http::ClientConfig config;
  config.base_url = "http://127.0.0.1:" + std::to_string(port);
  auto control = http::NewClient(config);
  if (!control.ok()) return control.error();
  return std::unique_ptr<TestExporter>(
      new TestExporter(std::move(*process), port, std::move(*control)));
}

Status TestExporter::Set(double error_ratio, double latency_ms) {
  http::Request request;
  request.method = "POST";
  request.target = "/control?errorRatio=" + api::FormatNumber(error_ratio) +
                   "&latencyMs=" + api::FormatNumber(latency_ms);
  auto response = control_->Send(request);
  if (!response.ok()) return response.error();
  if (response->status != 200) return Internal("POST /control: " + response->body);
  return OkStatus();
}

}  // namespace agentrollout::testing
