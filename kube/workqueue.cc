#include "kube/workqueue.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace agentrollout::kube {

RateLimiter::RateLimiter(RateLimiterOptions options)
    : options_(options), tokens_(static_cast<double>(options.burst)) {}

Clock::Duration RateLimiter::Backoff(const std::string& item) {
  const int exponent = failures_[item]++;
  // base * 2^exponent, computed in floating point so large exponents cannot overflow.
  const double delay = static_cast<double>(options_.base_delay.count()) * std::pow(2.0, exponent);
  if (delay >= static_cast<double>(options_.max_delay.count())) return options_.max_delay;
  return Clock::Duration(static_cast<Clock::Duration::rep>(delay));
}

Clock::Duration RateLimiter::Reserve(Clock::TimePoint now) {
  if (options_.qps <= 0) return Clock::Duration::zero();
  if (last_) {
    const double elapsed = std::chrono::duration<double>(now - *last_).count();
    tokens_ = std::min(static_cast<double>(options_.burst), tokens_ + elapsed * options_.qps);
  }
  last_ = now;
  tokens_ -= 1;
  if (tokens_ >= 0) return Clock::Duration::zero();
  return std::chrono::duration_cast<Clock::Duration>(
      std::chrono::duration<double>(-tokens_ / options_.qps));
}

Clock::Duration RateLimiter::When(const std::string& item, Clock::TimePoint now) {
  return std::max(Backoff(item), Reserve(now));
}

void RateLimiter::Forget(const std::string& item) { failures_.erase(item); }

int RateLimiter::NumRequeues(const std::string& item) const {
  auto it = failures_.find(item);
  return it == failures_.end() ? 0 : it->second;
}

WorkQueue::WorkQueue(RateLimiterOptions options, ClockPtr clock)
    : clock_(std::move(clock)), limiter_(options) {}

WorkQueue::~WorkQueue() { ShutDown(); }

void WorkQueue::AddLocked(const std::string& item) {
  if (shutting_down_ || dirty_.count(item) > 0) return;
  dirty_.insert(item);
  if (processing_.count(item) > 0) return;  // queued again by Done
  queue_.push_back(item);
  cv_.notify_one();
}

void WorkQueue::Add(const std::string& item) {
  std::lock_guard<std::mutex> lock(mu_);
  AddLocked(item);
}

void WorkQueue::AddUrgent(const std::string& item) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shutting_down_) return;
  if (processing_.count(item) > 0) {
    dirty_.insert(item);
    urgent_.insert(item);
    return;
  }
  if (!dirty_.insert(item).second) {
    // Dirty and not processing: it is in the queue; the scan is linear, and urgent items are
    // rare (one per rollback).
    const auto at = std::find(queue_.begin(), queue_.end(), item);
    if (static_cast<std::size_t>(at - queue_.begin()) < urgent_queued_)
      return;  // already urgent: keeps its place
    queue_.erase(at);
  }
  QueueUrgentLocked(item);
}

void WorkQueue::QueueUrgentLocked(const std::string& item) {
  // First come, first served among urgent items: the oldest rollback is the most overdue.
  queue_.insert(queue_.begin() + static_cast<std::ptrdiff_t>(urgent_queued_), item);
  ++urgent_queued_;
  cv_.notify_one();
}

void WorkQueue::AddAfterLocked(const std::string& item, Clock::Duration delay) {
  if (shutting_down_) return;
  if (delay <= Clock::Duration::zero()) {
    AddLocked(item);
    return;
  }
  const Clock::TimePoint due = clock_->Now() + delay;
  auto it = waiting_.find(item);
  if (it != waiting_.end()) {
    if (it->second <= due) return;  // already due sooner
    due_.erase({it->second, item});
    it->second = due;
  } else {
    waiting_.emplace(item, due);
  }
  due_.emplace(due, item);
  cv_.notify_all();  // a waiter may have to wake earlier
}

void WorkQueue::AddAfter(const std::string& item, Clock::Duration delay) {
  std::lock_guard<std::mutex> lock(mu_);
  AddAfterLocked(item, delay);
}

void WorkQueue::AddRateLimited(const std::string& item) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shutting_down_) return;
  AddAfterLocked(item, limiter_.When(item, clock_->Now()));
}

void WorkQueue::Forget(const std::string& item) {
  std::lock_guard<std::mutex> lock(mu_);
  limiter_.Forget(item);
}

int WorkQueue::NumRequeues(const std::string& item) const {
  std::lock_guard<std::mutex> lock(mu_);
  return limiter_.NumRequeues(item);
}

void WorkQueue::PromoteDueLocked() {
  const Clock::TimePoint now = clock_->Now();
  while (!due_.empty() && due_.begin()->first <= now) {
    const std::string item = due_.begin()->second;
    due_.erase(due_.begin());
    waiting_.erase(item);
    AddLocked(item);
  }
}

std::optional<std::string> WorkQueue::Get() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (!shutting_down_) PromoteDueLocked();
    if (!queue_.empty()) break;
    if (shutting_down_) return std::nullopt;
    if (due_.empty()) {
      cv_.wait(lock);
    } else {
      clock_->WaitUntil(cv_, lock, due_.begin()->first);
    }
  }
  std::string item = std::move(queue_.front());
  queue_.pop_front();
  if (urgent_queued_ > 0) --urgent_queued_;
  processing_.insert(item);
  dirty_.erase(item);
  return item;
}

void WorkQueue::Done(const std::string& item) {
  std::lock_guard<std::mutex> lock(mu_);
  processing_.erase(item);
  const bool urgent = urgent_.erase(item) > 0;
  if (dirty_.count(item) > 0) {
    if (urgent) {
      QueueUrgentLocked(item);
    } else {
      queue_.push_back(item);
      cv_.notify_one();
    }
  }
  if (processing_.empty()) cv_.notify_all();  // ShutDownWithDrain waits for this
}

std::size_t WorkQueue::Len() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!shutting_down_) PromoteDueLocked();
  return queue_.size();
}

std::size_t WorkQueue::Waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiting_.size();
}

void WorkQueue::ShutDown() {
  std::lock_guard<std::mutex> lock(mu_);
  shutting_down_ = true;
  waiting_.clear();
  due_.clear();
  cv_.notify_all();
}

void WorkQueue::ShutDownWithDrain() {
  std::unique_lock<std::mutex> lock(mu_);
  shutting_down_ = true;
  waiting_.clear();
  due_.clear();
  cv_.notify_all();
  cv_.wait(lock, [this] { return processing_.empty(); });
}

bool WorkQueue::ShuttingDown() const {
  std::lock_guard<std::mutex> lock(mu_);
  return shutting_down_;
}

}  // namespace agentrollout::kube
