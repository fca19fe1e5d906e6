#include "controllers/traffic/route_router.h"

#include <cstdint>
#include <utility>
#include <vector>

#include "controllers/json_members.h"
#include "controllers/traffic/routers.h"

namespace agentrollout::controllers {
namespace {

using nlohmann::json;

// A backend entry of the route object and the weight it should carry.
struct WeightedEntry {
  json* entry;
  std::int32_t weight;
};

class RouteRouter final : public TrafficRouter {
 public:
  RouteRouter(kube::Client& client, ConflictRetry retry, RouteObject route)
      : client_(client), retry_(std::move(retry)), route_(std::move(route)) {}

  Status Check(const TrafficTarget& target) override {
    if (Status valid = Valid(target); !valid.ok()) return valid;
    const std::string where = Where(target);
    auto object = Read(target, where);
    if (!object.ok()) return object.error();
    return StatusOf(Find(*object, target, where));
  }

  Status SetWeight(const TrafficTarget& target) override {
    if (Status valid = Valid(target); !valid.ok()) return valid;
    const std::string where = Where(target);
    return RetryOnConflict(retry_, where, [&]() -> Status {
      auto object = Read(target, where);
      if (!object.ok()) return object.error();
      auto entries = Find(*object, target, where);
      if (!entries.ok()) return entries.error();
      bool changed = false;
      for (const WeightedEntry& weighted : *entries) {
        const json* weight = Member(*weighted.entry, "weight");
        if (weight && *weight == weighted.weight) continue;
        (*weighted.entry)["weight"] = weighted.weight;
        changed = true;
      }
      if (!changed) return OkStatus();
      // The object read carries its resourceVersion: a concurrent write makes this a 409.
      const auto written = client_.Update(route_.resource, target.namespace_, *object);
      return written.ok() ? OkStatus() : written.error().WithContext(where);
    });
  }

 private:
  Status Valid(const TrafficTarget& target) const {
    if (Status valid = CheckTrafficTarget(target); !valid.ok()) return valid;
    if (route_.name(target).empty()) {
      return InvalidArgument("traffic: this router writes " + route_.kind + "s only");
    }
    return OkStatus();
  }

  std::string Where(const TrafficTarget& target) const {
    return route_.kind + " " + target.namespace_ + "/" + route_.name(target);
  }

  Result<json> Read(const TrafficTarget& target, const std::string& where) {
    auto object = client_.Get(route_.resource, target.namespace_, route_.name(target));
    if (object.ok()) return std::move(*object);
    if (kube::IsNotFound(object.error())) return NotFound(where + ": not found");
    return object.error().WithContext(where);
  }

  // The entries of `object` to weight: those of every route that has both backends.
  Result<std::vector<WeightedEntry>> Find(json& object, const TrafficTarget& target,
                                          const std::string& where) const {
    std::vector<WeightedEntry> entries;
    bool stable_seen = false;
    bool canary_seen = false;
    json* spec = Member(object, "spec");
    json* routes = spec ? Member(*spec, route_.routes) : nullptr;
    json none = json::array();
    if (!routes || !routes->is_array()) routes = &none;
    for (json& route : *routes) {
      json* backends = Member(route, route_.entries);
      if (!backends || !backends->is_array()) continue;
      std::vector<WeightedEntry> stable;
      std::vector<WeightedEntry> canary;
      for (json& entry : *backends) {
        switch (route_.classify(entry, target)) {
          case Backend::kStable:
            stable.push_back({&entry, 100 - target.weight});
            break;
          case Backend::kCanary:
            canary.push_back({&entry, target.weight});
            break;
          case Backend::kOther:
            break;
        }
      }
      stable_seen = stable_seen || !stable.empty();
      canary_seen = canary_seen || !canary.empty();
      if (stable.empty() || canary.empty()) continue;
      entries.insert(entries.end(), stable.begin(), stable.end());
      entries.insert(entries.end(), canary.begin(), canary.end());
    }
    if (entries.empty()) return Missing(target, where, stable_seen, canary_seen);
    return entries;
  }

  // `httproute ns/r: no rule routes to both stable "a" and canary "b"; canary "b" is in no
  // rule`.
  Error Missing(const TrafficTarget& target, const std::string& where, bool stable_seen,
                bool canary_seen) const {
    const std::string& noun = route_.route_noun;
    const std::string stable = "stable " + route_.describe(target, Backend::kStable);
    const std::string canary = "canary " + route_.describe(target, Backend::kCanary);
    std::string message =
        where + ": no " + noun + " routes to both " + stable + " and " + canary + "; ";
    if (stable_seen && canary_seen) {
      message += "they are in different " + noun + "s";
    } else if (stable_seen) {
      message += canary + " is in no " + noun;
    } else if (canary_seen) {
      message += stable + " is in no " + noun;
    } else {
      message += "neither is in any " + noun;
    }
    return NotFound(std::move(message));
  }

  kube::Client& client_;
  const ConflictRetry retry_;
  const RouteObject route_;
};

}  // namespace

TrafficRouterPtr NewRouteRouter(kube::Client& client, const ConflictRetry& retry,
                                RouteObject route) {
  return std::make_unique<RouteRouter>(client, retry, std::move(route));
}

}  // namespace agentrollout::controllers
