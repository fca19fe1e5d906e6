// Reaction time (issue 9 item 2).
//
// RunReaction: N progressing rollouts analysed every `interval` against a stand-in
// Prometheus (a local HTTP server speaking /api/v1/query) that answers Go values until the
// bench flips a rollout, then a No-Go error rate. For each rollout: t0 = the moment the
// stand-in answered the first No-Go value; t1 = the moment a watch on the API server
// delivered both the flag entry at 0 % / disabled (ConfigMap) and the canary weight 0
// (HTTPRoute). Reported: t1 - t0 (includes waiting for the evaluation's other queries in
// the scheduler's pool), and t1 - the evaluation's last answer (the verdict is known:
// reconcile, both writes, watch delivery). With spacing 0 all rollouts are flipped at once
// (with `burst`: N No-Go verdicts in one round), and the fleet's rate is reported too:
// rollbacks / (last t1 - first t0), to set against bench/rawput.h's raw PUT rate.
//
// RunEndToEnd: the real chain. One rollout at a time analyses the real test exporter
// through a real Prometheus scraping every second, interval 1 s. t0 = the POST that raises
// the exporter's error ratio; then the time Prometheus first answers a ratio above the
// No-Go line, t1 = the HTTPRoute's canary weight observed at 0, and the later of t1 and
// the flag observed at 0 % / disabled. With hung_rollouts, that many other rollouts
// (20 metrics, timeout 60 s) analyse servers that accept every query and never answer
// (API.md §3.1: rollouts are isolated) while the trials run.
#pragma once

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "bench/control_plane.h"
#include "common/result.h"

namespace agentrollout::bench {

struct ReactionOptions {
  std::string kubeconfig;
  std::string operator_binary;
  std::string namespace_;
  int n = 200;
  int workers = 8;
  int concurrency = 4;
  // Between two flips; 0: all rollouts flipped at once (under one lock), with `burst` while
  // the operator is down, so all No-Go verdicts come in the round of its start.
  std::chrono::milliseconds spacing{50};
  // analysis.interval of every rollout: sets the background load (evaluations and status
  // writes per second), not when a flipped rollout is noticed (t0 is the No-Go answer).
  std::string interval = "10s";
  // All rollouts created before the operator starts (registered during its first pass, so
  // their due times fall within that pass: near-simultaneous rollbacks, the first round's
  // "burst" of 200 flips 50 ms apart) instead of created over one interval. With spacing 0
  // the operator is stopped once every rollout is warm, the fleet flipped, and the operator
  // started again: a start evaluates every rollout at once (after it, each rollout has its
  // own place in the interval), and it writes nothing else, so every verdict comes in its
  // first round.
  bool burst = false;
  int rollouts_per_config_map = 1;
  // The PostgreSQL flag store (issue 22) instead of ConfigMaps: every rollout's flag is a
  // row of one feature_flags table reached by this URI (bench/flag_table.h), and t1's
  // flag part is the moment the row's change is NOTIFYed (at its commit).
  std::string postgres_uri;
  std::filesystem::path log_file;
  // When set: what the rollbacks cost, from the flip to the last rollback seen: the
  // API requests by verb and resource, apiserver, etcd and operator CPU (control_plane.h).
  std::optional<ControlPlaneTarget> control_plane;
};
Result<nlohmann::json> RunReaction(const ReactionOptions& options);

struct EndToEndOptions {
  std::string kubeconfig;
  std::string operator_binary;
  std::string namespace_;
  std::string prometheus;        // base URL of a Prometheus scraping the exporter every second
  std::string exporter;          // base URL of agentrollout-test-exporter (agent=voice)
  std::string exporter_version;  // its --version-label (the rollouts' canary backend)
  int trials = 10;
  int hung_rollouts = 0;
  std::filesystem::path log_file;
};
Result<nlohmann::json> RunEndToEnd(const EndToEndOptions& options);

// Percentiles (nearest rank) of a sample set, as {"count","min","p50","p90","p99","max"}.
nlohmann::json Percentiles(std::vector<double> values);

}  // namespace agentrollout::bench
