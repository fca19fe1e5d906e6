#include "analysis/evaluator.h"

#include <future>
#include <system_error>
#include <utility>

#include "analysis/classify.h"

namespace agentrollout::analysis {

Result<PrometheusTarget> TargetFor(const EvaluationInput& input) {
  const auto& prometheus = input.spec.prometheus;
  if (!prometheus || prometheus->address.empty()) {
    return InvalidArgument(
        "analysis.prometheus.address is required when analysis.metrics are given");
  }
  PrometheusTarget target;
  target.address = prometheus->address;
  target.headers = prometheus->headers;
  target.credentials = input.credentials;
  target.insecure_skip_verify = prometheus->insecure_skip_verify;
  return target;
}

std::vector<Result<std::string>> RenderQueries(const api::AnalysisSpec& spec,
                                               const TemplateVars& vars) {
  std::vector<Result<std::string>> queries;
  queries.reserve(spec.metrics.size());
  for (const api::MetricSpec& metric : spec.metrics) {
    Result<std::string> rendered = Render(metric.query, vars);
    if (!rendered.ok()) {
      queries.emplace_back(rendered.error().WithContext("query template"));
    } else {
      queries.push_back(std::move(rendered));
    }
  }
  return queries;
}

api::Evaluation AssembleEvaluation(const api::AnalysisSpec& spec,
                                   const std::vector<Result<QueryResult>>& outcomes,
                                   api::Timestamp at) {
  api::Evaluation evaluation;
  evaluation.at = at;
  evaluation.measured_from = at;  // every query sent from `at` on, none shared or reused
  evaluation.metrics.reserve(spec.metrics.size());
  for (std::size_t i = 0; i < spec.metrics.size(); ++i) {
    evaluation.metrics.push_back(Classify(spec.metrics[i], spec.no_data, outcomes.at(i)));
  }
  evaluation.verdict = TableVerdict(evaluation.metrics);
  return evaluation;
}

Evaluator::Evaluator(Connector connect, Clock now)
    : connect_(std::move(connect)), now_(std::move(now)) {}

api::Evaluation Evaluator::Evaluate(const EvaluationInput& input) const {
  const api::AnalysisSpec& spec = input.spec;
  const api::Timestamp started = now_();
  std::vector<Result<std::string>> queries = RenderQueries(spec, input.vars);
  std::vector<Result<QueryResult>> outcomes(spec.metrics.size(),
                                            Result<QueryResult>(Internal("not evaluated")));
  Result<PrometheusClientPtr> client = Internal("not connected");
  if (!spec.metrics.empty()) {
    Result<PrometheusTarget> target = TargetFor(input);
    client = target.ok() ? connect_(*target) : Result<PrometheusClientPtr>(target.error());
  }
  const std::chrono::milliseconds timeout =
      spec.prometheus ? spec.prometheus->timeout : api::PrometheusSpec().timeout;
  std::vector<std::future<Result<QueryResult>>> running(spec.metrics.size());
  for (std::size_t i = 0; i < spec.metrics.size(); ++i) {
    if (!queries[i].ok()) {
      outcomes[i] = queries[i].error();
    } else if (!client.ok()) {
      outcomes[i] = client.error();
    } else {
      try {
        running[i] = std::async(std::launch::async, [&client, &queries, i, timeout] {
          return (*client)->Query(*queries[i], timeout);
        });
      } catch (const std::system_error& e) {  // no thread could be started
        outcomes[i] = Error(ErrorCode::kResourceExhausted,
                            std::string("cannot start a query thread: ") + e.what());
      }
    }
  }
  for (std::size_t i = 0; i < running.size(); ++i) {
    if (running[i].valid()) outcomes[i] = running[i].get();
  }
  return AssembleEvaluation(spec, outcomes, started);
}

}  // namespace agentrollout::analysis
