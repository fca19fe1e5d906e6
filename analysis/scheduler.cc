#include "analysis/scheduler.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <set>
#include <string_view>
#include <system_error>
#include <utility>

#include "agentrollout/flag_client.h"

namespace agentrollout::analysis {

// One evaluation of one rollout, complete when every metric has its outcome.
struct Scheduler::Run {
  std::string key;
  std::uint64_t id = 0;
  std::uint64_t input_version = 0;
  api::AnalysisSpec spec;
  TemplateVars vars;
  api::Timestamp at{};
  std::vector<Result<QueryResult>> outcomes;  // one per query (RenderQueries' order)
  // The fields below are guarded by Scheduler::mu_.
  std::size_t remaining = 0;  // queries still running
  // When the oldest query whose answer (or failure) it used was sent; max() while none.
  api::Timestamp measured_from = api::Timestamp::max();
};

// One HTTP query, serving every (evaluation, query) that asked for it meanwhile.
struct Scheduler::Job {
  std::string dedup_key;
  std::string lane;      // the rollout whose evaluation created it
  std::string identity;  // its server's TargetIdentity
  api::Timestamp at{};   // when its tick ran
  PrometheusClientPtr client;
  std::string query;
  std::chrono::milliseconds timeout{0};
  // The fields below are guarded by Scheduler::mu_.
  std::optional<api::Timestamp> sent;  // when it was started; unset while waiting
  bool holds_slot = false;             // one of the `concurrency` slots
  bool unknown = false;                // ... taken by a lane of unknown speed
  bool slow = false;                   // started as or became a slow query
  std::vector<std::pair<std::shared_ptr<Run>, std::size_t>> waiters;
};

namespace {

std::size_t Limit(const SchedulerOptions& options) {
  return std::max<std::size_t>(options.concurrency, 1);
}

// The slots rollouts of unknown speed may hold: the rest is kept for fast ones.
std::size_t UnknownLimit(const SchedulerOptions& options) {
  const std::size_t limit = Limit(options);
  return std::max<std::size_t>(1, limit - std::max<std::size_t>(1, limit / 4));
}

// The first point of `key`'s grid (see "Spread" in the header) at or after `earliest`.
api::Timestamp SlotAtOrAfter(std::string_view key, api::Duration interval,
                             api::Timestamp earliest) {
  using Ticks = api::Timestamp::duration;
  const Ticks::rep period = std::chrono::duration_cast<Ticks>(interval).count();
  // murmur3 / 2^32 is a fraction in [0, 1): the offset is in [0, interval).
  const auto offset = static_cast<Ticks::rep>(static_cast<double>(period) *
                                              (flag::murmur3_x86_32(key) / 4294967296.0));
  const Ticks::rep into_period =
      ((earliest.time_since_epoch().count() - offset) % period + period) % period;
  return into_period == 0 ? earliest : earliest + Ticks(period - into_period);
}

}  // namespace

Scheduler::Scheduler(SchedulerOptions options, Callback callback)
    : options_(std::move(options)), callback_(std::move(callback)) {
  std::lock_guard lock(mu_);
  for (std::size_t i = 0; i < Limit(options_); ++i) StartThreadLocked();
}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Upsert(const std::string& key, EvaluationInput input) {
  {
    std::lock_guard lock(mu_);
    auto found = entries_.find(key);
    if (found != entries_.end() && found->second.input == input) return;
    const bool added = found == entries_.end();
    Entry& entry = added ? entries_[key] : found->second;
    Result<PrometheusTarget> target = TargetFor(input);
    std::string identity = target.ok() ? TargetIdentity(*target) : std::string();
    if (added || identity != entry.identity) {
      UseIdentityLocked(identity);
      if (!added) ReleaseIdentityLocked(entry.identity);
      entry.identity = std::move(identity);
      entry.speed = Speed::kUnknown;  // another server
    }
    entry.input = std::move(input);
    entry.input_version = next_id_++;
    entry.input_since = options_.now();
    if (!added) due_.erase({entry.next_due, key});
    entry.next_due = entry.input_since;
    due_.emplace(entry.next_due, key);
  }
  ticker_wake_.notify_one();  // due at once, not at the ticker's next bound
}

void Scheduler::Remove(const std::string& key) {
  std::lock_guard lock(mu_);
  const auto found = entries_.find(key);
  if (found == entries_.end()) return;
  due_.erase({found->second.next_due, key});
  ReleaseIdentityLocked(found->second.identity);
  entries_.erase(found);
}

void Scheduler::ScheduleLocked(const std::string& key, Entry& entry, api::Timestamp due) {
  due_.erase({entry.next_due, key});
  entry.next_due = due;
  due_.emplace(due, key);
}

void Scheduler::UseIdentityLocked(const std::string& identity) { ++identity_users_[identity]; }

void Scheduler::ReleaseIdentityLocked(const std::string& identity) {
  const auto users = identity_users_.find(identity);
  if (users == identity_users_.end() || --users->second > 0) return;
  identity_users_.erase(users);
  clients_.erase(identity);
}

Result<PrometheusClientPtr> Scheduler::ClientFor(const std::string& identity,
                                                 const PrometheusTarget& target) {
  if (auto found = clients_.find(identity); found != clients_.end()) return found->second;
  Result<PrometheusClientPtr> client = options_.connect(target);
  if (client.ok()) clients_.emplace(identity, *client);
  return client;
}

void Scheduler::Tick() {
  std::vector<std::shared_ptr<Run>> complete;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    const api::Timestamp now = options_.now();
    if (now >= next_answer_purge_) {
      std::erase_if(answers_, [&](const auto& answer) {
        return answer.second.sent + options_.max_answer_reuse < now;
      });
      next_answer_purge_ = now + options_.tick_period;
    }
    MarkStalledLocked(now);
    while (!due_.empty() && due_.begin()->first <= now) {
      const std::string key = due_.begin()->second;
      Entry& entry = entries_.at(key);
      const api::Duration interval =
          std::max<api::Duration>(entry.input.spec.interval, std::chrono::seconds(1));
      ScheduleLocked(key, entry,
                     options_.spread_evaluations ? SlotAtOrAfter(key, interval, now + interval / 2)
                     : entry.next_due + interval > now ? entry.next_due + interval
                                                       : now + interval);
      if (in_flight_.count(key) > 0) {
        ++stats_.evaluations_skipped;
        continue;
      }
      const api::AnalysisSpec& spec = entry.input.spec;
      auto run = std::make_shared<Run>();
      run->key = key;
      run->id = next_id_++;
      run->input_version = entry.input_version;
      run->spec = spec;
      run->vars = entry.input.vars;
      run->at = now;
      run->outcomes.assign(QueryCount(spec), Result<QueryResult>(Internal("not evaluated")));
      in_flight_[key] = run->id;
      ++stats_.evaluations_started;

      std::vector<Result<std::string>> queries =
          RenderQueries(spec, entry.input.vars,
                        std::chrono::duration_cast<api::Duration>(now - entry.input.phase_started));
      Result<PrometheusClientPtr> client = Internal("not connected");
      if (!queries.empty()) {
        Result<PrometheusTarget> target = TargetFor(entry.input);
        client = target.ok() ? ClientFor(entry.identity, *target)
                             : Result<PrometheusClientPtr>(target.error());
      }
      const std::chrono::milliseconds timeout =
          spec.prometheus ? spec.prometheus->timeout : api::PrometheusSpec().timeout;
      const api::Duration reuse = std::min<api::Duration>(interval / 4, options_.max_answer_reuse);
      for (std::size_t i = 0; i < queries.size(); ++i) {
        if (!queries[i].ok()) {
          run->outcomes[i] = queries[i].error();
          continue;
        }
        if (!client.ok()) {
          run->outcomes[i] = client.error();
          continue;
        }
        std::string dedup_key =
            entry.identity + "\n" + std::to_string(timeout.count()) + "\n" + *queries[i];
        // Only answers to queries sent since the input changed (a new phase's traffic
        // shift, say) are evidence for it; a query not sent yet will be sent after.
        const auto fresh = [&](api::Timestamp sent) { return sent >= entry.input_since; };
        if (const auto answer = answers_.find(dedup_key); answer != answers_.end() &&
                                                          answer->second.sent + reuse >= now &&
                                                          fresh(answer->second.sent)) {
          run->outcomes[i] = answer->second.result;
          run->measured_from = std::min(run->measured_from, answer->second.sent);
          ++stats_.queries_reused;
          continue;
        }
        std::shared_ptr<Job>& job = pending_[dedup_key];
        if (job != nullptr && job->at + reuse >= now && (!job->sent || fresh(*job->sent))) {
          ++stats_.queries_deduplicated;
        } else {
          // (An older query still running keeps serving the evaluations that joined it.)
          job = std::make_shared<Job>();
          job->dedup_key = std::move(dedup_key);
          job->lane = key;
          job->identity = entry.identity;
          job->at = now;
          job->client = *client;
          job->query = *queries[i];
          job->timeout = timeout;
          auto [lane, created] = lanes_.try_emplace(key);
          if (created) lane->second.speed = entry.speed;
          lane->second.waiting.push_back(job);
          ready_[static_cast<std::size_t>(lane->second.speed)].insert(key);
          ++stats_.queries_sent;
        }
        job->waiters.emplace_back(run, i);
        ++run->remaining;
      }
      if (run->remaining == 0) complete.push_back(run);
    }
    DispatchLocked();
  }
  Finish(complete);
}

void Scheduler::SetSpeedLocked(const std::string& key, Lane& lane, Speed speed) {
  if (const auto entry = entries_.find(key); entry != entries_.end()) entry->second.speed = speed;
  if (lane.speed == speed) return;
  if (!lane.waiting.empty()) {
    ready_[static_cast<std::size_t>(lane.speed)].erase(key);
    ready_[static_cast<std::size_t>(speed)].insert(key);
  }
  lane.speed = speed;
}

void Scheduler::StartLocked(const std::string& key, Lane& lane, api::Timestamp now) {
  std::shared_ptr<Job> job = std::move(lane.waiting.front());
  lane.waiting.pop_front();
  if (lane.waiting.empty()) ready_[static_cast<std::size_t>(lane.speed)].erase(key);
  ++lane.running;
  if (lane.speed == Speed::kSlow) {
    job->slow = true;
    ++slow_running_[job->identity];
  } else {
    job->holds_slot = true;
    ++slots_used_;
    job->unknown = lane.speed == Speed::kUnknown;
    if (job->unknown) ++unknown_slots_used_;
  }
  job->sent = now;
  running_.insert(job);
  started_.push_back(std::move(job));
  last_served_[static_cast<std::size_t>(lane.speed)] = key;
}

bool Scheduler::RoundRobinLocked(Speed speed, api::Timestamp now) {
  const std::size_t limit = Limit(options_);
  const std::set<std::string>& ready = ready_[static_cast<std::size_t>(speed)];
  const auto server_has_room = [&](const Lane& lane) {
    const auto server = slow_running_.find(lane.waiting.front()->identity);
    return server == slow_running_.end() || server->second < limit;
  };
  const auto may_start = [&](const Lane& lane) {
    switch (speed) {
      case Speed::kSlow:
        return lane.running == 0 && server_has_room(lane);
      case Speed::kUnknown:
        // A new rollout of a server that already hangs `concurrency` queries waits too.
        if (unknown_slots_used_ >= UnknownLimit(options_) || !server_has_room(lane)) return false;
        [[fallthrough]];
      case Speed::kFast: {
        if (slots_used_ >= limit) return false;
        const std::size_t waiting = ready_[static_cast<std::size_t>(Speed::kFast)].size() +
                                    ready_[static_cast<std::size_t>(Speed::kUnknown)].size();
        const std::size_t share = std::max<std::size_t>(1, (limit + waiting - 1) / waiting);
        return lane.running < share;
      }
    }
    return false;
  };
  // Fast and unknown lanes share the slots: once they are taken no such lane may start, and
  // the rest of the round is skipped. (Visiting every ready lane on each call, thousands
  // after a burst of verdicts, was a tenth of the operator's CPU in a rollback burst.)
  const auto out_of_slots = [&] {
    return speed != Speed::kSlow &&
           (slots_used_ >= limit ||
            (speed == Speed::kUnknown && unknown_slots_used_ >= UnknownLimit(options_)));
  };
  bool started = false;
  for (bool round_started = true; round_started && !ready.empty();) {
    // One round: each lane, from the one after the last served, starts at most one query.
    round_started = false;
    const std::size_t lanes = ready.size();
    std::string next = last_served_[static_cast<std::size_t>(speed)];
    for (std::size_t visited = 0; visited < lanes && !ready.empty() && !out_of_slots(); ++visited) {
      auto key = ready.upper_bound(next);
      if (key == ready.end()) key = ready.begin();
      next = *key;
      Lane& lane = lanes_.at(next);
      if (!may_start(lane)) continue;
      StartLocked(next, lane, now);
      round_started = started = true;
    }
  }
  return started;
}

void Scheduler::DispatchLocked() {
  if (stopping_) return;
  const api::Timestamp now = options_.now();
  bool started = RoundRobinLocked(Speed::kFast, now);
  started = RoundRobinLocked(Speed::kUnknown, now) || started;
  started = RoundRobinLocked(Speed::kSlow, now) || started;
  if (!started) return;
  while (idle_workers_ < started_.size() && StartThreadLocked()) {
  }
  work_ready_.notify_all();
}

void Scheduler::MarkStalledLocked(api::Timestamp now) {
  for (const std::shared_ptr<Job>& job : running_) {
    if (job->slow || *job->sent + options_.stall_after > now) continue;
    job->slow = true;
    job->holds_slot = false;
    --slots_used_;
    if (std::exchange(job->unknown, false)) --unknown_slots_used_;
    ++slow_running_[job->identity];
    ++stats_.queries_stalled;
    if (const auto lane = lanes_.find(job->lane); lane != lanes_.end()) {
      SetSpeedLocked(lane->first, lane->second, Speed::kSlow);
    }
  }
}

bool Scheduler::StartThreadLocked() {
  const std::uint64_t id = next_id_++;
  try {
    workers_.emplace(id, std::thread([this, id] { WorkerLoop(id); }));
  } catch (const std::system_error&) {
    return false;  // out of threads: the query waits for a running one to end
  }
  ++idle_workers_;  // until it takes a query
  ++stats_.threads_started;
  return true;
}

std::vector<std::shared_ptr<Scheduler::Run>> Scheduler::Deliver(
    const std::shared_ptr<Job>& job, const Result<QueryResult>& outcome) {
  std::vector<std::shared_ptr<Run>> complete;
  std::lock_guard lock(mu_);
  if (const auto pending = pending_.find(job->dedup_key);
      pending != pending_.end() && pending->second == job) {
    pending_.erase(pending);  // answered: later evaluations ask again or reuse the answer
  }
  const api::Timestamp sent = *job->sent;
  if (!outcome.ok()) {
    ++stats_.queries_failed;
  } else if (options_.max_answer_reuse > api::Duration::zero()) {
    Answer& answer = answers_[job->dedup_key];
    if (answer.sent <= sent) answer = Answer{*outcome, sent};  // a slower older query loses
  }
  for (const auto& [run, query] : job->waiters) {
    run->outcomes[query] = outcome;
    run->measured_from = std::min(run->measured_from, sent);
    if (--run->remaining == 0) complete.push_back(run);
  }
  // Its slot is free, and its rollout's speed known.
  running_.erase(job);
  if (job->holds_slot) {
    --slots_used_;
    if (job->unknown) --unknown_slots_used_;
  } else if (const auto server = slow_running_.find(job->identity);
             server != slow_running_.end() && --server->second == 0) {
    slow_running_.erase(server);
  }
  if (const auto lane = lanes_.find(job->lane); lane != lanes_.end()) {
    const bool fast = options_.now() < sent + options_.stall_after;
    SetSpeedLocked(lane->first, lane->second, fast ? Speed::kFast : Speed::kSlow);
    if (--lane->second.running == 0 && lane->second.waiting.empty()) lanes_.erase(lane);
  }
  DispatchLocked();
  return complete;
}

void Scheduler::Finish(const std::vector<std::shared_ptr<Run>>& runs) {
  for (const std::shared_ptr<Run>& run : runs) {
    api::Evaluation evaluation = AssembleEvaluation(run->spec, run->vars, run->outcomes, run->at);
    bool deliver = false;
    bool due_again = false;
    {
      std::lock_guard lock(mu_);
      // Without any query (an empty table, or none could be sent) nothing older was used.
      evaluation.measured_from =
          run->measured_from == api::Timestamp::max() ? run->at : run->measured_from;
      if (auto found = in_flight_.find(run->key);
          found != in_flight_.end() && found->second == run->id) {
        in_flight_.erase(found);
      }
      const auto entry = entries_.find(run->key);
      if (entry != entries_.end()) {
        deliver = !stopping_ && entry->second.input_version == run->input_version;
        // A stale result is dropped, so the current input is due at once instead of waiting
        // a whole interval after the slot its Upsert made due was skipped.
        if (!deliver) {
          ScheduleLocked(run->key, entry->second, options_.now());
          due_again = true;
        }
      }
    }
    if (due_again) ticker_wake_.notify_one();
    if (deliver) callback_(run->key, std::move(evaluation));
  }
}

void Scheduler::WorkerLoop(std::uint64_t id) {
  std::unique_lock lock(mu_);
  for (;;) {  // counted in idle_workers_ here
    work_ready_.wait(lock, [this] { return stopping_ || !started_.empty(); });
    --idle_workers_;
    if (stopping_) return;
    std::shared_ptr<Job> job = std::move(started_.front());
    started_.pop_front();
    lock.unlock();
    const Result<QueryResult> outcome = job->client->Query(job->query, job->timeout);
    Finish(Deliver(job, outcome));
    lock.lock();
    if (!stopping_ && started_.empty() && idle_workers_ >= Limit(options_)) {
      // Enough threads are idle (this one ran a stalled query, say): it ends, and joins
      // the one that ended before it.
      const auto self = workers_.find(id);
      std::thread previous = std::exchange(exited_, std::move(self->second));
      workers_.erase(self);
      lock.unlock();
      if (previous.joinable()) previous.join();
      return;
    }
    ++idle_workers_;
  }
}

void Scheduler::TickerLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    Tick();
    lock.lock();
    // Until the first rollout falls due (read under the lock, so an Upsert since Tick()
    // is seen), at most tick_period; Upsert and Stop wake it earlier.
    auto wait = std::chrono::duration_cast<std::chrono::microseconds>(options_.tick_period);
    if (!due_.empty()) {
      const auto until_due = std::chrono::duration_cast<std::chrono::microseconds>(
          due_.begin()->first - options_.now());
      wait =
          std::clamp(until_due + std::chrono::microseconds(1), std::chrono::microseconds(0), wait);
    }
    // stopping_ is read under the same lock Stop() sets it with, so its wake-up is not lost.
    if (!stopping_ && wait > std::chrono::microseconds(0)) ticker_wake_.wait_for(lock, wait);
  }
}

void Scheduler::Start() {
  std::lock_guard lock(mu_);
  if (stopping_ || ticker_.joinable()) return;
  ticker_ = std::thread([this] { TickerLoop(); });
}

void Scheduler::Stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (auto& [key, lane] : lanes_) lane.waiting.clear();
    for (std::set<std::string>& ready : ready_) ready.clear();
    started_.clear();
    pending_.clear();
    // Workers no longer end on their own once stopping_ is set: these are all of them.
    for (auto& [id, worker] : workers_) threads.push_back(std::move(worker));
    workers_.clear();
    threads.push_back(std::move(exited_));
  }
  work_ready_.notify_all();
  ticker_wake_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  for (std::thread& worker : threads) {
    if (worker.joinable()) worker.join();
  }
}

SchedulerStats Scheduler::Stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace agentrollout::analysis
