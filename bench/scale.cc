#include "bench/scale.h"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "bench/measure.h"
#include "bench/populate.h"
#include "bench/replicaset_stand_in.h"
#include "kube/config.h"
#include "tests/harness/process.h"

namespace agentrollout::bench {
namespace {

Result<ControllerSpec> Controller(const ScaleOptions& o) {
  auto metrics_port = FreePort();
  if (!metrics_port.ok()) return metrics_port.error();
  auto health_port = FreePort();
  if (!health_port.ok()) return health_port.error();
  const std::string metrics = std::to_string(*metrics_port);
  const std::string health = std::to_string(*health_port);
  ControllerSpec spec;
  spec.metrics_url = "http://127.0.0.1:" + metrics + "/metrics";
  if (o.controller == ControllerKind::kAgentRollout) {
    spec.name = "agentrollout-operator";
    spec.argv = {o.binary,
                 "--kubeconfig=" + o.kubeconfig,
                 "--namespace=" + o.workload.namespace_,
                 "--concurrency=" + std::to_string(o.concurrency),
                 "--metrics-addr=127.0.0.1:" + metrics,
                 "--health-addr=127.0.0.1:" + health,
                 "--log-format=json"};
    spec.ready_url = "http://127.0.0.1:" + health + "/readyz";
    spec.reconcile_metric = "agentrollout_reconcile_total";
    spec.queue_depth_metric = "agentrollout_workqueue_depth";
  } else {
    spec.name = "argo-rollouts";
    // Its defaults otherwise (10 rollout workers, 5 analysis workers, ...).
    spec.argv = {o.binary,
                 "--kubeconfig=" + o.kubeconfig,
                 "--namespaced",
                 "--namespace=" + o.workload.namespace_,
                 "--metricsPort=" + metrics,
                 "--healthzPort=" + health,
                 "--leader-elect=false",
                 "--loglevel=info"};
    spec.ready_url = "http://127.0.0.1:" + health + "/healthz";
    spec.reconcile_metric = "rollout_reconcile_count";
  }
  return spec;
}

nlohmann::json Describe(const ScaleOptions& o, const ControllerSpec& spec) {
  const Workload& w = o.workload;
  int progressing = 0;
  for (int i = 0; i < o.n; ++i) progressing += IsProgressing(w, i) ? 1 : 0;
  return {{"controller", spec.name},
          {"n", o.n},
          {"progressing", progressing},
          {"finished", o.n - progressing},
          {"analysis_interval", w.interval},
          {"query_groups", w.query_groups},
          {"rollouts_per_config_map", w.rollouts_per_config_map},
          {"concurrency", o.controller == ControllerKind::kAgentRollout ? o.concurrency : 0},
          {"queue_depth_metric", spec.queue_depth_metric},
          {"argv", spec.argv}};
}

// ScaleOptions::restart: the controller started again over what it wrote, on a settled
// control plane like the first start, measured until its first pass is over.
Result<nlohmann::json> MeasureRestart(const ScaleOptions& o, const ControlPlane* plane) {
  auto spec = Controller(o);  // new ports: the stopped process's may still linger
  if (!spec.ok()) return spec.error();
  RunOptions run;
  run.window = o.window;
  run.steady = std::chrono::seconds(1);  // the run ends once the first pass is over
  run.period = o.period;
  run.sync_target = o.n;
  std::optional<ControlPlaneReading> before;
  nlohmann::json out;
  if (plane) {
    auto waited = plane->WaitUntilQuiet(0.25, std::chrono::seconds(10), std::chrono::minutes(5));
    if (!waited.ok()) return waited.error().WithContext("control plane");
    out["settle_s"] = *waited;
    auto reading = plane->Read(0);
    if (!reading.ok()) return reading.error().WithContext("control plane");
    before = std::move(*reading);
  }
  const auto start = std::chrono::steady_clock::now();
  const std::filesystem::path log =
      o.log_file.parent_path() /
      (o.log_file.stem().string() + "-restart" + o.log_file.extension().string());
  auto result = RunController(*spec, log, run);
  if (!result.ok()) return result.error();
  const nlohmann::json summary = Summarize(*result, run);
  for (const char* key : {"ready_s", "synced_s", "steady_from_s", "peak_rss_mib", "cpu_seconds",
                          "reconciles", "exited_early", "threads_max"}) {
    out[key] = summary.value(key, nlohmann::json());
  }
  if (before) {
    auto after = plane->Read(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (!after.ok()) return after.error().WithContext("control plane");
    out["control_plane"] = ControlPlaneDelta(*before, *after);
  }
  return out;
}

}  // namespace

Result<nlohmann::json> RunScale(const ScaleOptions& o) {
  auto config = kube::LoadKubeconfig({o.kubeconfig, ""});
  if (!config.ok()) return config.error();
  auto spec = Controller(o);
  if (!spec.ok()) return spec.error();

  auto populated = o.controller == ControllerKind::kAgentRollout
                       ? PopulateAgentRollouts(*config, o.workload, o.n, o.workers)
                       : PopulateArgoRollouts(*config, o.workload, o.n, o.workers);
  if (!populated.ok()) return populated.error().WithContext("populate");
  std::optional<ControlPlane> plane;
  std::optional<double> settle_s;
  if (o.control_plane) {
    auto connected = ControlPlane::Connect(*o.control_plane);
    if (!connected.ok()) return connected.error().WithContext("control plane");
    plane.emplace(std::move(*connected));
    // The controller starts on a settled control plane, as a restarted one would
    // (control_plane.h): apiserver + etcd at most 0.25 cores over 10 s, or 5 minutes.
    auto waited = plane->WaitUntilQuiet(0.25, std::chrono::seconds(10), std::chrono::minutes(5));
    if (!waited.ok()) return waited.error().WithContext("control plane");
    settle_s = *waited;
  }

  RunOptions run;
  run.window = o.window;
  run.steady = o.steady;
  run.period = o.period;
  run.sync_target = o.n;
  // Argo starts a canary only when a Rollout's pod template changes, and only once the
  // stable ReplicaSet is available (replicaset_stand_in.h plays that part). So the
  // progressing share gets a new image once the controller has seen every Rollout and the
  // stand-in has had nothing to do for 5 s (or at half the window at the latest).
  std::unique_ptr<ReplicaSetStandIn> replica_sets;
  std::optional<PopulateStats> updated;
  Status update_error = OkStatus();
  if (o.controller == ControllerKind::kArgoRollouts) {
    replica_sets = std::make_unique<ReplicaSetStandIn>(*config, o.workload.namespace_, o.workers);
    run.on_sample = [&](const Sample& s) {
      if (updated || !update_error.ok()) return;
      const bool settled = s.reconciles >= o.n && replica_sets->status_writes() > 0 &&
                           replica_sets->IdleSeconds() >= 5;
      if (!settled && s.t < static_cast<double>(o.window.count()) / 2) return;
      auto done = UpdateArgoRollouts(*config, o.workload, o.n, o.workers, "2.0.0");
      if (done.ok()) {
        updated = *done;
        updated->seconds = s.t;  // when the update started, relative to the process start
      } else {
        update_error = done.error();
      }
    };
  }
  if (replica_sets) {
    // Argo's start-up work ends once it has reconciled every Rollout and then every updated
    // one (their canaries started) and the stand-in has had nothing to do for 5 s.
    run.started_up = [&](const Sample& s) {
      return updated && s.reconciles >= o.n + updated->objects && replica_sets->IdleSeconds() >= 5;
    };
  }
  std::optional<testing::BackgroundProcess> perf;
  Status perf_error = OkStatus();
  if (!o.perf_data.empty() && o.steady.count() > 0) {
    run.on_steady = [&](pid_t pid) {
      auto started = testing::BackgroundProcess::Start(
          {"perf", "record", "-F", "99", "-g", "-p", std::to_string(pid), "-o",
           o.perf_data.string(), "--", "sleep", std::to_string(o.steady.count())},
          o.perf_data.string() + ".log");
      if (started.ok()) {
        perf.emplace(std::move(started).value());
      } else {
        perf_error = started.error();
      }
    };
  }
  // The control plane's bill: read before the controller starts, when its steady window
  // begins and when it ends; the apiserver's and etcd's RSS at every sample, for the peaks.
  std::optional<ControlPlaneReading> plane_start, plane_steady, plane_end;
  std::int64_t apiserver_rss_max_kib = 0;
  std::int64_t etcd_rss_max_kib = 0;
  Status plane_error = OkStatus();
  const auto clock_start = std::chrono::steady_clock::now();
  auto read_plane = [&](std::optional<ControlPlaneReading>& into) {
    if (!plane || !plane_error.ok()) return;
    auto reading = plane->Read(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - clock_start).count());
    if (reading.ok()) {
      into = std::move(*reading);
    } else {
      plane_error = reading.error();
    }
  };
  if (plane) {
    read_plane(plane_start);
    run.on_sample = [&, chained = std::move(run.on_sample)](const Sample& s) {
      if (chained) chained(s);
      if (auto processes = plane->ReadProcesses(); processes.ok()) {
        apiserver_rss_max_kib = std::max(apiserver_rss_max_kib, processes->first.rss_kib);
        etcd_rss_max_kib = std::max(etcd_rss_max_kib, processes->second.rss_kib);
      }
    };
    run.on_steady = [&, chained = std::move(run.on_steady)](pid_t pid) {
      read_plane(plane_steady);
      if (chained) chained(pid);
    };
    run.on_steady_end = [&] { read_plane(plane_end); };
  }
  auto result = RunController(*spec, o.log_file, run);
  if (plane && !plane_end) read_plane(plane_end);  // no steady window, or it never ended
  if (perf) {
    // It ends with its `sleep`, or as soon as the controller it samples has exited.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (perf->Running() && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    perf->Stop();
  }
  if (!result.ok()) return result.error();
  if (!perf_error.ok()) return perf_error.error().WithContext("perf record");
  if (!update_error.ok()) return update_error.error().WithContext("update Argo Rollouts");
  if (!plane_error.ok()) return plane_error.error().WithContext("control plane");

  nlohmann::json out = Summarize(*result, run);
  out.update(Describe(o, *spec));
  out["populate_s"] = populated->seconds;
  out["populate_objects"] = populated->objects;
  out["populate_statuses"] = populated->statuses;
  if (settle_s) out["settle_s"] = *settle_s;
  if (plane && plane_start && plane_end) {
    nlohmann::json bill{
        {"run", ControlPlaneDelta(*plane_start, *plane_end)},
        {"apiserver_rss_max_mib", static_cast<double>(apiserver_rss_max_kib) / 1024},
        {"etcd_rss_max_mib", static_cast<double>(etcd_rss_max_kib) / 1024},
        {"apiserver_rss_before_mib", static_cast<double>(plane_start->apiserver.rss_kib) / 1024},
        {"etcd_db_before_mib", plane_start->etcd_db_bytes / (1 << 20)}};
    if (plane_steady) bill["steady"] = ControlPlaneDelta(*plane_steady, *plane_end);
    out["control_plane"] = std::move(bill);
  }
  if (perf) out["perf_data"] = o.perf_data.string();
  if (replica_sets) out["replicaset_status_writes"] = replica_sets->status_writes();
  if (updated) {
    out["argo_updated"] = updated->objects;
    out["argo_updated_at_s"] = updated->seconds;
  }
  if (o.restart && !result->exited_early) {
    auto restarted = MeasureRestart(o, plane ? &*plane : nullptr);
    if (!restarted.ok()) return restarted.error().WithContext("restart");
    out["restart"] = std::move(*restarted);
  }
  return out;
}

Result<nlohmann::json> RunOutage(const OutageOptions& o) {
  ScaleOptions scale = o.scale;
  scale.window = o.baseline + o.outage + o.after;
  auto config = kube::LoadKubeconfig({scale.kubeconfig, ""});
  if (!config.ok()) return config.error();
  auto spec = Controller(scale);
  if (!spec.ok()) return spec.error();
  auto populated = PopulateAgentRollouts(*config, scale.workload, scale.n, scale.workers);
  if (!populated.ok()) return populated.error().WithContext("populate");

  const double stop_at = static_cast<double>(o.baseline.count());
  const double resume_at = stop_at + static_cast<double>(o.outage.count());
  bool stopped = false;
  bool resumed = false;
  RunOptions run;
  run.window = scale.window;
  run.period = scale.period;
  run.sync_target = scale.n;
  run.on_sample = [&](const Sample& s) {
    if (!stopped && s.t >= stop_at) {
      stopped = ::kill(o.prometheus_pid, SIGSTOP) == 0;
    } else if (stopped && !resumed && s.t >= resume_at) {
      resumed = ::kill(o.prometheus_pid, SIGCONT) == 0;
    }
  };
  auto result = RunController(*spec, scale.log_file, run);
  if (stopped && !resumed) ::kill(o.prometheus_pid, SIGCONT);  // never leave it stopped
  if (!result.ok()) return result.error();
  if (!stopped)
    return Internal("could not SIGSTOP Prometheus pid " + std::to_string(o.prometheus_pid));

  nlohmann::json out = Summarize(*result, run);
  out.update(Describe(scale, *spec));
  // RSS / threads in the last 30 s before the outage, the max during it, the end after it.
  auto stats = [&](double from, double to) {
    std::int64_t rss_max = 0;
    int threads_max = 0;
    for (const Sample& s : result->samples) {
      if (s.t < from || s.t >= to) continue;
      rss_max = std::max(rss_max, s.proc.rss_kib);
      threads_max = std::max(threads_max, s.proc.threads);
    }
    return nlohmann::json{{"rss_max_mib", static_cast<double>(rss_max) / 1024},
                          {"threads_max", threads_max}};
  };
  out["before"] = stats(std::max(0.0, stop_at - 30), stop_at);
  out["during"] = stats(stop_at, resume_at);
  out["after"] = stats(resume_at, static_cast<double>(scale.window.count()) + 1);
  out["outage_s"] = o.outage.count();
  out["outage_kind"] = "SIGSTOP (connections accepted by the kernel, never answered)";
  return out;
}

}  // namespace agentrollout::bench
