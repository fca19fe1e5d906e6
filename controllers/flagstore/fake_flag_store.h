// A FlagStore for unit tests of the executor: records every Apply and Release, keeps the
// flags applied successfully (and which keys were released), and fails calls (of either
// kind) on demand (queued or always).
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "controllers/flagstore/flag_store.h"

namespace agentrollout::controllers {

class FakeFlagStore final : public FlagStore {
 public:
  // Runs first on every call (e.g. to log the order of calls across fakes); a returned
  // Error fails the call.
  using Hook = std::function<std::optional<Error>(const DesiredFlags&)>;

  Status Apply(const DesiredFlags& desired) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      calls_.push_back(desired);
    }
    if (std::optional<Error> error = Fail(desired)) return *error;
    std::lock_guard<std::mutex> lock(mu_);
    for (const flag::FlagState& state : desired.flags) {
      flags_[state.key] = state;
      released_.erase(state.key);
    }
    return OkStatus();
  }

  Status Release(const DesiredFlags& desired, ReleaseMode mode) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      releases_.push_back({desired, mode});
    }
    if (std::optional<Error> error = Fail(desired)) return *error;
    std::lock_guard<std::mutex> lock(mu_);
    for (const flag::FlagState& state : desired.flags) {
      if (mode == ReleaseMode::kWithState) flags_[state.key] = state;
      released_.insert(state.key);
    }
    return OkStatus();
  }

  // The next calls fail with these errors, in order; then calls succeed again.
  void FailNext(Error error) {
    std::lock_guard<std::mutex> lock(mu_);
    failures_.push_back(std::move(error));
  }
  // Every call fails with `error` (nullopt: calls succeed again).
  void FailAlways(std::optional<Error> error) {
    std::lock_guard<std::mutex> lock(mu_);
    always_ = std::move(error);
  }
  void SetHook(Hook hook) {
    std::lock_guard<std::mutex> lock(mu_);
    hook_ = std::move(hook);
  }

  struct ReleaseCall {
    DesiredFlags desired;
    ReleaseMode mode;
  };

  // Every Apply call, failed ones included.
  std::vector<DesiredFlags> calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  // The state of each flag after the successful calls, by key.
  std::map<std::string, flag::FlagState> flags() const {
    std::lock_guard<std::mutex> lock(mu_);
    return flags_;
  }

  // Every Release call, failed ones included.
  std::vector<ReleaseCall> releases() const {
    std::lock_guard<std::mutex> lock(mu_);
    return releases_;
  }
  // The keys released successfully and not applied since.
  std::set<std::string> released() const {
    std::lock_guard<std::mutex> lock(mu_);
    return released_;
  }

 private:
  // The hook's, the queued or the permanent failure for this call, if any.
  std::optional<Error> Fail(const DesiredFlags& desired) {
    Hook hook;
    {
      std::lock_guard<std::mutex> lock(mu_);
      hook = hook_;
    }
    if (hook) {
      if (std::optional<Error> error = hook(desired)) return error;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (!failures_.empty()) {
      Error error = std::move(failures_.front());
      failures_.pop_front();
      return error;
    }
    return always_;
  }

  mutable std::mutex mu_;
  std::vector<DesiredFlags> calls_;
  std::deque<Error> failures_;
  std::optional<Error> always_;
  Hook hook_;
  std::map<std::string, flag::FlagState> flags_;
  std::vector<ReleaseCall> releases_;
  std::set<std::string> released_;
};

}  // namespace agentrollout::controllers
