// agentrollout-operator (API.md §9): flags -> logging -> kube config -> client -> /metrics
// and /healthz + /readyz -> leader election (when asked) -> the AgentRollout controller.
//
// The informer cache runs on every replica, so /readyz turns ready (caches synced, a leader
// known) on standbys too; the workers and the analysis scheduler run only while this
// replica leads. SIGTERM / SIGINT: stop taking work, let running reconciles finish their
// writes, send the queued Events, release the Lease, exit 0. Losing the Lease ends the
// process with exit code 1, as client-go's controllers do, so the kubelet restarts it as a
// candidate.
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "controllers/flagstore/flag_stores.h"
#include "controllers/notify/webhook_notifier.h"
#include "controllers/rollout/executor.h"
#include "controllers/rollout/reconciler.h"
#include "controllers/traffic/replicas_router.h"
#include "controllers/traffic/routers.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/event_recorder.h"
#include "kube/leader_election.h"
#include "kube/read_cache_client.h"
#include "operator/health_server.h"
#include "operator/logging.h"
#include "operator/memory.h"
#include "operator/metrics.h"
#include "operator/options.h"

namespace agentrollout::operator_ {
namespace {

constexpr char kComponent[] = "agentrollout-operator";
constexpr int kExitLostLeadership = 1;
constexpr int kExitStartupFailure = 1;
constexpr int kExitUsage = 2;
// Two arenas: the reconcile workers and cpprest's pool share them instead of spreading the
// cache over up to 16 (docs/operations.md, "Memory").
constexpr int kMallocArenas = 2;
// Freed heap is handed back to the OS this often (and once after the first LIST).
constexpr auto kReleaseMemoryEvery = std::chrono::minutes(1);

// Why the process ends; the main thread waits for the first of them.
class Lifecycle {
 public:
  void RequestStop(std::string why) {
    std::lock_guard lock(mu_);
    if (!reason_.empty()) return;
    reason_ = std::move(why);
    cv_.notify_all();
  }
  // Waits up to `timeout`; true once an end was requested.
  bool WaitFor(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return !reason_.empty(); });
  }
  std::string reason() {
    std::lock_guard lock(mu_);
    return reason_;
  }
  bool StopRequested() {
    std::lock_guard lock(mu_);
    return !reason_.empty();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::string reason_;
};

// Unique per process even when two replicas share a pod name (client-go adds a UUID).
std::string LeaderIdentity(const std::string& pod_name) {
  std::random_device random;
  char suffix[9];
  std::snprintf(suffix, sizeof(suffix), "%08x", random());
  return pod_name + "_" + suffix;
}

int Run(const Options& options, const sigset_t& signals) {
  auto log = NamedLogger("operator");

  kube::KubeconfigOptions kubeconfig;
  kubeconfig.path = options.kubeconfig;
  auto config = kube::LoadDefault(kubeconfig);
  if (!config.ok()) {
    log->critical("kube config: {}", config.error().ToString());
    return kExitStartupFailure;
  }
  auto client = kube::NewClient(*config);
  if (!client.ok()) {
    log->critical("kube client for {}: {}", config->server, client.error().ToString());
    return kExitStartupFailure;
  }
  log->info("API server {} ({}); watching {}", config->server, config->source,
            options.namespace_.empty() ? "all namespaces" : "namespace " + options.namespace_);
  log->info("agentrollout-operator {}, allocator {}", AGENTROLLOUT_VERSION, AllocatorName());

  Metrics metrics(AGENTROLLOUT_VERSION);
  std::unique_ptr<MetricsServer> metrics_server;
  if (options.metrics_address) {
    auto started = MetricsServer::Start(*options.metrics_address, metrics.registry());
    if (!started.ok()) {
      log->critical("{}", started.error().ToString());
      return kExitStartupFailure;
    }
    metrics_server = std::move(*started);
    log->info("serving /metrics on port {}", metrics_server->port());
  }
  ReadinessGate readiness(options.leader_elect);
  auto health_server = HealthServer::Start(options.health_address, readiness.Probe());
  if (!health_server.ok()) {
    log->critical("{}", health_server.error().ToString());
    return kExitStartupFailure;
  }
  log->info("serving /healthz and /readyz on port {}", (*health_server)->port());

  kube::EventRecorderOptions recorder_options;
  recorder_options.component = kComponent;
  recorder_options.instance = options.pod_name;
  kube::EventRecorder recorder(*client, recorder_options);
  // Flag stores and routes are read on every evaluation to re-assert them: from watch
  // caches, unless turned off (read_cache_client.h).
  std::unique_ptr<kube::ReadCacheClient> target_cache;
  kube::Client* targets = client->get();
  if (options.cache_target_reads) {
    kube::ReadCacheOptions cache_options;
    cache_options.resources = controllers::FlagStoreResources();
    for (const kube::ResourceRef& resource : controllers::TrafficRouterResources()) {
      cache_options.resources.push_back(resource);
    }
    // The deploymentEnv store reads Deployments; without it nothing does (the replicas
    // router reads their scale subresource), and the chart grants no list/watch on them.
    if (options.deployment_env_store) cache_options.resources.push_back(controllers::kDeployments);
    cache_options.namespace_ = options.namespace_;
    target_cache = std::make_unique<kube::ReadCacheClient>(*client, std::move(cache_options));
    targets = target_cache.get();
  }
  controllers::FlagStoreOptions flag_store_options;
  flag_store_options.deployment_env = options.deployment_env_store;
  controllers::FlagStorePtr flags = controllers::NewFlagStore(*targets, {}, flag_store_options);
  controllers::TrafficRouterPtr router = controllers::NewTrafficRouter(*targets);
  controllers::WebhookNotifierOptions notifier_options;
  notifier_options.logger = NamedLogger("notifier");
  controllers::WebhookNotifier notifier(*client, notifier_options);
  controllers::ExecutorOptions executor_options;
  executor_options.rollback_on_delete_timeout = options.rollback_on_delete_timeout;
  executor_options.status_refresh.every = options.status_refresh_interval;
  controllers::Executor executor(*client, *flags, *router, recorder, notifier, executor_options);

  controllers::ReconcilerOptions reconciler_options;
  reconciler_options.namespace_ = options.namespace_;
  reconciler_options.concurrency = options.concurrency;
  reconciler_options.logger = NamedLogger("controller");
  controllers::Reconciler reconciler(*client, executor, metrics, reconciler_options);
  reconciler.StartCaches();
  // Ready once the cache has its first LIST (WaitForSync also returns when stopped).
  std::thread sync_waiter([&reconciler, &readiness] {
    if (!reconciler.WaitForSync(std::chrono::hours(24 * 365))) return;
    readiness.SetCachesSynced(true);
    ReleaseFreeMemory();  // the LIST's JSON, decoded page by page, is all free now
  });

  Lifecycle lifecycle;
  std::thread signal_waiter([&signals, &lifecycle] {
    int signal = 0;
    if (sigwait(&signals, &signal) == 0) {
      lifecycle.RequestStop(signal == SIGINT ? "SIGINT" : "SIGTERM");
    }
  });

  std::unique_ptr<kube::LeaderElector> elector;
  if (options.leader_elect) {
    kube::LeaderElectionConfig election;
    election.lease_namespace = options.leader_election_namespace.empty()
                                   ? config->namespace_
                                   : options.leader_election_namespace;
    election.lease_name = options.leader_election_id;
    election.identity = LeaderIdentity(options.pod_name);
    election.lease_duration = options.lease_duration;
    election.renew_deadline = options.renew_deadline;
    election.retry_period = options.retry_period;
    election.on_started_leading = [&] {
      metrics.SetLeader(true);
      reconciler.StartWorkers();
    };
    election.on_stopped_leading = [&] {
      metrics.SetLeader(false);
      if (!lifecycle.StopRequested()) {
        // Lost, not handed back: another replica may be leading already. Finishing the
        // reconciles in flight (as a shutdown does) would let their writes -- a conflict
        // retry re-applying an older decision -- land after the new leader's (seen in the
        // fault-injection suite: a flag back at 10 % after RolledBack). End at once, as
        // client-go controllers do.
        log->critical(
            "shutting down: lost the leader-election Lease (exiting at once: writes in flight "
            "are abandoned, the new leader re-decides them)");
        spdlog::shutdown();
        std::_Exit(kExitLostLeadership);
      }
    };
    election.on_new_leader = [&readiness, log](const std::string& identity) {
      log->info("leader is {}", identity);
      readiness.SetLeaderKnown(true);
    };
    auto created = kube::LeaderElector::Create(*client, election);
    if (!created.ok()) {
      log->critical("leader election: {}", created.error().ToString());
      lifecycle.RequestStop("leader election could not start");
    } else {
      elector = std::move(*created);
      log->info("leader election: candidate {} for Lease {}/{}", election.identity,
                election.lease_namespace, election.lease_name);
      elector->Start();
    }
  } else {
    metrics.SetLeader(true);
    reconciler.StartWorkers();
  }

  while (!lifecycle.WaitFor(kReleaseMemoryEvery)) ReleaseFreeMemory();
  log->info("shutting down: {}", lifecycle.reason());
  reconciler.Stop();  // no new reconciles; running ones finish their writes
  sync_waiter.join();
  readiness.SetCachesSynced(false);
  notifier.Shutdown();
  recorder.Stop();               // sends the Events already recorded
  if (elector) elector->Stop();  // releases the Lease if still held
  // The waiter is still in sigwait when the end was not a signal: wake it with one.
  pthread_kill(signal_waiter.native_handle(), SIGTERM);
  signal_waiter.join();
  log->info("stopped");
  return 0;
}

}  // namespace
}  // namespace agentrollout::operator_

int main(int argc, char** argv) {
  using namespace agentrollout::operator_;
  auto options = ParseOptions(argc, argv);
  if (!options.ok()) {
    std::cerr << "agentrollout-operator: " << options.error().message()
              << "\nRun with --help for the flags.\n";
    return kExitUsage;
  }
  if (options->show_help) {
    std::cout << OptionsHelp();
    return 0;
  }
  LimitMallocArenas(kMallocArenas);
  ConfigureLogging(options->log_format, options->log_level);
  // Every thread started from here on inherits the mask; one thread takes the signals.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return Run(*options, signals);
}
