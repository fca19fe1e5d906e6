// agentrollout-test-exporter: a stand-in for an AI agent's metrics. It generates synthetic
// requests at a fixed rate on its own thread and serves, on one port:
//   GET  /metrics   agent_requests_total{agent,version,outcome="success|error"}, the
//                   agent_latency_seconds{agent,version} histogram, and the voice-agent
//                   signals of examples/voice-agent-v2.yaml: voice_calls_total{agent,version,
//                   outcome="completed|failed"} (one call per request, failed when the
//                   request fails), circuit_breaker_open_total and agent_complaints_total
//   GET  /control   the current knobs as JSON
//   POST /control   change knobs: errorRatio (0..1), latencyMs (>= 0), slowRatio (0..1),
//                   slowLatencyMs (>= 0), rps (>= 0), as query parameters or a form body,
//                   e.g. POST /control?errorRatio=0.1&latencyMs=900; and record events:
//                   circuitBreakerOpens=N, complaints=N add N to those counters
// With --stable-version-label it serves a second version too (canary versus stable,
// API.md §3.3), each with knobs of its own: `version=LABEL` in a POST picks the version it
// changes (default: --version-label's), and GET /control lists both.
// The first line on stdout is the bound port, so callers can ask for port 0.
//
// Traffic is deterministic so tests can reason about query results exactly: a request
// takes latencyMs, or slowLatencyMs for a slowRatio share of them, and errors and slow
// requests are spread evenly (errorRatio 0.1 = every 10th).
#include <CivetServer.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace agentrollout::exporter {
namespace {

struct Knobs {
  std::atomic<double> error_ratio{0};
  std::atomic<double> latency_ms{100};
  std::atomic<double> slow_ratio{0};
  std::atomic<double> slow_latency_ms{1500};
  std::atomic<double> rps{20};
};

// Ends the traffic thread promptly when asked.
class StopSignal {
 public:
  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopped_ = true;
    }
    cv_.notify_all();
  }
  // Sleeps for `duration`; false once stopped.
  bool SleepFor(std::chrono::milliseconds duration) {
    std::unique_lock lock(mu_);
    return !cv_.wait_for(lock, duration, [this] { return stopped_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
};

const std::vector<double> kLatencyBuckets = {0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7,
                                             0.8,  0.9,   1.0,  1.2, 1.5, 2.0, 2.5, 3.0, 5.0, 10.0};

class Traffic {
 public:
  Traffic(prometheus::Registry& registry, const std::string& agent, const std::string& version,
          const Knobs& knobs)
      : knobs_(knobs) {
    auto& requests = prometheus::BuildCounter()
                         .Name("agent_requests_total")
                         .Help("Requests handled by the agent, by outcome.")
                         .Register(registry);
    success_ = &requests.Add({{"agent", agent}, {"version", version}, {"outcome", "success"}});
    error_ = &requests.Add({{"agent", agent}, {"version", version}, {"outcome", "error"}});
    auto& calls = prometheus::BuildCounter()
                      .Name("voice_calls_total")
                      .Help("Voice calls handled by the agent, by outcome.")
                      .Register(registry);
    calls_completed_ =
        &calls.Add({{"agent", agent}, {"version", version}, {"outcome", "completed"}});
    calls_failed_ = &calls.Add({{"agent", agent}, {"version", version}, {"outcome", "failed"}});
    circuit_breaker_opens_ = &prometheus::BuildCounter()
                                  .Name("circuit_breaker_open_total")
                                  .Help("Times a circuit breaker of the agent opened.")
                                  .Register(registry)
                                  .Add({{"agent", agent}, {"version", version}});
    complaints_ = &prometheus::BuildCounter()
                       .Name("agent_complaints_total")
                       .Help("Complaints users filed about the agent.")
                       .Register(registry)
                       .Add({{"agent", agent}, {"version", version}});
    latency_ = &prometheus::BuildHistogram()
                    .Name("agent_latency_seconds")
                    .Help("Time the agent took to answer a request.")
                    .Register(registry)
                    .Add({{"agent", agent}, {"version", version}}, kLatencyBuckets);
  }

  // Events a person reports rather than traffic produces, recorded over /control.
  void RecordCircuitBreakerOpens(double count) { circuit_breaker_opens_->Increment(count); }
  void RecordComplaints(double count) { complaints_->Increment(count); }

  void Run(StopSignal& stop) {
    constexpr auto kStep = std::chrono::milliseconds(10);
    double due = 0;         // requests owed, fractional
    double error_debt = 0;  // error share owed, fractional
    double slow_debt = 0;   // slow share owed, fractional
    auto last = std::chrono::steady_clock::now();
    while (stop.SleepFor(kStep)) {
      const auto now = std::chrono::steady_clock::now();
      due += knobs_.rps.load() * std::chrono::duration<double>(now - last).count();
      last = now;
      const double ratio = knobs_.error_ratio.load();
      const double slow_ratio = knobs_.slow_ratio.load();
      const double latency = knobs_.latency_ms.load() / 1000.0;
      const double slow_latency = knobs_.slow_latency_ms.load() / 1000.0;
      for (; due >= 1; due -= 1) {
        error_debt += ratio;
        if (error_debt >= 1 - 1e-9) {
          error_debt -= 1;
          error_->Increment();
          calls_failed_->Increment();
        } else {
          success_->Increment();
          calls_completed_->Increment();
        }
        slow_debt += slow_ratio;
        if (slow_debt >= 1 - 1e-9) {
          slow_debt -= 1;
          latency_->Observe(slow_latency);
        } else {
          latency_->Observe(latency);
        }
      }
    }
  }

 private:
  const Knobs& knobs_;
  prometheus::Counter* success_;
  prometheus::Counter* error_;
  prometheus::Counter* calls_completed_;
  prometheus::Counter* calls_failed_;
  prometheus::Histogram* latency_;
  prometheus::Counter* circuit_breaker_opens_;
  prometheus::Counter* complaints_;
};

void Reply(mg_connection* conn, int status, const char* content_type, const std::string& body) {
  const char* reason = status == 200 ? "OK" : status == 400 ? "Bad Request" : "Error";
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
            "Connection: close\r\n\r\n",
            status, reason, content_type, body.size());
  mg_write(conn, body.data(), body.size());
}

class MetricsHandler final : public CivetHandler {
 public:
  explicit MetricsHandler(std::shared_ptr<prometheus::Registry> registry)
      : registry_(std::move(registry)) {}
  bool handleGet(CivetServer*, mg_connection* conn) override {
    const std::string body = prometheus::TextSerializer().Serialize(registry_->Collect());
    Reply(conn, 200, "text/plain; version=0.0.4", body);
    return true;
  }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
};

// One version's traffic and the knobs that shape it.
struct Version {
  std::string label;
  Knobs knobs;
  std::unique_ptr<Traffic> traffic;
};

class ControlHandler final : public CivetHandler {
 public:
  // `versions`: the first is the one a POST without `version=` changes.
  ControlHandler(std::vector<std::unique_ptr<Version>>& versions, std::string agent)
      : versions_(versions), agent_(std::move(agent)) {}

  bool handleGet(CivetServer*, mg_connection* conn) override {
    Reply(conn, 200, "application/json", State());
    return true;
  }

  bool handlePost(CivetServer*, mg_connection* conn) override {
    Version* version = versions_.front().get();
    if (std::string label; CivetServer::getParam(conn, "version", label)) {
      version = nullptr;
      for (const auto& candidate : versions_) {
        if (candidate->label == label) version = candidate.get();
      }
      if (version == nullptr) {
        Reply(conn, 400, "text/plain", "version: \"" + label + "\" is not served here\n");
        return true;
      }
    }
    Knobs& knobs = version->knobs;
    Traffic& traffic = *version->traffic;
    // Knobs are set; events (counts) are added to their counters.
    struct Param {
      const char* name;
      double min;
      double max;
      std::function<void(double)> apply;
    };
    auto set = [](std::atomic<double>& knob) { return [&knob](double v) { knob.store(v); }; };
    const std::vector<Param> params = {
        {"errorRatio", 0, 1, set(knobs.error_ratio)},
        {"latencyMs", 0, 600000, set(knobs.latency_ms)},
        {"slowRatio", 0, 1, set(knobs.slow_ratio)},
        {"slowLatencyMs", 0, 600000, set(knobs.slow_latency_ms)},
        {"rps", 0, 100000, set(knobs.rps)},
        {"circuitBreakerOpens", 0, 1000000,
         [&traffic](double n) { traffic.RecordCircuitBreakerOpens(n); }},
        {"complaints", 0, 1000000, [&traffic](double n) { traffic.RecordComplaints(n); }}};
    std::vector<std::pair<const Param*, double>> updates;
    for (const Param& param : params) {
      std::string text;
      if (!CivetServer::getParam(conn, param.name, text)) continue;
      const std::optional<double> value = ParseNumber(text);
      if (!value || *value < param.min || *value > param.max) {
        Reply(conn, 400, "text/plain",
              std::string(param.name) + ": \"" + text + "\" is not a number in [" +
                  FormatNumber(param.min) + ", " + FormatNumber(param.max) + "]\n");
        return true;
      }
      updates.emplace_back(&param, *value);
    }
    for (const auto& [param, value] : updates) param->apply(value);
    std::cerr << "control: " << State() << std::endl;
    Reply(conn, 200, "application/json", State());
    return true;
  }

 private:
  static std::optional<double> ParseNumber(const std::string& text) {
    try {
      std::size_t used = 0;
      const double value = std::stod(text, &used);
      if (used != text.size() || !std::isfinite(value)) return std::nullopt;
      return value;
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  static std::string FormatNumber(double value) { return nlohmann::json(value).dump(); }

  static nlohmann::json KnobsJson(const Version& version) {
    const Knobs& knobs = version.knobs;
    return {{"version", version.label},
            {"errorRatio", knobs.error_ratio.load()},
            {"latencyMs", knobs.latency_ms.load()},
            {"slowRatio", knobs.slow_ratio.load()},
            {"slowLatencyMs", knobs.slow_latency_ms.load()},
            {"rps", knobs.rps.load()}};
  }

  // The first version's knobs at the top (as before there were two), all under `versions`.
  std::string State() const {
    nlohmann::json state = KnobsJson(*versions_.front());
    state["agent"] = agent_;
    state["versions"] = nlohmann::json::array();
    for (const auto& version : versions_) state["versions"].push_back(KnobsJson(*version));
    return state.dump();
  }

  std::vector<std::unique_ptr<Version>>& versions_;
  std::string agent_;
};

int Main(int argc, char** argv) {
  CLI::App app{
      "agentrollout-test-exporter: synthetic agent traffic metrics, tunable at runtime over "
      "HTTP (GET/POST /control)"};
  std::string listen = "127.0.0.1:0";
  std::string version = "v1";
  std::string stable_version;
  std::string agent = "voice";
  double rps = 20;
  double error_ratio = 0;
  double latency_ms = 100;
  app.add_option("--listen", listen, "address:port to serve on (port 0 = any free port)")
      ->capture_default_str();
  app.add_option("--version-label", version, "value of the version label")->capture_default_str();
  app.add_option("--stable-version-label", stable_version,
                 "serve a second version with this label, with knobs of its own (POST "
                 "/control?version=LABEL&...); it starts with the same knobs");
  app.add_option("--agent", agent, "value of the agent label")->capture_default_str();
  app.add_option("--rps", rps, "synthetic requests per second")
      ->check(CLI::Range(0.0, 100000.0))
      ->capture_default_str();
  app.add_option("--error-ratio", error_ratio, "share of requests that fail, 0..1")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--latency-ms", latency_ms, "latency of every request, in milliseconds")
      ->check(CLI::Range(0.0, 600000.0))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  if (stable_version == version) {
    std::cerr << "agentrollout-test-exporter: --stable-version-label must differ from "
                 "--version-label"
              << std::endl;
    return 1;
  }

  // SIGINT/SIGTERM are taken by sigwait below, never delivered to another thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto registry = std::make_shared<prometheus::Registry>();
  std::vector<std::unique_ptr<Version>> versions;
  for (const std::string& label : {version, stable_version}) {
    if (label.empty()) continue;
    auto& served = versions.emplace_back(std::make_unique<Version>());
    served->label = label;
    served->knobs.rps = rps;
    served->knobs.error_ratio = error_ratio;
    served->knobs.latency_ms = latency_ms;
    served->traffic = std::make_unique<Traffic>(*registry, agent, label, served->knobs);
  }
  MetricsHandler metrics(registry);
  ControlHandler control(versions, agent);

  std::unique_ptr<CivetServer> server;
  try {
    server = std::make_unique<CivetServer>(
        std::vector<std::string>{"listening_ports", listen, "num_threads", "4"});
  } catch (const CivetException& e) {
    std::cerr << "agentrollout-test-exporter: cannot listen on " << listen << ": " << e.what()
              << std::endl;
    return 1;
  }
  server->addHandler("/metrics", metrics);
  server->addHandler("/control", control);
  const std::vector<int> ports = server->getListeningPorts();
  if (ports.empty()) {
    std::cerr << "agentrollout-test-exporter: no listening port" << std::endl;
    return 1;
  }
  std::cout << ports.front() << std::endl;
  std::cerr << "agentrollout-test-exporter: agent=" << agent << " version=" << version
            << (stable_version.empty() ? "" : " stable version=" + stable_version)
            << " serving /metrics and /control on port " << ports.front() << std::endl;

  StopSignal stop;
  std::vector<std::thread> generators;
  for (const auto& served : versions) {
    generators.emplace_back([&stop, &served] { served->traffic->Run(stop); });
  }
  int received = 0;
  sigwait(&signals, &received);
  stop.Stop();
  for (std::thread& generator : generators) generator.join();
  server->close();
  return 0;
}

}  // namespace
}  // namespace agentrollout::exporter

int main(int argc, char** argv) { return agentrollout::exporter::Main(argc, argv); }
