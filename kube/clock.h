// Time as the Kubernetes client sees it, injectable so that backoff, rate limits, lease
// expiry and token rotation are tested deterministically (no sleeps as assertions).
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

namespace agentrollout::kube {

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using Duration = std::chrono::steady_clock::duration;

  virtual ~Clock() = default;
  // Monotonic time for timers and deadlines.
  virtual TimePoint Now() = 0;
  // Wall-clock time for timestamps written to the API (Lease renewTime, Event times).
  virtual std::chrono::system_clock::time_point WallNow() = 0;
  // Blocks on `cv` (whose mutex `lock` holds) until notified, woken spuriously, or
  // `deadline` on this clock has passed. Callers re-check their condition in a loop.
  virtual void WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                         TimePoint deadline) = 0;
};
using ClockPtr = std::shared_ptr<Clock>;

// The process's clocks: steady_clock and system_clock.
ClockPtr RealClock();

// Time that moves only when a test calls Advance(). WaitUntil returns after at most a
// millisecond of real time so waiters re-check their condition against the fake time.
class FakeClock final : public Clock {
 public:
  FakeClock();
  TimePoint Now() override;
  std::chrono::system_clock::time_point WallNow() override;
  void WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                 TimePoint deadline) override;
  void Advance(Duration duration);

 private:
  std::mutex mu_;
  TimePoint now_;
  std::chrono::system_clock::time_point wall_now_;
};

}  // namespace agentrollout::kube
