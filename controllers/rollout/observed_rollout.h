// An AgentRollout as the controller observes it, decoded once when it arrives (informer
// cache) or is re-read (after a 409). A spec that does not decode is kept as an error
// instead of dropping the object, so the state machine can report InvalidSpec on it
// (API.md §2: bad input is shown in status, never ignored).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>

#include "api/types.h"
#include "common/result.h"
#include "controllers/rollout/state_machine.h"

namespace agentrollout::controllers {

struct ObservedRollout {
  api::ObjectMeta metadata;
  api::AgentRolloutSpec spec;  // meaningless when spec_error is set
  api::AgentRolloutStatus status;
  std::optional<Error> spec_error;
};

// Fails only when metadata or status do not decode (neither is written by users through
// the CRD's schema, so that means the object is not an AgentRollout the operator can own).
Result<ObservedRollout> DecodeObservedRollout(const nlohmann::json& object);

// The state machine's input for this observation.
Input MakeInput(const ObservedRollout& rollout, std::optional<api::Evaluation> evaluation,
                api::Timestamp now);

// The object as api::AgentRollout (the shape analysis::BuildTemplateVars takes).
api::AgentRollout AsAgentRollout(const ObservedRollout& rollout);

}  // namespace agentrollout::controllers
