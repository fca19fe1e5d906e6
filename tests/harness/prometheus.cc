#include "tests/harness/prometheus.h"

#include <iostream>
#include <thread>

#include "tests/harness/cluster.h"
#include "tests/harness/process.h"

namespace agentrollout::testing {
namespace {

Result<ProcessResult> RunPrometheusScript(const std::filesystem::path& state_dir,
                                          const std::vector<std::string>& args) {
  std::vector<std::string> argv = {(SourceDir() / "hack" / "prometheus.sh").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessOptions options;
  options.env["AGENTROLLOUT_PROM_STATE_DIR"] = state_dir.string();
  options.timeout = std::chrono::minutes(2);
  return RunProcess(argv, options);
}

}  // namespace

PrometheusFixture::~PrometheusFixture() {
  Status stopped = Stop();
  if (!stopped.ok()) std::cerr << "[prometheus] " << stopped.error().ToString() << "\n";
}

Status PrometheusFixture::Start(const std::vector<std::string>& targets) {
  if (!base_url_.empty()) return Error(ErrorCode::kFailedPrecondition, "Prometheus already runs");
  auto dir = MakeTempDir("agentrollout-prometheus");
  if (!dir.ok()) return dir.error();
  state_dir_ = *dir;
  std::vector<std::string> args = {"start"};
  args.insert(args.end(), targets.begin(), targets.end());
  auto started = RunPrometheusScript(state_dir_, args);
  if (!started.ok() || started->exit_code != 0) {
    Error error = started.ok()
                      ? Unavailable("hack/prometheus.sh start failed: " + started->Describe())
                      : started.error();
    Status cleaned = Stop();  // removes whatever the failed start left
    if (!cleaned.ok()) {
      error =
          Error(error.code(), error.message() + " (cleanup: " + cleaned.error().message() + ")");
    }
    return error;
  }
  base_url_ = started->out.substr(0, started->out.find('\n'));
  return OkStatus();
}

Status PrometheusFixture::Stop() {
  if (state_dir_.empty()) return OkStatus();
  KeepFilesIfTestFailed("prometheus",
                        {state_dir_ / "prometheus.log", state_dir_ / "prometheus.yml"});
  auto stopped = RunPrometheusScript(state_dir_, {"stop"});
  std::filesystem::path dir = std::exchange(state_dir_, {});
  base_url_.clear();
  if (!stopped.ok()) return stopped.error();
  if (stopped->exit_code != 0) {
    return Unavailable("hack/prometheus.sh stop failed: " + stopped->Describe());
  }
  if (!ProcessesMentioning(dir.string()).empty()) {
    return Internal("a Prometheus of " + dir.string() + " still runs after stop");
  }
  return OkStatus();
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
