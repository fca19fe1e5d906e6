// The API server's raw write throughput for rollbacks (issue 23 goal 3): the yardstick the
// reaction burst's throughput is compared with.
//
// RunRawPut: a trivial client does for each of N rollouts exactly the writes a total
// rollback does, with nothing else in the way (no analysis, no reconcile, no status): a
// PUT of the flag ConfigMap with the rollout's entry disabled at 0 %, and, at the same
// time on a thread of its own (as the operator's executor does), a PUT of the HTTPRoute
// with the canary at weight 0 and the stable backend at 100. `concurrency` workers (the
// operator's --concurrency), each with its own client, take rollouts by index.
//
// The objects are those of the reaction benchmark (workload.cc; created when missing).
// Before the timed part, untimed, every object is set to the rolled-out state (flag on at
// 5 %, canary weight 5): the API server skips writing an unchanged object to etcd, so the
// timed PUTs must change something, as a rollback's do. The PUTs carry the resourceVersion
// of that preparation (the operator's read is not timed here, see `read_before_write`).
#pragma once

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "common/result.h"

namespace agentrollout::bench {

struct RawPutOptions {
  std::string kubeconfig;
  std::string namespace_;
  int n = 200;
  int concurrency = 4;
  // GET each object right before its PUT, inside the timed part, as the operator's
  // read-modify-write does (it reads from the API server, not from a cache).
  bool read_before_write = false;
};
Result<nlohmann::json> RunRawPut(const RawPutOptions& options);

// Sets `key`'s entry of a flag ConfigMap's data["flags.json"] to enabled/percentage
// (creating the entry with the tenant lists of workload.cc when missing, keeping the other
// fields of an existing one, as the operator's merge does).
Status SetFlagEntry(nlohmann::json& config_map, const std::string& key, bool enabled,
                    int percentage);

// Sets the weights of `stable` and `canary` in every rule of an HTTPRoute that routes to
// both: canary_weight and 100 - canary_weight. Fails when no rule has both.
Status SetRouteWeights(nlohmann::json& route, const std::string& stable, const std::string& canary,
                       int canary_weight);

// count / span in per second; 0 for an empty span.
double PerSecond(std::size_t count, std::chrono::duration<double> span);

}  // namespace agentrollout::bench
