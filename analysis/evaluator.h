// One evaluation of a rollout's go/no-go table: render every metric query and the four
// queries of every comparison, run them all concurrently (each bounded by
// analysis.prometheus.timeout), classify the values, judge the comparisons and combine
// them into the verdict.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "analysis/compare.h"
#include "analysis/prometheus_client.h"
#include "analysis/template.h"
#include "api/types.h"
#include "common/result.h"

namespace agentrollout::analysis {

// Builds the client for a target; ConnectPrometheus in production, a fake in tests.
using Connector = std::function<Result<PrometheusClientPtr>(const PrometheusTarget&)>;
using Clock = std::function<api::Timestamp()>;

// What an evaluation needs besides the spec: the template values and the credentials
// the caller resolved from the rollout's Secrets.
struct EvaluationInput {
  api::AnalysisSpec spec;
  TemplateVars vars;
  PrometheusCredentials credentials;
  // The current phase's start (status.currentPhase.startedAt): comparisons count from it
  // ({{window}}, rendered when the evaluation runs).
  api::Timestamp phase_started{};
  friend bool operator==(const EvaluationInput&, const EvaluationInput&) = default;
};

// analysis.prometheus plus resolved credentials; an error when metrics or comparisons
// exist but no server is configured.
Result<PrometheusTarget> TargetFor(const EvaluationInput& input);

// How many queries an evaluation of `spec` runs: one per metric, kQueriesPerComparison
// per comparison.
std::size_t QueryCount(const api::AnalysisSpec& spec);

// Every query rendered with `vars`: each metric's in spec order, then each comparison's
// four (ComparisonQuery order) with {{window}} = PromQLWindow(since_phase_start); a
// template error stands in for a query that cannot run.
std::vector<Result<std::string>> RenderQueries(const api::AnalysisSpec& spec,
                                               const TemplateVars& vars,
                                               api::Duration since_phase_start);

// The evaluation from one outcome per query (RenderQueries' order): metrics classified,
// comparisons judged (their versions named by `vars`, VersionsOf), all combined.
api::Evaluation AssembleEvaluation(const api::AnalysisSpec& spec, const TemplateVars& vars,
                                   const std::vector<Result<QueryResult>>& outcomes,
                                   api::Timestamp at);

}  // namespace agentrollout::analysis
