// Per-metric classification and the table's verdict (API.md §3.1), as pure functions.
#pragma once

#include <string>
#include <vector>

#include "analysis/prometheus_client.h"
#include "api/types.h"
#include "common/result.h"

namespace agentrollout::analysis {

// Classifies what one metric's query produced:
// - a failed query -> Error, message = the failure;
// - more than one series -> Error `query returned N series; ...`;
// - no sample -> `noData` (Hold or NoGo), message `no data`;
// - NaN or ±Inf -> Error `value NaN is not a number`;
// - a value on the abort or noGo line -> NoGo (`0.071 is > 0.05 (noGo)`), on the go line
//   -> Go, else Hold (`912 is not < 800 (go)`). abort and noGo win over go.
// Prometheus warnings are appended to the message. The result carries the lines as
// written (go, noGo, abort) and the dryRun flag, as status.analysis.metrics shows them.
api::MetricStatus Classify(const api::MetricSpec& metric, api::NoDataPolicy no_data,
                           const Result<QueryResult>& outcome);

// `message` with each Prometheus warning appended ("...; Prometheus warned: ...").
std::string WithWarnings(std::string message, const std::vector<std::string>& warnings);

// The evaluation's verdict: NoGo if any metric is NoGo; else Error if any errored; else
// Hold if any holds; else Go. dryRun metrics never count, so a table of only dryRun
// metrics (or an empty table) is Go.
api::Verdict TableVerdict(const std::vector<api::MetricStatus>& metrics);

// Whether `status` (a classified, non-dryRun metric) crossed `metric`'s abort line.
bool HitsAbort(const api::MetricSpec& metric, const api::MetricStatus& status);

}  // namespace agentrollout::analysis
