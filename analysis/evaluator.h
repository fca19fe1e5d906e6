// One evaluation of a rollout's go/no-go table: render every metric query, run them all
// concurrently (each bounded by analysis.prometheus.timeout), classify the values and
// combine them into the verdict.
#pragma once

#include <functional>
#include <string>
#include <vector>

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
  friend bool operator==(const EvaluationInput&, const EvaluationInput&) = default;
};

// analysis.prometheus plus resolved credentials; an error when metrics exist but no
// server is configured.
Result<PrometheusTarget> TargetFor(const EvaluationInput& input);

// Each metric's query rendered with `vars`, in spec order; a template error (or a
// missing analysis.prometheus) stands in for a query that cannot run.
std::vector<Result<std::string>> RenderQueries(const api::AnalysisSpec& spec,
                                               const TemplateVars& vars);

// The evaluation from one outcome per metric (spec order): classified and combined.
api::Evaluation AssembleEvaluation(const api::AnalysisSpec& spec,
                                   const std::vector<Result<QueryResult>>& outcomes,
                                   api::Timestamp at);

}  // namespace agentrollout::analysis
