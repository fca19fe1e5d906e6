#include "controllers/flagstore/featureflag_flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "kube/fake_client.h"

namespace agentrollout::controllers {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

DesiredFlags Voice(int percent = 10) {
  DesiredFlags desired;
  desired.namespace_ = "voice";
  desired.feature_flag = api::FeatureFlagStore{"agent-flags"};
  desired.rollout = "voice/voice-agent-v2";
  desired.phase = "early-adopters";
  desired.flags = {
      {"voice_agent_v2", true, percent, {"t-internal-1", "t-internal-2"}, {"t-vip-bank"}},
      {"voucher_creation", true, 100, {}, {}}};
  return desired;
}

json FeatureFlag(json flag_spec) {
  return {{"apiVersion", "core.openfeature.dev/v1beta1"},
          {"kind", "FeatureFlag"},
          {"metadata", {{"name", "agent-flags"}, {"namespace", "voice"}}},
          {"spec", {{"flagSpec", std::move(flag_spec)}}}};
}

class FeatureFlagsTest : public ::testing::Test {
 protected:
  FeatureFlagsTest() {
    retry_.sleep = [this](std::chrono::milliseconds wait) { sleeps_.push_back(wait); };
    store_ = NewFeatureFlagStore(client_, retry_);
  }

  void Seed(json flag_spec) {
    ASSERT_TRUE(client_.Create(kFeatureFlags, "voice", FeatureFlag(std::move(flag_spec))).ok());
  }

  json Object() { return *client_.Get(kFeatureFlags, "voice", "agent-flags"); }
  json Flags() { return Object()["spec"]["flagSpec"]["flags"]; }

  int Writes() {
    int writes = 0;
    for (const auto& action : client_.Actions()) {
      writes += action.verb == "create" || action.verb == "update" || action.verb == "patch";
    }
    return writes;
  }

  kube::FakeClient client_;
  ConflictRetry retry_;
  std::vector<std::chrono::milliseconds> sleeps_;
  FlagStorePtr store_;
};

TEST_F(FeatureFlagsTest, CreatesTheObjectWithFlagdFlags) {
  ASSERT_TRUE(store_->Apply(Voice()).ok());
  const json object = Object();
  EXPECT_EQ(object["apiVersion"], "core.openfeature.dev/v1beta1");
  EXPECT_EQ(object["kind"], "FeatureFlag");
  EXPECT_EQ(Flags()["voice_agent_v2"], json::parse(R"({
    "state": "ENABLED",
    "variants": {"on": true, "off": false},
    "defaultVariant": "off",
    "targeting": {"if": [
      {"in": [{"var": "targetingKey"}, ["t-vip-bank"]]}, "off",
      {"in": [{"var": "targetingKey"}, ["t-internal-1", "t-internal-2"]]}, "on",
      {"fractional": [["on", 10], ["off", 90]]}]},
    "metadata": {"rollout": "voice/voice-agent-v2"}})"));
  // Without pins the targeting is the bare fractional split.
  EXPECT_EQ(Flags()["voucher_creation"]["targeting"],
            json::parse(R"({"fractional": [["on", 100], ["off", 0]]})"));
}

TEST_F(FeatureFlagsTest, OnlyPinnedOnTenantsGetOneBranch) {
  DesiredFlags desired = Voice(25);
  desired.flags[0].disabled_tenants.clear();
  ASSERT_TRUE(store_->Apply(desired).ok());
  EXPECT_EQ(Flags()["voice_agent_v2"]["targeting"], json::parse(R"({"if": [
      {"in": [{"var": "targetingKey"}, ["t-internal-1", "t-internal-2"]]}, "on",
      {"fractional": [["on", 25], ["off", 75]]}]})"));
}

TEST_F(FeatureFlagsTest, TotalRollbackDisablesTheFlags) {
  ASSERT_TRUE(store_->Apply(Voice(50)).ok());
  DesiredFlags off = Voice(0);
  for (flag::FlagState& state : off.flags) state.enabled = false;
  ASSERT_TRUE(store_->Apply(off).ok());
  EXPECT_EQ(Flags()["voice_agent_v2"]["state"], "DISABLED");
  EXPECT_EQ(Flags()["voucher_creation"]["state"], "DISABLED");
  EXPECT_EQ(Flags()["voice_agent_v2"]["targeting"]["if"][4],
            json::parse(R"({"fractional": [["on", 0], ["off", 100]]})"));
}

TEST_F(FeatureFlagsTest, ReleaseClearsTheOwnerAndKeepsTheState) {
  ASSERT_TRUE(store_->Apply(Voice(25)).ok());
  json flags = Flags();
  flags["other"] = {{"state", "ENABLED"}, {"metadata", {{"rollout", "shop/checkout"}}}};
  json object = Object();
  object["spec"]["flagSpec"]["flags"] = flags;
  ASSERT_TRUE(client_.Update(kFeatureFlags, "voice", object).ok());
  DesiredFlags with_other = Voice();
  with_other.flags.push_back({"other", false, 0, {}, {}});
  ASSERT_TRUE(store_->Release(with_other, ReleaseMode::kOwnerOnly).ok());
  const json released = Flags();
  EXPECT_FALSE(released["voice_agent_v2"].contains("metadata"));
  EXPECT_EQ(released["voice_agent_v2"]["state"], "ENABLED");
  EXPECT_EQ(released["voice_agent_v2"]["targeting"], flags["voice_agent_v2"]["targeting"]);
  EXPECT_EQ(released["other"], flags["other"]);  // another rollout's
}

TEST_F(FeatureFlagsTest, ReleaseWithStateDisablesTheFlags) {
  ASSERT_TRUE(store_->Apply(Voice(25)).ok());
  DesiredFlags off = Voice(0);
  for (flag::FlagState& state : off.flags) state.enabled = false;
  client_.ClearActions();
  ASSERT_TRUE(store_->Release(off, ReleaseMode::kWithState).ok());
  EXPECT_EQ(Writes(), 1);
  for (const char* key : {"voice_agent_v2", "voucher_creation"}) {
    EXPECT_EQ(Flags()[key]["state"], "DISABLED") << key;
    EXPECT_FALSE(Flags()[key].contains("metadata")) << key;
  }
}

TEST_F(FeatureFlagsTest, ReleaseNeverCreatesTheObject) {
  ASSERT_TRUE(store_->Release(Voice(), ReleaseMode::kWithState).ok());
  EXPECT_FALSE(client_.Get(kFeatureFlags, "voice", "agent-flags").ok());
  EXPECT_EQ(Writes(), 0);
}

TEST_F(FeatureFlagsTest, KeepsOtherFlagsEvaluatorsAndMetadata) {
  const json other = json::parse(R"({"state": "ENABLED", "variants": {"a": "x", "b": "y"},
    "defaultVariant": "a", "targeting": {"$ref": "staff"}})");
  Seed({{"flags",
         {{"checkout", other},
          {"voice_agent_v2",
           {{"state", "DISABLED"},
            {"variants", {{"on", true}, {"off", false}}},
            {"defaultVariant", "off"},
            {"metadata", {{"description", "v2 voice pipeline"}}}}}}},
        {"$evaluators", {{"staff", {{"in", {"@example.com", {{"var", "email"}}}}}}}},
        {"metadata", {{"team", "voice"}}}});
  ASSERT_TRUE(store_->Apply(Voice()).ok());
  const json flag_spec = Object()["spec"]["flagSpec"];
  EXPECT_EQ(flag_spec["flags"]["checkout"], other);
  EXPECT_EQ(flag_spec["$evaluators"]["staff"]["in"][0], "@example.com");
  EXPECT_EQ(flag_spec["metadata"], json::parse(R"({"team": "voice"})"));
  EXPECT_EQ(
      flag_spec["flags"]["voice_agent_v2"]["metadata"],
      json::parse(R"({"description": "v2 voice pipeline", "rollout": "voice/voice-agent-v2"})"));
  EXPECT_EQ(flag_spec["flags"]["voice_agent_v2"]["state"], "ENABLED");
}

TEST_F(FeatureFlagsTest, WritesNothingWhenAlreadyInState) {
  ASSERT_TRUE(store_->Apply(Voice()).ok());
  const std::string version = Object()["metadata"]["resourceVersion"];
  client_.ClearActions();
  DesiredFlags again = Voice();
  again.phase = "expansion";  // the phase is not recorded in a FeatureFlag
  ASSERT_TRUE(store_->Apply(again).ok());
  EXPECT_EQ(Writes(), 0);
  EXPECT_EQ(Object()["metadata"]["resourceVersion"], version);
}

TEST_F(FeatureFlagsTest, RereadsAndRetriesWhenAnotherWriterGotInFirst) {
  Seed({{"flags", json::object()}});
  bool raced = false;
  client_.AddReactor(
      [&](const kube::FakeClient::Action& action) -> std::optional<kube::ApiResult<json>> {
        if (action.verb != "update" || raced) return std::nullopt;
        raced = true;
        json object = Object();
        object["spec"]["flagSpec"]["flags"]["checkout"] = {
            {"state", "ENABLED"}, {"variants", {{"on", true}}}, {"defaultVariant", "on"}};
        EXPECT_TRUE(client_.Update(kFeatureFlags, "voice", object).ok());
        return std::nullopt;
      });
  ASSERT_TRUE(store_->Apply(Voice()).ok());
  EXPECT_TRUE(Flags().contains("checkout"));
  EXPECT_TRUE(Flags().contains("voice_agent_v2"));
  EXPECT_EQ(sleeps_.size(), 1u);
}

TEST_F(FeatureFlagsTest, RefusesAFlagOfAnotherRolloutWritingNothing) {
  Seed({{"flags",
         {{"voucher_creation",
           {{"state", "ENABLED"},
            {"variants", {{"on", true}, {"off", false}}},
            {"defaultVariant", "on"},
            {"metadata", {{"rollout", "shop/checkout"}}}}}}}});
  const json before = Object();
  client_.ClearActions();
  const Status status = store_->Apply(Voice());
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(status.error().message(), HasSubstr("featureflag voice/agent-flags"));
  EXPECT_THAT(status.error().message(), HasSubstr("\"voucher_creation\""));
  EXPECT_THAT(status.error().message(), HasSubstr("shop/checkout"));
  EXPECT_EQ(Writes(), 0);
  EXPECT_EQ(Object(), before);
}

TEST_F(FeatureFlagsTest, RefusesAnObjectWhoseFlagsAreNotAnObject) {
  Seed({{"flags", json::array({"voice_agent_v2"})}});
  client_.ClearActions();
  const Status status = store_->Apply(Voice());
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(status.error().message(), HasSubstr("spec.flagSpec.flags"));
  EXPECT_EQ(Writes(), 0);
}

TEST_F(FeatureFlagsTest, FillsInAFlagSpecWithoutFlags) {
  ASSERT_TRUE(client_
                  .Create(kFeatureFlags, "voice",
                          {{"apiVersion", "core.openfeature.dev/v1beta1"},
                           {"kind", "FeatureFlag"},
                           {"metadata", {{"name", "agent-flags"}}},
                           {"spec", json::object()}})
                  .ok());
  ASSERT_TRUE(store_->Apply(Voice()).ok());
  EXPECT_EQ(Flags()["voice_agent_v2"]["state"], "ENABLED");
}

}  // namespace
}  // namespace agentrollout::controllers
