#include "controllers/conflict_retry.h"

#include <algorithm>
#include <random>
#include <string>
#include <thread>

#include "kube/api_error.h"

namespace agentrollout::controllers {
namespace {

std::chrono::milliseconds Jitter(std::chrono::milliseconds backoff) {
  thread_local std::mt19937 random{std::random_device{}()};
  std::uniform_real_distribution<double> factor(0.5, 1.5);
  return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(
      static_cast<double>(backoff.count()) * factor(random)));
}

}  // namespace

Status RetryOnConflict(const ConflictRetry& policy, std::string_view what,
                       const std::function<Status()>& attempt) {
  const int attempts = std::max(policy.max_attempts, 1);
  std::chrono::milliseconds backoff = policy.initial_backoff;
  for (int i = 1;; ++i) {
    Status status = attempt();
    if (status.ok() ||
        !(kube::IsConflict(status.error()) || kube::IsAlreadyExists(status.error()))) {
      return status;
    }
    if (i == attempts) {
      return Error(ErrorCode::kConflict, std::string(what) + ": concurrent writers won all " +
                                             std::to_string(attempts) +
                                             " attempts; last: " + status.error().message());
    }
    const std::chrono::milliseconds wait = Jitter(backoff);
    if (policy.sleep) {
      policy.sleep(wait);
    } else {
      std::this_thread::sleep_for(wait);
    }
    backoff = std::min(backoff * 2, policy.max_backoff);
  }
}

}  // namespace agentrollout::controllers
