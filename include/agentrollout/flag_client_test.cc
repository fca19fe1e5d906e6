// Built as C++17 (see controllers/CMakeLists.txt): the header promises applications that.
#include "agentrollout/flag_client.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "agentrollout/flag_client_json.h"

namespace agentrollout::flag {
namespace {

nlohmann::json LoadVectors() {
  std::ifstream file(std::string(AGENTROLLOUT_SOURCE_DIR) +
                     "/include/agentrollout/testdata/bucket_vectors.json");
  std::stringstream contents;
  contents << file.rdbuf();
  return nlohmann::json::parse(contents.str());
}

TEST(Murmur3Test, KnownVectors) {
  EXPECT_EQ(murmur3_x86_32(""), 0x00000000u);
  EXPECT_EQ(murmur3_x86_32("hello"), 0x248bfa47u);
  EXPECT_EQ(murmur3_x86_32("The quick brown fox jumps over the lazy dog"), 0x2e4ff723u);
}

TEST(Murmur3Test, SeedChangesTheHash) {
  EXPECT_NE(murmur3_x86_32("hello", 1), murmur3_x86_32("hello", 0));
  EXPECT_EQ(murmur3_x86_32("", 1), 0x514e28b7u);  // reference value of the empty input, seed 1
}

TEST(Murmur3Test, SharedVectorsEveryTailLength) {
  const nlohmann::json vectors = LoadVectors();
  ASSERT_GE(vectors["murmur3"].size(), 8u);
  for (const auto& v : vectors["murmur3"]) {
    const std::string input = v["input"].get<std::string>();
    EXPECT_EQ(murmur3_x86_32(input), v["hash"].get<std::uint32_t>()) << "input: " << input;
  }
}

TEST(BucketTest, SharedVectorsMatchFlagdFractional) {
  const nlohmann::json vectors = LoadVectors();
  ASSERT_GE(vectors["bucket"].size(), 40u);
  for (const auto& v : vectors["bucket"]) {
    const std::string flag_key = v["flagKey"].get<std::string>();
    const std::string tenant = v["tenantId"].get<std::string>();
    EXPECT_EQ(murmur3_x86_32(flag_key + tenant), v["hash"].get<std::uint32_t>())
        << flag_key << " + " << tenant;
    EXPECT_EQ(bucket(flag_key, tenant), v["bucket"].get<int>()) << flag_key << " + " << tenant;
  }
}

TEST(BucketTest, AlwaysWithinZeroToNinetyNine) {
  for (int i = 0; i < 5000; ++i) {
    const int b = bucket("voice_agent_v2", "tenant-" + std::to_string(i));
    ASSERT_GE(b, 0);
    ASSERT_LE(b, 99);
  }
}

TEST(BucketTest, RoughlyUniform) {
  // 10,000 tenants at 10 %: about 1,000 are in (binomial sd ~30; a 5-sigma band).
  int in = 0;
  for (int i = 0; i < 10000; ++i) {
    in += bucket("voice_agent_v2", "tenant-" + std::to_string(i)) < 10 ? 1 : 0;
  }
  EXPECT_GT(in, 850);
  EXPECT_LT(in, 1150);
}

TEST(IsOnTest, MonotonicAsThePercentageRises) {
  FlagState flag{"voice_agent_v2", true, 0, {}, {}};
  for (int i = 0; i < 2000; ++i) {
    const std::string tenant = "tenant-" + std::to_string(i);
    bool was_on = false;
    for (const int percentage : {0, 1, 5, 10, 25, 50, 99, 100}) {
      flag.percentage = percentage;
      const bool on = isOn(flag, tenant);
      ASSERT_TRUE(on || !was_on) << tenant << " left the rollout at " << percentage << "%";
      was_on = on;
    }
    ASSERT_TRUE(was_on) << tenant << " is off at 100%";
  }
}

TEST(IsOnTest, OnAtTenStaysOnAtTwentyFive) {
  const FlagState at10{"voice_agent_v2", true, 10, {}, {}};
  const FlagState at25{"voice_agent_v2", true, 25, {}, {}};
  int on_at_10 = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::string tenant = "t-" + std::to_string(i);
    if (isOn(at10, tenant)) {
      ++on_at_10;
      EXPECT_TRUE(isOn(at25, tenant)) << tenant;
    }
  }
  EXPECT_GT(on_at_10, 0);
}

TEST(IsOnTest, PinsAndTheEnabledSwitch) {
  // Bucket of "voice_agent_v2" + "t-vip-bank" is known from the shared vectors; take
  // tenants on both sides of 50 % to show the pins override the percentage.
  const std::string low = "tenant-0001";
  const std::string high = "t-vip-bank";
  ASSERT_LT(bucket("voice_agent_v2", low), bucket("voice_agent_v2", high));
  const int split = bucket("voice_agent_v2", high);

  FlagState flag{"voice_agent_v2", true, split, {}, {}};
  EXPECT_TRUE(isOn(flag, low));
  EXPECT_FALSE(isOn(flag, high));  // bucket == percentage is out: strictly below

  flag.enabled_tenants = {high};
  EXPECT_TRUE(isOn(flag, high));

  flag.disabled_tenants = {high, low};  // disabled wins over enabled and over the bucket
  EXPECT_FALSE(isOn(flag, high));
  EXPECT_FALSE(isOn(flag, low));

  flag = FlagState{"voice_agent_v2", false, 100, {low}, {}};
  EXPECT_FALSE(isOn(flag, low)) << "a disabled flag is off even for pinned tenants";
}

TEST(IsOnTest, ZeroAndHundredPercent) {
  const FlagState off{"k", true, 0, {}, {}};
  const FlagState on{"k", true, 100, {}, {}};
  for (int i = 0; i < 500; ++i) {
    EXPECT_FALSE(isOn(off, std::to_string(i)));
    EXPECT_TRUE(isOn(on, std::to_string(i)));
  }
}

TEST(ParseFlagsTest, ReadsEntriesWrittenByTheOperator) {
  const ParsedFlags parsed = parseFlags(R"({
    "voice_agent_v2": {"enabled": true, "percentage": 10,
      "enabledTenants": ["t-internal-1"], "disabledTenants": ["t-vip-bank"],
      "rollout": "voice/voice-agent-v2", "phase": "early-adopters",
      "updatedAt": "2026-11-22T10:00:00Z"},
    "legacy_flag": {"enabled": false}
  })");
  ASSERT_TRUE(parsed.ok()) << parsed.errors.front();
  ASSERT_EQ(parsed.flags.size(), 2u);
  const FlagState& v2 = parsed.flags.at("voice_agent_v2");
  EXPECT_EQ(v2, (FlagState{"voice_agent_v2", true, 10, {"t-internal-1"}, {"t-vip-bank"}}));
  EXPECT_EQ(parsed.flags.at("legacy_flag"), (FlagState{"legacy_flag", false, 0, {}, {}}));
  EXPECT_TRUE(isOn(v2, "t-internal-1"));
  EXPECT_FALSE(isOn(v2, "t-vip-bank"));
}

TEST(ParseFlagsTest, BadEntriesAreReportedAndSkipped) {
  const ParsedFlags parsed = parseFlags(R"({
    "good": {"enabled": true, "percentage": 50},
    "pct": {"enabled": true, "percentage": 140},
    "frac": {"enabled": true, "percentage": 12.5},
    "en": {"enabled": "yes"},
    "tenants": {"enabled": true, "enabledTenants": ["a", 3]},
    "scalar": 7
  })");
  EXPECT_EQ(parsed.flags.size(), 1u);
  EXPECT_EQ(parsed.flags.count("good"), 1u);
  ASSERT_EQ(parsed.errors.size(), 5u);
  const std::string all = [&] {
    std::string joined;
    for (const auto& e : parsed.errors) joined += e + "\n";
    return joined;
  }();
  EXPECT_NE(all.find("pct.percentage: must be an integer 0..100, got 140"), std::string::npos);
  EXPECT_NE(all.find("frac.percentage: must be an integer 0..100, got 12.5"), std::string::npos);
  EXPECT_NE(all.find("en.enabled: must be true or false, got \"yes\""), std::string::npos);
  EXPECT_NE(all.find("tenants.enabledTenants: must be an array of strings, got 3"),
            std::string::npos);
  EXPECT_NE(all.find("scalar: must be an object, got 7"), std::string::npos);
}

TEST(ParseFlagsTest, NotJsonOrNotAnObject) {
  EXPECT_EQ(parseFlags("{").errors, std::vector<std::string>{"flags document: not valid JSON"});
  EXPECT_EQ(parseFlags("[1]").errors,
            std::vector<std::string>{"flags document: must be a JSON object of flag key -> state"});
  EXPECT_TRUE(parseFlags("{}").ok());
}

}  // namespace
}  // namespace agentrollout::flag
