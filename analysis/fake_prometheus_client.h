// A scriptable PrometheusClient for unit tests of whatever sits on top of the analysis
// engine (evaluator, scheduler, controllers): answers by exact query text, counts calls,
// and can hold queries until released to model a slow server. A query is answered with
// what was set when it arrived, as a server measures when it is asked.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/prometheus_client.h"

namespace agentrollout::analysis::testing {

class FakePrometheusClient final : public PrometheusClient {
 public:
  // The answer to `query`; a query with no answer set fails with NotFound.
  void SetAnswer(const std::string& query, Result<QueryResult> answer) {
    std::lock_guard lock(mu_);
    answers_.insert_or_assign(query, std::move(answer));
  }
  // A one-sample vector answer.
  void SetValue(const std::string& query, double value) {
    SetAnswer(query, QueryResult{QueryResult::Type::kVector, {Sample{{}, value}}, {}});
  }

  // While held, Query() blocks until Release() (or the query's timeout passes, then it
  // fails with DeadlineExceeded as a real server that never answers would).
  void Hold() {
    std::lock_guard lock(mu_);
    held_ = true;
  }
  void Release() {
    {
      std::lock_guard lock(mu_);
      held_ = false;
    }
    released_.notify_all();
  }

  // Blocks until `count` queries are running (held) or `timeout` passes.
  bool WaitForRunning(int count, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, timeout, [&] { return running_ >= count; });
  }

  Result<QueryResult> Query(std::string_view promql, std::chrono::milliseconds timeout) override {
    std::unique_lock lock(mu_);
    queries_.emplace_back(promql);
    const auto found = answers_.find(std::string(promql));
    const Result<QueryResult> answer = found != answers_.end()
                                           ? found->second
                                           : NotFound("no fake answer for " + std::string(promql));
    ++running_;
    changed_.notify_all();
    const bool released = released_.wait_for(lock, timeout, [this] { return !held_; });
    --running_;
    changed_.notify_all();
    if (!released) return Error(ErrorCode::kDeadlineExceeded, "fake query timed out");
    return answer;
  }

  std::vector<std::string> queries() const {
    std::lock_guard lock(mu_);
    return queries_;
  }
  int running() const {
    std::lock_guard lock(mu_);
    return running_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable released_;
  std::condition_variable changed_;
  std::map<std::string, Result<QueryResult>> answers_;
  std::vector<std::string> queries_;
  bool held_ = false;
  int running_ = 0;
};

}  // namespace agentrollout::analysis::testing
