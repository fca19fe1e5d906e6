#include "kube/leader_election.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "kube/fake_client.h"

namespace agentrollout::kube {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

template <typename Condition>
bool Eventually(Condition condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

class LeaderElectionTest : public ::testing::Test {
 protected:
  LeaderElectionConfig Config(const std::string& identity) {
    LeaderElectionConfig config;
    config.lease_namespace = "ops";
    config.lease_name = "agentrollout";
    config.identity = identity;
    config.clock = clock_;
    return config;
  }
  std::unique_ptr<LeaderElector> Elector(LeaderElectionConfig config) {
    auto elector = LeaderElector::Create(client_, std::move(config));
    EXPECT_TRUE(elector.ok()) << elector.error().ToString();
    return std::move(elector).value();
  }
  LeaseRecord Lease() {
    auto lease = client_->Get(kLeases, "ops", "agentrollout");
    EXPECT_TRUE(lease.ok());
    return lease.ok() ? LeaseRecordFromJson(*lease) : LeaseRecord{};
  }

  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  std::shared_ptr<FakeClient> client_ = std::make_shared<FakeClient>(clock_);
};

TEST_F(LeaderElectionTest, ValidatesTheConfig) {
  auto config = Config("a");
  config.renew_deadline = seconds(20);
  auto bad = LeaderElector::Create(client_, config);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message(), HasSubstr("lease_duration (15000ms) must be greater than"));
  config = Config("");
  EXPECT_FALSE(LeaderElector::Create(client_, config).ok());
  config = Config("a");
  config.retry_period = seconds(9);
  EXPECT_FALSE(LeaderElector::Create(client_, config).ok());
}

TEST_F(LeaderElectionTest, OneLeaderAndTakeoverOnlyAfterTheLeaseExpiresByLocalClock) {
  auto a = Elector(Config("a"));
  auto b = Elector(Config("b"));
  ASSERT_TRUE(a->TryAcquireOrRenew());
  LeaseRecord first = Lease();
  EXPECT_EQ(first.holder_identity, "a");
  EXPECT_EQ(first.lease_duration_seconds, 15);
  EXPECT_EQ(first.lease_transitions, 0);
  EXPECT_FALSE(b->TryAcquireOrRenew());
  EXPECT_EQ(b->CurrentLeader(), "a");

  clock_->Advance(seconds(10));
  ASSERT_TRUE(a->TryAcquireOrRenew());  // renewal
  LeaseRecord renewed = Lease();
  EXPECT_EQ(renewed.acquire_time, first.acquire_time);
  EXPECT_NE(renewed.renew_time, first.renew_time);
  EXPECT_FALSE(b->TryAcquireOrRenew());  // b sees a new record: its 15 s start over

  clock_->Advance(seconds(14));  // a stopped renewing
  EXPECT_FALSE(b->TryAcquireOrRenew());
  clock_->Advance(seconds(1));
  ASSERT_TRUE(b->TryAcquireOrRenew());
  LeaseRecord taken = Lease();
  EXPECT_EQ(taken.holder_identity, "b");
  EXPECT_EQ(taken.lease_transitions, 1);
  EXPECT_NE(taken.acquire_time, first.acquire_time);
  EXPECT_FALSE(a->TryAcquireOrRenew()) << "a must not take it back while b's lease is valid";
}

TEST_F(LeaderElectionTest, ConcurrentAcquireHasOneWinnerThanksToResourceVersion) {
  auto a = Elector(Config("a"));
  auto b = Elector(Config("b"));
  ASSERT_TRUE(a->TryAcquireOrRenew());
  ASSERT_FALSE(b->TryAcquireOrRenew());
  clock_->Advance(seconds(16));  // a's lease expired for both
  // While b writes its takeover, a renews first: b's write then carries a stale version.
  std::atomic<bool> raced{false};
  client_->AddReactor([&](const FakeClient::Action& action) -> std::optional<ApiResult<json>> {
    if (action.verb == "update" && action.object["spec"]["holderIdentity"] == "b" &&
        !raced.exchange(true)) {
      EXPECT_TRUE(a->TryAcquireOrRenew());
    }
    return std::nullopt;
  });
  EXPECT_FALSE(b->TryAcquireOrRenew());
  EXPECT_TRUE(raced);
  EXPECT_EQ(Lease().holder_identity, "a");
}

TEST_F(LeaderElectionTest, LeadsUntilStoppedThenReleasesForAnImmediateHandover) {
  std::atomic<int> started{0};
  std::atomic<int> stopped{0};
  std::mutex mu;
  std::vector<std::string> leaders;
  auto config = Config("a");
  config.on_started_leading = [&] { started++; };
  config.on_stopped_leading = [&] { stopped++; };
  config.on_new_leader = [&](const std::string& id) {
    std::lock_guard<std::mutex> lock(mu);
    leaders.push_back(id);
  };
  auto a = Elector(config);
  a->Start();
  ASSERT_TRUE(Eventually([&] { return started.load() == 1; }));
  EXPECT_TRUE(a->IsLeader());
  a->Stop();
  EXPECT_FALSE(a->IsLeader());
  EXPECT_EQ(stopped, 1);
  LeaseRecord released = Lease();
  EXPECT_EQ(released.holder_identity, "");
  EXPECT_EQ(released.lease_duration_seconds, 1);

  auto b = Elector(Config("b"));
  EXPECT_TRUE(b->TryAcquireOrRenew()) << "a released lease is free at once";
  EXPECT_EQ(Lease().lease_transitions, 1);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(leaders, std::vector<std::string>{"a"});
}

TEST_F(LeaderElectionTest, StopsLeadingWhenRenewalsFailForTheRenewDeadline) {
  std::atomic<int> stopped{0};
  auto config = Config("a");
  config.on_stopped_leading = [&] { stopped++; };
  auto a = Elector(config);
  a->Start();
  ASSERT_TRUE(Eventually([&] { return a->IsLeader(); }));
  std::atomic<bool> unreachable{true};
  client_->AddReactor([&](const FakeClient::Action& action) -> std::optional<ApiResult<json>> {
    if (unreachable && (action.verb == "get" || action.verb == "update")) {
      return Error(ErrorCode::kUnavailable, "connection refused");
    }
    return std::nullopt;
  });
  // Move time on in retry-period steps until the elector gives up (10 s renew deadline).
  ASSERT_TRUE(Eventually([&] {
    clock_->Advance(milliseconds(500));
    std::this_thread::sleep_for(milliseconds(2));
    return stopped.load() == 1;
  }));
  a->Wait();
  EXPECT_FALSE(a->IsLeader());
  unreachable = false;
  EXPECT_EQ(Lease().holder_identity, "a") << "nothing could be released";
}

}  // namespace
}  // namespace agentrollout::kube
