// The AgentRollout controller: an informer on agentrollouts.rollouts.agentops.dev/v1alpha1
// (one namespace or all) feeds a rate-limited workqueue; its handlers only enqueue keys.
// `concurrency` workers take keys (one worker per key at a time), read the object from the
// cache, add the latest evaluation of its go/no-go table not yet folded into its status,
// and let the Executor decide and write. After each reconcile:
// - the rollout is registered with the analysis scheduler while its decision says
//   `analyse` (with the template values of API.md §3.2 and the credentials read from its
//   Secrets), and unregistered otherwise; a finished evaluation enqueues the key;
// - the key comes back after the decision's requeue_after (bake time ending), or with
//   exponential backoff when a write failed;
// - the operator metrics are updated (reconciles, duration, phase / flag% / weight per
//   rollout, rollbacks by reason, verdicts, analysis queries, workqueue depth).
//
// When an object is gone (API.md §2 onDelete), the last one the informer's delete event
// carried is kept until its key is reconciled: the flag entries it owned are released
// (their `rollout` owner cleared), best effort -- nothing else knows which they were.
//
// The caches run on every replica (so a standby is ready to take over); the workers and
// the scheduler only while this replica leads (StartWorkers).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "analysis/scheduler.h"
#include "api/types.h"
#include "common/result.h"
#include "controllers/rollout/executor.h"
#include "controllers/rollout/observed_rollout.h"
#include "kube/client.h"
#include "kube/informer.h"
#include "kube/workqueue.h"
#include "operator/metrics.h"

namespace spdlog {
class logger;
}

namespace agentrollout::controllers {

struct ReconcilerOptions {
  std::string namespace_;  // "" = every namespace
  int concurrency = 4;     // workers
  // Retries after failed writes: 5 ms doubling, capped at a minute so that a router object
  // created later (nothing watches it) is found soon.
  kube::RateLimiterOptions rate_limiter{std::chrono::milliseconds(5), std::chrono::minutes(1), 10,
                                        100};
  std::chrono::milliseconds resync_period = std::chrono::minutes(10);
  // The analysis scheduler; its `connect` is wrapped to count queries in the metrics.
  analysis::SchedulerOptions scheduler;
  // Time for decisions (status timestamps, bake time).
  std::function<api::Timestamp()> now = [] { return api::Timestamp::clock::now(); };
  kube::ClockPtr clock = kube::RealClock();  // workqueue delays and the informer
  std::shared_ptr<spdlog::logger> logger;    // nullptr = spdlog's default logger
};

class Reconciler {
 public:
  // `client` serves the informer, re-reads and Secrets; `executor` and `metrics` must
  // outlive the reconciler.
  Reconciler(kube::ClientPtr client, Executor& executor, operator_::Metrics& metrics,
             ReconcilerOptions options);
  ~Reconciler();  // Stop()
  Reconciler(const Reconciler&) = delete;
  Reconciler& operator=(const Reconciler&) = delete;

  // Starts the informer (LIST + WATCH); its events fill the queue.
  void StartCaches();
  bool HasSynced() const;
  bool WaitForSync(std::chrono::milliseconds timeout) const;
  // Starts the analysis scheduler and the workers.
  void StartWorkers();
  // Stops taking work, lets running reconciles finish their writes, then stops the
  // scheduler and the informer. Idempotent.
  void Stop();

  // One reconcile of `key` ("namespace/name"), exactly as a worker runs it, except that
  // the key is not requeued. For tests that drive the controller step by step.
  Status ReconcileOnce(const std::string& key);

  std::size_t QueueLength() { return queue_.Len(); }
  // The resourceVersion the informer's cache holds for `key`; "" when it holds none.
  std::string CachedResourceVersion(const std::string& key) const;

 private:
  struct Outcome {
    Status result;
    std::optional<api::Duration> requeue_after;
  };
  // What the controller remembers per key between reconciles (status is the memory of
  // the rollout itself; this is only about the caches).
  struct KeyState {
    std::optional<api::Evaluation> evaluation;  // latest not yet folded into status
    // The newest resourceVersion this key's reconciles read from the API server or wrote:
    // a cached object older than it is behind (CacheIsBehind).
    std::string newest_version;
    std::vector<std::string> superseded;     // resourceVersions our writes replaced
    api::Timestamp next_credential_error{};  // see SubstituteErrorEvaluation
    // The resourceVersion our last completed decision left the object at (see OnUpdate).
    std::string decided_version;
    bool reconciling = false;  // a worker is in Reconcile for this key
    // Updates that arrived meanwhile: judged once that reconcile has said what it wrote.
    std::vector<std::string> versions_seen_while_reconciling;
    // The newest observation whose spec was valid: a live rollout whose spec is edited
    // into an invalid one keeps analysing with it (API.md §4.8). Usually the informer's
    // own object, so this costs a pointer.
    std::shared_ptr<const ObservedRollout> last_valid;
    // Prometheus credentials read from Secrets, and when: read again at most once a minute
    // (or when the spec's references change), not on every reconcile.
    std::optional<analysis::PrometheusCredentials> credentials;
    api::PrometheusSpec credentials_spec;
    std::chrono::steady_clock::time_point credentials_read_at{};
    // The object as the informer's delete event carried it, until the key is reconciled.
    std::shared_ptr<const ObservedRollout> deleted;
  };

  // kUrgent goes to the front of the queue (a NoGo verdict: the rollback comes first).
  enum class Urgency { kRoutine, kUrgent };
  void Enqueue(const std::string& key, Urgency urgency = Urgency::kRoutine);
  void OnEvaluation(const std::string& key, api::Evaluation evaluation);
  // The informer's update handler: enqueues unless the new version is the one our own last
  // decision wrote. That decision was carried out completely, and a decided status is a
  // fixed point of the state machine or comes with a requeue (state_machine.h), so
  // reconciling the watch event of our own write would only re-read and re-decide it: about
  // half of a steady fleet's reconciles. Resyncs (same version) are always enqueued. The
  // watch event of a write often arrives before its reconcile has ended; Process judges
  // those.
  void OnUpdate(const ObservedRollout& old_rollout,
                const std::shared_ptr<const ObservedRollout>& rollout);
  void Worker();
  void Process(const std::string& key);
  // After Process threw: the key's bookkeeping reset, the failure counted, the key retried.
  void Survive(const std::string& key, const char* what);
  Outcome Reconcile(const std::string& key);
  // The object to decide from: the cache's, or a fresh read when the cache is behind what
  // this key's reconciles have already seen. nullptr when it is gone.
  Result<std::shared_ptr<const ObservedRollout>> Observe(const std::string& key);
  // Whether a cached version is older than one a reconcile of the key has seen. Deciding
  // from it would re-assert a past state's flag and weight after a newer decision (a
  // rollback, an onDelete release) took them down. Ordered by resourceVersion where the
  // server's versions compare (KEP-5504); else only the versions our own writes replaced
  // are known to be old.
  static bool CacheIsBehind(const KeyState& state, const std::string& cached_version);
  void Forget(const std::string& key);
  // The informer's delete handler: keeps `last_known` for ReleaseGone, enqueues the key.
  void OnDelete(const std::shared_ptr<const ObservedRollout>& last_known);
  // Releases the flag entries of an object that is gone (best effort, logged).
  void ReleaseGone(const std::string& key, const ObservedRollout& last_known);
  // Registers or unregisters the rollout with the scheduler after `execution`.
  void UpdateAnalysis(const std::string& key, const Execution& execution);
  Result<analysis::PrometheusCredentials> ReadCredentials(const std::string& ns,
                                                          const api::PrometheusSpec& spec);
  // ReadCredentials, or the ones `key` read less than a minute ago for the same spec.
  Result<analysis::PrometheusCredentials> CachedCredentials(const std::string& key,
                                                            const std::string& ns,
                                                            const api::PrometheusSpec& spec);
  // Credentials that cannot be read fail the evaluation like unreachable queries would:
  // an Error evaluation every interval (errorLimit then decides).
  void SubstituteErrorEvaluation(const std::string& key, const api::AnalysisSpec& spec,
                                 const analysis::TemplateVars& vars, const Error& error);
  void RecordMetrics(const Execution& execution);

  const kube::ClientPtr client_;
  Executor& executor_;
  operator_::Metrics& metrics_;
  const ReconcilerOptions options_;
  std::shared_ptr<spdlog::logger> logger_;

  kube::WorkQueue queue_;
  kube::Informer<ObservedRollout> informer_;
  std::unique_ptr<analysis::Scheduler> scheduler_;

  std::mutex mu_;
  std::map<std::string, KeyState> keys_;  // guarded by mu_

  std::mutex lifecycle_mu_;
  bool workers_started_ = false;
  bool stopped_ = false;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> workers_;
};

}  // namespace agentrollout::controllers
