#include "analysis/scheduler.h"

#include <algorithm>
#include <set>
#include <utility>

namespace agentrollout::analysis {

// One evaluation of one rollout, complete when every metric has its outcome.
struct Scheduler::Run {
  std::string key;
  std::uint64_t id = 0;
  std::uint64_t input_version = 0;
  api::AnalysisSpec spec;
  api::Timestamp at{};
  std::vector<Result<QueryResult>> outcomes;
  std::size_t remaining = 0;  // queries still running; guarded by Scheduler::mu_
};

// One HTTP query, serving every (evaluation, metric) that asked for it in one tick.
struct Scheduler::Job {
  std::string dedup_key;
  api::Timestamp at{};  // when its tick ran
  PrometheusClientPtr client;
  std::string query;
  std::chrono::milliseconds timeout{0};
  std::vector<std::pair<std::shared_ptr<Run>, std::size_t>> waiters;
};

Scheduler::Scheduler(SchedulerOptions options, Callback callback)
    : options_(std::move(options)), callback_(std::move(callback)) {
  const std::size_t count = std::max<std::size_t>(options_.concurrency, 1);
  workers_.reserve(count);
  for (std::size_t i = 0; i < count; ++i) workers_.emplace_back([this] { WorkerLoop(); });
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
    }
    entry.input = std::move(input);
    entry.input_version = next_id_++;
    if (!added) due_.erase({entry.next_due, key});
    entry.next_due = options_.now();
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
  auto node = due_.extract({entry.next_due, key});
  entry.next_due = due;
  node.value().first = due;
  due_.insert(std::move(node));
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
        return answer.second.at + options_.max_answer_reuse < now;
      });
      next_answer_purge_ = now + options_.tick_period;
    }
    while (!due_.empty() && due_.begin()->first <= now) {
      const std::string key = due_.begin()->second;
      Entry& entry = entries_.at(key);
      const api::Duration interval =
          std::max<api::Duration>(entry.input.spec.interval, std::chrono::seconds(1));
      ScheduleLocked(key, entry,
                     entry.next_due + interval > now ? entry.next_due + interval : now + interval);
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
      run->at = now;
      run->outcomes.assign(spec.metrics.size(), Result<QueryResult>(Internal("not evaluated")));
      in_flight_[key] = run->id;
      ++stats_.evaluations_started;

      std::vector<Result<std::string>> queries = RenderQueries(spec, entry.input.vars);
      Result<PrometheusClientPtr> client = Internal("not connected");
      if (!spec.metrics.empty()) {
        Result<PrometheusTarget> target = TargetFor(entry.input);
        client = target.ok() ? ClientFor(entry.identity, *target)
                             : Result<PrometheusClientPtr>(target.error());
      }
      const std::chrono::milliseconds timeout =
          spec.prometheus ? spec.prometheus->timeout : api::PrometheusSpec().timeout;
      const api::Duration reuse = std::min<api::Duration>(interval / 4, options_.max_answer_reuse);
      for (std::size_t i = 0; i < spec.metrics.size(); ++i) {
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
        if (const auto answer = answers_.find(dedup_key);
            answer != answers_.end() && answer->second.at + reuse >= now) {
          run->outcomes[i] = answer->second.result;
          ++stats_.queries_reused;
          continue;
        }
        std::shared_ptr<Job>& job = pending_[dedup_key];
        if (job != nullptr && job->at + reuse >= now) {
          ++stats_.queries_deduplicated;
        } else {
          // (An older query still running keeps serving the evaluations that joined it.)
          job = std::make_shared<Job>();
          job->dedup_key = std::move(dedup_key);
          job->at = now;
          job->client = *client;
          job->query = *queries[i];
          job->timeout = timeout;
          queue_.push_back(job);
          ++stats_.queries_sent;
        }
        job->waiters.emplace_back(run, i);
        ++run->remaining;
      }
      if (run->remaining == 0) complete.push_back(run);
    }
  }
  work_ready_.notify_all();
  Finish(complete);
}

std::vector<std::shared_ptr<Scheduler::Run>> Scheduler::Deliver(
    const Job& job, const Result<QueryResult>& outcome) {
  std::vector<std::shared_ptr<Run>> complete;
  std::lock_guard lock(mu_);
  if (const auto pending = pending_.find(job.dedup_key);
      pending != pending_.end() && pending->second.get() == &job) {
    pending_.erase(pending);  // answered: later evaluations ask again or reuse the answer
  }
  if (!outcome.ok()) {
    ++stats_.queries_failed;
  } else if (options_.max_answer_reuse > api::Duration::zero()) {
    Answer& answer = answers_[job.dedup_key];
    if (answer.at <= job.at) answer = Answer{*outcome, job.at};  // a slower older query loses
  }
  for (const auto& [run, metric] : job.waiters) {
    run->outcomes[metric] = outcome;
    if (--run->remaining == 0) complete.push_back(run);
  }
  return complete;
}

void Scheduler::Finish(const std::vector<std::shared_ptr<Run>>& runs) {
  for (const std::shared_ptr<Run>& run : runs) {
    api::Evaluation evaluation = AssembleEvaluation(run->spec, run->outcomes, run->at);
    bool deliver = false;
    bool due_again = false;
    {
      std::lock_guard lock(mu_);
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

void Scheduler::WorkerLoop() {
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock lock(mu_);
      work_ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    const Result<QueryResult> outcome = job->client->Query(job->query, job->timeout);
    Finish(Deliver(*job, outcome));
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
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    queue_.clear();
    pending_.clear();
  }
  work_ready_.notify_all();
  ticker_wake_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  for (std::thread& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
}

SchedulerStats Scheduler::Stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace agentrollout::analysis
