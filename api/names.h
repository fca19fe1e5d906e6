// The JSON spelling of every enum of the model (API.md §2, §4, §8), and parsers back.
//
// Parse errors are InvalidArgument with no field path, in the form the decoder prefixes
// with one: `must be one of total, stepBack, got "full"`.
#pragma once

#include <string_view>

#include "api/types.h"
#include "common/result.h"

namespace agentrollout::api {

// "" (kNone), "Pending", "Progressing", "Paused", "AwaitingApproval", "RollingBack",
// "RolledBack", "Succeeded", "Failed".
std::string_view Name(RolloutPhase phase);
// "" (kNone), "Go", "Hold", "NoGo", "Error".
std::string_view Name(Verdict verdict);
// "PhaseStarted", "PhaseAdvanced", ... (CamelCase, as Kubernetes Event reasons).
std::string_view Name(EventReason reason);
// "total", "stepBack".
std::string_view Name(RollbackMode mode);
// "keep", "rollback".
std::string_view Name(DeletePolicy policy);
std::string_view Name(NotificationType type);
// "hold", "noGo".
std::string_view Name(NoDataPolicy policy);
// "True", "False", "Unknown".
std::string_view Name(ConditionStatus status);
// "<", "<=", ">", ">=", "==", "!=".
std::string_view Name(CompareOp op);

// Exact, case-sensitive inverses of Name().
Result<RolloutPhase> ParseRolloutPhase(std::string_view text);
Result<Verdict> ParseVerdict(std::string_view text);
Result<EventReason> ParseEventReason(std::string_view text);
Result<RollbackMode> ParseRollbackMode(std::string_view text);
Result<DeletePolicy> ParseDeletePolicy(std::string_view text);
Result<NotificationType> ParseNotificationType(std::string_view text);
Result<NoDataPolicy> ParseNoDataPolicy(std::string_view text);
Result<ConditionStatus> ParseConditionStatus(std::string_view text);
Result<CompareOp> ParseCompareOp(std::string_view text);

}  // namespace agentrollout::api
