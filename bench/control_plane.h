// What a controller costs the control plane it runs against (issue 23 goal 1): the CPU and
// memory of the kube-apiserver and etcd processes (from /proc, like the controller's own),
// the API requests served (the apiserver's own `apiserver_request_total`, by verb, resource
// and subresource) and etcd's database size (`etcd_mvcc_db_total_size_in_bytes`), read at
// moments of the run; the difference of two readings is the bill for the time between them.
//
// The apiserver counts every client's requests, not only the measured controller's: the
// bench's own watches, and for Argo Rollouts the bench's ReplicaSet stand-in, are in them
// (the stand-in plays kube-controller-manager's part, a cost Argo brings to a real cluster).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "bench/proc_stats.h"
#include "common/result.h"
#include "http/transport.h"
#include "kube/config.h"

namespace agentrollout::bench {

struct ControlPlaneTarget {
  pid_t apiserver_pid = 0;
  pid_t etcd_pid = 0;
  kube::RestConfig apiserver;    // GET /metrics with these credentials
  std::string etcd_metrics_url;  // e.g. http://127.0.0.1:2379/metrics
};

struct ControlPlaneReading {
  double t = 0;  // seconds, on the caller's clock
  ProcSample apiserver;
  ProcSample etcd;
  // "VERB resource[/subresource]" -> requests so far (summed over groups, codes, scopes).
  std::map<std::string, double> requests;
  // The same, only the series with code 409: writes that lost an optimistic-concurrency
  // race (each is a request the apiserver decoded, and a read and a retry for its client).
  std::map<std::string, double> conflicts;
  double etcd_db_bytes = 0;
  double etcd_db_in_use_bytes = 0;
};

// Reads the two processes and the two /metrics endpoints.
class ControlPlane {
 public:
  static Result<ControlPlane> Connect(ControlPlaneTarget target);
  Result<ControlPlaneReading> Read(double t) const;
  // RSS of both processes only (cheap; for peaks sampled every second).
  Result<std::pair<ProcSample, ProcSample>> ReadProcesses() const;

  // Waits until the apiserver and etcd together used at most `max_cores` over the last
  // `quiet_for`, or `at_most` has passed; the seconds waited. After the bench has created
  // 100,000 objects the apiserver goes on digesting them for minutes; a controller started
  // then would be charged for that work in its Ready and first-pass figures, which a
  // controller restarted on a settled cluster never sees.
  Result<double> WaitUntilQuiet(double max_cores, std::chrono::seconds quiet_for,
                                std::chrono::seconds at_most) const;

 private:
  ControlPlaneTarget target_;
  http::ClientPtr apiserver_;
  http::ClientPtr etcd_;
};

// "VERB resource[/subresource]" -> sum of apiserver_request_total's series (only those with
// label code=`code` when `code` is not empty).
std::map<std::string, double> ParseRequestCounts(std::string_view exposition,
                                                 std::string_view code = {});

// The bill between two readings: CPU cores of apiserver and etcd, their RSS at the end,
// requests per minute by "VERB resource[/subresource]" (only those that moved) and in all,
// writes (POST/PUT/PATCH/DELETE/APPLY) per minute, etcd's database growth.
nlohmann::json ControlPlaneDelta(const ControlPlaneReading& before,
                                 const ControlPlaneReading& after);

}  // namespace agentrollout::bench
