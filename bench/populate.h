// Creating (and deleting) the benchmark's objects on a real API server, many requests in
// flight: each worker thread has its own client, objects are handed out by index.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "bench/workload.h"
#include "common/result.h"
#include "kube/client.h"
#include "kube/config.h"

namespace agentrollout::bench {

inline const kube::ResourceRef kAgentRollouts{"rollouts.agentops.dev", "v1alpha1", "agentrollouts",
                                              true};
inline const kube::ResourceRef kHttpRoutes{"gateway.networking.k8s.io", "v1", "httproutes", true};
inline const kube::ResourceRef kArgoRollouts{"argoproj.io", "v1alpha1", "rollouts", true};
inline const kube::ResourceRef kArgoAnalysisTemplates{"argoproj.io", "v1alpha1",
                                                      "analysistemplates", true};

struct PopulateStats {
  int objects = 0;     // created, or found already there
  int statuses = 0;    // status subresource writes (finished rollouts)
  double seconds = 0;  // wall time of the whole population
};

// Runs `task(i, client)` for i in [0, n) on `workers` threads; the first error wins (the
// remaining tasks are skipped).
Status ParallelFor(const kube::RestConfig& config, int n, int workers,
                   const std::function<Status(int i, kube::Client& client)>& task);

// Creates `object` unless it exists; ok for AlreadyExists.
Status CreateIfMissing(kube::Client& client, const kube::ResourceRef& resource,
                       const nlohmann::json& object);

Status EnsureNamespace(kube::Client& client, const std::string& name);

// The namespace, flag ConfigMaps, HTTPRoutes and `n` AgentRollouts of `w`; finished ones
// also get FinishedStatus (unless they already have a status). With `pace`, rollout i is
// created no earlier than i * pace after the start (a fleet created over time, not at once).
Result<PopulateStats> PopulateAgentRollouts(const kube::RestConfig& config, const Workload& w,
                                            int n, int workers,
                                            std::chrono::milliseconds pace = {});

// The namespace, and per rollout an AnalysisTemplate and an Argo Rollout at image `tag`.
Result<PopulateStats> PopulateArgoRollouts(const kube::RestConfig& config, const Workload& w, int n,
                                           int workers);

// Sets the image of the progressing Argo Rollouts to `tag` (a new revision: Argo starts the
// canary steps and their background analysis).
Result<PopulateStats> UpdateArgoRollouts(const kube::RestConfig& config, const Workload& w, int n,
                                         int workers, const std::string& tag);

}  // namespace agentrollout::bench
