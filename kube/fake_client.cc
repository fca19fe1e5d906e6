#include "kube/fake_client.h"

#include <algorithm>
#include <charconv>
#include <condition_variable>

#include "api/time.h"
#include "kube/label_selector.h"

namespace agentrollout::kube {

namespace {

using nlohmann::json;

constexpr std::size_t kMaxHistory = 10000;

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

const json& MetadataOf(const json& object) {
  static const json kEmpty = json::object();
  if (!object.is_object()) return kEmpty;
  auto it = object.find("metadata");
  return it != object.end() && it->is_object() ? *it : kEmpty;
}

std::string MetaString(const json& object, const char* key) {
  const json& metadata = MetadataOf(object);
  auto it = metadata.find(key);
  return it != metadata.end() && it->is_string() ? it->get<std::string>() : "";
}

std::map<std::string, std::string> LabelsOf(const json& object) {
  std::map<std::string, std::string> out;
  const json& metadata = MetadataOf(object);
  auto it = metadata.find("labels");
  if (it == metadata.end() || !it->is_object()) return out;
  for (const auto& [key, value] : it->items()) {
    if (value.is_string()) out[key] = value.get<std::string>();
  }
  return out;
}

std::optional<std::int64_t> ParseVersion(std::string_view text) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The object without metadata and status: what a change of bumps metadata.generation.
json SpecPart(const json& object) {
  json out = object;
  if (out.is_object()) {
    out.erase("metadata");
    out.erase("status");
  }
  return out;
}

// The workloads whose scale subresource the API server serves (apps/v1).
bool HasScaleSubresource(const ResourceRef& resource) {
  return resource.group == "apps" &&
         (resource.resource == "deployments" || resource.resource == "replicasets" ||
          resource.resource == "statefulsets");
}

// An integer at object[part]["replicas"]; `absent` when it is missing or not an integer.
std::int64_t ReplicasAt(const json& object, const char* part, std::int64_t absent) {
  if (!object.is_object() || !object.contains(part) || !object[part].is_object()) return absent;
  const json& parent = object[part];
  auto it = parent.find("replicas");
  return it != parent.end() && it->is_number_integer() ? it->get<std::int64_t>() : absent;
}

// The autoscaling/v1 Scale of a workload, as the API server answers for /scale: the
// workload's identity and resourceVersion, spec.replicas (defaulted to 1 as the server
// defaults the workload's; omitted when 0, as the server omits it) and status.replicas.
json ScaleOf(const json& workload) {
  json metadata = json::object();
  for (const char* key : {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"}) {
    if (MetadataOf(workload).contains(key)) metadata[key] = MetadataOf(workload).at(key);
  }
  json scale = {{"apiVersion", "autoscaling/v1"},
                {"kind", "Scale"},
                {"metadata", std::move(metadata)},
                {"spec", json::object()},
                {"status", {{"replicas", ReplicasAt(workload, "status", 0)}}}};
  if (const std::int64_t replicas = ReplicasAt(workload, "spec", 1); replicas != 0) {
    scale["spec"]["replicas"] = replicas;
  }
  return scale;
}

ApiResult<json> NoSuchSubresource() {
  return StatusError(404, "NotFound", "the server could not find the requested resource");
}

ApiResult<json> NotFoundError(const ResourceRef& resource, std::string_view name) {
  return StatusError(404, "NotFound", resource.ToString() + " " + Quote(name) + " not found");
}

ApiResult<json> ConflictError(const ResourceRef& resource, std::string_view name) {
  return StatusError(409, "Conflict",
                     "Operation cannot be fulfilled on " + resource.ToString() + " " + Quote(name) +
                         ": the object has been modified; please apply your changes to the "
                         "latest version and try again");
}

Status CheckScope(const ResourceRef& resource, std::string_view ns) {
  if (resource.namespaced && ns.empty()) {
    return InvalidArgument(resource.ToString() + " is namespaced: a namespace is required");
  }
  if (!resource.namespaced && !ns.empty()) {
    return InvalidArgument(resource.ToString() + " is cluster-scoped: namespace must be empty");
  }
  return OkStatus();
}

// metadata.name / metadata.namespace field selectors.
struct FieldSelector {
  struct Term {
    std::string field;
    std::string value;
    bool negate;
  };
  std::vector<Term> terms;

  static Result<FieldSelector> Parse(std::string_view text) {
    FieldSelector selector;
    std::size_t start = 0;
    while (start < text.size()) {
      std::size_t end = text.find(',', start);
      if (end == std::string_view::npos) end = text.size();
      std::string_view part = text.substr(start, end - start);
      start = end + 1;
      if (part.empty()) continue;
      Term term{};
      std::size_t op = part.find("!=");
      std::size_t value_at;
      if (op != std::string_view::npos) {
        term.negate = true;
        value_at = op + 2;
      } else if ((op = part.find("==")) != std::string_view::npos) {
        value_at = op + 2;
      } else if ((op = part.find('=')) != std::string_view::npos) {
        value_at = op + 1;
      } else {
        return InvalidArgument("field selector " + Quote(text) + ": " + Quote(part) +
                               " has no operator");
      }
      term.field = std::string(part.substr(0, op));
      term.value = std::string(part.substr(value_at));
      if (term.field != "metadata.name" && term.field != "metadata.namespace") {
        return InvalidArgument("field label not supported: " + term.field);
      }
      selector.terms.push_back(std::move(term));
    }
    return selector;
  }

  bool Matches(const json& object) const {
    return std::all_of(terms.begin(), terms.end(), [&](const Term& term) {
      const std::string actual =
          MetaString(object, term.field == "metadata.name" ? "name" : "namespace");
      return (actual == term.value) != term.negate;
    });
  }
};

json ExpiredStatus(std::int64_t requested, std::int64_t oldest) {
  return {{"kind", "Status"},
          {"apiVersion", "v1"},
          {"status", "Failure"},
          {"reason", "Expired"},
          {"code", 410},
          {"message", "too old resource version: " + std::to_string(requested) + " (" +
                          std::to_string(oldest) + ")"}};
}

}  // namespace

// One open watch: its filter and the events waiting to be read.
class FakeClient::WatchState {
 public:
  WatchState(std::string bucket, std::string ns, LabelSelector labels, FieldSelector fields,
             bool allow_bookmarks)
      : bucket_(std::move(bucket)),
        ns_(std::move(ns)),
        labels_(std::move(labels)),
        fields_(std::move(fields)),
        allow_bookmarks_(allow_bookmarks) {}

  const std::string& bucket() const { return bucket_; }
  bool allow_bookmarks() const { return allow_bookmarks_; }

  bool Selects(const json& object) const {
    return (ns_.empty() || MetaString(object, "namespace") == ns_) &&
           labels_.Matches(LabelsOf(object)) && fields_.Matches(object);
  }

  void Push(WatchEvent::Type type, json object) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    queue_.push_back(WatchEvent{type, std::move(object)});
    cv_.notify_all();
  }

  // Ends the stream after the queued events (with `error` if given).
  void Close(std::optional<Error> error) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
    error_ = std::move(error);
    cv_.notify_all();
  }

  // The reader is gone or asked to stop: nothing more is delivered.
  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    stopped_ = true;
    queue_.clear();
    cv_.notify_all();
  }

  bool open() {
    std::lock_guard<std::mutex> lock(mu_);
    return !closed_;
  }

  // Events newer than `version` wait in the queue (nullopt: none waits).
  void DeliverThrough(std::optional<std::int64_t> version) {
    std::lock_guard<std::mutex> lock(mu_);
    deliver_through_ = version;
    cv_.notify_all();
  }

  Result<std::optional<WatchEvent>> Next() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] {
      return stopped_ || (queue_.empty() ? closed_ : Deliverable(queue_.front()));
    });
    if (!queue_.empty()) {
      WatchEvent event = std::move(queue_.front());
      queue_.pop_front();
      return std::optional<WatchEvent>(std::move(event));
    }
    if (error_) {
      Error error = *error_;
      error_.reset();
      return error;
    }
    return std::optional<WatchEvent>();
  }

 private:
  const std::string bucket_;
  const std::string ns_;
  const LabelSelector labels_;
  const FieldSelector fields_;
  bool Deliverable(const WatchEvent& event) const {
    if (!deliver_through_) return true;
    const std::optional<std::int64_t> version =
        ParseVersion(MetaString(event.object, "resourceVersion"));
    return !version || *version <= *deliver_through_;  // an ERROR event carries none
  }

  const bool allow_bookmarks_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<WatchEvent> queue_;
  bool closed_ = false;
  bool stopped_ = false;
  std::optional<Error> error_;
  std::optional<std::int64_t> deliver_through_;
};

class FakeClient::FakeWatchStream final : public WatchStream {
 public:
  explicit FakeWatchStream(std::shared_ptr<WatchState> state) : state_(std::move(state)) {}
  ~FakeWatchStream() override { state_->Stop(); }
  Result<std::optional<WatchEvent>> Next() override { return state_->Next(); }
  void Stop() override { state_->Stop(); }

 private:
  std::shared_ptr<WatchState> state_;
};

FakeClient::FakeClient(ClockPtr clock) : clock_(std::move(clock)) {}

FakeClient::~FakeClient() {
  for (auto& watch : watches_) watch->Close(std::nullopt);
}

std::optional<ApiResult<json>> FakeClient::React(Action action) {
  std::vector<std::shared_ptr<Reactor>> reactors;
  {
    std::lock_guard<std::mutex> lock(mu_);
    actions_.push_back(action);
    reactors = reactors_;
  }
  // Outside the lock: a reactor may call back into the client.
  for (const auto& reactor : reactors) {
    if (auto result = (*reactor)(action)) return result;
  }
  return std::nullopt;
}

FakeClient::Bucket& FakeClient::BucketFor(const ResourceRef& resource) {
  return buckets_[resource.ToString()];
}

std::string FakeClient::NextResourceVersion() { return std::to_string(++resource_version_); }

void FakeClient::Record(const ResourceRef& resource, Bucket& bucket, WatchEvent::Type type,
                        const json* before, const json& after) {
  const auto key = std::make_pair(MetaString(after, "namespace"), MetaString(after, "name"));
  if (type == WatchEvent::Type::kDeleted) {
    bucket.objects.erase(key);
  } else {
    bucket.objects[key] = after;
  }
  bucket.history.push_back(
      {ParseVersion(MetaString(after, "resourceVersion")).value_or(0), type, after});
  while (bucket.history.size() > kMaxHistory) {
    bucket.compacted = bucket.history.front().resource_version;
    bucket.history.pop_front();
  }
  const std::string bucket_name = resource.ToString();
  std::erase_if(watches_, [](const std::shared_ptr<WatchState>& w) { return !w->open(); });
  for (auto& watch : watches_) {
    if (watch->bucket() != bucket_name) continue;
    const bool was = before != nullptr && watch->Selects(*before);
    const bool is = watch->Selects(after);
    if (type == WatchEvent::Type::kDeleted) {
      if (was) watch->Push(WatchEvent::Type::kDeleted, after);
    } else if (was && is) {
      watch->Push(WatchEvent::Type::kModified, after);
    } else if (is) {
      watch->Push(WatchEvent::Type::kAdded, after);
    } else if (was) {
      // The object stopped matching the watch's selectors: to the watcher it is gone.
      watch->Push(WatchEvent::Type::kDeleted, after);
    }
  }
}

ApiResult<json> FakeClient::Get(const ResourceRef& resource, std::string_view ns,
                                std::string_view name, const GetOptions& options) {
  if (auto reaction = React({"get", resource, std::string(ns), std::string(name),
                             options.subresource, nullptr, ""})) {
    return *reaction;
  }
  if (Status scope = CheckScope(resource, ns); !scope.ok()) return scope.error();
  std::lock_guard<std::mutex> lock(mu_);
  Bucket& bucket = BucketFor(resource);
  const bool scale = options.subresource == "scale" && HasScaleSubresource(resource);
  if (!options.subresource.empty() && !scale &&
      !(options.subresource == "status" && bucket.status_subresource)) {
    return NoSuchSubresource();
  }
  auto it = bucket.objects.find({std::string(ns), std::string(name)});
  if (it == bucket.objects.end()) return NotFoundError(resource, name);
  return scale ? ScaleOf(it->second) : it->second;
}

ApiResult<ObjectList> FakeClient::List(const ResourceRef& resource, std::string_view ns,
                                       const ListOptions& options) {
  if (auto reaction =
          React({"list", resource, std::string(ns), "", "", nullptr, options.resource_version})) {
    if (!reaction->ok()) return reaction->Failure<ObjectList>();
  }
  auto labels = LabelSelector::Parse(options.label_selector);
  if (!labels.ok()) return labels.error();
  auto fields = FieldSelector::Parse(options.field_selector);
  if (!fields.ok()) return fields.error();
  std::lock_guard<std::mutex> lock(mu_);
  Bucket& bucket = BucketFor(resource);
  std::vector<const json*> selected;
  for (const auto& [key, object] : bucket.objects) {
    if (!ns.empty() && key.first != ns) continue;
    if (!options.continue_token.empty() &&
        key.first + "\n" + key.second <= options.continue_token) {
      continue;
    }
    if (labels->Matches(LabelsOf(object)) && fields->Matches(object)) selected.push_back(&object);
  }
  ObjectList list;
  list.resource_version = std::to_string(resource_version_);
  std::size_t count = selected.size();
  if (options.limit > 0 && static_cast<std::size_t>(options.limit) < count) {
    count = static_cast<std::size_t>(options.limit);
    const json& last = *selected[count - 1];
    list.continue_token = MetaString(last, "namespace") + "\n" + MetaString(last, "name");
    list.remaining_item_count = static_cast<std::int64_t>(selected.size() - count);
  }
  for (std::size_t i = 0; i < count; ++i) list.items.push_back(*selected[i]);
  return list;
}

ApiResult<json> FakeClient::Create(const ResourceRef& resource, std::string_view ns,
                                   const json& object, const WriteOptions& options) {
  if (auto reaction = React(
          {"create", resource, std::string(ns), MetaString(object, "name"), "", object, ""})) {
    return *reaction;
  }
  if (Status scope = CheckScope(resource, ns); !scope.ok()) return scope.error();
  std::lock_guard<std::mutex> lock(mu_);
  return CreateLocked(resource, ns, object, options.dry_run);
}

ApiResult<json> FakeClient::CreateLocked(const ResourceRef& resource, std::string_view ns,
                                         const json& object, bool dry_run) {
  if (!object.is_object()) return StatusError(400, "BadRequest", "the object is not a JSON object");
  json created = object;
  json& metadata = created["metadata"];
  if (!metadata.is_object()) metadata = json::object();
  std::string name = MetaString(created, "name");
  if (name.empty() && !MetaString(created, "generateName").empty()) {
    name = MetaString(created, "generateName") + std::to_string(++uid_counter_);
    metadata["name"] = name;
  }
  if (name.empty()) {
    return StatusError(422, "Invalid",
                       resource.ToString() +
                           " is invalid: metadata.name: Required value: name or generateName "
                           "is required");
  }
  if (resource.namespaced) {
    const std::string object_ns = MetaString(created, "namespace");
    if (!object_ns.empty() && object_ns != ns) {
      return StatusError(400, "BadRequest",
                         "the namespace of the provided object does not match the namespace "
                         "sent on the request");
    }
    metadata["namespace"] = std::string(ns);
  }
  Bucket& bucket = BucketFor(resource);
  if (bucket.objects.count({std::string(ns), name}) > 0) {
    return StatusError(409, "AlreadyExists",
                       resource.ToString() + " " + Quote(name) + " already exists");
  }
  metadata["uid"] = "fake-uid-" + std::to_string(++uid_counter_);
  metadata["creationTimestamp"] = api::FormatTime(clock_->WallNow());
  if (bucket.status_subresource) {
    created.erase("status");
    metadata["generation"] = 1;
  }
  if (dry_run) return created;
  metadata["resourceVersion"] = NextResourceVersion();
  Record(resource, bucket, WatchEvent::Type::kAdded, nullptr, created);
  return created;
}

ApiResult<json> FakeClient::Write(const ResourceRef& resource, std::string_view ns,
                                  const std::string& name, json updated,
                                  const std::string& expected_version, bool status_only) {
  Bucket& bucket = BucketFor(resource);
  auto it = bucket.objects.find({std::string(ns), name});
  if (it == bucket.objects.end()) return NotFoundError(resource, name);
  const json current = it->second;
  if (!expected_version.empty() && expected_version != MetaString(current, "resourceVersion")) {
    return ConflictError(resource, name);
  }
  json next;
  if (status_only) {
    next = current;
    if (updated.is_object() && updated.contains("status")) {
      next["status"] = updated["status"];
    } else {
      next.erase("status");
    }
  } else {
    next = std::move(updated);
    if (!next.is_object()) return StatusError(400, "BadRequest", "the object is not a JSON object");
    if (bucket.status_subresource) {
      if (current.contains("status")) {
        next["status"] = current["status"];
      } else {
        next.erase("status");
      }
    }
  }
  json& metadata = next["metadata"];
  if (!metadata.is_object()) metadata = json::object();
  // Fields only the server sets.
  for (const char* key : {"uid", "creationTimestamp", "namespace", "name", "generation"}) {
    const json& old_metadata = MetadataOf(current);
    if (old_metadata.contains(key)) {
      metadata[key] = old_metadata.at(key);
    } else {
      metadata.erase(key);
    }
  }
  if (bucket.status_subresource && !status_only && SpecPart(next) != SpecPart(current)) {
    metadata["generation"] = MetadataOf(current).value("generation", 0) + 1;
  }
  metadata["resourceVersion"] = MetaString(current, "resourceVersion");
  if (next == current) return current;  // a no-op write keeps the resourceVersion
  metadata["resourceVersion"] = NextResourceVersion();
  Record(resource, bucket, WatchEvent::Type::kModified, &current, next);
  return next;
}

ApiResult<json> FakeClient::Update(const ResourceRef& resource, std::string_view ns,
                                   const json& object, const WriteOptions& options) {
  const std::string name = MetaString(object, "name");
  if (auto reaction = React({"update", resource, std::string(ns), name, "", object, ""})) {
    return *reaction;
  }
  if (Status scope = CheckScope(resource, ns); !scope.ok()) return scope.error();
  if (name.empty()) {
    return InvalidArgument("update of " + resource.ToString() + ": metadata.name is required");
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (options.dry_run) {
    auto it = BucketFor(resource).objects.find({std::string(ns), name});
    if (it == BucketFor(resource).objects.end()) return NotFoundError(resource, name);
    return object;
  }
  return Write(resource, ns, name, object, MetaString(object, "resourceVersion"), false);
}

ApiResult<json> FakeClient::UpdateStatus(const ResourceRef& resource, std::string_view ns,
                                         const json& object, const WriteOptions&) {
  const std::string name = MetaString(object, "name");
  if (auto reaction =
          React({"update-status", resource, std::string(ns), name, "status", object, ""})) {
    return *reaction;
  }
  if (Status scope = CheckScope(resource, ns); !scope.ok()) return scope.error();
  std::lock_guard<std::mutex> lock(mu_);
  if (!BucketFor(resource).status_subresource) {
    return NoSuchSubresource();
  }
  return Write(resource, ns, name, object, MetaString(object, "resourceVersion"), true);
}

ApiResult<json> FakeClient::Patch(const ResourceRef& resource, std::string_view ns,
                                  std::string_view name, PatchType type, const json& patch,
                                  const PatchOptions& options) {
  if (auto reaction = React({"patch", resource, std::string(ns), std::string(name),
                             options.subresource, patch, ""})) {
    return *reaction;
  }
  if (Status scope = CheckScope(resource, ns); !scope.ok()) return scope.error();
  if (type == PatchType::kApply && options.field_manager.empty()) {
    return InvalidArgument("server-side apply needs a field manager");
  }
  const bool status_only = options.subresource == "status";
  const bool scale = options.subresource == "scale" && HasScaleSubresource(resource);
  std::lock_guard<std::mutex> lock(mu_);
  Bucket& bucket = BucketFor(resource);
  if ((!options.subresource.empty() && !status_only && !scale) ||
      (status_only && !bucket.status_subresource)) {
    return NoSuchSubresource();
  }
  auto it = bucket.objects.find({std::string(ns), std::string(name)});
  if (it == bucket.objects.end()) {
    if (type != PatchType::kApply || !options.subresource.empty()) {
      return NotFoundError(resource, name);
    }
    json object = patch;
    object["metadata"]["name"] = std::string(name);
    return CreateLocked(resource, ns, object, options.dry_run);
  }
  json patched = scale ? ScaleOf(it->second) : it->second;
  try {
    if (type == PatchType::kJson) {
      patched = patched.patch(patch);
    } else {
      patched.merge_patch(patch);
    }
  } catch (const json::exception& e) {
    return StatusError(422, "Invalid", std::string("the patch could not be applied: ") + e.what());
  }
  if (options.dry_run) return patched;
  if (scale) return WriteScale(resource, ns, std::string(name), patched);
  // A resourceVersion that the patch sets must match, as for an update.
  return Write(resource, ns, std::string(name), patched, MetaString(patched, "resourceVersion"),
               status_only);
}

ApiResult<json> FakeClient::WriteScale(const ResourceRef& resource, std::string_view ns,
                                       const std::string& name, const json& scale) {
  const std::int64_t replicas = ReplicasAt(scale, "spec", 0);
  if (replicas < 0) {
    return StatusError(422, "Invalid",
                       "Scale.autoscaling \"" + name +
                           "\" is invalid: spec.replicas: Invalid "
                           "value: " +
                           std::to_string(replicas) + ": must be greater than or equal to 0");
  }
  json workload = BucketFor(resource).objects.at({std::string(ns), name});
  if (!workload["spec"].is_object()) workload["spec"] = json::object();
  workload["spec"]["replicas"] = replicas;
  // The Scale's resourceVersion is the workload's: a stale one is a 409, as for an update.
  auto written =
      Write(resource, ns, name, std::move(workload), MetaString(scale, "resourceVersion"),
            /*status_only=*/false);
  if (!written.ok()) return written;
  return ScaleOf(*written);
}

ApiResult<json> FakeClient::Delete(const ResourceRef& resource, std::string_view ns,
                                   std::string_view name, const DeleteOptions& options) {
  if (auto reaction =
          React({"delete", resource, std::string(ns), std::string(name), "", nullptr, ""})) {
    return *reaction;
  }
  if (Status scope = CheckScope(resource, ns); !scope.ok()) return scope.error();
  std::lock_guard<std::mutex> lock(mu_);
  Bucket& bucket = BucketFor(resource);
  auto it = bucket.objects.find({std::string(ns), std::string(name)});
  if (it == bucket.objects.end()) return NotFoundError(resource, name);
  const json current = it->second;
  if (options.precondition_uid && *options.precondition_uid != MetaString(current, "uid")) {
    return StatusError(409, "Conflict",
                       "Precondition failed: UID in precondition: " + *options.precondition_uid +
                           ", UID in object meta: " + MetaString(current, "uid"));
  }
  if (options.precondition_resource_version &&
      *options.precondition_resource_version != MetaString(current, "resourceVersion")) {
    return StatusError(409, "Conflict",
                       "Precondition failed: ResourceVersion in precondition: " +
                           *options.precondition_resource_version +
                           ", ResourceVersion in meta: " + MetaString(current, "resourceVersion"));
  }
  json deleted = current;
  deleted["metadata"]["resourceVersion"] = NextResourceVersion();
  Record(resource, bucket, WatchEvent::Type::kDeleted, &current, deleted);
  return deleted;
}

ApiResult<std::string> FakeClient::ListText(const ResourceRef& resource, std::string_view ns,
                                            const ListOptions& options) {
  auto list = List(resource, ns, options);
  if (!list.ok()) return list.Failure<std::string>();
  json metadata = {{"resourceVersion", list->resource_version}};
  if (!list->continue_token.empty()) metadata["continue"] = list->continue_token;
  if (list->remaining_item_count) metadata["remainingItemCount"] = *list->remaining_item_count;
  // (nlohmann's objects keep their members sorted: apiVersion, items, metadata.)
  return json{{"apiVersion", resource.ApiVersion()},
              {"items", std::move(list->items)},
              {"metadata", std::move(metadata)}}
      .dump();
}

ApiResult<WatchStreamPtr> FakeClient::Watch(const ResourceRef& resource, std::string_view ns,
                                            const WatchOptions& options) {
  if (auto reaction =
          React({"watch", resource, std::string(ns), "", "", nullptr, options.resource_version})) {
    if (!reaction->ok()) return reaction->Failure<WatchStreamPtr>();
  }
  auto labels = LabelSelector::Parse(options.label_selector);
  if (!labels.ok()) return labels.error();
  auto fields = FieldSelector::Parse(options.field_selector);
  if (!fields.ok()) return fields.error();
  std::optional<std::int64_t> from;
  if (!options.resource_version.empty() && options.resource_version != "0") {
    from = ParseVersion(options.resource_version);
    if (!from) {
      return StatusError(400, "BadRequest",
                         "invalid resource version " + Quote(options.resource_version))
          .Failure<WatchStreamPtr>();
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  Bucket& bucket = BucketFor(resource);
  auto state =
      std::make_shared<WatchState>(resource.ToString(), std::string(ns), std::move(labels).value(),
                                   std::move(fields).value(), options.allow_bookmarks);
  if (!from) {
    for (const auto& [key, object] : bucket.objects) {
      if (state->Selects(object)) state->Push(WatchEvent::Type::kAdded, object);
    }
  } else if (*from < bucket.compacted) {
    state->Push(WatchEvent::Type::kError, ExpiredStatus(*from, bucket.compacted));
    state->Close(std::nullopt);
    return WatchStreamPtr(std::make_unique<FakeWatchStream>(std::move(state)));
  } else {
    for (const HistoryEvent& event : bucket.history) {
      if (event.resource_version > *from && state->Selects(event.object)) {
        state->Push(event.type, event.object);
      }
    }
  }
  state->DeliverThrough(deliver_watch_events_through_);
  watches_.push_back(state);
  return WatchStreamPtr(std::make_unique<FakeWatchStream>(std::move(state)));
}

void FakeClient::DeliverWatchEventsThrough(std::optional<std::string> resource_version) {
  std::lock_guard<std::mutex> lock(mu_);
  deliver_watch_events_through_ = resource_version ? ParseVersion(*resource_version).value_or(0)
                                                   : std::optional<std::int64_t>();
  for (auto& watch : watches_) watch->DeliverThrough(deliver_watch_events_through_);
}

void FakeClient::EnableStatusSubresource(const ResourceRef& resource) {
  std::lock_guard<std::mutex> lock(mu_);
  BucketFor(resource).status_subresource = true;
}

void FakeClient::AddReactor(Reactor reactor) {
  std::lock_guard<std::mutex> lock(mu_);
  reactors_.push_back(std::make_shared<Reactor>(std::move(reactor)));
}

std::vector<FakeClient::Action> FakeClient::Actions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return actions_;
}

void FakeClient::ClearActions() {
  std::lock_guard<std::mutex> lock(mu_);
  actions_.clear();
}

std::string FakeClient::ResourceVersion() const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::to_string(resource_version_);
}

void FakeClient::Compact() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [name, bucket] : buckets_) {
    bucket.history.clear();
    bucket.compacted = resource_version_;
  }
}

void FakeClient::CloseWatches() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& watch : watches_) watch->Close(std::nullopt);
  watches_.clear();
}

void FakeClient::BreakWatches() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& watch : watches_) watch->Close(Unavailable("fake watch: connection reset"));
  watches_.clear();
}

void FakeClient::ExpireWatches() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& watch : watches_) {
    watch->Push(WatchEvent::Type::kError, ExpiredStatus(resource_version_, resource_version_));
    watch->Close(std::nullopt);
  }
  watches_.clear();
}

void FakeClient::SendBookmarks() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& watch : watches_) {
    if (watch->allow_bookmarks()) {
      watch->Push(WatchEvent::Type::kBookmark,
                  {{"metadata", {{"resourceVersion", std::to_string(resource_version_)}}}});
    }
  }
}

std::size_t FakeClient::OpenWatches() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<std::size_t>(std::count_if(watches_.begin(), watches_.end(),
                                                [](const auto& watch) { return watch->open(); }));
}

}  // namespace agentrollout::kube
