// The scale and outage benchmarks (issue 9 items 1 and 3b): N objects on the API server,
// one controller process started, measured from the outside (bench/measure.h).
#pragma once

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "bench/control_plane.h"
#include "bench/workload.h"
#include "common/result.h"

namespace agentrollout::bench {

enum class ControllerKind { kAgentRollout, kArgoRollouts };

struct ScaleOptions {
  std::string kubeconfig;
  ControllerKind controller = ControllerKind::kAgentRollout;
  std::string binary;  // agentrollout-operator or Argo's rollouts-controller
  Workload workload;   // namespace, Prometheus, mix
  int n = 200;
  int workers = 8;                   // population requests in flight
  int concurrency = 4;               // the operator's --concurrency (Argo keeps its defaults)
  std::chrono::seconds window{300};  // with `steady`: the longest the run may take
  std::chrono::seconds steady{0};    // measured after the start-up work (measure.h)
  std::chrono::milliseconds period{1000};
  std::filesystem::path log_file;
  // When set (and `steady` is): `perf record -F 99 -g` of the controller over its steady
  // window, written here (its own output beside it, with ".log" appended).
  std::filesystem::path perf_data;
  // When set: the control plane's bill (control_plane.h) from the controller's start to the
  // end of the run and over the steady window, and the peak RSS of the apiserver and etcd.
  std::optional<ControlPlaneTarget> control_plane;
  // When set: once the run has ended (the controller stopped with SIGTERM), the controller is
  // started again over the objects it has just written, as after an upgrade or a failover, and
  // measured until its first pass is over (ready, synced, RSS, CPU, and the control plane's
  // bill of that pass). A first start over a fixture pays for writes no earlier controller
  // made (finalizers, flags and routes of the finished rollouts); a restart does not.
  bool restart = false;
};

// Populates, runs the controller for the window (or through its start-up work and then the
// steady window), returns the summary (measure.h's
// Summarize plus the population and workload figures).
Result<nlohmann::json> RunScale(const ScaleOptions& options);

struct OutageOptions {
  ScaleOptions scale;      // window is ignored: baseline + outage + after
  int prometheus_pid = 0;  // SIGSTOPped for the outage, SIGCONTed after
  std::chrono::seconds baseline{60};
  std::chrono::seconds outage{120};
  std::chrono::seconds after{60};
};

// Operator with N progressing rollouts; Prometheus is stopped (SIGSTOP: connections hang,
// queries time out) for the outage. Reports RSS and threads before, during and after.
Result<nlohmann::json> RunOutage(const OutageOptions& options);

}  // namespace agentrollout::bench
