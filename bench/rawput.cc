#include "bench/rawput.h"

#include <algorithm>
#include <atomic>
#include <future>
#include <latch>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "bench/populate.h"
#include "bench/reaction.h"
#include "bench/workload.h"
#include "kube/client.h"
#include "kube/config.h"

namespace agentrollout::bench {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

std::string FlagKey(int i) { return "agent_" + std::to_string(i) + "_v2"; }

// The reaction benchmark's objects (reaction.cc): every rollout its own agent and
// ConfigMap.
Workload ReactionWorkload(const std::string& ns) {
  Workload w;
  w.namespace_ = ns;
  w.query_groups = 0;
  w.rollouts_per_config_map = 1;
  return w;
}

// The rollout's two objects, as they are before and as a rollback writes them.
struct Objects {
  json flag_off;    // the ConfigMap with the entry disabled at 0 %
  json route_to_0;  // the HTTPRoute with the canary at 0
};

// Read, change, write: the preparation, and the timed part with read_before_write.
Result<json> ReadModifyWrite(kube::Client& client, const kube::ResourceRef& resource,
                             const std::string& ns, const std::string& name,
                             const std::function<Status(json&)>& change) {
  auto object = client.Get(resource, ns, name);
  if (!object.ok()) return object.error().WithContext(resource.ToString() + " " + name);
  if (Status changed = change(*object); !changed.ok()) return changed.error();
  auto written = client.Update(resource, ns, *object);
  if (!written.ok()) return written.error().WithContext(resource.ToString() + " " + name);
  return std::move(*written);
}

}  // namespace

Status SetFlagEntry(json& config_map, const std::string& key, bool enabled, int percentage) {
  json& data = config_map["data"];
  if (!data.is_object()) data = json::object();
  const std::string text = data.value("flags.json", "{}");
  json flags = json::parse(text, nullptr, false);
  if (!flags.is_object()) return InvalidArgument("flags.json is not a JSON object");
  json& entry = flags[key];
  if (!entry.is_object()) {
    entry = {{"enabledTenants", {"t-internal-1", "t-internal-2"}},
             {"disabledTenants", {"t-vip-bank"}}};
  }
  entry["enabled"] = enabled;
  entry["percentage"] = percentage;
  data["flags.json"] = flags.dump();
  return OkStatus();
}

Status SetRouteWeights(json& route, const std::string& stable, const std::string& canary,
                       int canary_weight) {
  bool found = false;
  json& rules = route["spec"]["rules"];
  if (!rules.is_array()) return InvalidArgument("HTTPRoute without spec.rules");
  for (json& rule : rules) {
    json* refs = rule.contains("backendRefs") ? &rule["backendRefs"] : nullptr;
    if (!refs || !refs->is_array()) continue;
    json* stable_ref = nullptr;
    json* canary_ref = nullptr;
    for (json& ref : *refs) {
      const std::string name = ref.value("name", "");
      if (name == stable) stable_ref = &ref;
      if (name == canary) canary_ref = &ref;
    }
    if (!stable_ref || !canary_ref) continue;
    (*stable_ref)["weight"] = 100 - canary_weight;
    (*canary_ref)["weight"] = canary_weight;
    found = true;
  }
  if (!found) {
    return InvalidArgument("no rule routes to both \"" + stable + "\" and \"" + canary + "\"");
  }
  return OkStatus();
}

double PerSecond(std::size_t count, std::chrono::duration<double> span) {
  return span.count() > 0 ? static_cast<double>(count) / span.count() : 0;
}

Result<json> RunRawPut(const RawPutOptions& o) {
  auto config = kube::LoadKubeconfig({o.kubeconfig, ""});
  if (!config.ok()) return config.error();
  const Workload w = ReactionWorkload(o.namespace_);
  {
    auto client = kube::NewClient(*config);
    if (!client.ok()) return client.error();
    if (Status ns = EnsureNamespace(**client, o.namespace_); !ns.ok()) return ns.error();
  }

  // Untimed: every rollout's objects exist and are in the rolled-out state, and the
  // rollback's bodies (carrying the resourceVersion just written) are ready.
  std::vector<Objects> objects(static_cast<std::size_t>(o.n));
  const auto prepare_start = Clock::now();
  Status prepared = ParallelFor(*config, o.n, 8, [&](int i, kube::Client& client) -> Status {
    if (Status s = CreateIfMissing(client, kube::kConfigMaps, FlagConfigMapObject(w, i)); !s.ok())
      return s;
    if (Status s = CreateIfMissing(client, kHttpRoutes, HttpRouteObject(w, i)); !s.ok()) return s;
    auto flag = ReadModifyWrite(client, kube::kConfigMaps, o.namespace_, ConfigMapName(w, i),
                                [&](json& cm) { return SetFlagEntry(cm, FlagKey(i), true, 5); });
    if (!flag.ok()) return flag.error();
    auto route = ReadModifyWrite(client, kHttpRoutes, o.namespace_, RouteName(i), [&](json& r) {
      return SetRouteWeights(r, StableBackend(w, i), CanaryBackend(w, i), 5);
    });
    if (!route.ok()) return route.error();
    Objects& mine = objects[static_cast<std::size_t>(i)];
    mine.flag_off = std::move(*flag);
    mine.route_to_0 = std::move(*route);
    if (Status s = SetFlagEntry(mine.flag_off, FlagKey(i), false, 0); !s.ok()) return s;
    return SetRouteWeights(mine.route_to_0, StableBackend(w, i), CanaryBackend(w, i), 0);
  });
  if (!prepared.ok()) return prepared.error().WithContext("rawput preparation");
  const double prepare_s = std::chrono::duration<double>(Clock::now() - prepare_start).count();

  auto write_flag = [&](kube::Client& client, int i) -> Status {
    if (o.read_before_write) {
      auto done = ReadModifyWrite(client, kube::kConfigMaps, o.namespace_, ConfigMapName(w, i),
                                  [&](json& cm) { return SetFlagEntry(cm, FlagKey(i), false, 0); });
      return done.ok() ? OkStatus() : Status(done.error());
    }
    auto done = client.Update(kube::kConfigMaps, o.namespace_,
                              objects[static_cast<std::size_t>(i)].flag_off);
    return done.ok() ? OkStatus() : Status(done.error().WithContext(ConfigMapName(w, i)));
  };
  auto write_route = [&](kube::Client& client, int i) -> Status {
    if (o.read_before_write) {
      auto done = ReadModifyWrite(client, kHttpRoutes, o.namespace_, RouteName(i), [&](json& r) {
        return SetRouteWeights(r, StableBackend(w, i), CanaryBackend(w, i), 0);
      });
      return done.ok() ? OkStatus() : Status(done.error());
    }
    auto done =
        client.Update(kHttpRoutes, o.namespace_, objects[static_cast<std::size_t>(i)].route_to_0);
    return done.ok() ? OkStatus() : Status(done.error().WithContext(RouteName(i)));
  };

  // Timed: the workers' clients exist (and have connected: one GET each) before the gate
  // opens, so connection set-up is not measured, as the running operator's is not.
  std::vector<Clock::time_point> started(static_cast<std::size_t>(o.n));
  std::vector<Clock::time_point> ended(static_cast<std::size_t>(o.n));
  std::atomic<int> next{0};
  std::mutex mu;
  std::optional<Error> first_error;
  int failed = 0;
  std::latch ready(o.concurrency);
  std::latch gate(1);
  auto worker = [&] {
    auto flag_client = kube::NewClient(*config);
    auto route_client = kube::NewClient(*config);
    if (flag_client.ok() && route_client.ok()) {
      (void)(*flag_client)->Get(kube::kConfigMaps, o.namespace_, ConfigMapName(w, 0));
      (void)(*route_client)->Get(kHttpRoutes, o.namespace_, RouteName(0));
    }
    ready.count_down();
    gate.wait();
    if (!flag_client.ok() || !route_client.ok()) {
      std::lock_guard lock(mu);
      if (!first_error) first_error = flag_client.ok() ? route_client.error() : flag_client.error();
      return;
    }
    for (int i = next++; i < o.n; i = next++) {
      const auto k = static_cast<std::size_t>(i);
      started[k] = Clock::now();
      // The route on a thread of its own while the flag is written here (executor.cc).
      std::future<Status> route = std::async(std::launch::async | std::launch::deferred,
                                             [&, i] { return write_route(**route_client, i); });
      const Status flag = write_flag(**flag_client, i);
      const Status weight = route.get();
      ended[k] = Clock::now();
      if (!flag.ok() || !weight.ok()) {
        std::lock_guard lock(mu);
        ++failed;
        if (!first_error) first_error = flag.ok() ? weight.error() : flag.error();
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < o.concurrency; ++t) threads.emplace_back(worker);
  ready.wait();
  gate.count_down();
  for (auto& t : threads) t.join();
  if (failed > 0) {
    return first_error->WithContext(std::to_string(failed) + " of " + std::to_string(o.n) +
                                    " rollbacks' writes failed");
  }

  const auto first = *std::min_element(started.begin(), started.end());
  const auto last = *std::max_element(ended.begin(), ended.end());
  std::vector<double> latency;
  latency.reserve(started.size());
  for (std::size_t k = 0; k < started.size(); ++k) {
    latency.push_back(std::chrono::duration<double, std::milli>(ended[k] - started[k]).count());
  }
  const std::chrono::duration<double> span = last - first;
  return json{{"n", o.n},
              {"concurrency", o.concurrency},
              {"read_before_write", o.read_before_write},
              {"writes_per_rollback",
               o.read_before_write ? "GET+PUT flag, GET+PUT route" : "PUT flag, PUT route"},
              {"prepare_s", prepare_s},
              {"total_s", span.count()},
              {"rollbacks_per_s", PerSecond(static_cast<std::size_t>(o.n), span)},
              {"puts_per_s", PerSecond(2 * static_cast<std::size_t>(o.n), span)},
              {"rollback_ms", Percentiles(std::move(latency))}};
}

}  // namespace agentrollout::bench
