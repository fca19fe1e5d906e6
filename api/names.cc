#include "api/names.h"

#include <string>
#include <utility>

namespace agentrollout::api {
namespace {

// One table per enum: the single source of both directions.
template <typename Enum>
using NameTable = std::pair<Enum, std::string_view>;

constexpr NameTable<RolloutPhase> kRolloutPhases[] = {
    {RolloutPhase::kNone, ""},
    {RolloutPhase::kPending, "Pending"},
    {RolloutPhase::kProgressing, "Progressing"},
    {RolloutPhase::kPaused, "Paused"},
    {RolloutPhase::kAwaitingApproval, "AwaitingApproval"},
    {RolloutPhase::kRollingBack, "RollingBack"},
    {RolloutPhase::kRolledBack, "RolledBack"},
    {RolloutPhase::kSucceeded, "Succeeded"},
    {RolloutPhase::kFailed, "Failed"},
};

constexpr NameTable<Verdict> kVerdicts[] = {
    {Verdict::kNone, ""},     {Verdict::kGo, "Go"},       {Verdict::kHold, "Hold"},
    {Verdict::kNoGo, "NoGo"}, {Verdict::kError, "Error"},
};

constexpr NameTable<EventReason> kEventReasons[] = {
    {EventReason::kPhaseStarted, "PhaseStarted"},
    {EventReason::kPhaseAdvanced, "PhaseAdvanced"},
    {EventReason::kAnalysisHold, "AnalysisHold"},
    {EventReason::kAnalysisNoGo, "AnalysisNoGo"},
    {EventReason::kRollingBack, "RollingBack"},
    {EventReason::kRolledBack, "RolledBack"},
    {EventReason::kAwaitingApproval, "AwaitingApproval"},
    {EventReason::kPromoted, "Promoted"},
    {EventReason::kPaused, "Paused"},
    {EventReason::kResumed, "Resumed"},
    {EventReason::kSucceeded, "Succeeded"},
    {EventReason::kInvalidSpec, "InvalidSpec"},
    {EventReason::kTrafficTargetNotFound, "TrafficTargetNotFound"},
    {EventReason::kFlagTargetNotFound, "FlagTargetNotFound"},
};

constexpr NameTable<RollbackMode> kRollbackModes[] = {
    {RollbackMode::kTotal, "total"},
    {RollbackMode::kStepBack, "stepBack"},
};

constexpr NameTable<DeletePolicy> kDeletePolicies[] = {
    {DeletePolicy::kKeep, "keep"},
    {DeletePolicy::kRollback, "rollback"},
};

constexpr NameTable<NotificationType> kNotificationTypes[] = {
    {NotificationType::kSlack, "slack"},
    {NotificationType::kPagerDuty, "pagerduty"},
    {NotificationType::kAlertmanager, "alertmanager"},
    {NotificationType::kWebhook, "webhook"},
};

constexpr NameTable<NoDataPolicy> kNoDataPolicies[] = {
    {NoDataPolicy::kHold, "hold"},
    {NoDataPolicy::kNoGo, "noGo"},
};

constexpr NameTable<ConditionStatus> kConditionStatuses[] = {
    {ConditionStatus::kTrue, "True"},
    {ConditionStatus::kFalse, "False"},
    {ConditionStatus::kUnknown, "Unknown"},
};

constexpr NameTable<CompareOp> kCompareOps[] = {
    {CompareOp::kLess, "<"},          {CompareOp::kLessEqual, "<="}, {CompareOp::kGreater, ">"},
    {CompareOp::kGreaterEqual, ">="}, {CompareOp::kEqual, "=="},     {CompareOp::kNotEqual, "!="},
};

template <typename Enum, std::size_t N>
std::string_view Lookup(const NameTable<Enum> (&table)[N], Enum value) {
  for (const auto& [candidate, name] : table) {
    if (candidate == value) return name;
  }
  return "?";  // only reachable with a value cast from outside the enum's range
}

template <typename Enum, std::size_t N>
Result<Enum> Parse(const NameTable<Enum> (&table)[N], std::string_view text) {
  std::string valid;
  for (const auto& [value, name] : table) {
    if (name == text) return value;
    if (name.empty()) continue;  // "" is accepted but not advertised
    if (!valid.empty()) valid += ", ";
    valid += name;
  }
  return InvalidArgument("must be one of " + valid + ", got \"" + std::string(text) + "\"");
}

}  // namespace

std::string_view Name(RolloutPhase phase) { return Lookup(kRolloutPhases, phase); }
std::string_view Name(Verdict verdict) { return Lookup(kVerdicts, verdict); }
std::string_view Name(EventReason reason) { return Lookup(kEventReasons, reason); }
std::string_view Name(RollbackMode mode) { return Lookup(kRollbackModes, mode); }
std::string_view Name(DeletePolicy policy) { return Lookup(kDeletePolicies, policy); }
std::string_view Name(NotificationType type) { return Lookup(kNotificationTypes, type); }
std::string_view Name(NoDataPolicy policy) { return Lookup(kNoDataPolicies, policy); }
std::string_view Name(ConditionStatus status) { return Lookup(kConditionStatuses, status); }
std::string_view Name(CompareOp op) { return Lookup(kCompareOps, op); }

Result<RolloutPhase> ParseRolloutPhase(std::string_view text) {
  return Parse(kRolloutPhases, text);
}
Result<Verdict> ParseVerdict(std::string_view text) { return Parse(kVerdicts, text); }
Result<EventReason> ParseEventReason(std::string_view text) { return Parse(kEventReasons, text); }
Result<RollbackMode> ParseRollbackMode(std::string_view text) {
  return Parse(kRollbackModes, text);
}
Result<NotificationType> ParseNotificationType(std::string_view text) {
  return Parse(kNotificationTypes, text);
}
Result<DeletePolicy> ParseDeletePolicy(std::string_view text) {
  return Parse(kDeletePolicies, text);
}
Result<NoDataPolicy> ParseNoDataPolicy(std::string_view text) {
  return Parse(kNoDataPolicies, text);
}
Result<ConditionStatus> ParseConditionStatus(std::string_view text) {
  return Parse(kConditionStatuses, text);
}
Result<CompareOp> ParseCompareOp(std::string_view text) { return Parse(kCompareOps, text); }

}  // namespace agentrollout::api
