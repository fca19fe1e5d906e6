// Evaluations for many rollouts: each rollout is evaluated every analysis.interval, at the
// moment it falls due (the ticker sleeps until the earliest due time; where in the interval
// each rollout falls is under "Spread" below), and the queries of all rollouts run on one pool of
// worker threads. Identical queries (same server, same credentials, same rendered PromQL, same
// timeout) are sent once: a query still in flight serves every evaluation that asks for it
// meanwhile.
//
// An answer is also reused by identical queries of later evaluations, while it is younger
// than a quarter of the asking rollout's interval and than max_answer_reuse: rollouts of
// one agent version fall due at scattered times, and at 10,000 rollouts sending each of
// their queries again was most of the operator's requests (docs/benchmarks.md). For the
// rollout this is as if its evaluation had run up to that much earlier: 15 s at most at a
// 1m interval, 250 ms at 1s. Failed queries are never reused; a query in flight is shared
// within the same bound.
//
// Evidence is fresh (API.md §3.1): an evaluation uses only answers to queries sent after
// its rollout's input last changed (the Upsert of a new phase, which the reconciler makes
// once the phase's flag and traffic writes are confirmed). Neither a reused answer nor a
// query already sent on another rollout's behalf is carried across that moment; a query
// still queued is, since it has not been sent yet. Evaluation::measured_from says when
// the oldest query whose answer an evaluation used was sent.
//
// Rollouts are isolated (API.md §3.1): a hung server must not take the threads another
// rollout needs. Each rollout has a queue of its own, and a speed learnt from its last
// query: fast (it ended within `stall_after`), slow (it ran longer: its server is slow or
// hung) or not known yet (a rollout just added). Queries start round-robin between the
// rollouts of a speed:
// - fast rollouts first, then unknown ones, share `concurrency` running queries; unknown
//   ones may hold at most concurrency - max(1, concurrency / 4) of them, so a fast rollout
//   always finds a slot once another fast query ends; each rollout at most its share,
//   max(1, ceil(concurrency / rollouts waiting));
// - a query that runs for stall_after (seen at the next tick) frees its slot, keeping
//   its thread until it ends within its timeout, and makes its rollout slow;
// - a slow rollout runs one query at a time outside those slots; a server has at most
//   `concurrency` queries of slow rollouts running (rollouts of unknown speed wait for
//   that too); when a query ends within stall_after its rollout is fast again.
// So rollouts pointed at hung servers hold one thread each (at most `concurrency` per
// server) and take a shared slot for stall_after only while they are not known to be
// slow; the threads of the pool grow with them and shrink again, keeping `concurrency`
// idle ones.
//
// Spread: a new input is due at once, and its later evaluations fall on a grid of the
// rollout's own, one interval apart at an offset from the clock's epoch set by a hash of
// its key (as Prometheus spreads its scrapes): the evaluation after the first is the
// first grid point at least half an interval later, then one every interval. Rollouts
// registered together (the whole fleet at the operator's start) would otherwise stay
// together for good, one interval after where the first pass put them: their queries,
// status writes and rollbacks would come in waves, and the No-Go verdicts of rollouts
// that fail one after another would arrive together and queue behind each other's
// writes. The offset depends on the key only, so a restarted operator keeps the grid.
//
// No pile-up: a rollout has at most one evaluation in flight. When it falls due while
// the previous one is still running (Prometheus slow or down), that slot is skipped, not
// queued, so the queues never hold more than one evaluation per rollout.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "analysis/evaluator.h"

namespace agentrollout::analysis {

struct SchedulerOptions {
  // Queries of fast and new rollouts running at once (see above); also the most queries
  // of slow rollouts in flight to one server, and the idle worker threads kept.
  std::size_t concurrency = 8;
  // How long a query runs before it frees its slot and its rollout counts as slow.
  api::Duration stall_after = std::chrono::seconds(1);
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
  // Where in its interval a rollout's evaluations fall (see "Spread" above). false: each
  // one interval after the last, wherever the first fell (tests that count intervals).
  bool spread_evaluations = true;
};

struct SchedulerStats {
  std::uint64_t evaluations_started = 0;
  std::uint64_t evaluations_skipped = 0;   // due while the previous one was still running
  std::uint64_t queries_sent = 0;          // after deduplication
  std::uint64_t queries_deduplicated = 0;  // served by another rollout's identical query
  std::uint64_t queries_reused = 0;        // served by an answer from an earlier tick
  std::uint64_t queries_failed = 0;        // sent queries that ended in an error
  std::uint64_t queries_stalled = 0;       // ran longer than stall_after
  std::uint64_t threads_started = 0;       // worker threads, the first `concurrency` included
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
  enum class Speed { kUnknown, kFast, kSlow };
  static constexpr std::size_t kSpeeds = 3;
  struct Entry {
    EvaluationInput input;
    std::uint64_t input_version = 0;
    api::Timestamp input_since{};   // when the input last changed: answers must be newer
    std::string identity;           // TargetIdentity of the input's server; "" without one
    api::Timestamp next_due{};      // its place in due_
    Speed speed = Speed::kUnknown;  // kept while its lane comes and goes
  };
  // The queries one rollout asked for (it owns the jobs it created; evaluations joining
  // them wait on its turn), waiting or running. Exists while it has any.
  struct Lane {
    std::deque<std::shared_ptr<Job>> waiting;
    std::size_t running = 0;
    Speed speed = Speed::kUnknown;
  };

  void WorkerLoop(std::uint64_t id);
  // With mu_ held: starts waiting queries within the bounds described above, and threads
  // so each started query has one.
  void DispatchLocked();
  // With mu_ held: starts queries of `speed`'s lanes round-robin while `may_start` allows;
  // returns whether it started any.
  bool RoundRobinLocked(Speed speed, api::Timestamp now);
  void StartLocked(const std::string& key, Lane& lane, api::Timestamp now);
  // With mu_ held: sets a lane's speed (and its entry's), keeping ready_ in step.
  void SetSpeedLocked(const std::string& key, Lane& lane, Speed speed);
  // With mu_ held: a worker thread, counted idle until it takes a query; false when the
  // system has no thread to give.
  bool StartThreadLocked();
  // With mu_ held: queries running for stall_after or longer free their slot.
  void MarkStalledLocked(api::Timestamp now);
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
  // Delivers one query's outcome to every waiting evaluation, frees its slot and starts
  // what may start now; returns the evaluations now complete.
  std::vector<std::shared_ptr<Run>> Deliver(const std::shared_ptr<Job>& job,
                                            const Result<QueryResult>& outcome);
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
  // Rollout key -> its queries waiting or running.
  std::map<std::string, Lane> lanes_;
  // By speed: the keys of lanes with queries waiting, and the lane served last.
  std::array<std::set<std::string>, kSpeeds> ready_;
  std::array<std::string, kSpeeds> last_served_;
  std::size_t slots_used_ = 0;          // running queries holding a slot: <= concurrency
  std::size_t unknown_slots_used_ = 0;  // of those, by rollouts of unknown speed
  std::map<std::string, std::size_t> slow_running_;  // by TargetIdentity, without a slot
  std::set<std::shared_ptr<Job>> running_;           // for MarkStalledLocked
  std::deque<std::shared_ptr<Job>> started_;         // started, not yet taken by a thread
  // Successful answers by dedup key, with the time their query was sent; entries older
  // than max_answer_reuse are dropped by Tick.
  struct Answer {
    QueryResult result;
    api::Timestamp sent{};
  };
  std::map<std::string, Answer> answers_;
  api::Timestamp next_answer_purge_{};
  std::uint64_t next_id_ = 1;
  SchedulerStats stats_;

  std::map<std::uint64_t, std::thread> workers_;  // by id
  std::size_t idle_workers_ = 0;
  std::thread exited_;  // the last worker that ended; joined by the next one, or by Stop
  std::thread ticker_;
};

}  // namespace agentrollout::analysis
