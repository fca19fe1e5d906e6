// Which flag and traffic writes each rollout has carried out in full, and when. Most
// reconciles want exactly the writes of the one before: the watch event of the operator's
// own status write brings a reconcile milliseconds later, and an evaluation that changes
// nothing brings one every interval. Re-asserting means reading (and parsing) the flag
// ConfigMap and the route each time; at 10,000 rollouts that was most of the operator's
// steady CPU (docs/benchmarks.md). So the executor skips writes found here, fresh:
// identical, and carried out less than `fresh_for` ago.
//
// What is given up: a change someone else makes to the flag or route within `fresh_for`
// of the rollout's last write is corrected by the first reconcile after that, not by one
// sooner (it is still found; reconciles come every analysis interval and every resync).
// Nothing is skipped across a restart or a change of leader: the memory is the process's.
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "api/types.h"
#include "controllers/rollout/state_machine.h"

namespace agentrollout::controllers {

class RecentWrites {
 public:
  // fresh_for 0: nothing is ever fresh (every decision's writes are carried out).
  explicit RecentWrites(api::Duration fresh_for);

  // True when `decision` writes something and rollout `uid` last carried out exactly
  // these writes at most fresh_for before `now`. The flags' updatedAt is not compared
  // (it is the decision's time; the stores write it only into entries that change).
  bool Fresh(const std::string& uid, const Decision& decision, api::Timestamp now) const;
  // `decision`'s writes were all carried out at `now`.
  void Record(const std::string& uid, const Decision& decision, api::Timestamp now);
  // Writes of `uid` failed, or its object is gone: nothing of it is fresh.
  void Forget(const std::string& uid);

  std::size_t size() const;

 private:
  struct Writes {
    std::optional<DesiredFlags> flags;  // updated_at cleared
    std::optional<TrafficTarget> traffic;
    bool rolls_back = false;
    api::Timestamp at{};
    bool operator==(const Writes& other) const {
      return flags == other.flags && traffic == other.traffic && rolls_back == other.rolls_back;
    }
  };
  static Writes WritesOf(const Decision& decision, api::Timestamp now);
  bool FreshAt(const Writes& writes, api::Timestamp now) const;
  // Drops the entries no longer fresh once the map has doubled since the last sweep, so
  // it holds about the rollouts written in the last fresh_for, not every rollout seen.
  void SweepLocked(api::Timestamp now);

  const api::Duration fresh_for_;
  mutable std::mutex mu_;
  std::map<std::string, Writes> by_uid_;  // guarded by mu_
  std::size_t sweep_at_size_ = 64;        // guarded by mu_
};

}  // namespace agentrollout::controllers
