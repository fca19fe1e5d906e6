// For tests: one evaluation of a rollout's table by the Scheduler - the code the operator
// runs - on the calling thread's schedule: upsert, tick once, wait for the delivery.
#pragma once

#include <future>
#include <string>
#include <utility>

#include "analysis/scheduler.h"

namespace agentrollout::analysis::testing {

// Answers are never reused across calls (max_answer_reuse 0 unless `options` says
// otherwise), so every call asks Prometheus again.
inline api::Evaluation EvaluateOnce(
    const EvaluationInput& input, SchedulerOptions options = [] {
      SchedulerOptions fresh;
      fresh.max_answer_reuse = api::Duration::zero();
      return fresh;
    }()) {
  std::promise<api::Evaluation> delivered;
  std::future<api::Evaluation> evaluation = delivered.get_future();
  Scheduler scheduler(std::move(options), [&](const std::string&, api::Evaluation result) {
    delivered.set_value(std::move(result));
  });
  scheduler.Upsert("test/rollout", input);
  scheduler.Tick();
  return evaluation.get();
}

}  // namespace agentrollout::analysis::testing
