#include "operator/metrics.h"

#include <prometheus/exposer.h>
#include <prometheus/text_serializer.h>

#include <charconv>
#include <exception>
#include <system_error>

#include "api/names.h"

namespace agentrollout::operator_ {
namespace {

using prometheus::Labels;

// Prometheus' default buckets: reconciles are API round-trips (ms to seconds).
const prometheus::Histogram::BucketBoundaries kReconcileBuckets = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
// Queries run with a per-query timeout (default 5s, API.md §2); the top bucket covers
// slow long-range queries against Thanos/Mimir.
const prometheus::Histogram::BucketBoundaries kQueryBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                               0.5,   1,    2.5,   5,    10,  30};

std::string_view ResultName(ReconcileResult result) {
  switch (result) {
    case ReconcileResult::kSuccess:
      return "success";
    case ReconcileResult::kError:
      return "error";
    case ReconcileResult::kException:
      return "exception";
  }
  return "error";
}

std::string_view ReasonName(RollbackReason reason) {
  switch (reason) {
    case RollbackReason::kAbort:
      return "abort";
    case RollbackReason::kNoGo:
      return "no_go";
    case RollbackReason::kErrors:
      return "errors";
    case RollbackReason::kManual:
      return "manual";
  }
  return "unknown";
}

// A number of status (api::FormatNumber's text, or 4 significant digits).
bool ParseNumber(const std::string& text, double& value) {
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  return ec == std::errc() && ptr == end && !text.empty();
}

template <typename T>
prometheus::Family<T>& Register(prometheus::detail::Builder<T> builder,
                                prometheus::Registry& registry, const std::string& name,
                                const std::string& help) {
  return builder.Name(name).Help(help).Register(registry);
}

}  // namespace

RollbackReason RollbackReasonOf(api::RollbackTrigger::Kind kind) {
  switch (kind) {
    case api::RollbackTrigger::Kind::kAbort:
      return RollbackReason::kAbort;
    case api::RollbackTrigger::Kind::kNoGo:
      return RollbackReason::kNoGo;
    case api::RollbackTrigger::Kind::kErrors:
      return RollbackReason::kErrors;
  }
  return RollbackReason::kNoGo;
}

Metrics::Metrics(std::string_view version)
    : registry_(std::make_shared<prometheus::Registry>()),
      reconciles_(Register(prometheus::BuildCounter(), *registry_, "agentrollout_reconcile_total",
                           "Reconciles of AgentRollouts, by result.")),
      reconcile_duration_(Register(prometheus::BuildHistogram(), *registry_,
                                   "agentrollout_reconcile_duration_seconds",
                                   "Time one reconcile of an AgentRollout took.")),
      workqueue_depth_(Register(prometheus::BuildGauge(), *registry_,
                                "agentrollout_workqueue_depth",
                                "AgentRollouts waiting in the workqueue.")
                           .Add({})),
      workqueue_adds_(Register(prometheus::BuildCounter(), *registry_,
                               "agentrollout_workqueue_adds_total", "Items added to the workqueue.")
                          .Add({})),
      workqueue_retries_(Register(prometheus::BuildCounter(), *registry_,
                                  "agentrollout_workqueue_retries_total",
                                  "Rate-limited re-adds to the workqueue after a failed reconcile.")
                             .Add({})),
      status_writes_(Register(prometheus::BuildCounter(), *registry_,
                              "agentrollout_status_writes_total",
                              "AgentRollout status writes (PUTs of /status that succeeded).")
                         .Add({})),
      analysis_queries_(Register(prometheus::BuildCounter(), *registry_,
                                 "agentrollout_analysis_queries_total",
                                 "PromQL queries of go/no-go tables, by result.")),
      analysis_query_errors_(Register(prometheus::BuildCounter(), *registry_,
                                      "agentrollout_analysis_query_errors_total",
                                      "Failed PromQL queries, by error code.")),
      analysis_query_duration_(Register(prometheus::BuildHistogram(), *registry_,
                                        "agentrollout_analysis_query_duration_seconds",
                                        "Time one PromQL query took, failures included.")
                                   .Add({}, kQueryBuckets)),
      verdicts_(Register(prometheus::BuildCounter(), *registry_,
                         "agentrollout_analysis_verdicts_total",
                         "Evaluations of go/no-go tables, by verdict.")),
      rollbacks_(Register(prometheus::BuildCounter(), *registry_, "agentrollout_rollbacks_total",
                          "Rollbacks started, by reason.")),
      rollout_phase_(Register(
          prometheus::BuildGauge(), *registry_, "agentrollout_rollout_phase",
          "1, labelled with the AgentRollout's current status.phase (one series per rollout).")),
      rollout_flag_percent_(Register(prometheus::BuildGauge(), *registry_,
                                     "agentrollout_rollout_flag_percent",
                                     "Flag percentage the AgentRollout has written.")),
      rollout_traffic_weight_(Register(prometheus::BuildGauge(), *registry_,
                                       "agentrollout_rollout_traffic_weight",
                                       "Canary traffic weight the AgentRollout has written.")),
      comparison_low_(Register(prometheus::BuildGauge(), *registry_, "agentrollout_comparison_low",
                               "Low end of a comparison's confidence interval for canary minus "
                               "stable (a difference of proportions).")),
      comparison_high_(Register(prometheus::BuildGauge(), *registry_,
                                "agentrollout_comparison_high",
                                "High end of a comparison's confidence interval for canary minus "
                                "stable.")),
      comparison_events_(Register(prometheus::BuildGauge(), *registry_,
                                  "agentrollout_comparison_events",
                                  "Events a comparison counted for one version in this phase.")),
      comparison_total_(Register(prometheus::BuildGauge(), *registry_,
                                 "agentrollout_comparison_calls",
                                 "Calls a comparison counted for one version in this phase.")),
      leader_(Register(prometheus::BuildGauge(), *registry_, "agentrollout_leader",
                       "1 while this process holds the leader-election Lease (or does not "
                       "elect), else 0.")
                  .Add({})) {
  Register(prometheus::BuildGauge(), *registry_, "agentrollout_build_info",
           "Always 1; the labels describe the running build.")
      .Add({{"version", std::string(version)}})
      .Set(1);
  // Bounded label values start at 0, so rate() and alerts see the series from the
  // first scrape rather than from the first event.
  for (auto result :
       {ReconcileResult::kSuccess, ReconcileResult::kError, ReconcileResult::kException}) {
    const Labels labels{{"result", std::string(ResultName(result))}};
    reconciles_.Add(labels);
    reconcile_duration_.Add(labels, kReconcileBuckets);
  }
  analysis_queries_.Add({{"result", "success"}});
  analysis_queries_.Add({{"result", "error"}});
  for (auto verdict :
       {api::Verdict::kGo, api::Verdict::kHold, api::Verdict::kNoGo, api::Verdict::kError}) {
    verdicts_.Add({{"verdict", std::string(api::Name(verdict))}});
  }
  for (auto reason : {RollbackReason::kAbort, RollbackReason::kNoGo, RollbackReason::kErrors,
                      RollbackReason::kManual}) {
    rollbacks_.Add({{"reason", std::string(ReasonName(reason))}});
  }
}

void Metrics::ObserveReconcile(ReconcileResult result, Seconds took) {
  const Labels labels{{"result", std::string(ResultName(result))}};
  reconciles_.Add(labels).Increment();
  reconcile_duration_.Add(labels, kReconcileBuckets).Observe(took.count());
}

void Metrics::SetWorkqueueDepth(std::int64_t depth) {
  workqueue_depth_.Set(static_cast<double>(depth));
}

void Metrics::CountWorkqueueAdd() { workqueue_adds_.Increment(); }

void Metrics::CountWorkqueueRetry() { workqueue_retries_.Increment(); }

void Metrics::CountStatusWrite() { status_writes_.Increment(); }

void Metrics::ObserveAnalysisQuery(const Status& outcome, Seconds took) {
  analysis_queries_.Add({{"result", outcome.ok() ? "success" : "error"}}).Increment();
  if (!outcome.ok()) {
    analysis_query_errors_.Add({{"code", std::string(ErrorCodeName(outcome.error().code()))}})
        .Increment();
  }
  analysis_query_duration_.Observe(took.count());
}

void Metrics::CountVerdict(api::Verdict verdict) {
  if (verdict == api::Verdict::kNone) return;
  verdicts_.Add({{"verdict", std::string(api::Name(verdict))}}).Increment();
}

void Metrics::CountRollback(RollbackReason reason) {
  rollbacks_.Add({{"reason", std::string(ReasonName(reason))}}).Increment();
}

void Metrics::SetRolloutState(std::string_view namespace_, std::string_view name,
                              api::RolloutPhase phase, std::int32_t flag_percent,
                              std::int32_t traffic_weight) {
  std::lock_guard lock(mutex_);
  auto [it, inserted] = rollouts_.try_emplace({std::string(namespace_), std::string(name)});
  RolloutSeries& series = it->second;
  auto labels = [&] {
    return Labels{{"namespace", std::string(namespace_)}, {"name", std::string(name)}};
  };
  if (inserted) {
    series.flag_percent = &rollout_flag_percent_.Add(labels());
    series.traffic_weight = &rollout_traffic_weight_.Add(labels());
  }
  if (series.shown != phase) {
    if (series.phase != nullptr) rollout_phase_.Remove(series.phase);
    series.phase = nullptr;
    if (phase != api::RolloutPhase::kNone) {
      Labels with_phase = labels();
      with_phase.emplace("phase", std::string(api::Name(phase)));
      series.phase = &rollout_phase_.Add(with_phase);
      series.phase->Set(1);
    }
    series.shown = phase;
  }
  series.flag_percent->Set(flag_percent);
  series.traffic_weight->Set(traffic_weight);
}

void Metrics::RemoveComparisonLocked(const ComparisonSeries& series) {
  comparison_low_.Remove(series.low);
  comparison_high_.Remove(series.high);
  for (prometheus::Gauge* gauge : series.events) comparison_events_.Remove(gauge);
  for (prometheus::Gauge* gauge : series.total) comparison_total_.Remove(gauge);
}

void Metrics::SetComparisons(std::string_view namespace_, std::string_view name,
                             const std::vector<api::MetricStatus>& analysis) {
  std::lock_guard lock(mutex_);
  const std::pair<std::string, std::string> key{std::string(namespace_), std::string(name)};
  auto& shown = comparisons_[key];
  std::map<std::string, ComparisonSeries> kept;
  for (const api::MetricStatus& metric : analysis) {
    if (!metric.comparison) continue;
    const api::ComparisonStatus& comparison = *metric.comparison;
    double low = 0;
    double high = 0;
    if (!ParseNumber(comparison.low, low) || !ParseNumber(comparison.high, high)) continue;
    auto found = shown.extract(metric.name);
    ComparisonSeries series = found.empty() ? ComparisonSeries{} : std::move(found.mapped());
    if (series.low == nullptr) {
      const Labels labels{
          {"namespace", key.first}, {"name", key.second}, {"comparison", metric.name}};
      series.low = &comparison_low_.Add(labels);
      series.high = &comparison_high_.Add(labels);
      for (std::size_t i = 0; i < 2; ++i) {
        Labels with_version = labels;
        with_version.emplace("version", i == 0 ? "canary" : "stable");
        series.events[i] = &comparison_events_.Add(with_version);
        series.total[i] = &comparison_total_.Add(with_version);
      }
    }
    series.low->Set(low);
    series.high->Set(high);
    const std::array<const api::CountsStatus*, 2> counts{&comparison.canary, &comparison.stable};
    for (std::size_t i = 0; i < 2; ++i) {
      double value = 0;
      if (ParseNumber(counts[i]->events, value)) series.events[i]->Set(value);
      if (ParseNumber(counts[i]->total, value)) series.total[i]->Set(value);
    }
    kept.emplace(metric.name, series);
  }
  for (const auto& [comparison, series] : shown) RemoveComparisonLocked(series);
  if (kept.empty()) {
    comparisons_.erase(key);
  } else {
    shown = std::move(kept);
  }
}

void Metrics::ForgetRollout(std::string_view namespace_, std::string_view name) {
  std::lock_guard lock(mutex_);
  if (auto shown = comparisons_.find({std::string(namespace_), std::string(name)});
      shown != comparisons_.end()) {
    for (const auto& [comparison, series] : shown->second) RemoveComparisonLocked(series);
    comparisons_.erase(shown);
  }
  auto it = rollouts_.find({std::string(namespace_), std::string(name)});
  if (it == rollouts_.end()) return;
  if (it->second.phase != nullptr) rollout_phase_.Remove(it->second.phase);
  rollout_flag_percent_.Remove(it->second.flag_percent);
  rollout_traffic_weight_.Remove(it->second.traffic_weight);
  rollouts_.erase(it);
}

void Metrics::SetLeader(bool is_leader) { leader_.Set(is_leader ? 1 : 0); }

std::string Metrics::Serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

MetricsServer::MetricsServer(std::unique_ptr<prometheus::Exposer> exposer, std::uint16_t port)
    : exposer_(std::move(exposer)), port_(port) {}

MetricsServer::~MetricsServer() = default;

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const ListenAddress& address, const std::shared_ptr<prometheus::Registry>& registry) {
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(address.ToCivetweb());
  } catch (const std::exception& e) {
    return Unavailable("metrics server: cannot listen on " + address.ToCivetweb() + ": " +
                       e.what());
  }
  exposer->RegisterCollectable(registry);
  const auto ports = exposer->GetListeningPorts();
  if (ports.empty()) {
    return Unavailable("metrics server: no listening port on " + address.ToCivetweb());
  }
  return std::unique_ptr<MetricsServer>(
      new MetricsServer(std::move(exposer), static_cast<std::uint16_t>(ports.front())));
}

}  // namespace agentrollout::operator_
