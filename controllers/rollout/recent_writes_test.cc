#include "controllers/rollout/recent_writes.h"

#include <gtest/gtest.h>

#include <string>

namespace agentrollout::controllers {
namespace {

using std::chrono::seconds;

const api::Timestamp kStart = api::Timestamp{} + std::chrono::hours(24 * 365 * 56);

// The writes of a rollout in the phase that sets `percent` on flag and route.
Decision PhaseWrites(int percent, api::Timestamp decided_at) {
  Decision decision;
  DesiredFlags flags;
  flags.namespace_ = "voice";
  flags.config_map = api::ConfigMapFlagStore{"feature-flags", "flags.json"};
  flags.rollout = "voice/voice-agent-v2";
  flags.phase = "canary-" + std::to_string(percent);
  flags.updated_at = decided_at;
  flags.flags.push_back({"wa_bot", true, percent, {"t-trusted"}, {"t-sensitive"}});
  decision.flags = flags;
  TrafficTarget traffic;
  traffic.namespace_ = "voice";
  traffic.router.gateway_api = api::GatewayApiTraffic{"bot", "bot-v1", "bot-v2"};
  traffic.weight = percent;
  decision.traffic = traffic;
  return decision;
}

TEST(RecentWritesTest, TheSameWritesAreFreshUntilTheWindowEnds) {
  RecentWrites recent(seconds(30));
  EXPECT_FALSE(recent.Fresh("uid-1", PhaseWrites(10, kStart), kStart)) << "nothing written yet";
  recent.Record("uid-1", PhaseWrites(10, kStart), kStart);
  // The reconcile of the status write's watch event: same writes, a later decision time.
  EXPECT_TRUE(recent.Fresh("uid-1", PhaseWrites(10, kStart + seconds(1)), kStart + seconds(1)));
  EXPECT_TRUE(recent.Fresh("uid-1", PhaseWrites(10, kStart), kStart + seconds(29)));
  EXPECT_FALSE(recent.Fresh("uid-1", PhaseWrites(10, kStart), kStart + seconds(30)))
      << "after the window the writes are re-asserted (drift is corrected)";
  EXPECT_FALSE(recent.Fresh("uid-2", PhaseWrites(10, kStart), kStart)) << "per rollout";
}

TEST(RecentWritesTest, AnyDifferenceInTheWritesIsNotFresh) {
  RecentWrites recent(seconds(30));
  recent.Record("uid-1", PhaseWrites(10, kStart), kStart);
  const api::Timestamp now = kStart + seconds(1);
  EXPECT_FALSE(recent.Fresh("uid-1", PhaseWrites(25, now), now)) << "the next step";

  Decision rollback = PhaseWrites(10, now);
  rollback.rolls_back = true;
  EXPECT_FALSE(recent.Fresh("uid-1", rollback, now));

  Decision pinned = PhaseWrites(10, now);
  pinned.flags->flags[0].disabled_tenants.push_back("t-new");
  EXPECT_FALSE(recent.Fresh("uid-1", pinned, now)) << "a tenant pinned off since";

  Decision other_route = PhaseWrites(10, now);
  other_route.traffic->router.gateway_api->http_route = "bot-eu";
  EXPECT_FALSE(recent.Fresh("uid-1", other_route, now));

  Decision flag_only = PhaseWrites(10, now);
  flag_only.traffic.reset();
  EXPECT_FALSE(recent.Fresh("uid-1", flag_only, now));
}

TEST(RecentWritesTest, ForgottenFailedOrDisabledMeansNothingIsFresh) {
  RecentWrites recent(seconds(30));
  recent.Record("uid-1", PhaseWrites(10, kStart), kStart);
  recent.Forget("uid-1");
  EXPECT_FALSE(recent.Fresh("uid-1", PhaseWrites(10, kStart), kStart));

  RecentWrites disabled(seconds(0));
  disabled.Record("uid-1", PhaseWrites(10, kStart), kStart);
  EXPECT_FALSE(disabled.Fresh("uid-1", PhaseWrites(10, kStart), kStart));

  recent.Record("uid-1", PhaseWrites(10, kStart), kStart);
  EXPECT_FALSE(recent.Fresh("uid-1", PhaseWrites(10, kStart), kStart - seconds(1)))
      << "a clock that went backwards";
  EXPECT_FALSE(recent.Fresh("uid-1", Decision{}, kStart)) << "a decision that writes nothing";
}

TEST(RecentWritesTest, HoldsAboutTheRolloutsWrittenWithinTheWindowNotEveryRollout) {
  RecentWrites recent(seconds(30));
  // 10,000 rollouts written one per 10 ms: 3,000 of them within any 30 s.
  api::Timestamp now = kStart;
  for (int i = 0; i < 10000; ++i) {
    recent.Record("uid-" + std::to_string(i), PhaseWrites(10, now), now);
    now += std::chrono::milliseconds(10);
  }
  EXPECT_LE(recent.size(), 6000u);
  EXPECT_GE(recent.size(), 3000u);
  EXPECT_TRUE(recent.Fresh("uid-9999", PhaseWrites(10, now), now));
}

}  // namespace
}  // namespace agentrollout::controllers
