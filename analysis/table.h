// The go/no-go table (API.md §3.1) as pure functions: classify each metric value,
// combine them into the evaluation's verdict, and carry the failureLimit / errorLimit /
// abort counters from one evaluation to the next.
#pragma once

#include <optional>

#include "api/types.h"

namespace agentrollout::analysis {

struct TableOutcome {
  // status.analysis after this evaluation: counters advanced or reset, metrics replaced.
  api::AnalysisStatus status;
  // Set when this evaluation must roll the rollout back.
  std::optional<api::RollbackTrigger> trigger;
};

// Whether the spec has anything to evaluate: metrics or comparisons (API.md §3.3).
bool HasTable(const api::AnalysisSpec& spec);

// Folds one evaluation into the counters kept in status.analysis. Pure: no I/O, no clock.
TableOutcome Accumulate(const api::AnalysisSpec& spec, const api::AnalysisStatus& previous,
                        const api::Evaluation& evaluation);

}  // namespace agentrollout::analysis
