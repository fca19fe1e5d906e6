#include "bench/fanout.h"

#include <atomic>
#include <thread>

#include "analysis/scheduler.h"
#include "analysis/template.h"
#include "api/codec.h"
#include "api/duration.h"
#include "bench/measure.h"
#include "bench/workload.h"
#include "http/transport.h"

namespace agentrollout::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Queries Prometheus has answered on /api/v1/query so far (its own counter).
Result<double> PrometheusQueriesServed(http::Client& prometheus) {
  http::Request request;
  request.target = "/metrics";
  auto response = prometheus.Send(request);
  if (!response.ok()) return response.error();
  if (response->status != 200)
    return Internal("Prometheus /metrics answered " + std::to_string(response->status));
  return SumSeries(response->body, "prometheus_http_requests_total", "handler=\"/api/v1/query\"");
}

}  // namespace

Result<nlohmann::json> RunFanout(const FanoutOptions& o) {
  // Generous: without deduplication Prometheus may be too busy to answer promptly, and how
  // long it takes is part of the finding.
  auto prometheus = http::NewClient({o.prometheus, {}, std::chrono::milliseconds(30000)});
  if (!prometheus.ok()) return prometheus.error();

  Workload w;
  w.namespace_ = "fanout";
  w.prometheus = o.prometheus;
  w.interval = api::FormatDuration(o.interval);
  w.query_groups = 1;  // every rollout's table is the same (e.g. one agent, many tenants' rollouts)
  w.distinct_targets = !o.dedup;

  std::atomic<std::uint64_t> evaluations{0};
  analysis::SchedulerOptions options;
  options.concurrency = o.concurrency;
  analysis::Scheduler scheduler(options,
                                [&](const std::string&, api::Evaluation) { ++evaluations; });
  for (int i = 0; i < o.n; ++i) {
    auto rollout = api::DecodeAgentRollout(AgentRolloutObject(w, i));
    if (!rollout.ok()) return rollout.error().WithContext("workload rollout " + std::to_string(i));
    analysis::EvaluationInput input;
    input.spec = rollout->spec.analysis;
    input.vars = analysis::BuildTemplateVars(*rollout, rollout->spec.phases.front().name);
    scheduler.Upsert(w.namespace_ + "/" + RolloutName(i), std::move(input));
  }
  scheduler.Start();
  // One interval to get every rollout onto its schedule, then the measured window.
  std::this_thread::sleep_for(o.interval);
  auto served_before = PrometheusQueriesServed(**prometheus);
  const analysis::SchedulerStats before = scheduler.Stats();
  const std::uint64_t evaluations_before = evaluations;
  const auto start = Clock::now();
  std::this_thread::sleep_for(o.window);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const analysis::SchedulerStats after = scheduler.Stats();
  const std::uint64_t evaluations_after = evaluations;
  auto served_after = PrometheusQueriesServed(**prometheus);
  scheduler.Stop();

  auto rate = [&](double delta) { return delta / seconds; };
  const double wanted = 5.0 * o.n / std::chrono::duration<double>(o.interval).count();
  // A Prometheus too loaded to report its own counter is a result, not a failed run.
  nlohmann::json served_rate = nullptr;
  std::string prometheus_error;
  if (!served_before.ok()) {
    prometheus_error = served_before.error().ToString();
  } else if (!served_after.ok()) {
    prometheus_error = served_after.error().ToString();
  } else {
    served_rate = rate(*served_after - *served_before);
  }
  return nlohmann::json{
      {"n", o.n},
      {"dedup", o.dedup},
      {"interval_s", std::chrono::duration<double>(o.interval).count()},
      {"window_s", seconds},
      {"metrics_per_rollout", 5},
      {"queries_due_per_s", wanted},
      {"prometheus_queries_per_s", served_rate},
      {"prometheus_error", prometheus_error},
      {"scheduler_queries_sent_per_s",
       rate(static_cast<double>(after.queries_sent - before.queries_sent))},
      {"scheduler_queries_deduplicated_per_s",
       rate(static_cast<double>(after.queries_deduplicated - before.queries_deduplicated))},
      {"scheduler_queries_reused_per_s",
       rate(static_cast<double>(after.queries_reused - before.queries_reused))},
      {"scheduler_queries_failed", after.queries_failed - before.queries_failed},
      {"evaluations_per_s", rate(static_cast<double>(evaluations_after - evaluations_before))},
      {"evaluations_skipped", after.evaluations_skipped - before.evaluations_skipped}};
}

}  // namespace agentrollout::bench
