// A rate-limited work queue of string keys, with client-go's semantics:
// - an item is queued at most once (the dirty set); an item added while a worker processes
//   it (the processing set) is queued again when the worker calls Done, so one key is never
//   processed by two workers at once and no update is lost;
// - AddUrgent queues an item ahead of every routine item, behind the urgent ones queued
//   before it (moving it there if already queued): work that must not wait behind routine
//   items, such as a rollback;
// - AddAfter queues an item once a delay has passed (the earliest pending time wins);
// - AddRateLimited waits the longer of a per-item exponential backoff (5 ms doubling to
//   1000 s, reset by Forget) and an overall token bucket (10 qps, burst 100);
// - ShutDown wakes every waiter; Get then hands out what is still queued and returns
//   nullopt once the queue is empty.
// Thread-safe. Time comes from a Clock, so tests drive it with FakeClock.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "kube/clock.h"

namespace agentrollout::kube {

struct RateLimiterOptions {
  Clock::Duration base_delay = std::chrono::milliseconds(5);
  Clock::Duration max_delay = std::chrono::seconds(1000);
  double qps = 10;
  int burst = 100;
};

// The delay before an item may be retried: max(per-item exponential, token bucket).
class RateLimiter {
 public:
  explicit RateLimiter(RateLimiterOptions options = {});
  // The delay for one more retry of `item` at `now`; counts the retry.
  Clock::Duration When(const std::string& item, Clock::TimePoint now);
  void Forget(const std::string& item);
  int NumRequeues(const std::string& item) const;

 private:
  Clock::Duration Backoff(const std::string& item);
  Clock::Duration Reserve(Clock::TimePoint now);  // golang.org/x/time/rate Reserve()

  const RateLimiterOptions options_;
  std::unordered_map<std::string, int> failures_;
  double tokens_;
  std::optional<Clock::TimePoint> last_;
};

class WorkQueue {
 public:
  explicit WorkQueue(RateLimiterOptions options = {}, ClockPtr clock = RealClock());
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void Add(const std::string& item);
  void AddUrgent(const std::string& item);
  void AddAfter(const std::string& item, Clock::Duration delay);
  void AddRateLimited(const std::string& item);
  // Clears the item's backoff (call after it was processed successfully).
  void Forget(const std::string& item);
  int NumRequeues(const std::string& item) const;

  // Blocks until an item is ready; nullopt once shut down and empty. Every item returned
  // must be passed to Done.
  std::optional<std::string> Get();
  void Done(const std::string& item);

  // Items ready to be handed out (not those waiting for a delay or being processed).
  // Not const: items whose delay has passed become ready first.
  std::size_t Len();
  // Items waiting for AddAfter / AddRateLimited delays.
  std::size_t Waiting() const;

  void ShutDown();
  // ShutDown, then wait until every item handed out has been Done.
  void ShutDownWithDrain();
  bool ShuttingDown() const;

 private:
  void AddLocked(const std::string& item);
  void AddAfterLocked(const std::string& item, Clock::Duration delay);
  // Moves items whose delay has passed to the queue.
  void PromoteDueLocked();
  // Queues `item` behind the urgent items already queued.
  void QueueUrgentLocked(const std::string& item);

  const ClockPtr clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  RateLimiter limiter_;
  std::deque<std::string> queue_;                    // urgent items first, then routine ones
  std::size_t urgent_queued_ = 0;                    // how many of queue_'s first items are urgent
  std::unordered_set<std::string> dirty_;            // queued, or to be queued again after Done
  std::unordered_set<std::string> processing_;       // handed out by Get, not yet Done
  std::unordered_set<std::string> urgent_;           // processing, to be queued first at Done
  std::map<std::string, Clock::TimePoint> waiting_;  // delayed item -> due time
  std::set<std::pair<Clock::TimePoint, std::string>> due_;  // the same, ordered by time
  bool shutting_down_ = false;
};

}  // namespace agentrollout::kube
