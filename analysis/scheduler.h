// Evaluations for many rollouts: each rollout is evaluated every analysis.interval, at the
// moment it falls due (the ticker sleeps until the earliest due time, so rollouts created
// at scattered times are evaluated, and roll back, at scattered times too), and the
// queries of all rollouts run on one bounded pool of worker threads. Identical queries
// (same server, same credentials, same rendered PromQL, same timeout) are sent once: a
// query still in flight serves every evaluation that asks for it meanwhile.
//
// An answer is also reused by identical queries of later evaluations, while it is younger
// than a quarter of the asking rollout's interval and than max_answer_reuse: rollouts of
// one agent version fall due at scattered times, and at 10,000 rollouts sending each of
// their queries again was most of the operator's requests (docs/benchmarks.md). For the
// rollout this is as if its evaluation had run up to that much earlier: 15 s at most at a
// 1m interval, 250 ms at 1s. Failed queries are never reused; a query in flight is shared
// within the same bound.
//
// No pile-up: a rollout has at most one evaluation in flight. When it falls due while
// the previous one is still running (Prometheus slow or down), that slot is skipped, not
// queued, so the pool's queue never holds more than one evaluation per rollout.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "analysis/evaluator.h"

namespace agentrollout::analysis {

struct SchedulerOptions {
  // Worker threads: the global bound on queries in flight, over all rollouts and servers.
  std::size_t concurrency = 8;
  Connector connect = ConnectPrometheus;
  // The time used for due dates and Evaluation::at; a fake in tests, which then call
  // Tick() themselves instead of Start().
  Clock now = [] { return api::Timestamp::clock::now(); };
  // The longest the background loop started by Start() sleeps between two Tick() calls;
  // it wakes earlier when a rollout falls due or is added. The bound covers a clock that
  // jumps (or a fake one in tests) and sets how often expired answers are dropped.
  std::chrono::milliseconds tick_period{250};
  // The oldest answer reused by a later tick's identical query (see above); 0 = none.
  api::Duration max_answer_reuse = std::chrono::seconds(15);
};

struct SchedulerStats {
  std::uint64_t evaluations_started = 0;
  std::uint64_t evaluations_skipped = 0;   // due while the previous one was still running
  std::uint64_t queries_sent = 0;          // after deduplication
  std::uint64_t queries_deduplicated = 0;  // served by another rollout's identical query
  std::uint64_t queries_reused = 0;        // served by an answer from an earlier tick
  std::uint64_t queries_failed = 0;        // sent queries that ended in an error
};

class Scheduler {
 public:
  // Receives each finished evaluation with its rollout's key. Runs on a worker thread (or
  // the thread calling Tick()), never under the scheduler's lock: it may call Upsert and
  // Remove, but not Stop.
  using Callback = std::function<void(const std::string& key, api::Evaluation evaluation)>;

  // Starts the worker threads; evaluations begin with Start() or explicit Tick() calls.
  Scheduler(SchedulerOptions options, Callback callback);
  ~Scheduler();  // Stop()
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Adds rollout `key` (e.g. "namespace/name") or replaces its input. A new key, or a
  // changed input (new phase, spec or credentials), is due at once; an unchanged input
  // keeps its schedule. An evaluation still running for an older input is not delivered,
  // and the new input is due as soon as it ends.
  void Upsert(const std::string& key, EvaluationInput input);
  // Forgets `key`; its running evaluation, if any, is not delivered.
  void Remove(const std::string& key);

  // Starts the evaluations of every rollout that is due now and has none in flight, and
  // returns without waiting for them.
  void Tick();

  // Runs Tick() on a background thread until Stop(): whenever a rollout falls due, and at
  // least every tick_period.
  void Start();
  // Stops ticking, drops queries not yet started, waits for the running ones (each ends
  // within its timeout) and joins every thread. Idempotent.
  void Stop();

  SchedulerStats Stats() const;

 private:
  struct Run;
  struct Job;
  struct Entry {
    EvaluationInput input;
    std::uint64_t input_version = 0;
    std::string identity;       // TargetIdentity of the input's server; "" without one
    api::Timestamp next_due{};  // its place in due_
  };

  void WorkerLoop();
  void TickerLoop();
  // With mu_ held: the client for `target`, connected on first use and shared afterwards.
  Result<PrometheusClientPtr> ClientFor(const std::string& identity,
                                        const PrometheusTarget& target);
  // With mu_ held: moves `key` to `due` in the due-time index (Entry::next_due, due_).
  void ScheduleLocked(const std::string& key, Entry& entry, api::Timestamp due);
  // With mu_ held: counts a rollout in or out of the users of a server identity; the
  // client of an identity no rollout uses any more is dropped.
  void UseIdentityLocked(const std::string& identity);
  void ReleaseIdentityLocked(const std::string& identity);
  // Delivers one query's outcome to every waiting evaluation; returns those now complete.
  std::vector<std::shared_ptr<Run>> Deliver(const Job& job, const Result<QueryResult>& outcome);
  void Finish(const std::vector<std::shared_ptr<Run>>& runs);

  const SchedulerOptions options_;
  const Callback callback_;

  mutable std::mutex mu_;
  std::condition_variable work_ready_;
  std::condition_variable ticker_wake_;
  bool stopping_ = false;
  std::map<std::string, Entry> entries_;
  // Every entry by (next_due, key): Tick() takes the due ones from the front, the ticker
  // sleeps until the first.
  std::set<std::pair<api::Timestamp, std::string>> due_;
  // key -> id of its running evaluation. Kept apart from entries_ so a rollout removed and
  // re-added while its evaluation runs still has at most one in flight.
  std::map<std::string, std::uint64_t> in_flight_;
  std::map<std::string, PrometheusClientPtr> clients_;  // by TargetIdentity
  std::map<std::string, std::size_t> identity_users_;   // rollouts per TargetIdentity
  // Queries queued or running, by dedup key, until their answer is delivered; a later
  // evaluation asking the same joins their waiters.
  std::map<std::string, std::shared_ptr<Job>> pending_;
  std::deque<std::shared_ptr<Job>> queue_;
  // Successful answers by dedup key, with the time their query was sent; entries older
  // than max_answer_reuse are dropped by Tick.
  struct Answer {
    QueryResult result;
    api::Timestamp at{};
  };
  std::map<std::string, Answer> answers_;
  api::Timestamp next_answer_purge_{};
  std::uint64_t next_id_ = 1;
  SchedulerStats stats_;

  std::vector<std::thread> workers_;
  std::thread ticker_;
};

}  // namespace agentrollout::analysis
