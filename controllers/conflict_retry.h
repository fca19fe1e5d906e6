// Optimistic concurrency for the objects a rollout shares with other writers (a flags
// ConfigMap, a FeatureFlag, an HTTPRoute): read, decide, write with the read's
// metadata.resourceVersion, and on 409 read again -- client-go's retry.RetryOnConflict.
#pragma once

#include <chrono>
#include <functional>
#include <string_view>

#include "common/result.h"

namespace agentrollout::controllers {

struct ConflictRetry {
  int max_attempts = 12;  // including the first
  // Jittered (x0.5..1.5) exponential backoff between attempts, so writers that collided
  // do not collide again in lockstep.
  std::chrono::milliseconds initial_backoff{10};
  std::chrono::milliseconds max_backoff{1000};
  // How to wait between attempts; empty = std::this_thread::sleep_for (tests record).
  std::function<void(std::chrono::milliseconds)> sleep;
};

// Runs `attempt` (one read-decide-write) until it returns anything but kConflict or
// kAlreadyExists (a create that lost a race: the next read sees the object). When every
// attempt lost, the last conflict, prefixed with `what` and the number of attempts.
Status RetryOnConflict(const ConflictRetry& policy, std::string_view what,
                       const std::function<Status()>& attempt);

// The outcome of an API call, without its value.
template <typename T>
Status StatusOf(const Result<T>& result) {
  return result.ok() ? OkStatus() : Status(result.error());
}

}  // namespace agentrollout::controllers
