#include "api/names.h"

#include <gtest/gtest.h>

namespace agentrollout::api {
namespace {

// Every enumerator maps to its documented name and back.
template <typename Enum>
void ExpectRoundTrip(const std::vector<std::pair<Enum, std::string>>& table,
                     Result<Enum> (*parse)(std::string_view)) {
  for (const auto& [value, name] : table) {
    EXPECT_EQ(Name(value), name);
    auto parsed = parse(name);
    ASSERT_TRUE(parsed.ok()) << name;
    EXPECT_EQ(*parsed, value) << name;
  }
}

TEST(Names, RolloutPhase) {
  ExpectRoundTrip<RolloutPhase>({{RolloutPhase::kNone, ""},
                                 {RolloutPhase::kPending, "Pending"},
                                 {RolloutPhase::kProgressing, "Progressing"},
                                 {RolloutPhase::kPaused, "Paused"},
                                 {RolloutPhase::kAwaitingApproval, "AwaitingApproval"},
                                 {RolloutPhase::kRollingBack, "RollingBack"},
                                 {RolloutPhase::kRolledBack, "RolledBack"},
                                 {RolloutPhase::kSucceeded, "Succeeded"},
                                 {RolloutPhase::kFailed, "Failed"}},
                                ParseRolloutPhase);
}

TEST(Names, Verdict) {
  ExpectRoundTrip<Verdict>({{Verdict::kNone, ""},
                            {Verdict::kGo, "Go"},
                            {Verdict::kHold, "Hold"},
                            {Verdict::kNoGo, "NoGo"},
                            {Verdict::kError, "Error"}},
                           ParseVerdict);
}

TEST(Names, EventReason) {
  ExpectRoundTrip<EventReason>({{EventReason::kPhaseStarted, "PhaseStarted"},
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
                                {EventReason::kFlagTargetNotFound, "FlagTargetNotFound"}},
                               ParseEventReason);
}

TEST(Names, SmallEnums) {
  ExpectRoundTrip<RollbackMode>(
      {{RollbackMode::kTotal, "total"}, {RollbackMode::kStepBack, "stepBack"}}, ParseRollbackMode);
  ExpectRoundTrip<DeletePolicy>(
      {{DeletePolicy::kKeep, "keep"}, {DeletePolicy::kRollback, "rollback"}}, ParseDeletePolicy);
  ExpectRoundTrip<NotificationType>({{NotificationType::kSlack, "slack"},
                                     {NotificationType::kPagerDuty, "pagerduty"},
                                     {NotificationType::kAlertmanager, "alertmanager"},
                                     {NotificationType::kWebhook, "webhook"}},
                                    ParseNotificationType);
  ExpectRoundTrip<NoDataPolicy>({{NoDataPolicy::kHold, "hold"}, {NoDataPolicy::kNoGo, "noGo"}},
                                ParseNoDataPolicy);
  ExpectRoundTrip<ConditionStatus>({{ConditionStatus::kTrue, "True"},
                                    {ConditionStatus::kFalse, "False"},
                                    {ConditionStatus::kUnknown, "Unknown"}},
                                   ParseConditionStatus);
  ExpectRoundTrip<CompareOp>({{CompareOp::kLess, "<"},
                              {CompareOp::kLessEqual, "<="},
                              {CompareOp::kGreater, ">"},
                              {CompareOp::kGreaterEqual, ">="},
                              {CompareOp::kEqual, "=="},
                              {CompareOp::kNotEqual, "!="}},
                             ParseCompareOp);
}

TEST(Names, ParseErrorsListTheValidNames) {
  const std::vector<std::pair<Error, std::string>> cases = {
      {ParseRollbackMode("Total").error(), R"(must be one of total, stepBack, got "Total")"},
      {ParseRollbackMode("").error(), R"(must be one of total, stepBack, got "")"},
      {ParseNoDataPolicy("nogo").error(), R"(must be one of hold, noGo, got "nogo")"},
      {ParseVerdict("GO").error(), R"(must be one of Go, Hold, NoGo, Error, got "GO")"},
      {ParseConditionStatus("true").error(), R"(must be one of True, False, Unknown, got "true")"},
      {ParseCompareOp("=").error(), R"(must be one of <, <=, >, >=, ==, !=, got "=")"},
      {ParseRolloutPhase("Done").error(),
       R"(must be one of Pending, Progressing, Paused, AwaitingApproval, RollingBack, )"
       R"(RolledBack, Succeeded, Failed, got "Done")"},
      {ParseEventReason("Started").error(),
       R"(must be one of PhaseStarted, PhaseAdvanced, AnalysisHold, AnalysisNoGo, RollingBack, )"
       R"(RolledBack, AwaitingApproval, Promoted, Paused, Resumed, Succeeded, InvalidSpec, )"
       R"(TrafficTargetNotFound, FlagTargetNotFound, got "Started")"},
  };
  for (const auto& [error, message] : cases) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(error.message(), message);
  }
}

}  // namespace
}  // namespace agentrollout::api
