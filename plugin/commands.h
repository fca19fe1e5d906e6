// What `kubectl agentrollout` does (API.md §7, §8): reading AgentRollouts and showing them,
// requesting manual actions through the rollouts.agentops.dev/action annotation, and the
// tenant bucketing of §5.1. Formatting is pure functions over api::AgentRollout; the
// commands that talk to the cluster take a kube::Client, so tests can use FakeClient.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/types.h"
#include "common/result.h"
#include "kube/client.h"

namespace agentrollout::plugin {

inline const kube::ResourceRef kAgentRollouts{api::kGroup, api::kVersion, api::kPlural, true};

// ------------------------------------------------------------- formatting (pure)

// kubectl's AGE format (apimachinery's duration.HumanDuration): "45s", "3m20s", "12m",
// "5h10m", "36h", "3d4h", "120d", "2y30d", "9y".
std::string HumanDuration(std::chrono::seconds duration);

// Rows as kubectl prints tables: columns padded to their widest cell and 3 spaces apart,
// every line prefixed by `indent`, no trailing spaces.
std::string FormatTable(const std::vector<std::vector<std::string>>& rows,
                        std::string_view indent = "");

// `list`: NAME PHASE STEP FLAG% WEIGHT VERDICT AGE (NAMESPACE first when `with_namespace`).
// STEP is "i/n name"; "-" marks what a rollout does not have (no flag, no traffic router,
// not reconciled yet).
std::string FormatList(const std::vector<api::AgentRollout>& rollouts, bool with_namespace,
                       api::Timestamp now);

// `status`: phase, step i/n, flag %, weight, message, the go/no-go table with live values,
// the comparisons (canary and stable counts and shares, the interval for canary - stable
// in points and as an IntervalBar), the rollback record, history and conditions.
std::string FormatStatus(const api::AgentRollout& rollout, api::Timestamp now);

// The interval [low, high] of a comparison as a 31-character text bar against its lines:
// `[===]` spans the interval, `G` marks the go line and `N` the No-Go line (drawn over the
// interval when inside it), `.` the rest; the scale covers the interval and both lines.
// E.g. `...G....[======N============]..` for the interval [0.012, 0.035] against go
// 0.005 and noGo 0.02.
std::string IntervalBar(double low, double high, double go, double no_go);

// `status --queries`: each metric's query, and each comparison's four (events and total,
// canary and stable), rendered as the operator sends them to Prometheus at `now`
// (analysis::BuildTemplateVars and Render for the current phase, else the first;
// {{window}} the time since that phase started), or the reason one does not render.
std::string FormatQueries(const api::AgentRollout& rollout, api::Timestamp now);

// What `bucket` knows about a flag beyond the tenants' buckets.
struct BucketState {
  std::optional<int> percent;  // nullopt: say only the buckets (and pins)
  bool enabled = true;         // false: every tenant is off (a rolled-back flag)
  std::vector<std::string> enabled_tenants;
  std::vector<std::string> disabled_tenants;  // wins over enabled_tenants
  std::string source;  // where the state was read, printed above the table; "" = flags
};

// `bucket`: each tenant's bucket for `flag` (API.md §5.1), a PINNED column (on / off, off
// winning) when any tenant is pinned, and with a percentage whether the tenant is in,
// exactly as flag::isOn decides.
std::string FormatBuckets(std::string_view flag, const std::vector<std::string>& tenants,
                          const BucketState& state);

// ------------------------------------------------------------- manual actions (pure)

enum class Action { kPromote, kAbort, kPause, kResume, kRetry };
inline constexpr Action kActions[] = {Action::kPromote, Action::kAbort, Action::kPause,
                                      Action::kResume, Action::kRetry};

// "promote", "abort", "pause", "resume", "retry": the annotation values.
std::string_view ActionName(Action action);

// Whether the operator would act on `action` given the rollout's current status (its rules
// live in controllers/rollout/state_machine.cc). A FailedPrecondition error says why not,
// e.g. `cannot retry voice/v2: retry restarts a RolledBack rollout, and it is Progressing`.
Status CheckAction(Action action, const api::AgentRollout& rollout);

// The merge patch that sets the action annotation.
nlohmann::json ActionPatch(Action action);

// ------------------------------------------------------------- the cluster

// An AgentRollout as the API server returned it. When the spec does not decode (the
// operator reports such specs as Failed), metadata and status are still shown.
Result<api::AgentRollout> DecodeForDisplay(const nlohmann::json& object);

// Every AgentRollout of `ns` ("" = all namespaces), sorted by namespace and name.
Result<std::vector<api::AgentRollout>> ListRollouts(kube::Client& client, std::string_view ns);

// "namespace/name" of a listed or watched object; nullopt for one without a string
// metadata.name (it is skipped: a broken item never stops a listing or a watch).
std::optional<std::string> ObjectKey(const nlohmann::json& object);

// One AgentRollout; NotFound reads `agentrollout "NAME" not found in namespace "NS"`.
Result<api::AgentRollout> GetRollout(kube::Client& client, std::string_view ns,
                                     std::string_view name);

// Reads the rollout, checks the action against its status, sets the annotation. Returns
// what to tell the user.
Result<std::string> RequestAction(kube::Client& client, std::string_view ns, std::string_view name,
                                  Action action);

// The flag state of the AgentRollout `name` for `bucket --rollout`: flag key `flag` must be
// its spec.flag.key. A ConfigMap store's entry is read from the ConfigMap (what
// applications see: enabled, percentage and pins); for other stores the pins come from the
// spec and the percentage from status.currentPhase (off when not started or rolled back).
Result<BucketState> BucketStateOfRollout(kube::Client& client, std::string_view ns,
                                         std::string_view name, std::string_view flag);

// Lets another thread (a signal handler thread) end a watch.
class WatchStop {
 public:
  // Ends the watch (now, or as soon as one starts). Returns false when no watch was
  // running or starting, so the caller knows stopping did nothing.
  bool Stop();
  bool stopped() const { return stopped_; }
  // For WatchRollouts: the stream Stop() must unblock; false when already stopped.
  bool Attach(kube::WatchStream* stream);
  void Detach();
  void SetWatching();

 private:
  std::mutex mu_;
  std::atomic<bool> stopped_{false};
  bool watching_ = false;
  kube::WatchStream* stream_ = nullptr;
};

// Lists AgentRollouts of `ns` ("" = all; `name` non-empty = just that one) and calls
// `on_change` with all of them, sorted, then again after every change a watch reports,
// until `stop` is stopped (OK) or the API fails (the error). A broken or ended watch is
// resumed from the last resourceVersion; 410 Gone lists again.
Status WatchRollouts(kube::Client& client, std::string_view ns, std::string_view name,
                     WatchStop& stop,
                     const std::function<void(const std::vector<api::AgentRollout>&)>& on_change);

}  // namespace agentrollout::plugin
