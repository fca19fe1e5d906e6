// Without a controller-manager no pods run, so no ReplicaSet ever reports available
// replicas, and Argo Rollouts then never leaves its first version: a canary needs a healthy
// stable ReplicaSet. For the side-by-side benchmark the bench plays the status half of the
// ReplicaSet controller: whenever a ReplicaSet's status does not match its spec, it writes
// replicas = readyReplicas = availableReplicas = spec.replicas (as if its pods had started
// and turned ready at once). Its API calls load the API server, not the measured process.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench/watcher.h"
#include "kube/config.h"

namespace agentrollout::bench {

inline const kube::ResourceRef kReplicaSets{"apps", "v1", "replicasets", true};

class ReplicaSetStandIn {
 public:
  ReplicaSetStandIn(const kube::RestConfig& config, const std::string& ns, int workers);
  ~ReplicaSetStandIn();
  ReplicaSetStandIn(const ReplicaSetStandIn&) = delete;
  ReplicaSetStandIn& operator=(const ReplicaSetStandIn&) = delete;

  int status_writes() const { return writes_; }
  // Seconds since the last status write (or since the start when none was needed).
  double IdleSeconds() const;

 private:
  void OnReplicaSet(const nlohmann::json& object);
  void Worker(const kube::RestConfig& config);

  std::mutex mu_;
  std::condition_variable ready_;
  bool stopping_ = false;
  std::map<std::string, nlohmann::json> pending_;  // name -> latest object needing a status
  std::deque<std::string> queue_;
  std::atomic<int> writes_{0};
  std::atomic<std::int64_t> last_write_ns_;
  std::vector<std::thread> workers_;
  std::unique_ptr<Watcher> watcher_;  // last: stopped first
};

}  // namespace agentrollout::bench
