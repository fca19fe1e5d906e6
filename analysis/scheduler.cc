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
  std::lock_guard lock(mu_);
  auto found = entries_.find(key);
  if (found != entries_.end() && found->second.input == input) return;
  Entry& entry = entries_[key];
  Result<PrometheusTarget> target = TargetFor(input);
  entry.identity = target.ok() ? TargetIdentity(*target) : std::string();
  entry.input = std::move(input);
  entry.input_version = next_id_++;
  entry.next_due = options_.now();
  ForgetUnusedClients();
}

void Scheduler::Remove(const std::string& key) {
  std::lock_guard lock(mu_);
  entries_.erase(key);
  ForgetUnusedClients();
}

void Scheduler::ForgetUnusedClients() {
  std::set<std::string> used;
  for (const auto& [key, entry] : entries_) used.insert(entry.identity);
  std::erase_if(clients_, [&used](const auto& client) { return used.count(client.first) == 0; });
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
    std::erase_if(answers_, [&](const auto& answer) {
      return answer.second.at + options_.max_answer_reuse < now;
    });
    std::map<std::string, std::shared_ptr<Job>> jobs;  // this tick's, by dedup key
    for (auto& [key, entry] : entries_) {
      if (entry.next_due > now) continue;
      const api::Duration interval =
          std::max<api::Duration>(entry.input.spec.interval, std::chrono::seconds(1));
      entry.next_due = entry.next_due + interval > now ? entry.next_due + interval : now + interval;
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
        std::shared_ptr<Job>& job = jobs[dedup_key];
        if (job == nullptr) {
          job = std::make_shared<Job>();
          job->dedup_key = std::move(dedup_key);
          job->at = now;
          job->client = *client;
          job->query = *queries[i];
          job->timeout = timeout;
          queue_.push_back(job);
          ++stats_.queries_sent;
        } else {
          ++stats_.queries_deduplicated;
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
        if (!deliver) entry->second.next_due = options_.now();
      }
    }
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
    ticker_wake_.wait_for(lock, options_.tick_period, [this] { return stopping_; });
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
