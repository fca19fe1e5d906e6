#include "controllers/rollout/observed_rollout.h"

#include <utility>

#include "api/codec.h"

namespace agentrollout::controllers {

Result<ObservedRollout> DecodeObservedRollout(const nlohmann::json& object) {
  if (!object.is_object()) return InvalidArgument("an AgentRollout must be a JSON object");
  ObservedRollout rollout;
  auto metadata = api::DecodeObjectMeta(object.value("metadata", nlohmann::json::object()));
  if (!metadata.ok()) return metadata.error();
  rollout.metadata = std::move(*metadata);
  if (const auto status = object.find("status"); status != object.end() && !status->is_null()) {
    auto decoded = api::DecodeStatus(*status);
    if (!decoded.ok()) return decoded.error();
    rollout.status = std::move(*decoded);
  }
  const auto spec = object.find("spec");
  if (spec == object.end() || spec->is_null()) {
    rollout.spec_error = InvalidArgument("spec: is required");
    return rollout;
  }
  auto decoded = api::DecodeSpec(*spec);
  if (decoded.ok()) {
    rollout.spec = std::move(*decoded);
  } else {
    rollout.spec_error = decoded.error();
  }
  return rollout;
}

Input MakeInput(const ObservedRollout& rollout, std::optional<api::Evaluation> evaluation,
                api::Timestamp now) {
  Input input;
  input.metadata = rollout.metadata;
  input.spec = rollout.spec;
  input.status = rollout.status;
  input.spec_error = rollout.spec_error;
  input.evaluation = std::move(evaluation);
  input.now = now;
  return input;
}

api::AgentRollout AsAgentRollout(const ObservedRollout& rollout) {
  return {rollout.metadata, rollout.spec, rollout.status};
}

}  // namespace agentrollout::controllers
