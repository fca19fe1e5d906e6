#include "bench/watcher.h"

namespace agentrollout::bench {

Watcher::Watcher(const kube::RestConfig& config, kube::ResourceRef resource, std::string ns,
                 Callback on_object)
    : config_(config),
      resource_(std::move(resource)),
      ns_(std::move(ns)),
      on_object_(std::move(on_object)) {
  thread_ = std::thread([this] { Loop(); });
}

Watcher::~Watcher() {
  stopping_ = true;
  {
    std::lock_guard lock(mu_);
    if (stream_) stream_->Stop();
  }
  thread_.join();
}

void Watcher::Loop() {
  auto client = kube::NewClient(config_);
  if (!client.ok()) return;
  std::string version;
  while (!stopping_) {
    kube::WatchOptions options;
    options.resource_version = version;
    options.timeout = std::chrono::seconds(300);
    auto stream = (*client)->Watch(resource_, ns_, options);
    if (!stream.ok()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    kube::WatchStream* current = nullptr;
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
      stream_ = std::move(*stream);
      current = stream_.get();
    }
    while (!stopping_) {
      auto event = current->Next();
      if (!event.ok() || !*event) break;
      const auto now = Clock::now();
      const kube::WatchEvent& e = **event;
      if (e.type == kube::WatchEvent::Type::kError) {
        version.clear();  // e.g. 410 Expired: start over from the current state
        break;
      }
      version = e.object["metadata"].value("resourceVersion", version);
      if (e.type == kube::WatchEvent::Type::kAdded || e.type == kube::WatchEvent::Type::kModified) {
        on_object_(e.object, now);
      }
    }
  }
}

}  // namespace agentrollout::bench
