#include "controllers/flagstore/flag_stores.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controllers/flagstore/fake_flag_store.h"
#include "controllers/flagstore/featureflag_flags.h"
#include "kube/fake_client.h"

namespace agentrollout::controllers {
namespace {

using ::testing::HasSubstr;

DesiredFlags Desired() {
  DesiredFlags desired;
  desired.namespace_ = "voice";
  desired.rollout = "voice/voice-agent-v2";
  desired.phase = "canary";
  desired.flags = {{"voice_agent_v2", true, 5, {}, {}}};
  return desired;
}

TEST(NewFlagStore, WritesWhicheverStoreTheFlagsName) {
  kube::FakeClient client;
  FlagStorePtr store = NewFlagStore(client);

  DesiredFlags config_map = Desired();
  config_map.config_map = api::ConfigMapFlagStore{"feature-flags", "flags.json"};
  ASSERT_TRUE(store->Apply(config_map).ok());
  EXPECT_TRUE(client.Get(kube::kConfigMaps, "voice", "feature-flags").ok());
  EXPECT_FALSE(client.Get(kFeatureFlags, "voice", "agent-flags").ok());

  DesiredFlags feature_flag = Desired();
  feature_flag.feature_flag = api::FeatureFlagStore{"agent-flags"};
  ASSERT_TRUE(store->Apply(feature_flag).ok());
  auto object = client.Get(kFeatureFlags, "voice", "agent-flags");
  ASSERT_TRUE(object.ok());
  EXPECT_EQ((*object)["spec"]["flagSpec"]["flags"]["voice_agent_v2"]["state"], "ENABLED");

  ASSERT_TRUE(store->Release(config_map, ReleaseMode::kOwnerOnly).ok());
  ASSERT_TRUE(store->Release(feature_flag, ReleaseMode::kOwnerOnly).ok());
  object = client.Get(kFeatureFlags, "voice", "agent-flags");
  EXPECT_FALSE((*object)["spec"]["flagSpec"]["flags"]["voice_agent_v2"].contains("metadata"));
  auto flags = client.Get(kube::kConfigMaps, "voice", "feature-flags");
  EXPECT_EQ(
      nlohmann::json::parse((*flags)["data"]["flags.json"].get<std::string>())["voice_agent_v2"]
          .count("rollout"),
      0u);
  EXPECT_EQ(store->Release(DesiredFlags{}, ReleaseMode::kOwnerOnly).error().code(),
            ErrorCode::kInvalidArgument);
}

struct BadCase {
  const char* name;
  void (*mutate)(DesiredFlags&);
  const char* message;
};

// flag.deploymentEnv is written only when the installation turned it on.
TEST(NewFlagStore, RefusesDeploymentEnvUnlessTurnedOn) {
  kube::FakeClient client;
  DesiredFlags env = Desired();
  env.deployment_env = api::DeploymentEnvFlagStore{"voice-agent", "", {"VOICE_V2", ""}};
  Status refused = NewFlagStore(client)->Apply(env);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(refused.error().message(), HasSubstr("chart value deploymentEnv.enabled=true"));
  EXPECT_TRUE(NewFlagStore(client)->Release(env, ReleaseMode::kOwnerOnly).ok())
      << "nothing was written, so there is nothing to let go of";
  EXPECT_FALSE(NewFlagStore(client)->Release(env, ReleaseMode::kWithState).ok());
  EXPECT_TRUE(client.Actions().empty()) << "no API call at all";

  Status missing = NewFlagStore(client, {}, {.deployment_env = true})->Apply(env);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound) << "turned on, it reads the Deployment";
}

TEST(CheckDesiredFlags, NamesTheFieldAndValue) {
  const BadCase cases[] = {
      {"no store", [](DesiredFlags& d) { d.config_map.reset(); },
       "exactly one of configMap, featureFlag, postgres, deploymentEnv must be set, got none"},
      {"both stores", [](DesiredFlags& d) { d.feature_flag = api::FeatureFlagStore{"f"}; },
       "got configMap, featureFlag"},
      {"no deployment name",
       [](DesiredFlags& d) {
         d.config_map.reset();
         d.deployment_env = api::DeploymentEnvFlagStore{"", "", {"V", ""}};
       },
       "flag.deploymentEnv.deployment: must not be empty"},
      {"no configmap name", [](DesiredFlags& d) { d.config_map->name.clear(); },
       "flag.configMap.name: must not be empty"},
      {"no data key", [](DesiredFlags& d) { d.config_map->key.clear(); },
       "flag.configMap.key: must not be empty"},
      {"no namespace", [](DesiredFlags& d) { d.namespace_.clear(); }, "namespace"},
      {"no rollout", [](DesiredFlags& d) { d.rollout.clear(); }, "rollout"},
      {"no flags", [](DesiredFlags& d) { d.flags.clear(); }, "no flag"},
      {"empty key", [](DesiredFlags& d) { d.flags[0].key.clear(); }, "key must not be empty"},
      {"twice", [](DesiredFlags& d) { d.flags.push_back(d.flags[0]); },
       "flag \"voice_agent_v2\" is given twice"},
      {"negative", [](DesiredFlags& d) { d.flags[0].percentage = -1; }, "0..100, got -1"},
      {"above 100", [](DesiredFlags& d) { d.flags[0].percentage = 101; }, "0..100, got 101"},
  };
  for (const BadCase& bad : cases) {
    SCOPED_TRACE(bad.name);
    DesiredFlags desired = Desired();
    desired.config_map = api::ConfigMapFlagStore{"feature-flags", "flags.json"};
    bad.mutate(desired);
    const Status status = CheckDesiredFlags(desired);
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(status.error().message(), HasSubstr(bad.message));

    kube::FakeClient client;
    EXPECT_FALSE(NewFlagStore(client)->Apply(desired).ok());
    EXPECT_TRUE(client.Actions().empty());
  }
}

TEST(FakeFlagStore, RecordsCallsKeepsStateAndFailsOnDemand) {
  FakeFlagStore store;
  DesiredFlags desired = Desired();
  desired.config_map = api::ConfigMapFlagStore{"feature-flags", "flags.json"};
  store.FailNext(Error(ErrorCode::kConflict, "lost"));
  EXPECT_EQ(store.Apply(desired).error().code(), ErrorCode::kConflict);
  EXPECT_TRUE(store.flags().empty());
  ASSERT_TRUE(store.Apply(desired).ok());
  EXPECT_EQ(store.flags().at("voice_agent_v2").percentage, 5);
  store.FailAlways(NotFound("gone"));
  EXPECT_FALSE(store.Apply(desired).ok());
  EXPECT_FALSE(store.Apply(desired).ok());
  store.FailAlways(std::nullopt);
  int hooked = 0;
  store.SetHook([&](const DesiredFlags&) -> std::optional<Error> {
    ++hooked;
    return std::nullopt;
  });
  EXPECT_TRUE(store.Apply(desired).ok());
  EXPECT_EQ(hooked, 1);
  EXPECT_EQ(store.calls().size(), 5u);

  store.FailNext(Error(ErrorCode::kUnavailable, "down"));
  EXPECT_FALSE(store.Release(desired, ReleaseMode::kOwnerOnly).ok());
  EXPECT_TRUE(store.released().empty());
  DesiredFlags off = desired;
  off.flags[0].enabled = false;
  ASSERT_TRUE(store.Release(off, ReleaseMode::kWithState).ok());
  EXPECT_EQ(store.released(), std::set<std::string>{"voice_agent_v2"});
  EXPECT_FALSE(store.flags().at("voice_agent_v2").enabled);
  ASSERT_EQ(store.releases().size(), 2u);
  EXPECT_EQ(store.releases()[1].mode, ReleaseMode::kWithState);
  ASSERT_TRUE(store.Apply(desired).ok());
  EXPECT_TRUE(store.released().empty());
}

}  // namespace
}  // namespace agentrollout::controllers
