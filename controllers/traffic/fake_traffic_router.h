// A TrafficRouter for unit tests of the executor: records every Check and SetWeight, keeps
// the weight set last, and fails calls on demand (e.g. kNotFound for a missing router).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "controllers/traffic/traffic_router.h"

namespace agentrollout::controllers {

class FakeTrafficRouter final : public TrafficRouter {
 public:
  enum class Call { kCheck, kSetWeight };
  // Runs first on every call (e.g. to log the order of calls across fakes); a returned
  // Error fails the call.
  using Hook = std::function<std::optional<Error>(Call, const TrafficTarget&)>;

  Status Check(const TrafficTarget& target) override { return Record(Call::kCheck, target); }

  Status SetWeight(const TrafficTarget& target) override {
    Status status = Record(Call::kSetWeight, target);
    if (status.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      weight_ = target.weight;
    }
    return status;
  }

  // Every call of this kind fails with `error` (nullopt: succeeds again); a router that is
  // gone is FailAlways(kCheck, NotFound(...)) plus the same for kSetWeight.
  void FailAlways(Call call, std::optional<Error> error) {
    std::lock_guard<std::mutex> lock(mu_);
    (call == Call::kCheck ? always_check_ : always_set_) = std::move(error);
  }
  // The next call of this kind fails with `error` (queued, in order).
  void FailNext(Call call, Error error) {
    std::lock_guard<std::mutex> lock(mu_);
    (call == Call::kCheck ? next_check_ : next_set_).push_back(std::move(error));
  }
  void SetHook(Hook hook) {
    std::lock_guard<std::mutex> lock(mu_);
    hook_ = std::move(hook);
  }

  // Every call of this kind, failed ones included.
  std::vector<TrafficTarget> calls(Call call) const {
    std::lock_guard<std::mutex> lock(mu_);
    return call == Call::kCheck ? checks_ : sets_;
  }
  // The weight of the last successful SetWeight; nullopt before one.
  std::optional<std::int32_t> weight() const {
    std::lock_guard<std::mutex> lock(mu_);
    return weight_;
  }

 private:
  Status Record(Call call, const TrafficTarget& target) {
    Hook hook;
    {
      std::lock_guard<std::mutex> lock(mu_);
      (call == Call::kCheck ? checks_ : sets_).push_back(target);
      hook = hook_;
    }
    if (hook) {
      if (std::optional<Error> error = hook(call, target)) return *error;
    }
    std::lock_guard<std::mutex> lock(mu_);
    std::deque<Error>& next = call == Call::kCheck ? next_check_ : next_set_;
    if (!next.empty()) {
      Error error = std::move(next.front());
      next.pop_front();
      return error;
    }
    const std::optional<Error>& always = call == Call::kCheck ? always_check_ : always_set_;
    if (always) return *always;
    return OkStatus();
  }

  mutable std::mutex mu_;
  std::vector<TrafficTarget> checks_;
  std::vector<TrafficTarget> sets_;
  std::deque<Error> next_check_;
  std::deque<Error> next_set_;
  std::optional<Error> always_check_;
  std::optional<Error> always_set_;
  Hook hook_;
  std::optional<std::int32_t> weight_;
};

}  // namespace agentrollout::controllers
