#include "kube/workqueue.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace agentrollout::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class WorkQueueTest : public ::testing::Test {
 protected:
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  WorkQueue queue_{RateLimiterOptions{}, clock_};
};

TEST_F(WorkQueueTest, DeduplicatesQueuedItems) {
  queue_.Add("a");
  queue_.Add("b");
  queue_.Add("a");
  EXPECT_EQ(queue_.Len(), 2u);
  EXPECT_EQ(queue_.Get(), "a");
  EXPECT_EQ(queue_.Get(), "b");
  EXPECT_EQ(queue_.Len(), 0u);
}

TEST_F(WorkQueueTest, ItemAddedWhileProcessingIsQueuedAgainAfterDone) {
  queue_.Add("a");
  ASSERT_EQ(queue_.Get(), "a");
  queue_.Add("a");  // changed while a worker holds it
  queue_.Add("a");
  EXPECT_EQ(queue_.Len(), 0u) << "never handed to a second worker while processing";
  queue_.Done("a");
  EXPECT_EQ(queue_.Len(), 1u);
  ASSERT_EQ(queue_.Get(), "a");
  queue_.Done("a");
  EXPECT_EQ(queue_.Len(), 0u);
}

TEST_F(WorkQueueTest, AddUrgentGoesAheadOfRoutineItemsFirstComeFirstServed) {
  queue_.Add("a");
  queue_.Add("b");
  queue_.Add("c");
  queue_.AddUrgent("c");  // already queued: moved, not duplicated
  queue_.AddUrgent("d");
  queue_.AddUrgent("c");  // already urgent: keeps its place ahead of d
  EXPECT_EQ(queue_.Len(), 4u);
  EXPECT_EQ(queue_.Get(), "c");
  EXPECT_EQ(queue_.Get(), "d");
  EXPECT_EQ(queue_.Get(), "a");
  EXPECT_EQ(queue_.Get(), "b");
}

TEST_F(WorkQueueTest, AddUrgentWhileProcessingIsQueuedFirstAfterDone) {
  queue_.Add("a");
  ASSERT_EQ(queue_.Get(), "a");
  queue_.Add("b");
  queue_.AddUrgent("a");
  EXPECT_EQ(queue_.Len(), 1u) << "never handed to a second worker while processing";
  queue_.Done("a");
  EXPECT_EQ(queue_.Get(), "a");
  queue_.Done("a");
  EXPECT_EQ(queue_.Get(), "b");
  queue_.Add("a");
  queue_.Done("b");
  queue_.Add("b");
  EXPECT_EQ(queue_.Get(), "a") << "urgency is spent once the item was queued first";
}

TEST_F(WorkQueueTest, AddAfterWaitsForTheDelayAndKeepsTheEarliest) {
  queue_.AddAfter("a", seconds(10));
  queue_.AddAfter("a", seconds(5));   // earlier: wins
  queue_.AddAfter("a", seconds(30));  // later: ignored
  EXPECT_EQ(queue_.Waiting(), 1u);
  EXPECT_EQ(queue_.Len(), 0u);
  clock_->Advance(milliseconds(4999));
  EXPECT_EQ(queue_.Len(), 0u);
  clock_->Advance(milliseconds(1));
  EXPECT_EQ(queue_.Len(), 1u);
  EXPECT_EQ(queue_.Waiting(), 0u);
  clock_->Advance(seconds(60));
  EXPECT_EQ(queue_.Len(), 1u) << "the later AddAfter calls left nothing behind";
}

TEST_F(WorkQueueTest, AddAfterWithoutDelayAddsNow) {
  queue_.AddAfter("a", milliseconds(0));
  EXPECT_EQ(queue_.Len(), 1u);
}

TEST_F(WorkQueueTest, GetBlocksUntilADelayedItemIsDue) {
  queue_.AddAfter("later", seconds(3));
  auto got = std::async(std::launch::async, [this] { return queue_.Get(); });
  EXPECT_EQ(got.wait_for(milliseconds(50)), std::future_status::timeout);
  clock_->Advance(seconds(3));
  EXPECT_EQ(got.get(), "later");
}

TEST_F(WorkQueueTest, ShutDownWakesWaitersAndDrainsQueuedItems) {
  auto blocked = std::async(std::launch::async, [this] { return queue_.Get(); });
  EXPECT_EQ(blocked.wait_for(milliseconds(50)), std::future_status::timeout);
  queue_.ShutDown();
  EXPECT_EQ(blocked.get(), std::nullopt);

  WorkQueue other(RateLimiterOptions{}, clock_);
  other.Add("a");
  other.ShutDown();
  other.Add("b");  // ignored
  EXPECT_TRUE(other.ShuttingDown());
  EXPECT_EQ(other.Get(), "a");
  EXPECT_EQ(other.Get(), std::nullopt);
}

TEST_F(WorkQueueTest, ShutDownWithDrainWaitsForInFlightItems) {
  queue_.Add("a");
  ASSERT_EQ(queue_.Get(), "a");
  auto drained = std::async(std::launch::async, [this] { queue_.ShutDownWithDrain(); });
  EXPECT_EQ(drained.wait_for(milliseconds(50)), std::future_status::timeout);
  queue_.Done("a");
  drained.get();
  EXPECT_EQ(queue_.Get(), std::nullopt);
}

TEST_F(WorkQueueTest, AddRateLimitedBacksOffPerItemUntilForget) {
  queue_.AddRateLimited("a");
  EXPECT_EQ(queue_.NumRequeues("a"), 1);
  clock_->Advance(milliseconds(4));
  EXPECT_EQ(queue_.Len(), 0u);
  clock_->Advance(milliseconds(1));
  ASSERT_EQ(queue_.Len(), 1u);
  ASSERT_EQ(queue_.Get(), "a");
  queue_.AddRateLimited("a");  // second failure: 10 ms
  queue_.Done("a");
  clock_->Advance(milliseconds(9));
  EXPECT_EQ(queue_.Len(), 0u);
  clock_->Advance(milliseconds(1));
  EXPECT_EQ(queue_.Len(), 1u);
  queue_.Forget("a");
  EXPECT_EQ(queue_.NumRequeues("a"), 0);
}

TEST(RateLimiter, ExponentialPerItemCappedAtMax) {
  RateLimiter limiter;
  const Clock::TimePoint start{};
  Clock::TimePoint now = start;
  std::vector<Clock::Duration> delays;
  for (int i = 0; i < 4; ++i) {
    delays.push_back(limiter.When("a", now));
    now += seconds(1);  // keep the token bucket out of the way
  }
  EXPECT_THAT(delays, ::testing::ElementsAre(milliseconds(5), milliseconds(10), milliseconds(20),
                                             milliseconds(40)));
  EXPECT_EQ(limiter.When("b", now), milliseconds(5)) << "items back off independently";
  for (int i = 0; i < 40; ++i) limiter.When("a", now += seconds(1));
  EXPECT_EQ(limiter.When("a", now += seconds(1)), seconds(1000));
  EXPECT_EQ(limiter.NumRequeues("a"), 45);
  limiter.Forget("a");
  EXPECT_EQ(limiter.When("a", now += seconds(1)), milliseconds(5));
}

TEST(RateLimiter, TokenBucketLimitsOverallRate) {
  RateLimiter limiter;  // 10 qps, burst 100
  const Clock::TimePoint now{};
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(limiter.When("item-" + std::to_string(i), now), milliseconds(5)) << i;
  }
  // The burst is spent: each further retry waits for a token, 100 ms apart.
  EXPECT_EQ(limiter.When("x", now), milliseconds(100));
  EXPECT_EQ(limiter.When("y", now), milliseconds(200));
  // One second later ten tokens have come back, two of which were already promised.
  EXPECT_EQ(limiter.When("z", now + seconds(1)), milliseconds(5));
}

TEST_F(WorkQueueTest, ConcurrentWorkersNeverShareAnItem) {
  std::atomic<int> in_flight_a{0};
  std::atomic<bool> overlap{false};
  std::atomic<int> processed{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      while (auto item = queue_.Get()) {
        if (*item == "a" && in_flight_a.fetch_add(1) > 0) overlap = true;
        std::this_thread::yield();
        if (*item == "a") in_flight_a.fetch_sub(1);
        processed++;
        queue_.Done(*item);
      }
    });
  }
  for (int i = 0; i < 2000; ++i) queue_.Add(i % 3 == 0 ? "a" : "b" + std::to_string(i % 7));
  queue_.ShutDownWithDrain();
  for (auto& worker : workers) worker.join();
  EXPECT_FALSE(overlap);
  EXPECT_GT(processed.load(), 0);
}

}  // namespace
}  // namespace agentrollout::kube
