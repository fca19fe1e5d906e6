// The reflector keeps a sink (the informer's cache) in step with the API server, as
// client-go's Reflector.ListAndWatch does:
// - LIST with a quorum read in pages of `page_size` items, following continue tokens; the
//   sink receives each page as it arrives (ListPage) and then the end of the list
//   (ListDone). Unlike client-go, even the first LIST does not ask for resourceVersion=0:
//   the API server serves that from its watch cache in one response whatever the limit,
//   and the parsed JSON of 10,000 objects at once was the operator's peak memory;
// - then WATCH from the list's resourceVersion with allowWatchBookmarks=true and a random
//   timeoutSeconds between 5 and 10 minutes; every event advances the resourceVersion,
//   bookmarks only advance it;
// - a normal end of the watch: watch again at once from the last resourceVersion;
// - 410 Gone (at the start of the watch, or an ERROR event with code 410 / reason Expired):
//   the resourceVersion is too old, so LIST again from scratch;
// - any other failure (connection refused, broken stream, 5xx): wait with exponential
//   backoff (800 ms doubling to 30 s, reset after a healthy watch) and watch again from the
//   last resourceVersion (a failed LIST is retried the same way).
// All of it runs on the reflector's own thread; Stop() interrupts a watch or a wait.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kube/client.h"
#include "kube/clock.h"

namespace agentrollout::kube {

// What the reflector feeds. Called only from the reflector's thread.
class ReflectorSink {
 public:
  virtual ~ReflectorSink() = default;
  // A LIST arrives as ListPage calls, one per page in order, then ListDone: the pages
  // together are the complete current state, everything not in them is gone. ListAbandoned
  // instead of ListDone voids the pages received since the last ListDone (the LIST failed,
  // or its continue token expired and it starts over).
  virtual void ListPage(std::vector<nlohmann::json> items) = 0;
  virtual void ListDone(const std::string& resource_version) = 0;
  virtual void ListAbandoned() = 0;
  // One ADDED, MODIFIED or DELETED watch event.
  virtual void Apply(WatchEvent::Type type, nlohmann::json object) = 0;
};

struct ReflectorOptions {
  ResourceRef resource;
  std::string namespace_;  // "" = all namespaces
  std::string label_selector;
  std::string field_selector;
  std::int64_t page_size = 500;
  std::chrono::seconds min_watch_timeout{300};
  std::chrono::seconds max_watch_timeout{600};
  Clock::Duration initial_backoff = std::chrono::milliseconds(800);
  Clock::Duration max_backoff = std::chrono::seconds(30);
  ClockPtr clock = RealClock();
};

class Reflector {
 public:
  struct Stats {
    int lists = 0;            // successful LISTs
    int watches = 0;          // watches opened
    int relists_on_gone = 0;  // LISTs forced by 410 Gone / Expired
    int failures = 0;         // failed LISTs, watches and broken streams
  };

  Reflector(ClientPtr client, ReflectorOptions options, ReflectorSink& sink);
  ~Reflector();
  Reflector(const Reflector&) = delete;
  Reflector& operator=(const Reflector&) = delete;

  void Start();
  // Stops the thread (interrupting a watch or a backoff wait) and joins it. Idempotent.
  void Stop();

  std::string LastSyncResourceVersion() const;
  Stats stats() const;

 private:
  enum class WatchEnd { kRewatch, kRelist, kFailed, kStopped };

  void Run();
  Status List();
  WatchEnd WatchOnce();
  // Waits `duration` on the clock unless stopped; false when stopped.
  bool WaitFor(Clock::Duration duration);
  Clock::Duration NextBackoff();
  bool stopped() const;

  const ClientPtr client_;
  const ReflectorOptions options_;
  ReflectorSink& sink_;
  std::mt19937_64 random_;
  Clock::Duration backoff_{};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  WatchStream* current_watch_ = nullptr;  // guarded by mu_; for Stop()
  std::string resource_version_;          // guarded by mu_
  Stats stats_;                           // guarded by mu_
  std::thread thread_;
};

}  // namespace agentrollout::kube
