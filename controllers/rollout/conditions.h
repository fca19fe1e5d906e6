// status.conditions (API.md §8), kstatus-compatible: Reconciling=True means InProgress,
// Stalled=True means Failed; every condition carries observedGeneration.
#pragma once

#include <cstdint>
#include <string_view>

#include "api/types.h"

namespace agentrollout::controllers {

inline constexpr char kReady[] = "Ready";
inline constexpr char kReconciling[] = "Reconciling";
inline constexpr char kStalled[] = "Stalled";
inline constexpr char kHealthy[] = "Healthy";

// Sets Ready, Reconciling, Stalled and Healthy from status.phase, verdict and message:
// - Ready: True iff Succeeded, reason Succeeded (a failing re-assert of a finished rollout
//   shows in the message only); else False with the phase (Failed: InvalidSpec) as reason,
//   or `ready_reason` when given (e.g. TrafficTargetNotFound);
// - Reconciling: True while Pending, Progressing, Paused, AwaitingApproval, RollingBack;
// - Stalled: True when RolledBack or Failed;
// - Healthy: False while the verdict is NoGo or Error; reason the verdict, or NoAnalysis
//   (empty go/no-go table) / NotYetAnalysed.
// A condition whose status is unchanged keeps its lastTransitionTime; others get `now`.
void SetConditions(api::AgentRolloutStatus& status, std::int64_t generation, api::Timestamp now,
                   bool has_metrics, std::string_view ready_reason = {});

// The condition of that type, or nullptr.
const api::Condition* FindCondition(const api::AgentRolloutStatus& status, std::string_view type);

}  // namespace agentrollout::controllers
