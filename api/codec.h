// JSON codec of the AgentRollout resource (nlohmann::json), API.md §2 and §8.
//
// Decoding applies every default of API.md §2 and checks each field on its own (what the
// CRD's OpenAPI schema says: JSON type, required, enum, range, pattern, list length,
// duration and threshold syntax). Checks that relate several fields live in
// api/validate.h. Errors are InvalidArgument values naming the JSON path and the value:
//   spec.phases[2].trafficWeight: must be 0..100, got 140
//   spec.paused: must be a boolean, got "yes"
// Map keys are written in brackets, as Kubernetes field paths do: spec.phases[1].flags[x].
// Unknown members are ignored (the apiserver prunes them); null is the same as absent.
// Decoding never throws and keeps no reference to the JSON tree.
//
// Encoding omits what is empty (nullopt, "", empty lists and maps, a kNone verdict), so
// Decode(Encode(x)) == x for every spec and status whose values are in range. Timestamps
// are RFC 3339 UTC at second precision (metav1.Time); durations use FormatDuration.
#pragma once

#include <nlohmann/json.hpp>

#include "api/types.h"
#include "common/result.h"

namespace agentrollout::api {

// A whole object: metadata (the ObjectMeta subset), spec (required) and status (optional).
// apiVersion and kind are not checked: callers know what they listed.
Result<AgentRollout> DecodeAgentRollout(const nlohmann::json& object);

// Parts on their own. Paths in errors start with "metadata", "spec" and "status". A caller
// whose object fails DecodeAgentRollout because of its spec can still decode metadata and
// status this way to report InvalidSpec on the object.
Result<ObjectMeta> DecodeObjectMeta(const nlohmann::json& metadata);
Result<AgentRolloutSpec> DecodeSpec(const nlohmann::json& spec);
Result<AgentRolloutStatus> DecodeStatus(const nlohmann::json& status);

// apiVersion, kind, metadata, spec and status (status omitted when it is all defaults).
nlohmann::json EncodeAgentRollout(const AgentRollout& rollout);
nlohmann::json EncodeObjectMeta(const ObjectMeta& metadata);
// Every field explicit (defaults written out), so the encoded spec needs no defaulting.
nlohmann::json EncodeSpec(const AgentRolloutSpec& spec);
nlohmann::json EncodeStatus(const AgentRolloutStatus& status);

// The JSON text of `document` for the wire (requests to the apiserver, webhook bodies):
// compact, and a string that is not valid UTF-8 - it may hold text from outside - has its
// invalid bytes replaced by U+FFFD instead of making the serializer throw (API.md §3.1).
std::string ToWireJson(const nlohmann::json& document);

}  // namespace agentrollout::api
