// /healthz and /readyz for the kubelet's probes (API.md §9), on civetweb.
//
// /healthz answers 200 "ok" whenever the process serves HTTP at all: a wedged process
// stops answering and is restarted. /readyz answers 200 "ok" when the caller's readiness
// probe reports nothing missing, else 503 with one line naming what is missing
// ("not ready: caches not synced; no leader known"), so `kubectl describe pod` says why.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "operator/options.h"

class CivetServer;

namespace agentrollout::operator_ {

// What keeps the operator from being ready, one short phrase per item; empty = ready.
// Called on the server's threads, so it must be thread-safe.
using ReadinessProbe = std::function<std::vector<std::string>()>;

// The operator's readiness: its informer caches have synced and, when it elects a
// leader, a leader (itself or another replica) is known. Thread-safe.
class ReadinessGate {
 public:
  explicit ReadinessGate(bool leader_election) : leader_election_(leader_election) {}

  void SetCachesSynced(bool synced) { caches_synced_ = synced; }
  void SetLeaderKnown(bool known) { leader_known_ = known; }

  std::vector<std::string> Missing() const;
  ReadinessProbe Probe() const {
    return [this] { return Missing(); };
  }

 private:
  const bool leader_election_;
  std::atomic<bool> caches_synced_{false};
  std::atomic<bool> leader_known_{false};
};

class HealthServer {
 public:
  // Binds `address` (port 0 = a free port) or returns Unavailable naming it.
  static Result<std::unique_ptr<HealthServer>> Start(const ListenAddress& address,
                                                     ReadinessProbe readiness);
  // Stops serving; in-flight requests finish first.
  ~HealthServer();

  std::uint16_t port() const { return port_; }

 private:
  class Handler;
  HealthServer() = default;

  std::unique_ptr<Handler> healthz_;
  std::unique_ptr<Handler> readyz_;
  std::unique_ptr<CivetServer> server_;  // declared last: stopped before the handlers go
  std::uint16_t port_ = 0;
};

}  // namespace agentrollout::operator_
