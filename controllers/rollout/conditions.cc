#include "controllers/rollout/conditions.h"

#include <string>
#include <utility>

#include "api/names.h"

namespace agentrollout::controllers {
namespace {

using api::ConditionStatus;
using api::RolloutPhase;

ConditionStatus FromBool(bool value) {
  return value ? ConditionStatus::kTrue : ConditionStatus::kFalse;
}

std::string PhaseReason(RolloutPhase phase) {
  switch (phase) {
    case RolloutPhase::kNone:
      return "Pending";
    case RolloutPhase::kFailed:
      return "InvalidSpec";
    default:
      return std::string(api::Name(phase));
  }
}

void Set(std::vector<api::Condition>& conditions, api::Condition condition, api::Timestamp now) {
  for (api::Condition& existing : conditions) {
    if (existing.type != condition.type) continue;
    condition.last_transition_time =
        existing.status == condition.status ? existing.last_transition_time : now;
    existing = std::move(condition);
    return;
  }
  condition.last_transition_time = now;
  conditions.push_back(std::move(condition));
}

}  // namespace

void SetConditions(api::AgentRolloutStatus& status, std::int64_t generation, api::Timestamp now,
                   bool has_metrics, std::string_view ready_reason) {
  const RolloutPhase phase = status.phase;
  const std::string reason = PhaseReason(phase);
  const bool succeeded = phase == RolloutPhase::kSucceeded;
  const bool reconciling = phase == RolloutPhase::kNone || phase == RolloutPhase::kPending ||
                           phase == RolloutPhase::kProgressing || phase == RolloutPhase::kPaused ||
                           phase == RolloutPhase::kAwaitingApproval ||
                           phase == RolloutPhase::kRollingBack;
  const bool stalled = phase == RolloutPhase::kRolledBack || phase == RolloutPhase::kFailed;

  Set(status.conditions,
      {kReady,
       FromBool(succeeded),
       succeeded || ready_reason.empty() ? reason : std::string(ready_reason),
       status.message,
       generation,
       {}},
      now);
  Set(status.conditions,
      {kReconciling, FromBool(reconciling), reason, status.message, generation, {}}, now);
  Set(status.conditions, {kStalled, FromBool(stalled), reason, status.message, generation, {}},
      now);

  const api::Verdict verdict = status.verdict;
  const bool healthy = verdict != api::Verdict::kNoGo && verdict != api::Verdict::kError;
  std::string healthy_reason;
  std::string healthy_message;
  if (!has_metrics) {
    healthy_reason = "NoAnalysis";
    healthy_message = "the go/no-go table is empty: phases advance on time alone";
  } else if (verdict == api::Verdict::kNone) {
    healthy_reason = "NotYetAnalysed";
    healthy_message = "no analysis in the current phase yet";
  } else {
    healthy_reason = std::string(api::Name(verdict));
    healthy_message = "the latest analysis verdict is " + healthy_reason;
  }
  Set(status.conditions,
      {kHealthy, FromBool(healthy), healthy_reason, healthy_message, generation, {}}, now);
}

const api::Condition* FindCondition(const api::AgentRolloutStatus& status, std::string_view type) {
  for (const api::Condition& condition : status.conditions) {
    if (condition.type == type) return &condition;
  }
  return nullptr;
}

}  // namespace agentrollout::controllers
