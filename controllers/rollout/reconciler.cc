#include "controllers/rollout/reconciler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "analysis/table.h"
#include "analysis/template.h"
#include "api/names.h"
#include "kube/resource_version.h"
#include "kube/secret_data.h"

namespace agentrollout::controllers {
namespace {

using Seconds = operator_::Metrics::Seconds;

// Bounds the memory of superseded resourceVersions per key (a cache is rarely more than
// a write or two behind).
constexpr std::size_t kMaxSuperseded = 16;

api::Timestamp WholeSeconds(api::Timestamp time) {
  return std::chrono::time_point_cast<api::Timestamp::duration>(
      std::chrono::floor<std::chrono::seconds>(time));
}

// Counts every query of the go/no-go tables in the operator metrics.
class InstrumentedPrometheusClient final : public analysis::PrometheusClient {
 public:
  InstrumentedPrometheusClient(analysis::PrometheusClientPtr inner, operator_::Metrics& metrics)
      : inner_(std::move(inner)), metrics_(metrics) {}

  Result<analysis::QueryResult> Query(std::string_view promql,
                                      std::chrono::milliseconds timeout) override {
    const auto start = std::chrono::steady_clock::now();
    auto result = inner_->Query(promql, timeout);
    metrics_.ObserveAnalysisQuery(result.ok() ? OkStatus() : Status(result.error()),
                                  std::chrono::steady_clock::now() - start);
    return result;
  }

 private:
  const analysis::PrometheusClientPtr inner_;
  operator_::Metrics& metrics_;
};

analysis::SchedulerOptions Instrumented(analysis::SchedulerOptions options,
                                        operator_::Metrics& metrics) {
  options.connect =
      [connect = std::move(options.connect), &metrics](
          const analysis::PrometheusTarget& target) -> Result<analysis::PrometheusClientPtr> {
    auto client = connect(target);
    if (!client.ok()) return client.error();
    return analysis::PrometheusClientPtr(
        std::make_shared<InstrumentedPrometheusClient>(std::move(*client), metrics));
  };
  return options;
}

kube::InformerOptions InformerOptionsFor(const ReconcilerOptions& options,
                                         std::shared_ptr<spdlog::logger> logger) {
  kube::InformerOptions informer;
  informer.reflector.resource = kAgentRollouts;
  informer.reflector.namespace_ = options.namespace_;
  informer.reflector.clock = options.clock;
  informer.resync_period = options.resync_period;
  informer.on_decode_error = [logger](const std::string& key, const Error& error) {
    logger->error("agentrollout {} cannot be read and is ignored: {}", key, error.ToString());
  };
  return informer;
}

// Whether the object carries the `abort` action (API.md §7).
bool AbortRequested(const api::ObjectMeta& metadata) {
  const auto action = metadata.annotations.find(api::kActionAnnotation);
  return action != metadata.annotations.end() && action->second == "abort";
}

// Why a rollback that `execution` persisted started (for agentrollout_rollbacks_total).
operator_::RollbackReason RollbackReasonOf(const Execution& execution) {
  const Input& input = execution.input;
  if (AbortRequested(input.metadata) && input.status.handled_action != "abort") {
    return operator_::RollbackReason::kManual;
  }
  if (input.evaluation) {
    auto outcome =
        analysis::Accumulate(input.spec.analysis, input.status.analysis, *input.evaluation);
    if (outcome.trigger) return operator_::RollbackReasonOf(outcome.trigger->kind);
  }
  return operator_::RollbackReason::kNoGo;
}

}  // namespace

Reconciler::Reconciler(kube::ClientPtr client, Executor& executor, operator_::Metrics& metrics,
                       ReconcilerOptions options)
    : client_(std::move(client)),
      executor_(executor),
      metrics_(metrics),
      options_(std::move(options)),
      logger_(options_.logger ? options_.logger : spdlog::default_logger()),
      queue_(options_.rate_limiter, options_.clock),
      informer_(client_, InformerOptionsFor(options_, logger_), DecodeObservedRollout) {
  scheduler_ = std::make_unique<analysis::Scheduler>(
      Instrumented(options_.scheduler, metrics_),
      [this](const std::string& key, api::Evaluation evaluation) {
        OnEvaluation(key, std::move(evaluation));
      });
  auto enqueue = [this](const std::shared_ptr<const ObservedRollout>& rollout) {
    Enqueue(kube::ObjectKey(rollout->metadata.namespace_, rollout->metadata.name));
  };
  informer_.AddEventHandlers(
      {enqueue,
       [this](const std::shared_ptr<const ObservedRollout>& old_rollout,
              const std::shared_ptr<const ObservedRollout>& rollout) {
         OnUpdate(*old_rollout, rollout);
       },
       [this](const std::shared_ptr<const ObservedRollout>& last_known) { OnDelete(last_known); }});
}

Reconciler::~Reconciler() { Stop(); }

void Reconciler::StartCaches() { informer_.Start(); }

bool Reconciler::HasSynced() const { return informer_.HasSynced(); }

bool Reconciler::WaitForSync(std::chrono::milliseconds timeout) const {
  return informer_.WaitForSync(timeout);
}

void Reconciler::StartWorkers() {
  std::lock_guard lock(lifecycle_mu_);
  if (workers_started_ || stopped_) return;
  workers_started_ = true;
  scheduler_->Start();
  for (int i = 0; i < std::max(1, options_.concurrency); ++i) {
    workers_.emplace_back([this] { Worker(); });
  }
}

void Reconciler::Stop() {
  std::lock_guard lock(lifecycle_mu_);
  if (stopped_) return;
  stopped_ = true;
  stopping_ = true;
  queue_.ShutDown();
  for (std::thread& worker : workers_) worker.join();  // running reconciles finish
  workers_.clear();
  scheduler_->Stop();
  informer_.Stop();
}

void Reconciler::Enqueue(const std::string& key, Urgency urgency) {
  if (urgency == Urgency::kUrgent) {
    queue_.AddUrgent(key);
  } else {
    queue_.Add(key);
  }
  metrics_.CountWorkqueueAdd();
  metrics_.SetWorkqueueDepth(static_cast<std::int64_t>(queue_.Len()));
}

void Reconciler::OnUpdate(const ObservedRollout& old_rollout,
                          const std::shared_ptr<const ObservedRollout>& rollout) {
  const std::string key = kube::ObjectKey(rollout->metadata.namespace_, rollout->metadata.name);
  const std::string& version = rollout->metadata.resource_version;
  if (version != old_rollout.metadata.resource_version) {
    std::lock_guard lock(mu_);
    const auto state = keys_.find(key);
    if (state != keys_.end()) {
      // The same generation is the same spec: point at the cache's object instead of
      // keeping a superseded one alive beside it (a second copy of every rollout whose
      // last event was our own status write).
      std::shared_ptr<const ObservedRollout>& last_valid = state->second.last_valid;
      if (last_valid && last_valid->metadata.generation == rollout->metadata.generation) {
        last_valid = rollout;
      }
      if (state->second.reconciling) {
        state->second.versions_seen_while_reconciling.push_back(version);
        return;
      }
      if (state->second.decided_version == version) return;
    }
  }
  // `abort` is a total rollback (API.md §7): as urgent as a No-Go verdict.
  Enqueue(key, AbortRequested(rollout->metadata) ? Urgency::kUrgent : Urgency::kRoutine);
}

void Reconciler::OnDelete(const std::shared_ptr<const ObservedRollout>& last_known) {
  const std::string key =
      kube::ObjectKey(last_known->metadata.namespace_, last_known->metadata.name);
  {
    std::lock_guard lock(mu_);
    keys_[key].deleted = last_known;
  }
  Enqueue(key);
}

void Reconciler::ReleaseGone(const std::string& key, const ObservedRollout& last_known) {
  Input input = MakeInput(last_known, std::nullopt, options_.now());
  if (!input.metadata.deletion_timestamp) input.metadata.deletion_timestamp = input.now;
  input.metadata.finalizers.clear();  // gone: no finalizer holds it any more
  const Execution execution = executor_.Execute(std::move(input));
  if (!execution.result.ok()) {
    logger_->warn("{} is gone; releasing its flag entries failed, they still name it: {}", key,
                  execution.result.error().ToString());
  }
}

void Reconciler::OnEvaluation(const std::string& key, api::Evaluation evaluation) {
  const api::Verdict verdict = evaluation.verdict;
  metrics_.CountVerdict(verdict);
  {
    std::lock_guard lock(mu_);
    KeyState& state = keys_[key];
    if (state.evaluation && state.evaluation->at > evaluation.at) return;  // out of order
    state.evaluation = std::move(evaluation);
  }
  // A rollback must not wait behind the routine reconciles of a large fleet.
  Enqueue(key, verdict == api::Verdict::kNoGo ? Urgency::kUrgent : Urgency::kRoutine);
}

void Reconciler::Worker() {
  while (auto key = queue_.Get()) {
    metrics_.SetWorkqueueDepth(static_cast<std::int64_t>(queue_.Len()));
    // A bug met by one rollout must not take a worker (and with it every rollout's
    // rollbacks) down: counted, logged, and the key retried with backoff.
    try {
      if (!stopping_) Process(*key);
    } catch (const std::exception& e) {
      Survive(*key, e.what());
    } catch (...) {
      Survive(*key, "unknown exception");
    }
    queue_.Done(*key);
  }
}

void Reconciler::Survive(const std::string& key, const char* what) {
  {
    std::lock_guard lock(mu_);
    if (const auto state = keys_.find(key); state != keys_.end()) {
      state->second.reconciling = false;
      state->second.versions_seen_while_reconciling.clear();
    }
  }
  logger_->error("reconcile of {} threw, retrying: {}", key, what);
  metrics_.ObserveReconcile(operator_::ReconcileResult::kException, Seconds(0));
  queue_.AddRateLimited(key);
  metrics_.CountWorkqueueRetry();
}

void Reconciler::Process(const std::string& key) {
  const auto start = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    keys_[key].reconciling = true;
  }
  const Outcome outcome = Reconcile(key);
  bool updated_meanwhile = false;
  {
    std::lock_guard lock(mu_);
    if (const auto state = keys_.find(key); state != keys_.end()) {
      KeyState& s = state->second;
      updated_meanwhile = std::any_of(
          s.versions_seen_while_reconciling.begin(), s.versions_seen_while_reconciling.end(),
          [&](const std::string& version) { return version != s.decided_version; });
      s.versions_seen_while_reconciling.clear();
      s.reconciling = false;
    }
  }
  // The key is still being processed: the queue runs it again once this pass is done.
  if (updated_meanwhile) Enqueue(key);
  metrics_.ObserveReconcile(outcome.result.ok() ? operator_::ReconcileResult::kSuccess
                                                : operator_::ReconcileResult::kError,
                            std::chrono::steady_clock::now() - start);
  if (!outcome.result.ok()) {
    logger_->warn("reconcile of {} failed, retrying: {}", key, outcome.result.error().ToString());
    queue_.AddRateLimited(key);
    metrics_.CountWorkqueueRetry();
    return;
  }
  queue_.Forget(key);
  if (outcome.requeue_after) queue_.AddAfter(key, *outcome.requeue_after);
}

Status Reconciler::ReconcileOnce(const std::string& key) { return Reconcile(key).result; }

std::string Reconciler::CachedResourceVersion(const std::string& key) const {
  const auto [ns, name] = kube::SplitObjectKey(key);
  const auto cached = informer_.Get(ns, name);
  return cached ? cached->metadata.resource_version : "";
}

Result<std::shared_ptr<const ObservedRollout>> Reconciler::Observe(const std::string& key) {
  const auto [ns, name] = kube::SplitObjectKey(key);
  auto cached = informer_.Get(ns, name);
  if (cached) {
    std::lock_guard lock(mu_);
    KeyState& state = keys_[key];
    if (!CacheIsBehind(state, cached->metadata.resource_version)) {
      state.superseded.clear();  // the cache has caught up with our writes
      return std::shared_ptr<const ObservedRollout>(std::move(cached));
    }
  }
  // Not cached (deleted, or not yet seen) or behind: ask the API server.
  auto current = client_->Get(kAgentRollouts, ns, name);
  if (!current.ok()) {
    if (kube::IsNotFound(current.error())) return std::shared_ptr<const ObservedRollout>();
    return current.error();
  }
  auto observed = DecodeObservedRollout(*current);
  if (!observed.ok()) return observed.error();
  return std::shared_ptr<const ObservedRollout>(
      std::make_shared<ObservedRollout>(std::move(*observed)));
}

bool Reconciler::CacheIsBehind(const KeyState& state, const std::string& cached_version) {
  if (const auto order = kube::CompareResourceVersions(cached_version, state.newest_version)) {
    return *order < 0;
  }
  return std::find(state.superseded.begin(), state.superseded.end(), cached_version) !=
         state.superseded.end();
}

void Reconciler::Forget(const std::string& key) {
  scheduler_->Remove(key);
  {
    std::lock_guard lock(mu_);
    keys_.erase(key);
  }
  const auto [ns, name] = kube::SplitObjectKey(key);
  metrics_.ForgetRollout(ns, name);
}

Reconciler::Outcome Reconciler::Reconcile(const std::string& key) {
  auto observed = Observe(key);
  if (!observed.ok()) return {observed.error(), std::nullopt};
  const std::shared_ptr<const ObservedRollout> rollout = std::move(*observed);
  std::shared_ptr<const ObservedRollout> deleted;
  {
    std::lock_guard lock(mu_);
    deleted = std::exchange(keys_[key].deleted, nullptr);
  }
  if (!rollout) {
    Forget(key);
    if (deleted) ReleaseGone(key, *deleted);
    return {};
  }
  std::optional<api::Evaluation> evaluation;
  std::shared_ptr<const ObservedRollout> last_valid;
  {
    std::lock_guard lock(mu_);
    const KeyState& state = keys_[key];
    evaluation = state.evaluation;
    // Only a spec changed since it was last seen valid may need the old one.
    if (state.last_valid && state.last_valid->metadata.generation != rollout->metadata.generation) {
      last_valid = state.last_valid;
    }
  }
  Execution execution = executor_.Execute(MakeInput(*rollout, evaluation, options_.now()),
                                          last_valid ? &last_valid->spec : nullptr);
  if (execution.deleted) {
    Forget(key);
    return {};
  }

  // The watch event of this reconcile's own write often comes before it ends: the cache
  // then holds a newer object of the same generation (the same spec), which the last valid
  // spec shares instead of keeping a superseded copy of the rollout beside it.
  std::shared_ptr<const ObservedRollout> valid = rollout;
  if (auto cached = informer_.Get(rollout->metadata.namespace_, rollout->metadata.name);
      cached && cached->metadata.generation == rollout->metadata.generation) {
    valid = std::move(cached);
  }
  {
    std::lock_guard lock(mu_);
    KeyState& state = keys_[key];
    state.superseded.insert(state.superseded.end(), execution.superseded.begin(),
                            execution.superseded.end());
    if (state.superseded.size() > kMaxSuperseded) {
      state.superseded.erase(state.superseded.begin(),
                             state.superseded.end() - static_cast<std::ptrdiff_t>(kMaxSuperseded));
    }
    if (execution.result.ok() && !execution.superseded.empty()) {
      state.decided_version = execution.resource_version;
    }
    // Where versions compare, only forward (the newest seen stays the newest).
    if (kube::CompareResourceVersions(execution.resource_version, state.newest_version)
            .value_or(1) > 0) {
      state.newest_version = execution.resource_version;
    }
    // (One OnUpdate has already moved to a newer object of this generation is kept.)
    if (!execution.decision.spec_invalid &&
        execution.input.metadata.generation == rollout->metadata.generation &&
        (!state.last_valid || state.last_valid == rollout ||
         state.last_valid->metadata.generation != rollout->metadata.generation)) {
      state.last_valid = std::move(valid);
    }
    // The evaluation is done with once the status shows it folded, or once a decision
    // that could fold it was carried out (it was then not evidence about the phase).
    const auto& last = execution.status.analysis.last_evaluated;
    const bool applied = execution.status == execution.decision.status;
    if (evaluation && state.evaluation && state.evaluation->at == evaluation->at &&
        ((last && *last >= WholeSeconds(evaluation->at)) || applied)) {
      state.evaluation.reset();
    }
  }
  UpdateAnalysis(key, execution);
  RecordMetrics(execution);
  logger_->debug("reconciled {}: {} ({})", key, api::Name(execution.status.phase),
                 execution.status.message);
  return {execution.result, execution.decision.requeue_after};
}

void Reconciler::UpdateAnalysis(const std::string& key, const Execution& execution) {
  // Follow the decision only when its status is what the object shows; after a failed
  // write the rollout stays where it was, and so does its analysis.
  if (execution.status != execution.decision.status) return;
  if (!execution.decision.analyse || !execution.status.current_phase) {
    scheduler_->Remove(key);
    return;
  }
  const Input& input = execution.input;
  analysis::EvaluationInput evaluation;
  evaluation.spec = input.spec.analysis;
  evaluation.vars =
      analysis::BuildTemplateVars(api::AgentRollout{input.metadata, input.spec, execution.status},
                                  execution.status.current_phase->name);
  evaluation.phase_started = execution.status.current_phase->started_at;
  if (input.spec.analysis.prometheus) {
    auto credentials =
        CachedCredentials(key, input.metadata.namespace_, *input.spec.analysis.prometheus);
    if (!credentials.ok()) {
      scheduler_->Remove(key);
      SubstituteErrorEvaluation(key, input.spec.analysis, evaluation.vars, credentials.error());
      return;
    }
    evaluation.credentials = std::move(*credentials);
  }
  scheduler_->Upsert(key, std::move(evaluation));
}

Result<analysis::PrometheusCredentials> Reconciler::CachedCredentials(
    const std::string& key, const std::string& ns, const api::PrometheusSpec& spec) {
  constexpr auto kCredentialsFor = std::chrono::minutes(1);
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    const KeyState& state = keys_[key];
    if (state.credentials && state.credentials_spec == spec &&
        now - state.credentials_read_at < kCredentialsFor) {
      return *state.credentials;
    }
  }
  auto credentials = ReadCredentials(ns, spec);
  std::lock_guard lock(mu_);
  KeyState& state = keys_[key];
  if (credentials.ok()) {
    state.credentials = *credentials;
    state.credentials_spec = spec;
    state.credentials_read_at = now;
  } else {
    state.credentials.reset();
  }
  return credentials;
}

Result<analysis::PrometheusCredentials> Reconciler::ReadCredentials(
    const std::string& ns, const api::PrometheusSpec& spec) {
  analysis::PrometheusCredentials credentials;
  // Each Secret is read once, and only one that opted in (API.md §2: the label stops
  // whoever may create an AgentRollout from sending any Secret of the namespace away).
  std::map<std::string, nlohmann::json> secrets;
  auto read = [&](const std::string& field, const std::string& secret,
                  const std::string& key) -> Result<std::string> {
    auto cached = secrets.find(secret);
    if (cached == secrets.end()) {
      auto object = client_->Get(kube::kSecrets, ns, secret);
      if (!object.ok()) return object.error().WithContext("analysis.prometheus." + field);
      cached = secrets.emplace(secret, std::move(*object)).first;
    }
    auto value = kube::LabelledSecretData(cached->second, key);
    if (!value.ok()) return value.error().WithContext("analysis.prometheus." + field);
    return value;
  };
  if (spec.bearer_token_secret_ref) {
    auto token = read("bearerTokenSecretRef", spec.bearer_token_secret_ref->name,
                      spec.bearer_token_secret_ref->key);
    if (!token.ok()) return token.error();
    credentials.bearer_token = std::move(*token);
  }
  if (spec.basic_auth_secret_ref) {
    auto username = read("basicAuthSecretRef", spec.basic_auth_secret_ref->name, "username");
    if (!username.ok()) return username.error();
    auto password = read("basicAuthSecretRef", spec.basic_auth_secret_ref->name, "password");
    if (!password.ok()) return password.error();
    credentials.basic_auth = analysis::BasicAuth{std::move(*username), std::move(*password)};
  }
  if (spec.ca_secret_ref) {
    auto ca = read("caSecretRef", spec.ca_secret_ref->name, spec.ca_secret_ref->key);
    if (!ca.ok()) return ca.error();
    credentials.ca_pem = std::move(*ca);
  }
  return credentials;
}

void Reconciler::SubstituteErrorEvaluation(const std::string& key, const api::AnalysisSpec& spec,
                                           const analysis::TemplateVars& vars, const Error& error) {
  const api::Timestamp now = options_.now();
  {
    std::lock_guard lock(mu_);
    KeyState& state = keys_[key];
    if (now < state.next_credential_error) return;  // one per interval, as the scheduler would
    state.next_credential_error = now + spec.interval;
    std::vector<Result<analysis::QueryResult>> outcomes(analysis::QueryCount(spec),
                                                        Result<analysis::QueryResult>(error));
    state.evaluation = analysis::AssembleEvaluation(spec, vars, outcomes, now);
    metrics_.CountVerdict(state.evaluation->verdict);
  }
  logger_->warn("analysis of {} cannot run: {}", key, error.ToString());
  Enqueue(key);
  queue_.AddAfter(key, spec.interval);
}

void Reconciler::RecordMetrics(const Execution& execution) {
  const api::AgentRolloutStatus& status = execution.status;
  const auto& metadata = execution.input.metadata;
  metrics_.SetRolloutState(metadata.namespace_, metadata.name, status.phase,
                           status.current_phase ? status.current_phase->flag_percent : 0,
                           status.current_phase ? status.current_phase->traffic_weight : 0);
  if (execution.status_written) metrics_.CountStatusWrite();
  // Comparison gauges while the rollout is analysed; removed once it is not. From the
  // evaluation this reconcile folded when there is one: status keeps values that say
  // nothing new for up to --status-refresh-interval (status_refresh.h), gauges need not.
  const std::optional<api::Evaluation>& evaluation = execution.input.evaluation;
  const bool fresher = evaluation && (!status.analysis.last_evaluated ||
                                      evaluation->at > *status.analysis.last_evaluated);
  metrics_.SetComparisons(metadata.namespace_, metadata.name,
                          !execution.decision.analyse ? std::vector<api::MetricStatus>{}
                          : fresher                   ? evaluation->metrics
                                                      : status.analysis.metrics);
  // A new rollback record is only ever in status after a successful write.
  if (status.rollback && status.rollback != execution.input.status.rollback) {
    metrics_.CountRollback(RollbackReasonOf(execution));
  }
}

}  // namespace agentrollout::controllers
