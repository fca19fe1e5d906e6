// Runs one controller process (the operator, or Argo Rollouts' controller) and measures it
// from the outside: time until its readiness endpoint answers 200, then every `period` its
// /proc figures (bench/proc_stats.h), and its /metrics' reconcile counter every `period`
// until the initial sync (the start-up work, with a steady window) and then every `metrics_period`
// (as a Prometheus scrape would: reading /metrics costs the controller CPU, and a 1 s scrape of
// 10,000 rollouts' series was a third of the operator's measured CPU), for a fixed window or until
// a steady window after the start-up work has passed. The controller is stopped with SIGTERM at the
// end.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/proc_stats.h"
#include "common/result.h"

namespace agentrollout::bench {

struct ControllerSpec {
  std::string name;  // "agentrollout-operator" | "argo-rollouts"
  std::vector<std::string> argv;
  std::string ready_url;    // GET answering 200 = ready
  std::string metrics_url;  // Prometheus text exposition
  // A counter (or a histogram's _count) that grows by one per reconcile; summed over series.
  std::string reconcile_metric;
  // A gauge of the reconcile queue's depth, when the controller has one: its first pass is
  // over once it reads 0 after the reconcile counter has reached the sync target (the
  // counter alone gets there early: it also counts the reconciles its own writes bring).
  std::string queue_depth_metric;
};

struct Sample {
  double t = 0;  // seconds since the process was started
  ProcSample proc;
  double reconciles = 0;              // the last value read from /metrics
  bool scraped = false;               // read from /metrics at this sample
  std::optional<double> queue_depth;  // ControllerSpec::queue_depth_metric, when scraped
};

struct RunOptions {
  // Sampling time after start; with `steady`, the longest the run may take.
  std::chrono::seconds window{60};
  // 0: the steady state is the window's second half. Otherwise the run goes on until the
  // start-up work is done (`started_up`) and then for `steady` more (at most `window`),
  // so the steady figures never include the first pass over N objects, however long it takes.
  std::chrono::seconds steady{0};
  // Whether the start-up work is done at this sample; unset: the initial sync is done and
  // the queue depth (if the controller reports one) read 0.
  std::function<bool(const Sample&)> started_up;
  // Called once, with the controller's pid, when the steady window begins.
  std::function<void(pid_t)> on_steady;
  // Called once when the steady window has passed, before the controller is stopped.
  std::function<void()> on_steady_end;
  std::chrono::milliseconds period{1000};
  std::chrono::milliseconds metrics_period{15000};  // after the sync (or ready, without one)
  // Reconciles that count as "every object reconciled once" (the initial sync).
  double sync_target = 0;
  // Called after every sample (e.g. to disturb the system at a given time).
  std::function<void(const Sample&)> on_sample;
};

struct RunResult {
  std::optional<double> ready_s;        // start -> readiness 200
  std::optional<double> synced_s;       // start -> reconciles >= sync_target
  std::optional<double> steady_from_s;  // start -> start-up work done (with a steady window)
  std::vector<Sample> samples;
  bool exited_early = false;  // the process died during the window
  // 1-minute load average of the machine before and after (other work competing for CPU).
  double load_before = 0;
  double load_after = 0;
};

// The 1-minute load average (/proc/loadavg); 0 when unreadable.
double LoadAverage();

Result<RunResult> RunController(const ControllerSpec& spec, const std::filesystem::path& log_file,
                                const RunOptions& options);

// Sum of every series of `name` (exactly that metric name) in a text exposition; with
// `label` only the series whose labels contain that text (e.g. `handler="/api/v1/query"`).
double SumSeries(std::string_view exposition, std::string_view name, std::string_view label = "");

// Summary figures of a run (the JSON the report reads): ready time, initial sync, peak and
// steady RSS, CPU over the whole run and over its steady state (RunOptions::steady),
// threads, reconciles, and the samples themselves. Without a steady window, or when the
// start-up work did not end in time, the steady figures are left out, not estimated.
nlohmann::json Summarize(const RunResult& run, const RunOptions& options);

// A free TCP port on 127.0.0.1 (bound, read, closed).
Result<int> FreePort();

// Polls `url` every 10 ms until it answers 200; DeadlineExceeded after `timeout`.
Status WaitForHttp200(const std::string& url, std::chrono::milliseconds timeout);

}  // namespace agentrollout::bench
