// Which changes to status.analysis are worth a status write of their own (API.md §8,
// docs/decisions.md "Status writes of a steady rollout").
//
// Every evaluation of a progressing rollout produces a new status.analysis: a new
// lastEvaluated, values that wobble, comparison counts that grow. Written every time, a
// fleet of steady rollouts keeps the API server and etcd busy with writes nobody reads
// (one per rollout per interval). So the values alone are refreshed at most every
// StatusRefresh::every, and at once when one of them says something new: a counter
// moved, a metric changed zone (its verdict) or line, data appeared or went, or a value
// moved by more than StatusRefresh::fraction of its scale. Everything else in status
// (phase, verdict, counters, message, conditions, history) is written at once whenever
// it changes: the state machine only defers a write when the status it would write
// differs from the persisted one in nothing but these values (state_machine.h).
//
// Deferring is safe for crash recovery (API.md §4.7): folding an evaluation depends only
// on the counters (analysis::Accumulate), which are always written, so an evaluation
// folded again after a restart gives the same status; a persisted Go verdict always
// carries a lastEvaluated in its phase (a new verdict is written at once), so the bake
// end advances on the same evidence it would have had.
#pragma once

#include <chrono>

#include "api/types.h"

namespace agentrollout::controllers {

struct StatusRefresh {
  // status.analysis values that change nothing else are written at most this often
  // (operator flag --status-refresh-interval); zero writes every evaluation.
  api::Duration every = api::Duration::zero();
  // ... or at once when a value moved by more than this fraction of its scale: the larger
  // of the old value and the metric's line thresholds (so a value near 0 does not count
  // every tiny move as a large one).
  double fraction = 0.1;
};

// Whether `decided` says something that `persisted` does not, beyond what `refresh` lets
// wait: anything other than lastEvaluated, metric values, comparison intervals and counts
// (and a message about a value) differing, or those differing by more than the refresh
// allows.
bool AnalysisWorthWriting(const api::AnalysisStatus& persisted, const api::AnalysisStatus& decided,
                          const StatusRefresh& refresh);

}  // namespace agentrollout::controllers
