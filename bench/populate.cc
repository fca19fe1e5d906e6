#include "bench/populate.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "kube/api_error.h"

namespace agentrollout::bench {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

Status ParallelFor(const kube::RestConfig& config, int n, int workers,
                   const std::function<Status(int i, kube::Client& client)>& task) {
  std::atomic<int> next{0};
  std::mutex mu;
  std::optional<Error> first_error;
  auto worker = [&] {
    auto client = kube::NewClient(config);
    if (!client.ok()) {
      std::lock_guard lock(mu);
      if (!first_error) first_error = client.error();
      return;
    }
    for (int i = next++; i < n; i = next++) {
      Status done = task(i, **client);
      if (!done.ok()) {
        std::lock_guard lock(mu);
        if (!first_error) first_error = done.error();
        next = n;  // skip the rest
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int w = 0; w < std::max(1, workers); ++w) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  if (first_error) return *first_error;
  return OkStatus();
}

Status CreateIfMissing(kube::Client& client, const kube::ResourceRef& resource,
                       const nlohmann::json& object) {
  const std::string ns = object["metadata"].value("namespace", "");
  auto created = client.Create(resource, ns, object);
  if (created.ok() || kube::IsAlreadyExists(created.error())) return OkStatus();
  return created.error().WithContext("create " + resource.ToString() + " " + ns + "/" +
                                     object["metadata"].value("name", ""));
}

Status EnsureNamespace(kube::Client& client, const std::string& name) {
  return CreateIfMissing(
      client, kube::kNamespaces,
      {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}});
}

Result<PopulateStats> PopulateAgentRollouts(const kube::RestConfig& config, const Workload& w,
                                            int n, int workers, std::chrono::milliseconds pace) {
  const auto start = Clock::now();
  PopulateStats stats;
  auto client = kube::NewClient(config);
  if (!client.ok()) return client.error();
  if (Status ns = EnsureNamespace(**client, w.namespace_); !ns.ok()) return ns.error();

  const int per_config_map = std::max(1, w.rollouts_per_config_map);
  const int config_maps = (n + per_config_map - 1) / per_config_map;
  Status stores = ParallelFor(config, config_maps, workers, [&](int k, kube::Client& c) {
    return CreateIfMissing(c, kube::kConfigMaps, FlagConfigMapObject(w, k * per_config_map));
  });
  if (!stores.ok()) return stores.error();

  std::atomic<int> statuses{0};
  Status objects = ParallelFor(config, n, workers, [&](int i, kube::Client& c) -> Status {
    if (pace.count() > 0) std::this_thread::sleep_until(start + pace * i);
    if (Status route = CreateIfMissing(c, kHttpRoutes, HttpRouteObject(w, i)); !route.ok()) {
      return route;
    }
    nlohmann::json rollout = AgentRolloutObject(w, i);
    auto created = c.Create(kAgentRollouts, w.namespace_, rollout);
    if (!created.ok()) {
      if (!kube::IsAlreadyExists(created.error())) {
        return created.error().WithContext("create agentrollout " + RolloutName(i));
      }
      created = c.Get(kAgentRollouts, w.namespace_, RolloutName(i));
      if (!created.ok()) return created.error();
    }
    if (IsProgressing(w, i) || created->contains("status")) return OkStatus();
    nlohmann::json object = *created;
    object["status"] = FinishedStatus(i, object["metadata"].value("generation", std::int64_t{1}));
    auto written = c.UpdateStatus(kAgentRollouts, w.namespace_, object);
    if (!written.ok()) return written.error().WithContext("status of " + RolloutName(i));
    ++statuses;
    return OkStatus();
  });
  if (!objects.ok()) return objects.error();
  stats.objects = config_maps + 2 * n;
  stats.statuses = statuses;
  stats.seconds = SecondsSince(start);
  return stats;
}

Result<PopulateStats> PopulateArgoRollouts(const kube::RestConfig& config, const Workload& w, int n,
                                           int workers) {
  const auto start = Clock::now();
  auto client = kube::NewClient(config);
  if (!client.ok()) return client.error();
  if (Status ns = EnsureNamespace(**client, w.namespace_); !ns.ok()) return ns.error();
  Status objects = ParallelFor(config, n, workers, [&](int i, kube::Client& c) -> Status {
    if (Status t = CreateIfMissing(c, kArgoAnalysisTemplates, ArgoAnalysisTemplateObject(w, i));
        !t.ok()) {
      return t;
    }
    return CreateIfMissing(c, kArgoRollouts, ArgoRolloutObject(w, i, "1.0.0"));
  });
  if (!objects.ok()) return objects.error();
  PopulateStats stats;
  stats.objects = 2 * n;
  stats.seconds = SecondsSince(start);
  return stats;
}

Result<PopulateStats> UpdateArgoRollouts(const kube::RestConfig& config, const Workload& w, int n,
                                         int workers, const std::string& tag) {
  const auto start = Clock::now();
  std::atomic<int> updated{0};
  Status done = ParallelFor(config, n, workers, [&](int i, kube::Client& c) -> Status {
    if (!IsProgressing(w, i)) return OkStatus();
    const nlohmann::json desired = ArgoRolloutObject(w, i, tag);
    const nlohmann::json patch{{"spec", {{"template", desired["spec"]["template"]}}}};
    auto patched =
        c.Patch(kArgoRollouts, w.namespace_, RolloutName(i), kube::PatchType::kMerge, patch);
    if (!patched.ok()) return patched.error().WithContext("update rollout " + RolloutName(i));
    ++updated;
    return OkStatus();
  });
  if (!done.ok()) return done.error();
  PopulateStats stats;
  stats.objects = updated;
  stats.seconds = SecondsSince(start);
  return stats;
}

}  // namespace agentrollout::bench
