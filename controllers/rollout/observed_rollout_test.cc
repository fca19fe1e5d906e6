#include "controllers/rollout/observed_rollout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controllers/rollout/test_support.h"

namespace agentrollout::controllers {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

json Object(json spec) {
  json object = {{"metadata",
                  {{"name", "voice-agent-v2"},
                   {"namespace", "voice"},
                   {"resourceVersion", "42"},
                   {"annotations", {{"rollouts.agentops.dev/action", "promote"}}}}}};
  if (!spec.is_null()) object["spec"] = std::move(spec);
  return object;
}

TEST(ObservedRolloutTest, DecodesAValidObject) {
  json object = Object(fixtures::VoiceSpecJson());
  object["status"] = {{"phase", "Progressing"}, {"revision", "2.0.0"}};
  auto observed = DecodeObservedRollout(object);
  ASSERT_TRUE(observed.ok()) << observed.error().ToString();
  EXPECT_FALSE(observed->spec_error.has_value());
  EXPECT_EQ(observed->metadata.resource_version, "42");
  EXPECT_EQ(observed->spec.phases.size(), 5u);
  EXPECT_EQ(observed->status.phase, api::RolloutPhase::kProgressing);

  const Input input = MakeInput(*observed, fixtures::Go(fixtures::At()), fixtures::At());
  EXPECT_EQ(input.metadata.annotations.at("rollouts.agentops.dev/action"), "promote");
  EXPECT_EQ(input.spec, observed->spec);
  ASSERT_TRUE(input.evaluation.has_value());
  EXPECT_EQ(input.now, fixtures::At());
}

// A spec the operator cannot read keeps the object, so InvalidSpec can be shown on it.
TEST(ObservedRolloutTest, AnUndecodableSpecIsKeptAsAnError) {
  json spec = fixtures::VoiceSpecJson();
  spec["phases"][0]["flagPercent"] = "lots";
  auto observed = DecodeObservedRollout(Object(spec));
  ASSERT_TRUE(observed.ok()) << observed.error().ToString();
  ASSERT_TRUE(observed->spec_error.has_value());
  EXPECT_THAT(observed->spec_error->message(), HasSubstr("spec.phases[0].flagPercent"));

  auto missing = DecodeObservedRollout(Object(nullptr));
  ASSERT_TRUE(missing.ok());
  ASSERT_TRUE(missing->spec_error.has_value());
  EXPECT_EQ(missing->spec_error->message(), "spec: is required");
}

TEST(ObservedRolloutTest, MetadataOrStatusThatDoNotDecodeRejectTheObject) {
  json bad_status = Object(fixtures::VoiceSpecJson());
  bad_status["status"] = {{"phase", "Exploded"}};
  auto rejected = DecodeObservedRollout(bad_status);
  ASSERT_FALSE(rejected.ok());
  EXPECT_THAT(rejected.error().message(), HasSubstr("status.phase"));

  json bad_metadata = Object(fixtures::VoiceSpecJson());
  bad_metadata["metadata"]["generation"] = "one";
  EXPECT_FALSE(DecodeObservedRollout(bad_metadata).ok());
  EXPECT_FALSE(DecodeObservedRollout(json::array()).ok());
}

}  // namespace
}  // namespace agentrollout::controllers
