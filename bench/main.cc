// agentrollout-bench: the measuring half of bench/run.sh (which starts the servers, loops
// over N and repeats, and writes docs/benchmarks.md). Each subcommand measures one thing
// once and writes one JSON object to --out (and stdout).
//
//   scale     N objects, one controller process (ours or Argo Rollouts'): RSS, CPU,
//             threads, time to ready, reconcile throughput
//   outage    N progressing rollouts while Prometheus is stopped (SIGSTOP) for a while
//   reaction  NoGo -> flag 0 % and weight 0 written, over many rollbacks
//   rawput    the same writes by a trivial client: the API server's raw rollback rate
//   e2e       exporter error ratio up -> route weight 0, real Prometheus, 1 s scrape/interval
//   fanout    Prometheus queries per second of the analysis scheduler, dedup on/off
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>

#include "bench/fanout.h"
#include "bench/rawput.h"
#include "bench/reaction.h"
#include "bench/scale.h"
#include "kube/config.h"

namespace agentrollout::bench {
namespace {

int Emit(const Result<nlohmann::json>& result, const std::string& out) {
  if (!result.ok()) {
    std::cerr << "agentrollout-bench: " << result.error().ToString() << "\n";
    return 1;
  }
  const std::string text = result->dump(1);
  if (!out.empty()) {
    std::ofstream file(out);
    file << text << "\n";
    if (!file) {
      std::cerr << "agentrollout-bench: cannot write " << out << "\n";
      return 1;
    }
  }
  nlohmann::json brief = *result;
  brief.erase("samples");  // the time series only go to the file
  std::cout << brief.dump() << "\n";
  return 0;
}

void AddScaleOptions(CLI::App& app, ScaleOptions& o, std::string& controller, int& window_s) {
  app.add_option("--kubeconfig", o.kubeconfig, "kubeconfig of the cluster")->required();
  app.add_option("--binary", o.binary, "controller binary")->required();
  app.add_option("--controller", controller, "agentrollout | argo-rollouts")
      ->check(CLI::IsMember({"agentrollout", "argo-rollouts"}));
  app.add_option("--namespace", o.workload.namespace_, "namespace of the objects")->required();
  app.add_option("--prometheus", o.workload.prometheus, "analysis.prometheus.address")->required();
  app.add_option("-n", o.n, "objects")->check(CLI::Range(1, 1000000));
  app.add_option("--workers", o.workers, "population requests in flight")
      ->check(CLI::Range(1, 256));
  app.add_option("--concurrency", o.concurrency, "the operator's --concurrency")
      ->check(CLI::Range(1, 256));
  app.add_option("--window", window_s, "seconds measured after the start")
      ->check(CLI::Range(1, 86400));
  app.add_option("--interval", o.workload.interval, "analysis interval (Go duration)");
  app.add_option("--progressing-share", o.workload.progressing_share,
                 "share of progressing rollouts")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--query-groups", o.workload.query_groups,
                 "distinct agents (query sets); 0 = one per rollout");
  app.add_option("--error-limit", o.workload.error_limit, "analysis.errorLimit");
  app.add_option("--log", o.log_file, "controller log file")->required();
}

// --apiserver-pid, --etcd-pid, --etcd-url (all or none): the control plane's bill. Returns
// --apiserver-pid, set when the three are.
CLI::Option* AddControlPlaneOptions(CLI::App& app, ControlPlaneTarget& target) {
  CLI::Option* apiserver_pid = app.add_option("--apiserver-pid", target.apiserver_pid,
                                              "kube-apiserver's pid: report the control plane's "
                                              "bill (with --etcd-pid and --etcd-url)");
  CLI::Option* etcd_pid = app.add_option("--etcd-pid", target.etcd_pid, "etcd's pid");
  CLI::Option* etcd_url = app.add_option("--etcd-url", target.etcd_metrics_url,
                                         "etcd's /metrics URL (http://127.0.0.1:PORT/metrics)");
  apiserver_pid->needs(etcd_pid, etcd_url);
  etcd_pid->needs(apiserver_pid, etcd_url);
  etcd_url->needs(apiserver_pid, etcd_pid);
  return apiserver_pid;
}

}  // namespace

int Main(int argc, char** argv) {
  CLI::App app("agentrollout-bench: measures the operator (see bench/run.sh)");
  app.require_subcommand(1, 1);
  std::string out;
  app.add_option("--out", out, "write the JSON result here");

  ScaleOptions scale;
  std::string controller = "agentrollout";
  int window_s = 300;
  CLI::App* scale_cmd =
      app.add_subcommand("scale", "N objects, one controller: RSS, CPU, readiness, throughput");
  AddScaleOptions(*scale_cmd, scale, controller, window_s);
  int steady_s = 0;
  scale_cmd
      ->add_option("--steady", steady_s,
                   "seconds measured after the start-up work (then --window is the longest "
                   "the run may take); 0: the window's second half is the steady state")
      ->check(CLI::Range(0, 86400));
  scale_cmd->add_flag("--restart", scale.restart,
                      "then start the controller again over what it wrote and measure that "
                      "start until its first pass is over");
  scale_cmd->add_option(
      "--perf", scale.perf_data,
      "perf record -F 99 -g the controller over the steady window, into this file");
  ControlPlaneTarget control_plane;
  CLI::Option* apiserver_pid = AddControlPlaneOptions(*scale_cmd, control_plane);

  OutageOptions outage;
  std::string unused_controller = "agentrollout";
  int unused_window = 0;
  int baseline_s = 60, outage_s = 120, after_s = 60;
  CLI::App* outage_cmd = app.add_subcommand("outage", "Prometheus stopped: RSS and threads");
  AddScaleOptions(*outage_cmd, outage.scale, unused_controller, unused_window);
  outage_cmd->add_option("--prometheus-pid", outage.prometheus_pid, "pid to SIGSTOP/SIGCONT")
      ->required();
  outage_cmd->add_option("--baseline", baseline_s, "seconds before the outage");
  outage_cmd->add_option("--outage", outage_s, "seconds Prometheus is stopped");
  outage_cmd->add_option("--after", after_s, "seconds after it resumes");

  ReactionOptions reaction;
  int spacing_ms = 50;
  CLI::App* reaction_cmd = app.add_subcommand("reaction", "NoGo -> flag 0 and weight 0 written");
  reaction_cmd->add_option("--kubeconfig", reaction.kubeconfig)->required();
  reaction_cmd->add_option("--binary", reaction.operator_binary)->required();
  reaction_cmd->add_option("--namespace", reaction.namespace_)->required();
  reaction_cmd->add_option("-n", reaction.n, "rollbacks")->check(CLI::Range(1, 100000));
  reaction_cmd
      ->add_option("--spacing-ms", spacing_ms,
                   "between two flips; 0: all at once (with --burst: while the operator is down)")
      ->check(CLI::Range(0, 60000));
  reaction_cmd->add_option("--interval", reaction.interval, "analysis interval (background load)");
  reaction_cmd->add_flag("--burst", reaction.burst,
                         "register all rollouts at once (aligned rollbacks)");
  reaction_cmd->add_option("--concurrency", reaction.concurrency)->check(CLI::Range(1, 256));
  reaction_cmd->add_option("--rollouts-per-config-map", reaction.rollouts_per_config_map)
      ->check(CLI::Range(1, 1000));
  reaction_cmd->add_option("--log", reaction.log_file)->required();
  reaction_cmd->add_option("--postgres-uri", reaction.postgres_uri,
                           "the PostgreSQL flag store: rows of one feature_flags table");
  ControlPlaneTarget reaction_plane;
  CLI::Option* reaction_apiserver_pid = AddControlPlaneOptions(*reaction_cmd, reaction_plane);

  RawPutOptions rawput;
  CLI::App* rawput_cmd = app.add_subcommand(
      "rawput", "a rollback's two PUTs by a trivial client, N rollouts: the API server's rate");
  rawput_cmd->add_option("--kubeconfig", rawput.kubeconfig)->required();
  rawput_cmd->add_option("--namespace", rawput.namespace_, "the reaction run's namespace")
      ->required();
  rawput_cmd->add_option("-n", rawput.n, "rollbacks")->check(CLI::Range(1, 100000));
  rawput_cmd->add_option("--concurrency", rawput.concurrency, "workers (the operator's)")
      ->check(CLI::Range(1, 256));
  rawput_cmd->add_flag("--read-before-write", rawput.read_before_write,
                       "GET each object before its PUT, timed (the operator's read-modify-write)");

  EndToEndOptions e2e;
  CLI::App* e2e_cmd = app.add_subcommand("e2e", "exporter error ratio up -> route weight 0");
  e2e_cmd->add_option("--kubeconfig", e2e.kubeconfig)->required();
  e2e_cmd->add_option("--binary", e2e.operator_binary)->required();
  e2e_cmd->add_option("--namespace", e2e.namespace_)->required();
  e2e_cmd->add_option("--prometheus", e2e.prometheus)->required();
  e2e_cmd->add_option("--exporter", e2e.exporter)->required();
  e2e_cmd->add_option("--exporter-version", e2e.exporter_version)->required();
  e2e_cmd->add_option("--trials", e2e.trials)->check(CLI::Range(1, 1000));
  e2e_cmd
      ->add_option("--hung-rollouts", e2e.hung_rollouts,
                   "rollouts analysing servers that never answer, meanwhile")
      ->check(CLI::Range(0, 10000));
  e2e_cmd->add_option("--log", e2e.log_file)->required();

  FanoutOptions fanout;
  bool no_dedup = false;
  int fanout_interval_ms = 10000, fanout_window_s = 30;
  CLI::App* fanout_cmd = app.add_subcommand("fanout", "queries/s of the analysis scheduler");
  fanout_cmd->add_option("--prometheus", fanout.prometheus)->required();
  fanout_cmd->add_option("-n", fanout.n)->check(CLI::Range(1, 1000000));
  fanout_cmd->add_flag("--no-dedup", no_dedup, "a Prometheus target per rollout: nothing shared");
  fanout_cmd->add_option("--interval-ms", fanout_interval_ms)->check(CLI::Range(100, 3600000));
  fanout_cmd->add_option("--window", fanout_window_s)->check(CLI::Range(1, 86400));

  CLI11_PARSE(app, argc, argv);

  if (*scale_cmd) {
    scale.controller = controller == "argo-rollouts" ? ControllerKind::kArgoRollouts
                                                     : ControllerKind::kAgentRollout;
    scale.window = std::chrono::seconds(window_s);
    scale.steady = std::chrono::seconds(steady_s);
    if (*apiserver_pid) {
      auto config = kube::LoadKubeconfig({scale.kubeconfig, ""});
      if (!config.ok()) return Emit(config.error(), out);
      control_plane.apiserver = std::move(*config);
      scale.control_plane = std::move(control_plane);
    }
    return Emit(RunScale(scale), out);
  }
  if (*outage_cmd) {
    outage.baseline = std::chrono::seconds(baseline_s);
    outage.outage = std::chrono::seconds(outage_s);
    outage.after = std::chrono::seconds(after_s);
    return Emit(RunOutage(outage), out);
  }
  if (*reaction_cmd) {
    reaction.spacing = std::chrono::milliseconds(spacing_ms);
    if (*reaction_apiserver_pid) {
      auto config = kube::LoadKubeconfig({reaction.kubeconfig, ""});
      if (!config.ok()) return Emit(config.error(), out);
      reaction_plane.apiserver = std::move(*config);
      reaction.control_plane = std::move(reaction_plane);
    }
    return Emit(RunReaction(reaction), out);
  }
  if (*rawput_cmd) return Emit(RunRawPut(rawput), out);
  if (*e2e_cmd) return Emit(RunEndToEnd(e2e), out);
  fanout.dedup = !no_dedup;
  fanout.interval = std::chrono::milliseconds(fanout_interval_ms);
  fanout.window = std::chrono::seconds(fanout_window_s);
  return Emit(RunFanout(fanout), out);
}

}  // namespace agentrollout::bench

int main(int argc, char** argv) { return agentrollout::bench::Main(argc, argv); }
