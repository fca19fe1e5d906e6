#include "controllers/flagstore/configmap_flags.h"

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "api/time.h"
#include "controllers/flagstore/flag_stores.h"
#include "controllers/json_members.h"
#include "controllers/shared_object_editor.h"

namespace agentrollout::controllers {
namespace {

// ordered_json keeps the document's key order, so a person diffing the ConfigMap sees
// only the entries that changed.
using Document = nlohmann::ordered_json;

Error Refuse(const std::string& where, const std::string& why) {
  return Error(ErrorCode::kFailedPrecondition, where + ": " + why);
}

// The document in `text`; an empty value is an empty document.
Result<Document> ParseDocument(const std::string& text, const std::string& where) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return Document::object();
  Document document = Document::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    return Refuse(where, "is not valid JSON; fix or remove it, it is never overwritten");
  }
  if (!document.is_object()) {
    return Refuse(where, std::string("is a JSON ") + document.type_name() +
                             ", not an object of flag key -> state; fix or remove it, it is "
                             "never overwritten");
  }
  return document;
}

// kFailedPrecondition unless every desired key is free or already the rollout's.
Status CheckOwnership(const Document& document, const DesiredFlags& desired,
                      const std::string& where) {
  for (const flag::FlagState& state : desired.flags) {
    const Document* entry = Member(document, state.key);
    if (!entry) continue;
    if (!entry->is_object()) {
      return Refuse(where, "flag \"" + state.key + "\" is a JSON " + entry->type_name() +
                               ", not an object; fix or remove it, it is never overwritten");
    }
    const Document* owner = Member(*entry, "rollout");
    if (!owner) continue;  // written by hand: taken over
    if (!owner->is_string() || owner->get<std::string>() != desired.rollout) {
      return Refuse(where, "flag \"" + state.key + "\" belongs to rollout " + owner->dump() +
                               ", not " + desired.rollout +
                               "; remove the entry (or its \"rollout\" field) to hand it over");
    }
  }
  return OkStatus();
}

// The fields of an entry that `desired` determines for `state` (`rollout` included when
// given).
Document Wanted(const flag::FlagState& state, const DesiredFlags& desired, bool with_owner) {
  Document want = {{"enabled", state.enabled},
                   {"percentage", state.percentage},
                   {"enabledTenants", state.enabled_tenants},
                   {"disabledTenants", state.disabled_tenants}};
  if (with_owner) want["rollout"] = desired.rollout;
  want["phase"] = desired.phase;
  return want;
}

// Sets the fields of `want` in `entry` (and updatedAt) unless all are there already;
// whether anything changed.
bool Assign(Document& entry, const Document& want, const std::string& updated_at) {
  bool same = true;
  for (const auto& [field, value] : want.items()) {
    const Document* have = Member(entry, field);
    same = same && have && *have == value;
  }
  if (same) return false;
  for (const auto& [field, value] : want.items()) entry[field] = value;
  entry["updatedAt"] = updated_at;
  return true;
}

// Brings the rollout's entries of `document` to `desired`; whether anything changed.
bool Merge(Document& document, const DesiredFlags& desired) {
  const std::string updated_at = api::FormatTime(desired.updated_at);
  bool changed = false;
  for (const flag::FlagState& state : desired.flags) {
    Document& entry = document[state.key];
    if (entry.is_null()) entry = Document::object();
    changed = Assign(entry, Wanted(state, desired, /*with_owner=*/true), updated_at) || changed;
  }
  return changed;
}

// The entries of `document` that `desired.rollout` owns lose their owner (and, with
// kWithState, take their desired state); whether anything changed.
bool Unown(Document& document, const DesiredFlags& desired, ReleaseMode mode) {
  const std::string updated_at = api::FormatTime(desired.updated_at);
  bool changed = false;
  for (const flag::FlagState& state : desired.flags) {
    Document* entry = Member(document, state.key);
    const Document* owner = entry ? Member(*entry, "rollout") : nullptr;
    if (!owner || *owner != desired.rollout) continue;
    if (mode == ReleaseMode::kWithState) {
      Assign(*entry, Wanted(state, desired, /*with_owner=*/false), updated_at);
    }
    entry->erase("rollout");
    changed = true;
  }
  return changed;
}

std::string Serialize(const Document& document) {
  // Replace, not throw, should a stored string hold invalid UTF-8.
  return document.dump(2, ' ', false, Document::error_handler_t::replace) + "\n";
}

class ConfigMapFlagStore final : public FlagStore {
 public:
  ConfigMapFlagStore(kube::Client& client, const ConflictRetry& retry) : editor_(client, retry) {}

  Status Apply(const DesiredFlags& desired) override {
    return Edit(desired, /*create=*/true, [&](Document& document) -> Result<bool> {
      if (Status owned = CheckOwnership(document, desired, Where(desired)); !owned.ok()) {
        return owned.error();
      }
      return Merge(document, desired);
    });
  }

  Status Release(const DesiredFlags& desired, ReleaseMode mode) override {
    return Edit(desired, /*create=*/false,
                [&](Document& document) -> Result<bool> { return Unown(document, desired, mode); });
  }

 private:
  // Changes the document in place; whether anything changed.
  using Change = std::function<Result<bool>(Document&)>;

  static std::string Where(const DesiredFlags& desired) {
    return "configmap " + desired.namespace_ + "/" + desired.config_map->name + " key " +
           desired.config_map->key;
  }

  // Reads the document, changes it and writes it back when changed, together with the
  // other rollouts' edits of the same ConfigMap (shared_object_editor.h). A missing
  // ConfigMap or data key is an empty document when `create`, else left missing.
  Status Edit(const DesiredFlags& desired, bool create, const Change& change) {
    if (Status valid = CheckDesiredFlags(desired); !valid.ok()) return valid;
    if (!desired.config_map) {
      return InvalidArgument("flag.configMap: not set (this store writes ConfigMaps only)");
    }
    const api::ConfigMapFlagStore& store = *desired.config_map;
    ObjectEdit edit;
    edit.resource = kube::kConfigMaps;
    edit.namespace_ = desired.namespace_;
    edit.name = store.name;
    edit.create = create;
    edit.new_object = nlohmann::json{
        {"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", store.name}}}};
    edit.where = Where(desired);
    edit.change = [&](nlohmann::json& object) -> Result<bool> {
      std::string text;
      const nlohmann::json* data = Member(object, "data");
      const nlohmann::json* value = data ? Member(*data, store.key) : nullptr;
      if (value) {
        if (!value->is_string()) return Refuse(edit.where, "is not a string");
        text = value->get<std::string>();
      } else if (!create) {
        return false;
      }
      Result<Document> document = ParseDocument(text, edit.where);
      if (!document.ok()) return document.error();
      Result<bool> changed = change(*document);
      if (!changed.ok() || !*changed) return changed;
      object["data"][store.key] = Serialize(*document);
      return true;
    };
    return editor_.Edit(edit);
  }

  SharedObjectEditor editor_;
};

}  // namespace

FlagStorePtr NewConfigMapFlagStore(kube::Client& client, const ConflictRetry& retry) {
  return std::make_unique<ConfigMapFlagStore>(client, retry);
}

}  // namespace agentrollout::controllers
