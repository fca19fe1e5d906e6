#include "controllers/flagstore/configmap_flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "agentrollout/flag_client_json.h"
#include "api/time.h"
#include "kube/fake_client.h"

namespace agentrollout::controllers {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const api::Timestamp kT0 = api::Timestamp(std::chrono::seconds(1795341600));  // 2026-11-22T10:00Z

DesiredFlags Voice(int percent = 10, api::Timestamp at = kT0) {
  DesiredFlags desired;
  desired.namespace_ = "voice";
  desired.config_map = api::ConfigMapFlagStore{"feature-flags", "flags.json"};
  desired.rollout = "voice/voice-agent-v2";
  desired.phase = "early-adopters";
  desired.updated_at = at;
  desired.flags = {{"voice_agent_v2", true, percent, {"t-internal-1"}, {"t-vip-bank"}},
                   {"voucher_creation", true, 100, {}, {}}};
  return desired;
}

json ConfigMap(json data) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", "feature-flags"}, {"namespace", "voice"}}},
          {"data", std::move(data)}};
}

class ConfigMapFlagsTest : public ::testing::Test {
 protected:
  ConfigMapFlagsTest() {
    retry_.sleep = [this](std::chrono::milliseconds wait) { sleeps_.push_back(wait); };
    store_ = NewConfigMapFlagStore(client_, retry_);
  }

  void Seed(json data) {
    ASSERT_TRUE(client_.Create(kube::kConfigMaps, "voice", ConfigMap(std::move(data))).ok());
  }

  // The stored document, in its stored key order.
  ordered_json Document() {
    auto object = client_.Get(kube::kConfigMaps, "voice", "feature-flags");
    EXPECT_TRUE(object.ok());
    return ordered_json::parse((*object)["data"]["flags.json"].get<std::string>());
  }

  std::string RawValue() {
    return (*client_.Get(kube::kConfigMaps, "voice", "feature-flags"))["data"]["flags.json"];
  }

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

TEST_F(ConfigMapFlagsTest, CreatesTheConfigMapWithEntriesInTheDocumentedFormat) {
  ASSERT_TRUE(store_->Apply(Voice()).ok());
  const ordered_json document = Document();
  const ordered_json expected = ordered_json::parse(R"({
    "voice_agent_v2": {"enabled": true, "percentage": 10,
      "enabledTenants": ["t-internal-1"], "disabledTenants": ["t-vip-bank"],
      "rollout": "voice/voice-agent-v2", "phase": "early-adopters",
      "updatedAt": "2026-11-22T10:00:00Z"},
    "voucher_creation": {"enabled": true, "percentage": 100,
      "enabledTenants": [], "disabledTenants": [],
      "rollout": "voice/voice-agent-v2", "phase": "early-adopters",
      "updatedAt": "2026-11-22T10:00:00Z"}})");
  EXPECT_EQ(document, expected);  // ordered: field order as in API.md §5.1
  EXPECT_EQ(Writes(), 1);
}

TEST_F(ConfigMapFlagsTest, WhatItWritesIsWhatTheTenantEvaluatorReads) {
  ASSERT_TRUE(store_->Apply(Voice(25)).ok());
  const flag::ParsedFlags parsed = flag::parseFlags(RawValue());
  ASSERT_TRUE(parsed.ok()) << parsed.errors.front();
  const DesiredFlags desired = Voice(25);
  ASSERT_EQ(parsed.flags.size(), 2u);
  EXPECT_EQ(parsed.flags.at("voice_agent_v2"), desired.flags[0]);
  EXPECT_EQ(parsed.flags.at("voucher_creation"), desired.flags[1]);
  EXPECT_TRUE(flag::isOn(parsed.flags.at("voice_agent_v2"), "t-internal-1"));
  EXPECT_FALSE(flag::isOn(parsed.flags.at("voice_agent_v2"), "t-vip-bank"));
}

TEST_F(ConfigMapFlagsTest, AddsTheDataKeyKeepingTheConfigMapsOtherKeys) {
  Seed({{"settings.yaml", "a: 1\n"}});
  ASSERT_TRUE(store_->Apply(Voice()).ok());
  const json object = *client_.Get(kube::kConfigMaps, "voice", "feature-flags");
  EXPECT_EQ(object["data"]["settings.yaml"], "a: 1\n");
  EXPECT_EQ(Document()["voice_agent_v2"]["percentage"], 10);
}

TEST_F(ConfigMapFlagsTest, KeepsEveryOtherEntryAndExtraFieldsOfItsOwn) {
  Seed({{"flags.json", R"({"zeta": {"enabled": false, "owner": "team-a"},
    "voice_agent_v2": {"enabled": false, "description": "v2 voice pipeline"},
    "alpha": {"enabled": true, "percentage": 50, "weights": [0.25, 1e3, -7], "note": "ünï"},
    "other_rollout_flag": {"enabled": true, "rollout": "voice/other"}})"}});
  ASSERT_TRUE(store_->Apply(Voice()).ok());
  const ordered_json document = Document();
  std::vector<std::string> keys;
  for (const auto& [key, value] : document.items()) keys.push_back(key);
  // Existing keys keep their order; new ones are appended.
  EXPECT_THAT(keys, ElementsAre("zeta", "voice_agent_v2", "alpha", "other_rollout_flag",
                                "voucher_creation"));
  EXPECT_EQ(document["zeta"], ordered_json::parse(R"({"enabled": false, "owner": "team-a"})"));
  EXPECT_EQ(document["alpha"], ordered_json::parse(
                                   R"({"enabled": true, "percentage": 50,
                                       "weights": [0.25, 1e3, -7], "note": "ünï"})"));
  EXPECT_EQ(document["other_rollout_flag"],
            ordered_json::parse(R"({"enabled": true, "rollout": "voice/other"})"));
  EXPECT_EQ(document["voice_agent_v2"]["description"], "v2 voice pipeline");
  EXPECT_EQ(document["voice_agent_v2"]["percentage"], 10);
  EXPECT_EQ(document["voice_agent_v2"]["rollout"], "voice/voice-agent-v2");
}

TEST_F(ConfigMapFlagsTest, WritesNothingWhenAlreadyInState) {
  ASSERT_TRUE(store_->Apply(Voice(10, kT0)).ok());
  const std::string before = RawValue();
  client_.ClearActions();
  ASSERT_TRUE(store_->Apply(Voice(10, kT0 + std::chrono::hours(1))).ok());
  EXPECT_EQ(Writes(), 0);
  EXPECT_EQ(RawValue(), before);  // updatedAt untouched
}

TEST_F(ConfigMapFlagsTest, StampsOnlyTheEntriesThatChange) {
  ASSERT_TRUE(store_->Apply(Voice(10, kT0)).ok());
  ASSERT_TRUE(store_->Apply(Voice(25, kT0 + std::chrono::hours(1))).ok());
  const ordered_json document = Document();
  EXPECT_EQ(document["voice_agent_v2"]["percentage"], 25);
  EXPECT_EQ(document["voice_agent_v2"]["updatedAt"], "2026-11-22T11:00:00Z");
  EXPECT_EQ(document["voucher_creation"]["updatedAt"], "2026-11-22T10:00:00Z");
}

TEST_F(ConfigMapFlagsTest, RecordsANewPhaseInEveryEntry) {
  ASSERT_TRUE(store_->Apply(Voice(10, kT0)).ok());
  DesiredFlags next = Voice(10, kT0 + std::chrono::hours(1));
  next.phase = "expansion";
  ASSERT_TRUE(store_->Apply(next).ok());
  EXPECT_EQ(Document()["voucher_creation"]["phase"], "expansion");
  EXPECT_EQ(Document()["voucher_creation"]["updatedAt"], "2026-11-22T11:00:00Z");
}

TEST_F(ConfigMapFlagsTest, TotalRollbackTurnsItsFlagsOff) {
  ASSERT_TRUE(store_->Apply(Voice(50)).ok());
  DesiredFlags off = Voice(0);
  for (flag::FlagState& state : off.flags) state.enabled = false;
  ASSERT_TRUE(store_->Apply(off).ok());
  EXPECT_EQ(Document()["voice_agent_v2"]["enabled"], false);
  EXPECT_EQ(Document()["voice_agent_v2"]["percentage"], 0);
  EXPECT_EQ(Document()["voucher_creation"]["enabled"], false);
}

DesiredFlags Off(api::Timestamp at) {
  DesiredFlags off = Voice(0, at);
  for (flag::FlagState& state : off.flags) {
    state.enabled = false;
    state.percentage = 0;
  }
  return off;
}

TEST_F(ConfigMapFlagsTest, ReleaseClearsTheOwnerOfItsOwnEntriesOnly) {
  Seed({{"flags.json", R"({"alpha": {"enabled": true, "rollout": "voice/other"},
      "voucher_creation": {"enabled": true, "percentage": 5, "rollout": "shop/checkout"}})"}});
  DesiredFlags voice = Voice(50);
  voice.flags.pop_back();  // voucher_creation is shop/checkout's
  ASSERT_TRUE(store_->Apply(voice).ok());
  ASSERT_TRUE(store_->Release(Voice(), ReleaseMode::kOwnerOnly).ok());
  const ordered_json document = Document();
  EXPECT_FALSE(document["voice_agent_v2"].contains("rollout"));
  EXPECT_EQ(document["voice_agent_v2"]["percentage"], 50);  // the state is kept
  EXPECT_EQ(document["voice_agent_v2"]["enabled"], true);
  EXPECT_EQ(document["voice_agent_v2"]["phase"], "early-adopters");
  EXPECT_EQ(document["voucher_creation"]["rollout"], "shop/checkout");
  EXPECT_EQ(document["alpha"]["rollout"], "voice/other");
  // Released: another rollout takes the entry over.
  DesiredFlags other = Voice(5);
  other.rollout = "voice/voice-agent-v3";
  other.flags.pop_back();
  EXPECT_TRUE(store_->Apply(other).ok());
  EXPECT_EQ(Document()["voice_agent_v2"]["rollout"], "voice/voice-agent-v3");
}

TEST_F(ConfigMapFlagsTest, ReleaseWithStateTurnsItsFlagsOffInTheSameWrite) {
  ASSERT_TRUE(store_->Apply(Voice(50)).ok());
  client_.ClearActions();
  ASSERT_TRUE(store_->Release(Off(kT0 + std::chrono::hours(1)), ReleaseMode::kWithState).ok());
  EXPECT_EQ(Writes(), 1);
  const ordered_json document = Document();
  for (const char* key : {"voice_agent_v2", "voucher_creation"}) {
    EXPECT_EQ(document[key]["enabled"], false) << key;
    EXPECT_EQ(document[key]["percentage"], 0) << key;
    EXPECT_FALSE(document[key].contains("rollout")) << key;
    EXPECT_EQ(document[key]["updatedAt"], "2026-11-22T11:00:00Z") << key;
  }
  EXPECT_EQ(document["voice_agent_v2"]["disabledTenants"], ordered_json({"t-vip-bank"}));
  // Released once: a repeat (a retried deletion) writes nothing.
  client_.ClearActions();
  ASSERT_TRUE(store_->Release(Off(kT0 + std::chrono::hours(2)), ReleaseMode::kWithState).ok());
  EXPECT_EQ(Writes(), 0);
}

TEST_F(ConfigMapFlagsTest, ReleaseNeverCreatesTheConfigMapOrKey) {
  ASSERT_TRUE(store_->Release(Off(kT0), ReleaseMode::kWithState).ok());
  EXPECT_FALSE(client_.Get(kube::kConfigMaps, "voice", "feature-flags").ok());
  Seed({{"other.json", "{}"}});
  ASSERT_TRUE(store_->Release(Off(kT0), ReleaseMode::kWithState).ok());
  const auto object = client_.Get(kube::kConfigMaps, "voice", "feature-flags");
  ASSERT_TRUE(object.ok());
  EXPECT_FALSE((*object)["data"].contains("flags.json"));
}

TEST_F(ConfigMapFlagsTest, ReleaseRefusesADocumentItCannotRead) {
  Seed({{"flags.json", "[1, 2]"}});
  const Status status = store_->Release(Voice(), ReleaseMode::kOwnerOnly);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(RawValue(), "[1, 2]");
}

TEST_F(ConfigMapFlagsTest, RereadsAndRetriesWhenAnotherWriterGotInFirst) {
  Seed({{"flags.json", R"({"alpha": {"enabled": true}})"}});
  bool raced = false;
  client_.AddReactor(
      [&](const kube::FakeClient::Action& action) -> std::optional<kube::ApiResult<json>> {
        if (action.verb != "update" || raced) return std::nullopt;
        raced = true;  // another rollout writes its key between our read and our write
        json object = *client_.Get(kube::kConfigMaps, "voice", "feature-flags");
        object["data"]["flags.json"] = R"({"alpha": {"enabled": true}, "beta": {"enabled": true}})";
        EXPECT_TRUE(client_.Update(kube::kConfigMaps, "voice", object).ok());
        return std::nullopt;  // ours now carries a stale resourceVersion: 409
      });
  ASSERT_TRUE(store_->Apply(Voice()).ok());
  const ordered_json document = Document();
  EXPECT_TRUE(document.contains("alpha"));
  EXPECT_TRUE(document.contains("beta"));  // nothing lost
  EXPECT_TRUE(document.contains("voice_agent_v2"));
  EXPECT_EQ(sleeps_.size(), 1u);
}

TEST_F(ConfigMapFlagsTest, GivesUpWithConflictAfterTheLastAttempt) {
  client_.AddReactor(
      [](const kube::FakeClient::Action& action) -> std::optional<kube::ApiResult<json>> {
        if (action.verb != "create") return std::nullopt;
        return kube::StatusError(409, "Conflict", "the object has been modified");
      });
  const Status status = store_->Apply(Voice());
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kConflict);
  EXPECT_THAT(status.error().message(), HasSubstr("configmap voice/feature-flags key flags.json"));
  EXPECT_EQ(Writes(), retry_.max_attempts);
  ASSERT_EQ(sleeps_.size(), static_cast<std::size_t>(retry_.max_attempts - 1));
  for (std::size_t i = 1; i < sleeps_.size(); ++i) {
    EXPECT_LE(sleeps_[i], retry_.max_backoff * 3 / 2);
  }
}

TEST_F(ConfigMapFlagsTest, LosingACreateRaceRereadsAndUpdates) {
  bool raced = false;
  client_.AddReactor(
      [&](const kube::FakeClient::Action& action) -> std::optional<kube::ApiResult<json>> {
        if (action.verb != "create" || raced) return std::nullopt;
        raced = true;
        EXPECT_TRUE(client_
                        .Create(kube::kConfigMaps, "voice",
                                ConfigMap({{"flags.json", R"({"beta": {"enabled": true}})"}}))
                        .ok());
        return std::nullopt;  // ours is now 409 AlreadyExists
      });
  ASSERT_TRUE(store_->Apply(Voice()).ok());
  EXPECT_TRUE(Document().contains("beta"));
  EXPECT_TRUE(Document().contains("voice_agent_v2"));
}

TEST_F(ConfigMapFlagsTest, RefusesAKeyOfAnotherRolloutWritingNothing) {
  const std::string text =
      R"({"voucher_creation": {"enabled": true, "percentage": 5, "rollout": "shop/checkout"}})";
  Seed({{"flags.json", text}});
  client_.ClearActions();
  const Status status = store_->Apply(Voice());
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(status.error().message(), HasSubstr("configmap voice/feature-flags key flags.json"));
  EXPECT_THAT(status.error().message(), HasSubstr("\"voucher_creation\""));
  EXPECT_THAT(status.error().message(), HasSubstr("shop/checkout"));
  EXPECT_EQ(Writes(), 0);  // not even its own voice_agent_v2
  EXPECT_EQ(RawValue(), text);
}

TEST_F(ConfigMapFlagsTest, TakesOverAnEntryWrittenByHand) {
  Seed({{"flags.json", R"({"voice_agent_v2": {"enabled": true, "percentage": 100}})"}});
  ASSERT_TRUE(store_->Apply(Voice()).ok());
  EXPECT_EQ(Document()["voice_agent_v2"]["percentage"], 10);
  EXPECT_EQ(Document()["voice_agent_v2"]["rollout"], "voice/voice-agent-v2");
}

TEST_F(ConfigMapFlagsTest, RefusesADocumentItCannotReadWritingNothing) {
  for (const std::string text :
       {"{\"voice_agent_v2\": ", "[1, 2]", "\"flags\"", "42", R"({"voice_agent_v2": true})",
        R"({"voucher_creation": ["on"]})", R"({"voice_agent_v2": {"rollout": 7}})"}) {
    SCOPED_TRACE(text);
    (void)client_.Delete(kube::kConfigMaps, "voice", "feature-flags");  // absent at first
    Seed({{"flags.json", text}});
    client_.ClearActions();
    const Status status = store_->Apply(Voice());
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().code(), ErrorCode::kFailedPrecondition);
    EXPECT_THAT(status.error().message(),
                HasSubstr("configmap voice/feature-flags key flags.json"));
    EXPECT_EQ(Writes(), 0);
    EXPECT_EQ(RawValue(), text);
  }
}

TEST_F(ConfigMapFlagsTest, AnEmptyValueIsAnEmptyDocument) {
  Seed({{"flags.json", " \n"}});
  ASSERT_TRUE(store_->Apply(Voice()).ok());
  EXPECT_EQ(Document()["voice_agent_v2"]["percentage"], 10);
}

TEST_F(ConfigMapFlagsTest, UsesTheConfiguredDataKey) {
  DesiredFlags desired = Voice();
  desired.config_map->key = "tenants.json";
  ASSERT_TRUE(store_->Apply(desired).ok());
  const json object = *client_.Get(kube::kConfigMaps, "voice", "feature-flags");
  EXPECT_FALSE(object["data"].contains("flags.json"));
  EXPECT_TRUE(object["data"].contains("tenants.json"));
}

TEST_F(ConfigMapFlagsTest, PassesOtherApiErrorsOnNamingTheConfigMap) {
  client_.AddReactor(
      [](const kube::FakeClient::Action& action) -> std::optional<kube::ApiResult<json>> {
        if (action.verb != "get") return std::nullopt;
        return kube::StatusError(403, "Forbidden", "configmaps \"feature-flags\" is forbidden");
      });
  const Status status = store_->Apply(Voice());
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_THAT(status.error().message(), HasSubstr("configmap voice/feature-flags"));
  EXPECT_EQ(Writes(), 0);
}

TEST_F(ConfigMapFlagsTest, RejectsBadInputBeforeAnyCall) {
  DesiredFlags bad = Voice(140);
  Status status = store_->Apply(bad);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(status.error().message(), HasSubstr("140"));

  bad = Voice();
  bad.config_map.reset();
  bad.feature_flag = api::FeatureFlagStore{"flags"};
  status = store_->Apply(bad);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(client_.Actions().empty());
}

}  // namespace
}  // namespace agentrollout::controllers
