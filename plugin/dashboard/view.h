// What the dashboard's JSON API answers (pure functions over AgentRollouts): the overview's
// rows, one rollout's page, and which actions make sense. Only what a person needs to see
// leaves the process: no spec field that could carry a credential (headers, Secret
// references, notification URLs) is ever copied into a response.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/types.h"
#include "common/result.h"

namespace agentrollout::plugin::dashboard {

// One AgentRollout as the watch delivered it: decoded as far as it goes, so one with a
// malformed spec or status is still listed (its unreadable parts shown as "unknown").
struct RolloutRecord {
  api::AgentRollout rollout;
  bool spec_known = true;
  bool status_known = true;
  nlohmann::json raw_status;  // status as sent: comparisons are read from it (API.md §3.3)
};

// Never fails for an object with a string metadata.name; anything else is an error.
Result<RolloutRecord> DecodeRecord(const nlohmann::json& object);

// The overview's row: namespace, name, revision, phase ("unknown" when status does not
// decode), the phase bar (phases, current index), flag % and weight (null where the rollout
// has no flag / no router), verdict, message, age, bake time left, awaiting approval,
// paused, the pending action, and `rank` (0 rolling back / rolled back / failed, 1 holding:
// paused, awaiting approval, NoGo, Hold or Error, 2 progressing, 3 succeeded).
nlohmann::json SummaryJson(const RolloutRecord& record, api::Timestamp now);

// Rows sorted by rank, then namespace and name.
nlohmann::json OverviewJson(const std::vector<const RolloutRecord*>& records, api::Timestamp now);

// What the user may do: {can_patch, reason when not}.
struct Permission {
  bool can_patch = false;
  std::string reason;  // why not: "RBAC: you may not patch agentrollouts in namespace voice"
};

// Each action {name, allowed, reason, confirm}: allowed when the operator would act on it
// in this phase (CheckAction) and RBAC lets the user patch; `confirm` says what happens.
nlohmann::json ActionsJson(const api::AgentRollout& rollout, const Permission& permission);

// The rollout page: the summary plus the go/no-go table (spec order, live values), the
// comparisons found in status, rollback details, history, conditions, the analysis
// settings the page needs for its charts, `events` as given, and the actions.
nlohmann::json DetailJson(const RolloutRecord& record, const nlohmann::json& events,
                          const Permission& permission, api::Timestamp now);

// The status.analysis entries (metrics[] or comparisons[]) that carry an `interval` (API.md
// §3.3), read from the status as sent, since the typed status may not know them:
// [{name, verdict, value, low, high, go, noGo, message, canary: {events, total}, stable}].
nlohmann::json ComparisonsJson(const nlohmann::json& raw_status);

// core/v1 Events of one rollout (an EventList's items), newest first, shaped to
// {type, reason, message, count, last} and cut to `limit`.
nlohmann::json EventsJson(const std::vector<nlohmann::json>& items, std::size_t limit = 50);

// The metric queries a chart draws, rendered for the current phase (else the first):
// [{name, go, noGo, abort, canary: query, stable: query or null}] — `stable` where the
// query uses {{canary}} and the router names a stable backend, rendered with the stable
// name in its place (the V1/V2 cards). A template error is {name, error}.
nlohmann::json ChartQueries(const api::AgentRollout& rollout);

}  // namespace agentrollout::plugin::dashboard
