// The operator's Prometheus metrics (API.md §9), all prefixed `agentrollout_`, and the
// /metrics endpoint. The controller, workqueue, analysis scheduler and leader elector
// call the methods below; nothing else touches prometheus-cpp.
//
// Per-comparison series (API.md §3.3): while a rollout is live, each comparison with an
// interval has `agentrollout_comparison_low` / `_high` (the confidence interval for
// canary - stable) and `agentrollout_comparison_events` / `_calls` (a comparison's
// `total`; a gauge may not end in _total) with `version` canary and stable -- six series per
// comparison, at most 20 comparisons per rollout, removed when the rollout is no longer live, drops
// the comparison or is deleted.
//
// Per-rollout series: `agentrollout_rollout_phase` has one series per rollout, labelled
// with its current phase and always 1 (as Argo Rollouts' rollout_info), so
// `agentrollout_rollout_phase{phase="RolledBack"} == 1` selects rolled-back rollouts and
// `count by (phase)` counts them. Not one 0/1 series for each of the 8 phases
// (kube-state-metrics' style): at 10,000 rollouts that was 80,000 series for every scrape
// to serialise and tens of MiB of label maps (docs/benchmarks.md).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/types.h"
#include "common/result.h"
#include "operator/options.h"

namespace prometheus {
class Exposer;
}

namespace agentrollout::operator_ {

// kException: the reconcile threw (a bug); the worker survived it and retries the key.
enum class ReconcileResult { kSuccess, kError, kException };

// Why a rollback started: the analysis trigger kinds (api::RollbackTrigger::Kind) plus
// a person's `abort` action.
enum class RollbackReason { kAbort, kNoGo, kErrors, kManual };
RollbackReason RollbackReasonOf(api::RollbackTrigger::Kind kind);

class Metrics {
 public:
  using Seconds = std::chrono::duration<double>;

  // `version` is the label of agentrollout_build_info.
  explicit Metrics(std::string_view version);
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

  // One reconcile of one AgentRollout, and how long it took.
  void ObserveReconcile(ReconcileResult result, Seconds took);

  void SetWorkqueueDepth(std::int64_t depth);
  void CountWorkqueueAdd();
  void CountWorkqueueRetry();  // a rate-limited re-add after a failed reconcile
  // One AgentRollout status write that succeeded (status_refresh.h keeps these rare).
  void CountStatusWrite();

  // One PromQL query; a failed one is also counted by its error code.
  void ObserveAnalysisQuery(const Status& outcome, Seconds took);
  // One evaluation of a go/no-go table (kNone is not counted).
  void CountVerdict(api::Verdict verdict);
  void CountRollback(RollbackReason reason);

  // The rollout's current phase and what it has written. kNone (never reconciled) shows
  // no phase series.
  void SetRolloutState(std::string_view namespace_, std::string_view name, api::RolloutPhase phase,
                       std::int32_t flag_percent, std::int32_t traffic_weight);
  // The comparisons of `analysis` (status.analysis.metrics entries with an interval) as
  // gauges; series of comparisons not among them are removed. Pass {} when the rollout is
  // not live.
  void SetComparisons(std::string_view namespace_, std::string_view name,
                      const std::vector<api::MetricStatus>& analysis);
  // Removes every per-rollout series of a deleted AgentRollout.
  void ForgetRollout(std::string_view namespace_, std::string_view name);

  void SetLeader(bool is_leader);

  // The registry in the Prometheus text exposition format (what /metrics serves).
  std::string Serialize() const;

 private:
  struct RolloutSeries {
    api::RolloutPhase shown = api::RolloutPhase::kNone;
    prometheus::Gauge* phase = nullptr;  // the series of `shown`; nullptr for kNone
    prometheus::Gauge* flag_percent = nullptr;
    prometheus::Gauge* traffic_weight = nullptr;
  };

  struct ComparisonSeries {
    prometheus::Gauge* low = nullptr;
    prometheus::Gauge* high = nullptr;
    std::array<prometheus::Gauge*, 2> events{};  // canary, stable
    std::array<prometheus::Gauge*, 2> total{};
  };
  // With mutex_ held: removes one comparison's series.
  void RemoveComparisonLocked(const ComparisonSeries& series);

  std::shared_ptr<prometheus::Registry> registry_;

  prometheus::Family<prometheus::Counter>& reconciles_;
  prometheus::Family<prometheus::Histogram>& reconcile_duration_;
  prometheus::Gauge& workqueue_depth_;
  prometheus::Counter& workqueue_adds_;
  prometheus::Counter& workqueue_retries_;
  prometheus::Counter& status_writes_;
  prometheus::Family<prometheus::Counter>& analysis_queries_;
  prometheus::Family<prometheus::Counter>& analysis_query_errors_;
  prometheus::Histogram& analysis_query_duration_;
  prometheus::Family<prometheus::Counter>& verdicts_;
  prometheus::Family<prometheus::Counter>& rollbacks_;
  prometheus::Family<prometheus::Gauge>& rollout_phase_;
  prometheus::Family<prometheus::Gauge>& rollout_flag_percent_;
  prometheus::Family<prometheus::Gauge>& rollout_traffic_weight_;
  prometheus::Family<prometheus::Gauge>& comparison_low_;
  prometheus::Family<prometheus::Gauge>& comparison_high_;
  prometheus::Family<prometheus::Gauge>& comparison_events_;
  prometheus::Family<prometheus::Gauge>& comparison_total_;
  prometheus::Gauge& leader_;

  std::mutex mutex_;  // guards rollouts_ and comparisons_
  std::map<std::pair<std::string, std::string>, RolloutSeries> rollouts_;
  // By (namespace, name), then comparison name.
  std::map<std::pair<std::string, std::string>, std::map<std::string, ComparisonSeries>>
      comparisons_;
};

// Serves a registry at /metrics (prometheus-cpp's Exposer, on civetweb).
class MetricsServer {
 public:
  // Binds `address` (port 0 = a free port) or returns Unavailable naming it.
  static Result<std::unique_ptr<MetricsServer>> Start(
      const ListenAddress& address, const std::shared_ptr<prometheus::Registry>& registry);
  ~MetricsServer();

  std::uint16_t port() const { return port_; }

 private:
  MetricsServer(std::unique_ptr<prometheus::Exposer> exposer, std::uint16_t port);

  std::unique_ptr<prometheus::Exposer> exposer_;
  std::uint16_t port_;
};

}  // namespace agentrollout::operator_
