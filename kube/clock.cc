#include "kube/clock.h"

namespace agentrollout::kube {

namespace {

class SystemClock final : public Clock {
 public:
  TimePoint Now() override { return std::chrono::steady_clock::now(); }
  std::chrono::system_clock::time_point WallNow() override {
    return std::chrono::system_clock::now();
  }
  void WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                 TimePoint deadline) override {
    cv.wait_until(lock, deadline);
  }
};

}  // namespace

ClockPtr RealClock() {
  static const ClockPtr clock = std::make_shared<SystemClock>();
  return clock;
}

FakeClock::FakeClock()
    // Arbitrary fixed origins: tests never depend on the real time.
    : now_(std::chrono::hours(1000)),
      wall_now_(std::chrono::sys_days(std::chrono::year(2026) / 11 / 22) + std::chrono::hours(10)) {
}

Clock::TimePoint FakeClock::Now() {
  std::lock_guard<std::mutex> lock(mu_);
  return now_;
}

std::chrono::system_clock::time_point FakeClock::WallNow() {
  std::lock_guard<std::mutex> lock(mu_);
  return wall_now_;
}

void FakeClock::WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                          TimePoint deadline) {
  if (Now() >= deadline) return;
  cv.wait_for(lock, std::chrono::milliseconds(1));
}

void FakeClock::Advance(Duration duration) {
  std::lock_guard<std::mutex> lock(mu_);
  now_ += duration;
  wall_now_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(duration);
}

}  // namespace agentrollout::kube
