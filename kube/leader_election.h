// Leader election on a coordination.k8s.io/v1 Lease, with client-go's rules:
// - the lease names its holder (holderIdentity), leaseDurationSeconds, acquireTime,
//   renewTime and leaseTransitions;
// - a candidate takes the lease when it is free (no holder) or when the holder's record has
//   not changed for leaseDuration as measured on the candidate's OWN clock from when it
//   first saw that record (remote timestamps are never trusted);
// - every write carries the resourceVersion it read, so two candidates can never both win;
// - the leader renews every retry_period; if it cannot renew for renew_deadline it stops
//   leading (on_stopped_leading), and the elector ends, as client-go's Run does: the
//   usual reaction is to exit the process;
// - Stop() while leading releases the lease (holder cleared, leaseDurationSeconds 1) when
//   release_on_cancel is set, so another candidate takes over at its next retry.
// Callbacks run on the elector's thread and must return promptly (start work elsewhere).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include "common/result.h"
#include "kube/client.h"
#include "kube/clock.h"

namespace agentrollout::kube {

struct LeaderElectionConfig {
  std::string lease_namespace;
  std::string lease_name;
  std::string identity;  // unique per candidate, e.g. the pod name plus a random suffix
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
  bool release_on_cancel = true;
  std::function<void()> on_started_leading;
  std::function<void()> on_stopped_leading;
  std::function<void(const std::string& identity)> on_new_leader;
  ClockPtr clock = RealClock();
};

// What a Lease says (its spec), in client-go's LeaderElectionRecord terms.
struct LeaseRecord {
  std::string holder_identity;
  std::int64_t lease_duration_seconds = 0;
  std::string acquire_time;  // MicroTime as written
  std::string renew_time;
  std::int64_t lease_transitions = 0;
  friend bool operator==(const LeaseRecord&, const LeaseRecord&) = default;
};
LeaseRecord LeaseRecordFromJson(const nlohmann::json& lease);

class LeaderElector {
 public:
  // Checks the config: names and identity set, lease_duration > renew_deadline >
  // 1.2 * retry_period > 0.
  static Result<std::unique_ptr<LeaderElector>> Create(ClientPtr client,
                                                       LeaderElectionConfig config);
  ~LeaderElector();
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  // Runs the election on the elector's own thread.
  void Start();
  // Stops (releasing the lease if leading and release_on_cancel) and joins. Idempotent.
  void Stop();
  // Blocks until the elector has ended (lost the lease, or stopped).
  void Wait();

  bool IsLeader() const;
  // The holder last seen in the Lease ("" if none yet).
  std::string CurrentLeader() const;

  // One attempt to acquire or renew, exactly as the election loop makes it. Public so
  // tests can drive the election step by step with a FakeClock; true when we hold the
  // lease afterwards.
  bool TryAcquireOrRenew();

 private:
  LeaderElector(ClientPtr client, LeaderElectionConfig config);
  void Run();
  void Release();
  bool WaitFor(Clock::Duration duration);
  Clock::Duration Jittered(Clock::Duration duration);
  nlohmann::json NewLease(const LeaseRecord& record) const;
  void Observe(const LeaseRecord& record);

  const ClientPtr client_;
  const LeaderElectionConfig config_;
  std::mt19937_64 random_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool done_ = false;
  std::thread thread_;

  // Touched only by the election (the elector's thread, or a test calling
  // TryAcquireOrRenew before Start).
  LeaseRecord observed_record_;
  Clock::TimePoint observed_time_{};
  std::atomic<bool> leading_{false};
  mutable std::mutex leader_mu_;
  std::string current_leader_;  // guarded by leader_mu_
};

}  // namespace agentrollout::kube
