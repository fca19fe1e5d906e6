// Analysis fan-out (issue 9 item 3): the query rate the analysis scheduler
// (analysis/scheduler.h, the operator's own) sends to a real Prometheus for N rollouts whose
// go/no-go tables are identical, with deduplication (all rollouts share one Prometheus
// target, as in production) and without it (each rollout gets its own X-Bench-Rollout
// header, so no two queries may share an answer). The rate is read from both sides: the
// scheduler's counters and Prometheus' own prometheus_http_requests_total.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "common/result.h"

namespace agentrollout::bench {

struct FanoutOptions {
  std::string prometheus;  // base URL
  int n = 100;
  bool dedup = true;
  std::chrono::milliseconds interval{10000};  // analysis.interval
  std::chrono::seconds window{30};
  std::size_t concurrency = 8;  // the scheduler's worker threads (the operator's default)
};

Result<nlohmann::json> RunFanout(const FanoutOptions& options);

}  // namespace agentrollout::bench
