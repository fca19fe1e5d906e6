// `kubectl agentrollout dashboard`: a web server on the user's machine (API.md §7) that
// shows AgentRollouts live and requests the §7 actions, with the user's own kubeconfig so
// Kubernetes RBAC decides what each person sees and may do.
//
// Routes (all answers carry a Content-Security-Policy without inline scripts):
//   GET  /, /rollouts/NS/NAME         the page (embedded assets; an unknown rollout is 404)
//   GET  /assets/FILE                 embedded HTML/CSS/JS, uPlot
//   GET  /api/session                 the CSRF token and the watched namespace
//   GET  /api/overview                every rollout's row (view.h), rollbacks and holds first
//   GET  /api/rollouts/NS/NAME        one rollout: table, history, Events, actions, RBAC
//   GET  /api/rollouts/NS/NAME/metrics  each metric over the rollout's life (query_range),
//                                     canary and stable; comparison intervals seen so far
//   GET  /api/events                  Server-Sent Events: `rollout` (a row), `deleted`,
//                                     `resync` (missed changes: fetch the overview again)
//   POST /api/rollouts/NS/NAME/actions/ACTION  sets rollouts.agentops.dev/action
// Every request passes RequestGuard (Host, Origin); POSTs also need the token.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "analysis/evaluator.h"
#include "api/types.h"
#include "common/result.h"
#include "kube/client.h"
#include "kube/informer.h"
#include "plugin/dashboard/guard.h"
#include "plugin/dashboard/view.h"

namespace httplib {
class Server;
}

namespace agentrollout::plugin::dashboard {

// Messages for Server-Sent Events: a numbered ring that streams wait on. A stream that fell
// behind the ring is told to resync instead of being sent a gap.
class ChangeFeed {
 public:
  explicit ChangeFeed(std::size_t capacity = 4096) : capacity_(capacity) {}
  void Publish(const std::string& event, const std::string& data);
  struct Batch {
    std::string frames;  // `event: ...\ndata: ...\n\n` for each message after `after`
    std::uint64_t last = 0;
    bool resync = false;  // messages after `after` were dropped from the ring
    bool closed = false;
  };
  // Returns at once when messages after `after` exist, else waits up to `timeout`.
  Batch Wait(std::uint64_t after, std::chrono::milliseconds timeout);
  std::uint64_t Last() const;
  void Close();

 private:
  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> frames_;  // frames_[i] has number first_ + i
  std::uint64_t first_ = 1;
  bool closed_ = false;
};

struct DashboardOptions {
  std::string host = "127.0.0.1";
  int port = 3100;         // 0 = any free port
  std::string namespace_;  // "" = all namespaces
  std::function<api::Timestamp()> now = [] { return std::chrono::system_clock::now(); };
  analysis::Connector connect_prometheus = analysis::ConnectPrometheus;
  std::size_t max_streams = 32;  // concurrent /api/events streams (each holds a thread)
  std::chrono::milliseconds keepalive{15000};  // SSE comment lines on idle streams
  std::chrono::seconds permission_ttl{30};     // SelfSubjectAccessReview answers kept
};

class Dashboard {
 public:
  Dashboard(kube::ClientPtr client, DashboardOptions options);
  ~Dashboard();
  Dashboard(const Dashboard&) = delete;
  Dashboard& operator=(const Dashboard&) = delete;

  // Checks the user may list AgentRollouts, starts the watch, waits for the first list and
  // binds. Errors: the API server's (e.g. forbidden), or kUnavailable when the address
  // cannot be bound.
  Status Start(std::chrono::milliseconds sync_timeout = std::chrono::seconds(30));
  // Serves on a thread of its own until Stop.
  void Stop();

  int port() const { return port_; }
  // http://HOST:PORT/
  std::string url() const;
  const RequestGuard& guard() const { return *guard_; }

 private:
  struct ComparisonPoint {
    double at;
    nlohmann::json low, high, value;
  };
  using Informer = kube::Informer<RolloutRecord>;

  void Routes();
  void OnChange(const std::shared_ptr<const RolloutRecord>& record);
  Permission PermissionFor(const std::string& ns);
  nlohmann::json Events(const std::string& ns, const std::string& name);
  nlohmann::json MetricSeries(const RolloutRecord& record);
  Result<analysis::PrometheusCredentials> Credentials(const api::AgentRollout& rollout);

  kube::ClientPtr client_;
  DashboardOptions options_;
  std::unique_ptr<RequestGuard> guard_;
  std::unique_ptr<Informer> informer_;
  std::unique_ptr<httplib::Server> server_;
  std::thread serve_thread_;
  ChangeFeed feed_;
  std::atomic<std::size_t> streams_{0};
  int port_ = 0;

  std::mutex mu_;  // guards the maps below
  struct CachedPermission {
    Permission permission;
    api::Timestamp at;
  };
  std::map<std::string, CachedPermission> permissions_;  // by namespace
  struct CachedSeries {
    nlohmann::json series;
    std::string spec_key;  // what the queries depended on
    api::Timestamp at;
  };
  std::map<std::string, CachedSeries> series_;  // by namespace/name
  // Comparison intervals as the watch delivered them (namespace/name -> name -> points).
  std::map<std::string, std::map<std::string, std::deque<ComparisonPoint>>> comparisons_;
};

}  // namespace agentrollout::plugin::dashboard
