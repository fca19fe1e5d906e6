#include "bench/replicaset_stand_in.h"

namespace agentrollout::bench {
namespace {

std::int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             Watcher::Clock::now().time_since_epoch())
      .count();
}

bool StatusMatchesSpec(const nlohmann::json& rs) {
  const nlohmann::json status = rs.value("status", nlohmann::json::object());
  const std::int64_t replicas = rs["spec"].value("replicas", std::int64_t{1});
  return status.value("availableReplicas", std::int64_t{0}) == replicas &&
         status.value("readyReplicas", std::int64_t{0}) == replicas &&
         status.value("replicas", std::int64_t{0}) == replicas &&
         status.value("observedGeneration", std::int64_t{0}) ==
             rs["metadata"].value("generation", std::int64_t{0});
}

}  // namespace

ReplicaSetStandIn::ReplicaSetStandIn(const kube::RestConfig& config, const std::string& ns,
                                     int workers)
    : last_write_ns_(NowNs()) {
  for (int i = 0; i < std::max(1, workers); ++i) {
    workers_.emplace_back([this, config] { Worker(config); });
  }
  watcher_ = std::make_unique<Watcher>(
      config, kReplicaSets, ns,
      [this](const nlohmann::json& object, Watcher::Clock::time_point) { OnReplicaSet(object); });
}

ReplicaSetStandIn::~ReplicaSetStandIn() {
  watcher_.reset();
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  ready_.notify_all();
  for (auto& t : workers_) t.join();
}

double ReplicaSetStandIn::IdleSeconds() const {
  return static_cast<double>(NowNs() - last_write_ns_.load()) / 1e9;
}

void ReplicaSetStandIn::OnReplicaSet(const nlohmann::json& object) {
  if (StatusMatchesSpec(object)) return;
  const std::string name = object["metadata"].value("name", "");
  std::lock_guard lock(mu_);
  const bool queued = pending_.count(name) > 0;
  pending_[name] = object;
  if (!queued) queue_.push_back(name);
  ready_.notify_one();
}

void ReplicaSetStandIn::Worker(const kube::RestConfig& config) {
  auto client = kube::NewClient(config);
  if (!client.ok()) return;
  while (true) {
    nlohmann::json rs;
    {
      std::unique_lock lock(mu_);
      ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      const std::string name = queue_.front();
      queue_.pop_front();
      rs = std::move(pending_[name]);
      pending_.erase(name);
    }
    const std::int64_t replicas = rs["spec"].value("replicas", std::int64_t{1});
    rs["status"] = {{"replicas", replicas},
                    {"fullyLabeledReplicas", replicas},
                    {"readyReplicas", replicas},
                    {"availableReplicas", replicas},
                    {"observedGeneration", rs["metadata"].value("generation", std::int64_t{0})}};
    // A conflict means a newer version exists; its watch event queues it again.
    auto written = (*client)->UpdateStatus(kReplicaSets, rs["metadata"].value("namespace", ""), rs);
    if (written.ok()) {
      ++writes_;
      last_write_ns_ = NowNs();
    }
  }
}

}  // namespace agentrollout::bench
