// The safety invariants of API.md §4 items 7 and 8, checked over the history of the real
// objects (AgentRollouts, flag ConfigMaps, HTTPRoutes) as etcd committed it.
//
// The chaos test watches the three resources directly (not through the fault proxies) and
// feeds every watched version here in ascending resourceVersion. With one etcd, an
// object's resourceVersion is the etcd revision of its write, one counter across every
// resource, so sorting the three streams by it replays the writes in the exact order they
// were committed: the checker sees what a perfectly fast observer would have seen, and no
// read skew between a status and a route can make a legitimate ordering look wrong.
//
// The invariants, per rollout (w(i) / f(i): phase i's trafficWeight / flagPercent, n phases;
// "the status" is the latest committed status; a disabled flag entry counts as 0 %):
//
// 1. Exposure bound. The canary weight in the route and the flag percentage never exceed
//    the bound of the status:
//      no status or no currentPhase yet   w(0)                 (start: flag, traffic, status)
//      Progressing in phase i              max(w(i), w(i+1))    (an advance is written flag,
//                                                                traffic, then status: the
//                                                                next phase's values may be
//                                                                out while status still says i)
//      RollingBack in phase i              max(w(i), w(i+1))    when the status is written
//                                                                (an advance cut short by the
//                                                                rollback may still be out);
//                                                                w(i) for any later write
//      RolledBack                          0, also at the moment RolledBack is committed:
//                                          flag and traffic go down before status says so
//      Succeeded                           w(n-1)
//      any other (Paused, AwaitingApproval, Failed) in phase i: w(i)
//    Checked at every status write (both), and at every route or flag write that raises
//    the weight or the percentage (a write that lowers exposure is a step towards safety,
//    never a breach of the bound). The same with f for the flag. A route whose stable and
//    canary weights do not add up to 100 is half-written.
// 2. No double advance. currentPhase.index is 0 the first time it is set, and between two
//    consecutive committed statuses it never grows by more than 1.
// 3. No advance without evidence. When the index grows from i to i+1, or the phase becomes
//    Succeeded, the new status's analysis.lastEvaluated is after phase i's startedAt: an
//    evaluation made in that phase (API §4.2; an evaluation made in the second the phase
//    began is not evidence about it, as the state machine's Fold() also holds).
// 4. No lost ConfigMap entries. Every rollout's flag entry, once written, stays in its
//    ConfigMap; flags.json always parses as a JSON object; the entries and data keys the
//    test put there for others are kept unchanged.
// What needs a clock -- a No-Go ends with flag 0 % and weight 0 in time, no crash -- is
// checked by the test itself (chaos_test.cc).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api/types.h"

namespace agentrollout::chaos {

struct PhasePlan {
  int flag_percent = 0;
  int traffic_weight = 0;
};

// What the test created for one AgentRollout.
struct RolloutPlan {
  std::string name;
  std::string flag_key;
  std::string config_map;
  std::string route;
  std::string stable_backend;
  std::string canary_backend;
  std::vector<PhasePlan> phases;
};

// A ConfigMap the test pre-filled with other teams' content, which must survive.
struct ForeignContent {
  std::map<std::string, std::string> data;          // data keys other than flags.json
  nlohmann::json flags = nlohmann::json::object();  // entries of flags.json
};

class InvariantChecker {
 public:
  InvariantChecker(std::vector<RolloutPlan> rollouts,
                   std::map<std::string, ForeignContent> foreign);

  // One committed version of an object, in ascending resourceVersion across all three.
  void OnRollout(const nlohmann::json& object);
  void OnConfigMap(const nlohmann::json& object);
  void OnRoute(const nlohmann::json& object);

  const std::vector<std::string>& violations() const { return violations_; }
  // How many committed versions were checked.
  std::int64_t checked() const { return checked_; }

 private:
  struct State {
    std::optional<api::AgentRolloutStatus> status;
    std::optional<api::CurrentPhaseStatus> last_phase;  // the latest status that had one
    int weight = 0;
    int flag = 0;
    bool flag_seen = false;
  };
  enum class Moment { kStatusWrite, kOtherWrite };
  enum class Exposure { kTraffic, kFlag, kBoth };  // what a write changed

  int Bound(const RolloutPlan& plan, const State& state, Moment moment, bool traffic) const;
  void CheckExposure(const RolloutPlan& plan, const State& state, Moment moment,
                     const std::string& rv, Exposure exposure);
  void Violation(const std::string& rv, const RolloutPlan& plan, const std::string& what);

  std::vector<RolloutPlan> rollouts_;
  std::map<std::string, ForeignContent> foreign_;
  std::map<std::string, State> states_;  // by rollout name
  std::vector<std::string> violations_;
  std::int64_t checked_ = 0;
};

// The canary and stable weights of a route (nullopt when a backend is absent).
struct RouteWeights {
  std::optional<int> canary;
  std::optional<int> stable;
};
RouteWeights WeightsOf(const nlohmann::json& route, const RolloutPlan& plan);

// The rollout's flag entry in a ConfigMap's flags.json; nullopt when absent or unparsable.
std::optional<nlohmann::json> FlagEntryOf(const nlohmann::json& config_map, const std::string& key);
// A flag entry's effective percentage: 0 when disabled.
int EffectivePercent(const nlohmann::json& entry);

}  // namespace agentrollout::chaos
