#include "analysis/evaluator.h"

#include <utility>

#include "analysis/classify.h"

namespace agentrollout::analysis {

Result<PrometheusTarget> TargetFor(const EvaluationInput& input) {
  const auto& prometheus = input.spec.prometheus;
  if (!prometheus || prometheus->address.empty()) {
    return InvalidArgument(
        "analysis.prometheus.address is required when analysis.metrics or comparisons are "
        "given");
  }
  PrometheusTarget target;
  target.address = prometheus->address;
  target.headers = prometheus->headers;
  target.credentials = input.credentials;
  target.insecure_skip_verify = prometheus->insecure_skip_verify;
  return target;
}

std::size_t QueryCount(const api::AnalysisSpec& spec) {
  return spec.metrics.size() + kQueriesPerComparison * spec.comparisons.size();
}

std::vector<Result<std::string>> RenderQueries(const api::AnalysisSpec& spec,
                                               const TemplateVars& vars,
                                               api::Duration since_phase_start) {
  std::vector<Result<std::string>> queries;
  queries.reserve(QueryCount(spec));
  for (const api::MetricSpec& metric : spec.metrics) {
    Result<std::string> rendered = Render(metric.query, vars);
    if (!rendered.ok()) {
      queries.emplace_back(rendered.error().WithContext("query template"));
    } else {
      queries.push_back(std::move(rendered));
    }
  }
  if (spec.comparisons.empty()) return queries;
  const Versions versions = VersionsOf(vars);
  const std::string window = PromQLWindow(since_phase_start);
  for (const api::ComparisonSpec& comparison : spec.comparisons) {
    for (Result<std::string>& query : RenderComparison(comparison, vars, versions, window)) {
      queries.push_back(std::move(query));
    }
  }
  return queries;
}

api::Evaluation AssembleEvaluation(const api::AnalysisSpec& spec, const TemplateVars& vars,
                                   const std::vector<Result<QueryResult>>& outcomes,
                                   api::Timestamp at) {
  api::Evaluation evaluation;
  evaluation.at = at;
  evaluation.measured_from = at;  // every query sent from `at` on, none shared or reused
  evaluation.metrics.reserve(spec.metrics.size() + spec.comparisons.size());
  for (std::size_t i = 0; i < spec.metrics.size(); ++i) {
    evaluation.metrics.push_back(Classify(spec.metrics[i], spec.no_data, outcomes.at(i)));
  }
  const Versions versions = VersionsOf(vars);
  for (std::size_t i = 0; i < spec.comparisons.size(); ++i) {
    evaluation.metrics.push_back(JudgeComparison(spec.comparisons[i], versions, outcomes,
                                                 spec.metrics.size() + kQueriesPerComparison * i));
  }
  evaluation.verdict = TableVerdict(evaluation.metrics);
  return evaluation;
}

}  // namespace agentrollout::analysis
