// Watches one resource in one namespace on a thread of its own and hands every object of
// an ADDED/MODIFIED event, with its arrival time, to a callback. Re-watches when a stream
// ends (from the last resourceVersion; from scratch after an error event such as 410).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "kube/client.h"
#include "kube/config.h"

namespace agentrollout::bench {

class Watcher {
 public:
  using Clock = std::chrono::steady_clock;
  using Callback = std::function<void(const nlohmann::json& object, Clock::time_point at)>;

  Watcher(const kube::RestConfig& config, kube::ResourceRef resource, std::string ns,
          Callback on_object);
  ~Watcher();  // stops the stream and joins the thread
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

 private:
  void Loop();

  kube::RestConfig config_;
  kube::ResourceRef resource_;
  std::string ns_;
  Callback on_object_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  kube::WatchStreamPtr stream_;
  std::thread thread_;
};

}  // namespace agentrollout::bench
