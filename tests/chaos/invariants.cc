#include "tests/chaos/invariants.h"

#include <algorithm>

#include "api/codec.h"
#include "api/names.h"

namespace agentrollout::chaos {

using api::RolloutPhase;
using nlohmann::json;

namespace {

std::string ResourceVersion(const json& object) {
  return object.value("metadata", json::object()).value("resourceVersion", "");
}

std::string Describe(const std::optional<api::AgentRolloutStatus>& status) {
  if (!status) return "no status";
  std::string text(api::Name(status->phase));
  if (status->current_phase) {
    text += " in phase " + std::to_string(status->current_phase->index) + " (" +
            status->current_phase->name + ")";
  }
  return text;
}

}  // namespace

RouteWeights WeightsOf(const json& route, const RolloutPlan& plan) {
  RouteWeights weights;
  const json spec = route.value("spec", json::object());
  for (const json& rule : spec.value("rules", json::array())) {
    for (const json& ref : rule.value("backendRefs", json::array())) {
      const std::string name = ref.value("name", "");
      const int weight = ref.contains("weight") && ref["weight"].is_number_integer()
                             ? ref["weight"].get<int>()
                             : 1;  // Gateway API default
      if (name == plan.canary_backend) weights.canary = weight;
      if (name == plan.stable_backend) weights.stable = weight;
    }
  }
  return weights;
}

std::optional<json> FlagEntryOf(const json& config_map, const std::string& key) {
  const json data = config_map.value("data", json::object());
  if (!data.contains("flags.json") || !data["flags.json"].is_string()) return std::nullopt;
  const json flags = json::parse(data["flags.json"].get<std::string>(), nullptr, false);
  if (!flags.is_object() || !flags.contains(key)) return std::nullopt;
  return flags[key];
}

int EffectivePercent(const json& entry) {
  if (!entry.is_object() || !entry.value("enabled", false)) return 0;
  const json percentage = entry.value("percentage", json(0));
  return percentage.is_number() ? percentage.get<int>() : 0;
}

InvariantChecker::InvariantChecker(std::vector<RolloutPlan> rollouts,
                                   std::map<std::string, ForeignContent> foreign)
    : rollouts_(std::move(rollouts)), foreign_(std::move(foreign)) {}

void InvariantChecker::Violation(const std::string& rv, const RolloutPlan& plan,
                                 const std::string& what) {
  violations_.push_back("rv " + rv + ", " + plan.name + ": " + what);
}

int InvariantChecker::Bound(const RolloutPlan& plan, const State& state, Moment moment,
                            bool traffic) const {
  const auto value = [&](std::size_t index) {
    if (index >= plan.phases.size()) return 0;
    return traffic ? plan.phases[index].traffic_weight : plan.phases[index].flag_percent;
  };
  if (!state.status || !state.status->current_phase) return value(0);
  const auto index = static_cast<std::size_t>(state.status->current_phase->index);
  const int here = value(index);
  const int next = std::max(here, value(index + 1));
  switch (state.status->phase) {
    case RolloutPhase::kProgressing:
      return next;
    case RolloutPhase::kRollingBack:
      return moment == Moment::kStatusWrite ? next : here;
    case RolloutPhase::kRolledBack:
      return 0;
    default:
      return here;
  }
}

void InvariantChecker::CheckExposure(const RolloutPlan& plan, const State& state, Moment moment,
                                     const std::string& rv, Exposure exposure) {
  const int weight_bound = Bound(plan, state, moment, true);
  const int flag_bound = Bound(plan, state, moment, false);
  const std::string when = moment == Moment::kStatusWrite ? " when status became " : " while ";
  if (exposure != Exposure::kFlag && state.weight > weight_bound) {
    Violation(rv, plan,
              "canary weight " + std::to_string(state.weight) + " above the bound " +
                  std::to_string(weight_bound) + when + Describe(state.status));
  }
  if (exposure != Exposure::kTraffic && state.flag > flag_bound) {
    Violation(rv, plan,
              "flag at " + std::to_string(state.flag) + " % above the bound " +
                  std::to_string(flag_bound) + when + Describe(state.status));
  }
}

void InvariantChecker::OnRollout(const json& object) {
  ++checked_;
  const std::string name = object.value("metadata", json::object()).value("name", "");
  const auto plan = std::find_if(rollouts_.begin(), rollouts_.end(),
                                 [&](const RolloutPlan& p) { return p.name == name; });
  if (plan == rollouts_.end() || !object.contains("status")) return;
  const std::string rv = ResourceVersion(object);
  auto decoded = api::DecodeStatus(object["status"]);
  if (!decoded.ok()) {
    return Violation(rv, *plan, "status does not decode: " + decoded.error().ToString());
  }
  State& state = states_[name];
  const api::AgentRolloutStatus& status = *decoded;
  if (state.status && *state.status == status) return;

  if (status.current_phase) {
    const api::CurrentPhaseStatus& now = *status.current_phase;
    const bool succeeded_now = status.phase == RolloutPhase::kSucceeded &&
                               (!state.status || state.status->phase != RolloutPhase::kSucceeded);
    if (!state.last_phase) {
      if (now.index != 0) {
        Violation(rv, *plan, "first phase seen is index " + std::to_string(now.index) + ", not 0");
      }
    } else {
      const api::CurrentPhaseStatus& before = *state.last_phase;
      if (now.index > before.index + 1) {
        Violation(rv, *plan,
                  "double advance: phase index " + std::to_string(before.index) + " -> " +
                      std::to_string(now.index));
      }
    }
    // The phase being left (advance) or completed (Succeeded) needs an evaluation made in it.
    std::optional<api::CurrentPhaseStatus> left;
    if (state.last_phase && now.index == state.last_phase->index + 1) left = state.last_phase;
    if (succeeded_now && state.last_phase && now.index == state.last_phase->index) left = now;
    if (left &&
        (!status.analysis.last_evaluated || *status.analysis.last_evaluated <= left->started_at)) {
      Violation(rv, *plan,
                "left phase " + left->name + " without an evaluation made in it (lastEvaluated " +
                    (status.analysis.last_evaluated
                         ? std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                              status.analysis.last_evaluated->time_since_epoch())
                                              .count())
                         : std::string("none")) +
                    ", phase started " +
                    std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                       left->started_at.time_since_epoch())
                                       .count()) +
                    ")");
    }
    state.last_phase = now;
  }
  state.status = status;
  CheckExposure(*plan, state, Moment::kStatusWrite, rv, Exposure::kBoth);
}

void InvariantChecker::OnRoute(const json& object) {
  ++checked_;
  const std::string name = object.value("metadata", json::object()).value("name", "");
  const std::string rv = ResourceVersion(object);
  for (const RolloutPlan& plan : rollouts_) {
    if (plan.route != name) continue;
    const RouteWeights weights = WeightsOf(object, plan);
    State& state = states_[plan.name];
    const bool raised = weights.canary.value_or(0) > state.weight;
    state.weight = weights.canary.value_or(0);
    if (weights.stable.value_or(0) + weights.canary.value_or(0) != 100) {
      Violation(rv, plan,
                "route weights stable " + std::to_string(weights.stable.value_or(-1)) +
                    " + canary " + std::to_string(weights.canary.value_or(-1)) + " != 100");
    }
    if (raised) CheckExposure(plan, state, Moment::kOtherWrite, rv, Exposure::kTraffic);
  }
}

void InvariantChecker::OnConfigMap(const json& object) {
  ++checked_;
  const std::string name = object.value("metadata", json::object()).value("name", "");
  const std::string rv = ResourceVersion(object);
  const json data = object.value("data", json::object());
  const json flags = data.contains("flags.json") && data["flags.json"].is_string()
                         ? json::parse(data["flags.json"].get<std::string>(), nullptr, false)
                         : json::object();
  if (!flags.is_object()) {
    violations_.push_back("rv " + rv + ", ConfigMap " + name + ": flags.json is not a JSON object");
    return;
  }
  if (const auto foreign = foreign_.find(name); foreign != foreign_.end()) {
    for (const auto& [key, value] : foreign->second.data) {
      if (!data.contains(key) || data[key] != value) {
        violations_.push_back("rv " + rv + ", ConfigMap " + name + ": data key " + key +
                              " of someone else lost or changed");
      }
    }
    for (const auto& [key, entry] : foreign->second.flags.items()) {
      if (!flags.contains(key) || flags[key] != entry) {
        violations_.push_back("rv " + rv + ", ConfigMap " + name + ": flag " + key +
                              " of someone else lost or changed");
      }
    }
  }
  for (const RolloutPlan& plan : rollouts_) {
    if (plan.config_map != name) continue;
    State& state = states_[plan.name];
    if (!flags.contains(plan.flag_key)) {
      if (state.flag_seen) Violation(rv, plan, "flag entry " + plan.flag_key + " lost");
      state.flag = 0;
      continue;
    }
    state.flag_seen = true;
    const int percent = EffectivePercent(flags[plan.flag_key]);
    const bool raised = percent > state.flag;
    state.flag = percent;
    if (raised) CheckExposure(plan, state, Moment::kOtherWrite, rv, Exposure::kFlag);
  }
}

}  // namespace agentrollout::chaos
