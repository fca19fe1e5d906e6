#include "controllers/flagstore/featureflag_flags.h"

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "controllers/flagstore/flag_stores.h"
#include "controllers/json_members.h"
#include "controllers/shared_object_editor.h"

namespace agentrollout::controllers {
namespace {

using nlohmann::json;

Error Refuse(const std::string& where, const std::string& why) {
  return Error(ErrorCode::kFailedPrecondition, where + ": " + why);
}

// {"in": [{"var": "targetingKey"}, [tenants...]]}
json TenantIn(const std::vector<std::string>& tenants) {
  return json{{"in", json::array({json{{"var", "targetingKey"}}, tenants})}};
}

// Pinned-off tenants first (disabled wins), then pinned-on ones, then the percentage.
json Targeting(const flag::FlagState& state) {
  const json fractional = {
      {"fractional", json::array({json::array({"on", state.percentage}),
                                  json::array({"off", 100 - state.percentage})})}};
  json branches = json::array();
  if (!state.disabled_tenants.empty()) {
    branches.push_back(TenantIn(state.disabled_tenants));
    branches.push_back("off");
  }
  if (!state.enabled_tenants.empty()) {
    branches.push_back(TenantIn(state.enabled_tenants));
    branches.push_back("on");
  }
  if (branches.empty()) return fractional;
  branches.push_back(fractional);
  return json{{"if", std::move(branches)}};
}

// The fields of spec.flagSpec.flags.<key> this store owns (metadata.rollout separately).
json Wanted(const flag::FlagState& state) {
  return json{{"state", state.enabled ? "ENABLED" : "DISABLED"},
              {"variants", {{"on", true}, {"off", false}}},
              {"defaultVariant", "off"},
              {"targeting", Targeting(state)}};
}

// metadata.rollout of a flag; null when it has none.
json Owner(const json& entry) {
  const json* metadata = Member(entry, "metadata");
  const json* owner = metadata ? Member(*metadata, "rollout") : nullptr;
  return owner ? *owner : json();
}

// The rollout's flags in `flags` (spec.flagSpec.flags) brought to `desired`; whether
// anything changed. kFailedPrecondition, nothing changed, when a flag is another's.
Result<bool> Merge(json& flags, const DesiredFlags& desired, const std::string& where) {
  for (const flag::FlagState& state : desired.flags) {
    const json* entry = Member(flags, state.key);
    if (!entry) continue;
    if (!entry->is_object()) {
      return Refuse(where, "flag \"" + state.key + "\" is a JSON " + entry->type_name() +
                               ", not an object; fix or remove it, it is never overwritten");
    }
    const json owner = Owner(*entry);
    if (!owner.is_null() && owner != desired.rollout) {
      return Refuse(where, "flag \"" + state.key + "\" belongs to rollout " + owner.dump() +
                               ", not " + desired.rollout +
                               "; remove it (or its metadata.rollout) to hand it over");
    }
  }
  bool changed = false;
  for (const flag::FlagState& state : desired.flags) {
    json& entry = flags[state.key];
    if (entry.is_null()) entry = json::object();
    json& metadata = entry["metadata"];
    if (!metadata.is_object()) metadata = json::object();
    if (const json* owner = Member(metadata, "rollout"); !owner || *owner != desired.rollout) {
      metadata["rollout"] = desired.rollout;
      changed = true;
    }
    json wanted = Wanted(state);
    for (auto& [field, value] : wanted.items()) {
      if (const json* have = Member(entry, field); have && *have == value) continue;
      entry[field] = std::move(value);
      changed = true;
    }
  }
  return changed;
}

// The rollout's flags in `flags` lose their owner (and, with kWithState, take their
// desired state); whether anything changed.
bool Unown(json& flags, const DesiredFlags& desired, ReleaseMode mode) {
  bool changed = false;
  for (const flag::FlagState& state : desired.flags) {
    json* entry = Member(flags, state.key);
    if (!entry || Owner(*entry) != desired.rollout) continue;
    if (mode == ReleaseMode::kWithState) {
      json wanted = Wanted(state);
      for (auto& [field, value] : wanted.items()) (*entry)[field] = std::move(value);
    }
    json& metadata = (*entry)["metadata"];
    metadata.erase("rollout");
    if (metadata.empty()) entry->erase("metadata");
    changed = true;
  }
  return changed;
}

class FeatureFlagStore final : public FlagStore {
 public:
  FeatureFlagStore(kube::Client& client, const ConflictRetry& retry) : editor_(client, retry) {}

  Status Apply(const DesiredFlags& desired) override {
    return Edit(desired, /*create=*/true, [&](json& flags, const std::string& where) {
      return Merge(flags, desired, where);
    });
  }

  Status Release(const DesiredFlags& desired, ReleaseMode mode) override {
    return Edit(desired, /*create=*/false, [&](json& flags, const std::string&) -> Result<bool> {
      return Unown(flags, desired, mode);
    });
  }

 private:
  // Changes spec.flagSpec.flags in place; whether anything changed.
  using Change = std::function<Result<bool>(json&, const std::string& where)>;

  // Reads the object, changes its flags and writes it back when changed, together with
  // the other rollouts' edits of the same FeatureFlag (shared_object_editor.h). A missing
  // object is created when `create`, else left missing.
  Status Edit(const DesiredFlags& desired, bool create, const Change& change) {
    if (Status valid = CheckDesiredFlags(desired); !valid.ok()) return valid;
    if (!desired.feature_flag) {
      return InvalidArgument("flag.featureFlag: not set (this store writes FeatureFlags only)");
    }
    const std::string& name = desired.feature_flag->name;
    ObjectEdit edit;
    edit.resource = kFeatureFlags;
    edit.namespace_ = desired.namespace_;
    edit.name = name;
    edit.create = create;
    edit.new_object = json{{"apiVersion", kFeatureFlags.ApiVersion()},
                           {"kind", "FeatureFlag"},
                           {"metadata", {{"name", name}}},
                           {"spec", {{"flagSpec", {{"flags", json::object()}}}}}};
    edit.where = "featureflag " + desired.namespace_ + "/" + name;
    edit.change = [&](json& object) -> Result<bool> {
      // The path may be partly missing (an object created by hand without flags), but
      // what is there must be objects.
      json* flags = &object;
      for (const char* field : {"spec", "flagSpec", "flags"}) {
        json& next = (*flags)[field];
        if (next.is_null()) next = json::object();
        if (!next.is_object()) {
          return Refuse(edit.where, std::string("spec.flagSpec.flags: a JSON ") + next.type_name() +
                                        " on the path, not an object; it is never overwritten");
        }
        flags = &next;
      }
      return change(*flags, edit.where);
    };
    return editor_.Edit(edit);
  }

  SharedObjectEditor editor_;
};

}  // namespace

FlagStorePtr NewFeatureFlagStore(kube::Client& client, const ConflictRetry& retry) {
  return std::make_unique<FeatureFlagStore>(client, retry);
}

}  // namespace agentrollout::controllers
