#include "controllers/shared_object_editor.h"

#include <utility>

#include "kube/api_error.h"

namespace agentrollout::controllers {

namespace {

// The edit's change; one that throws (a bug) is refused like a change that failed.
Result<bool> Change(const ObjectEdit& edit, nlohmann::json& object) {
  try {
    return edit.change(object);
  } catch (const std::exception& e) {
    return Error(ErrorCode::kInternal, edit.where + ": the change threw: " + e.what());
  }
}

}  // namespace

SharedObjectEditor::SharedObjectEditor(kube::Client& client, ConflictRetry retry)
    : client_(client), retry_(std::move(retry)) {}

Status SharedObjectEditor::Edit(const ObjectEdit& edit) {
  const std::string key = edit.resource.ToString() + "/" + edit.namespace_ + "/" + edit.name;
  Pending self{&edit};
  std::unique_lock<std::mutex> lock(mu_);
  Queue& queue = queues_[key];  // std::map: the reference outlives other keys' changes
  queue.waiting.push_back(&self);
  // `self.done` first: once it is set the queue may be gone.
  written_.wait(lock, [&] { return self.done || !queue.writing; });
  if (self.done) return self.result;
  // This caller writes everything that waits, its own edit included.
  queue.writing = true;
  std::vector<Pending*> batch;
  batch.swap(queue.waiting);
  lock.unlock();
  // The edits of other callers wait on this write: whatever happens in it, they must hear
  // an outcome, or they and every later edit of the object would wait forever.
  try {
    Write(batch);
  } catch (const std::exception& e) {
    FailBatch(batch, e.what());
  } catch (...) {
    FailBatch(batch, "unknown exception");
  }
  lock.lock();
  for (Pending* pending : batch) pending->done = true;
  queue.writing = false;
  if (queue.waiting.empty()) queues_.erase(key);
  written_.notify_all();
  return self.result;
}

std::size_t SharedObjectEditor::QueuedEdits() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::size_t queued = 0;
  for (const auto& [key, queue] : queues_) queued += queue.waiting.size();
  return queued;
}

void SharedObjectEditor::FailBatch(const std::vector<Pending*>& batch, const char* what) {
  for (Pending* pending : batch) {
    pending->result =
        Error(ErrorCode::kInternal, pending->edit->where + ": the write threw: " + what);
  }
}

void SharedObjectEditor::Write(const std::vector<Pending*>& batch) {
  std::vector<bool> refused(batch.size(), false);
  const Status shared = RetryOnConflict(retry_, batch.front()->edit->where,
                                        [&] { return WriteOnce(batch, refused); });
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (!refused[i]) batch[i]->result = shared;
  }
}

Status SharedObjectEditor::WriteOnce(const std::vector<Pending*>& batch,
                                     std::vector<bool>& refused) {
  const ObjectEdit& first = *batch.front()->edit;
  auto current = client_.Get(first.resource, first.namespace_, first.name);
  if (!current.ok() && !kube::IsNotFound(current.error())) {
    return current.error().WithContext(first.where);
  }
  const bool exists = current.ok();
  nlohmann::json object = exists ? std::move(*current) : nlohmann::json();
  bool changed = false;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const ObjectEdit& edit = *batch[i]->edit;
    refused[i] = false;
    if (!exists && !edit.create) continue;  // nothing to do, and nothing created for it
    if (object.is_null()) object = edit.new_object;
    // On a copy: a change that refuses part-way leaves nothing behind.
    nlohmann::json candidate = object;
    Result<bool> result = Change(edit, candidate);
    if (!result.ok()) {
      refused[i] = true;
      batch[i]->result = result.error();
      continue;
    }
    if (!*result) continue;
    object = std::move(candidate);
    changed = true;
  }
  if (!changed) return OkStatus();
  // The object read carries its resourceVersion: a concurrent write makes this a 409.
  const auto written = exists ? client_.Update(first.resource, first.namespace_, object)
                              : client_.Create(first.resource, first.namespace_, object);
  return written.ok() ? OkStatus() : written.error().WithContext(first.where);
}

}  // namespace agentrollout::controllers
