#include "controllers/rollout/executor.h"

#include <future>
#include <utility>

#include "api/codec.h"
#include "api/names.h"
#include "controllers/rollout/observed_rollout.h"

namespace agentrollout::controllers {
namespace {

using nlohmann::json;

std::string ResourceVersionOf(const json& object) {
  const auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return "";
  return metadata->value("resourceVersion", "");
}

// The body of a PUT to /status: the status subresource takes only `status` from it, and
// metadata.resourceVersion makes the write conditional on what was decided from.
json StatusUpdate(const api::ObjectMeta& metadata, const api::AgentRolloutStatus& status) {
  return {{"apiVersion", api::kApiVersion},
          {"kind", api::kKind},
          {"metadata",
           {{"name", metadata.name},
            {"namespace", metadata.namespace_},
            {"resourceVersion", metadata.resource_version}}},
          {"status", api::EncodeStatus(status)}};
}

}  // namespace

nlohmann::json NotificationRollout(const Input& input, const api::AgentRolloutStatus& status,
                                   api::EventReason reason) {
  json rollout = {{"namespace", input.metadata.namespace_}, {"name", input.metadata.name},
                  {"revision", input.spec.revision},        {"phase", api::Name(status.phase)},
                  {"verdict", api::Name(status.verdict)},   {"reason", api::Name(reason)}};
  if (status.current_phase) {
    rollout["step"] = status.current_phase->name;
    rollout["flagPercent"] = status.current_phase->flag_percent;
    rollout["trafficWeight"] = status.current_phase->traffic_weight;
  }
  return rollout;
}

std::optional<DecidingMetric> DecidingMetricOf(const api::AgentRolloutStatus& status,
                                               api::EventReason reason) {
  switch (reason) {
    case api::EventReason::kRollingBack:
    case api::EventReason::kRolledBack:
      if (!status.rollback || status.rollback->metric.empty()) return std::nullopt;
      return DecidingMetric{status.rollback->metric, status.rollback->value, status.rollback->line};
    case api::EventReason::kAnalysisNoGo:
    case api::EventReason::kAnalysisHold: {
      const api::Verdict verdict =
          reason == api::EventReason::kAnalysisNoGo ? api::Verdict::kNoGo : api::Verdict::kHold;
      for (const api::MetricStatus& metric : status.analysis.metrics) {
        if (metric.dry_run || metric.verdict != verdict) continue;
        // A No-Go crossed its noGo (or abort) line; a Hold is outside its go line.
        std::string line = verdict == api::Verdict::kHold ? metric.go : metric.no_go;
        return DecidingMetric{metric.name, metric.value, std::move(line)};
      }
      return std::nullopt;
    }
    default:
      return std::nullopt;
  }
}

Executor::Executor(kube::ClientPtr client, FlagStore& flags, TrafficRouter& traffic,
                   kube::EventRecorder& events, Notifier& notifier, ExecutorOptions options)
    : client_(std::move(client)),
      flags_(flags),
      traffic_(traffic),
      events_(events),
      notifier_(notifier),
      options_(std::move(options)),
      recent_writes_(options_.skip_repeated_writes_for) {}

std::optional<Executor::WriteError> Executor::ApplyWrites(const Decision& decision) {
  // A rolled-back rollout's writes re-assert "off": like a rollback's, each only takes
  // exposure away, so a route deleted since is done, not a write to hold on.
  if (decision.rolls_back || decision.steps_back ||
      decision.status.phase == api::RolloutPhase::kRolledBack) {
    // Exposure down, as soon as the API server allows: the route is written on a thread
    // of its own while the flag is written here (API.md §4 orders an advance's writes, not
    // a rollback's; each only takes exposure away). Each write is carried out even when
    // the other failed (§4.8), and a router that is gone carries no canary traffic to take
    // away.
    // (async|deferred: should no thread be available, libstdc++ runs it at get() instead.)
    std::future<Status> weight;
    if (decision.traffic) {
      weight = std::async(std::launch::async | std::launch::deferred,
                          [this, &decision] { return traffic_.SetWeight(*decision.traffic); });
    }
    std::optional<WriteError> first;
    if (decision.flags) {
      if (Status applied = flags_.Apply(*decision.flags); !applied.ok()) {
        first = WriteError{WriteStage::kFlag, applied.error()};
      }
    }
    if (weight.valid()) {
      Status set = weight.get();
      if (!set.ok() && set.error().code() != ErrorCode::kNotFound && !first) {
        first = WriteError{WriteStage::kTraffic, set.error()};
      }
    }
    return first;
  }
  if (decision.traffic) {
    if (Status checked = traffic_.Check(*decision.traffic); !checked.ok()) {
      return WriteError{WriteStage::kTraffic, checked.error()};
    }
  }
  if (decision.flags) {
    if (Status applied = flags_.Apply(*decision.flags); !applied.ok()) {
      return WriteError{WriteStage::kFlag, applied.error()};
    }
  }
  if (decision.traffic) {
    if (Status set = traffic_.SetWeight(*decision.traffic); !set.ok()) {
      return WriteError{WriteStage::kTraffic, set.error()};
    }
  }
  return std::nullopt;
}

void Executor::Announce(const Input& input, const api::AgentRolloutStatus& status,
                        const std::vector<Event>& events, const std::string& resource_version) {
  const kube::ObjectReference object{api::kApiVersion,    api::kKind,
                                     input.metadata.name, input.metadata.namespace_,
                                     input.metadata.uid,  resource_version};
  for (const Event& event : events) {
    events_.Record(object,
                   event.type == "Warning" ? kube::EventType::kWarning : kube::EventType::kNormal,
                   event.reason, event.message);
    if (input.spec_error || input.spec.notifications.empty()) continue;
    // Only the API's reasons are subscribable (InvalidAction, WriteFailed are not).
    const auto reason = api::ParseEventReason(event.reason);
    if (!reason.ok()) continue;
    Notification notification;
    notification.namespace_ = input.metadata.namespace_;
    notification.name = input.metadata.name;
    notification.reason = *reason;
    notification.text = event.message;
    notification.at = input.now == api::Timestamp{} ? std::chrono::system_clock::now() : input.now;
    notification.metric = DecidingMetricOf(status, *reason);
    notification.previous_revision = input.status.revision;
    notification.analysis_interval = input.spec.analysis.interval;
    notification.rollout = NotificationRollout(input, status, *reason);
    notification.targets = input.spec.notifications;
    notifier_.Notify(std::move(notification));
  }
}

Result<std::string> Executor::RemoveActionAnnotation(const api::ObjectMeta& metadata,
                                                     const std::string& resource_version) {
  const json patch = {{"metadata",
                       {{"resourceVersion", resource_version},
                        {"annotations", {{api::kActionAnnotation, nullptr}}}}}};
  kube::PatchOptions options;
  options.field_manager = options_.field_manager;
  auto patched = client_->Patch(kAgentRollouts, metadata.namespace_, metadata.name,
                                kube::PatchType::kMerge, patch, options);
  if (!patched.ok()) return patched.error();
  return ResourceVersionOf(*patched);
}

std::optional<Executor::WriteError> Executor::WriteOnce(const std::string& uid,
                                                        const Decision& decision,
                                                        api::Timestamp now) {
  if (recent_writes_.Fresh(uid, decision, now)) return std::nullopt;
  std::optional<WriteError> failed = ApplyWrites(decision);
  if (failed) {
    recent_writes_.Forget(uid);
  } else {
    recent_writes_.Record(uid, decision, now);
  }
  return failed;
}

std::optional<Executor::WriteError> Executor::ReleaseWrites(const Decision& decision) {
  // Each only takes exposure away or lets go of ownership: carried out even when the
  // other failed, and a target that is gone counts as done (API.md §2 onDelete).
  std::optional<WriteError> first;
  auto fail = [&first](WriteStage stage, const Error& error) {
    if (error.code() == ErrorCode::kNotFound) return;
    if (!first) {
      first = WriteError{stage, error};
    } else {
      first->error = Error(
          first->error.code(),
          first->error.message() + "; the traffic router write failed too: " + error.message());
    }
  };
  if (decision.flags) {
    if (Status released = flags_.Release(*decision.flags, *decision.release); !released.ok()) {
      fail(WriteStage::kFlag, released.error());
    }
  }
  if (decision.traffic) {
    if (Status set = traffic_.SetWeight(*decision.traffic); !set.ok()) {
      fail(WriteStage::kTraffic, set.error());
    }
  }
  return first;
}

Result<std::string> Executor::ChangeFinalizer(const api::ObjectMeta& metadata,
                                              FinalizerChange change) {
  // A merge patch replaces the whole list: guarded by the resourceVersion the list was
  // read at, so another controller's finalizer added meanwhile is a 409, never lost.
  std::vector<std::string> finalizers;
  for (const std::string& finalizer : metadata.finalizers) {
    if (finalizer != api::kRollbackOnDeleteFinalizer) finalizers.push_back(finalizer);
  }
  if (change == FinalizerChange::kAdd) finalizers.push_back(api::kRollbackOnDeleteFinalizer);
  const json patch = {
      {"metadata", {{"resourceVersion", metadata.resource_version}, {"finalizers", finalizers}}}};
  kube::PatchOptions options;
  options.field_manager = options_.field_manager;
  auto patched = client_->Patch(kAgentRollouts, metadata.namespace_, metadata.name,
                                kube::PatchType::kMerge, patch, options);
  if (!patched.ok()) {
    return patched.error().WithContext(
        std::string(change == FinalizerChange::kAdd ? "adding" : "removing") + " finalizer " +
        api::kRollbackOnDeleteFinalizer);
  }
  return ResourceVersionOf(*patched);
}

Result<Input> Executor::Reread(const Input& input) {
  auto current = client_->Get(kAgentRollouts, input.metadata.namespace_, input.metadata.name);
  if (!current.ok()) return current.error();
  auto observed = DecodeObservedRollout(*current);
  if (!observed.ok()) return observed.error();
  return MakeInput(*observed, input.evaluation, input.now);
}

Execution Executor::Execute(Input input, const api::AgentRolloutSpec* last_valid_spec) {
  Execution out;
  for (int attempt = 1;; ++attempt) {
    input.rollback_on_delete_timeout = options_.rollback_on_delete_timeout;
    input.status_refresh = options_.status_refresh;
    if (last_valid_spec) UseLastValidSpec(input, *last_valid_spec);
    Decision decision = Decide(input);
    const std::string& uid = input.metadata.uid;
    // A 409 on a write of the object: read it again and decide again (same evaluation,
    // same time), a bounded number of times. nullopt: re-read; else the error to stop on.
    auto reread = [&](const Error& error) -> std::optional<Error> {
      if (!kube::IsConflict(error) || attempt >= options_.max_attempts) return error;
      auto current = Reread(input);
      if (!current.ok()) return current.error();
      input = std::move(*current);
      return std::nullopt;
    };
    // The onDelete finalizer before any write (an exposure is never left uncovered); on a
    // deletion it is removed last. A finalizer that cannot be added holds the decision's
    // writes as a failed write would -- unless they only take exposure away -- so the
    // safety net goes on without it; a failed removal is retried with the next decision.
    std::optional<WriteError> unfinalized;
    std::optional<Error> finalizer_error;
    if (decision.finalizer != FinalizerChange::kNone && !decision.release) {
      auto changed = ChangeFinalizer(input.metadata, decision.finalizer);
      if (changed.ok()) {
        out.superseded.push_back(input.metadata.resource_version);
        input.metadata.resource_version = *changed;
      } else if (std::optional<Error> error = reread(changed.error()); !error) {
        continue;
      } else if (decision.finalizer == FinalizerChange::kAdd && !decision.rolls_back &&
                 !decision.steps_back) {
        unfinalized = WriteError{WriteStage::kFinalizer, *error};
      } else {
        finalizer_error = *error;
      }
    }
    std::optional<WriteError> failed;
    std::optional<WriteError> blocked;
    if (decision.release) {
      // Deletion: when its writes fail, decide again knowing it (hold, or give up).
      recent_writes_.Forget(uid);
      blocked = ReleaseWrites(decision);
      if (blocked) {
        Input without_writes = input;
        without_writes.blocked = BlockedWrite{blocked->stage, blocked->error};
        decision = Decide(without_writes);
      }
    } else if (unfinalized) {
      failed = std::move(unfinalized);
    } else {
      failed = WriteOnce(uid, decision, input.now);
    }
    // The safety net is never suspended (API.md §4.8): when the writes of a decision that
    // holds or moves forward fail, decide again knowing it. That decision writes nothing
    // forward, but folds the evaluation and rolls back (or steps back) when it says so.
    if (failed && !decision.rolls_back && !decision.steps_back) {
      blocked = std::move(failed);
      failed.reset();
      Input without_writes = input;
      without_writes.blocked = BlockedWrite{blocked->stage, blocked->error};
      decision = Decide(without_writes);
      if (decision.rolls_back || decision.steps_back) {
        failed = WriteOnce(uid, decision, input.now);
      }
    }
    api::AgentRolloutStatus status = decision.status;
    std::vector<Event> events = decision.events;
    if (failed) {
      WriteFailure failure = FailedWrite(input, decision, failed->stage, failed->error);
      status = std::move(failure.status);
      events = std::move(failure.events);
    }

    std::string resource_version = input.metadata.resource_version;
    bool status_written = false;
    if (status != input.status) {
      kube::WriteOptions options;
      options.field_manager = options_.field_manager;
      auto updated = client_->UpdateStatus(kAgentRollouts, input.metadata.namespace_,
                                           StatusUpdate(input.metadata, status), options);
      if (!updated.ok()) {
        const std::optional<Error> error = reread(updated.error());
        if (!error) continue;
        out.input = std::move(input);
        out.decision = std::move(decision);
        out.status = out.input.status;
        out.resource_version = resource_version;
        out.deleted = kube::IsNotFound(*error);
        if (out.deleted) recent_writes_.Forget(out.input.metadata.uid);
        out.result = error->WithContext("status update");
        return out;
      }
      out.superseded.push_back(resource_version);
      resource_version = ResourceVersionOf(*updated);
      status_written = true;
    }

    Announce(input, status, events, resource_version);

    Status result = failed            ? Status(failed->error)
                    : blocked         ? Status(blocked->error)
                    : finalizer_error ? Status(*finalizer_error)
                                      : OkStatus();
    if (!failed && decision.remove_action_annotation) {
      auto removed = RemoveActionAnnotation(input.metadata, resource_version);
      if (removed.ok()) {
        out.superseded.push_back(resource_version);
        resource_version = *removed;
      } else {
        result = removed.error().WithContext("removing annotation " +
                                             std::string(api::kActionAnnotation));
      }
    }
    if (decision.release && decision.finalizer == FinalizerChange::kRemove) {
      api::ObjectMeta metadata = input.metadata;
      metadata.resource_version = resource_version;
      auto removed = ChangeFinalizer(metadata, FinalizerChange::kRemove);
      if (removed.ok()) {
        out.superseded.push_back(resource_version);
        resource_version = *removed;
        result = OkStatus();  // the deletion is done with, rolled back or given up
      } else if (kube::IsNotFound(removed.error())) {
        out.deleted = true;
        result = OkStatus();
      } else {
        const std::optional<Error> error = reread(removed.error());
        if (!error) continue;  // the Events were said; the decision made again may repeat them
        result = *error;
      }
    }
    out.input = std::move(input);
    out.decision = std::move(decision);
    out.status = std::move(status);
    out.resource_version = std::move(resource_version);
    out.failed_stage = failed    ? std::optional<WriteStage>(failed->stage)
                       : blocked ? std::optional<WriteStage>(blocked->stage)
                                 : std::nullopt;
    out.status_written = status_written;
    out.result = std::move(result);
    return out;
  }
}

}  // namespace agentrollout::controllers
