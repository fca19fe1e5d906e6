// Kubernetes Events (core/v1) about objects, as client-go's EventRecorder writes them:
// involvedObject, reason, message, type (Normal/Warning), source.component,
// reportingComponent/Instance, count, firstTimestamp, lastTimestamp.
//
// Repeats aggregate (client-go's EventCorrelator idea): the same (object, type, reason,
// message) again within `aggregation_window` of its last occurrence PATCHes count and
// lastTimestamp of the Event already written, instead of creating another Event. The
// correlation cache is a bounded LRU.
//
// Record() never blocks on the API: events go to a bounded queue that the recorder's own
// thread sends; when the queue is full the event is dropped and counted (dropped()).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "kube/client.h"
#include "kube/clock.h"

namespace agentrollout::kube {

struct ObjectReference {
  std::string api_version;
  std::string kind;
  std::string name;
  std::string namespace_;
  std::string uid;
  std::string resource_version;
};

enum class EventType { kNormal, kWarning };

struct EventRecorderOptions {
  std::string component;  // source.component and reportingComponent, e.g. "agentrollout"
  std::string instance;   // reportingInstance and source.host, e.g. the pod name
  std::size_t queue_capacity = 1000;
  std::size_t cache_capacity = 4096;
  std::chrono::milliseconds aggregation_window = std::chrono::minutes(10);
  ClockPtr clock = RealClock();
};

// The correlation decision alone (no I/O), for the recorder and for tests.
class EventCorrelator {
 public:
  struct Decision {
    bool create = true;      // false: patch the existing Event
    std::string name;        // the Event's metadata.name
    std::string namespace_;  // the Event's namespace
    std::int64_t count = 1;
    std::chrono::system_clock::time_point first_timestamp;
    std::chrono::system_clock::time_point last_timestamp;
  };

  EventCorrelator(std::size_t capacity, std::chrono::milliseconds window);

  // What to write for this occurrence at `now`.
  Decision Decide(const ObjectReference& object, EventType type, const std::string& reason,
                  const std::string& message, std::chrono::system_clock::time_point now);
  // The write of `decision` succeeded: later repeats build on it.
  void Written(const ObjectReference& object, EventType type, const std::string& reason,
               const std::string& message, const Decision& decision);
  // Forgets an Event (e.g. it was deleted on the server): the next repeat creates anew.
  void Forget(const ObjectReference& object, EventType type, const std::string& reason,
              const std::string& message);
  std::size_t size() const { return lru_.size(); }

 private:
  static std::string Key(const ObjectReference& object, EventType type, const std::string& reason,
                         const std::string& message);

  const std::size_t capacity_;
  const std::chrono::milliseconds window_;
  std::int64_t last_name_nanos_ = 0;  // Event names stay unique even when the clock stands still
  std::list<std::pair<std::string, Decision>> lru_;  // most recent first
  std::unordered_map<std::string, std::list<std::pair<std::string, Decision>>::iterator> index_;
};

// Event messages are at most this many bytes (events.k8s.io caps a note at 1 KiB).
inline constexpr std::size_t kMaxEventMessageBytes = 1024;

// `message` as the recorder writes it: text from outside may be in it, so it is cleaned
// like server text (API.md §3.1: valid UTF-8, one line, cut to kMaxEventMessageBytes on a
// character boundary).
std::string EventMessage(std::string_view message);

// The core/v1 Event object for a decision.
nlohmann::json MakeEvent(const ObjectReference& object, EventType type, const std::string& reason,
                         const std::string& message, const EventCorrelator::Decision& decision,
                         const EventRecorderOptions& options);

class EventRecorder {
 public:
  EventRecorder(ClientPtr client, EventRecorderOptions options);
  // Stops after sending what is queued.
  ~EventRecorder();
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  // Queues an Event; never blocks on the API server.
  void Record(const ObjectReference& object, EventType type, std::string reason,
              std::string message);
  // Waits until everything queued before the call has been sent (or failed).
  void Flush();
  // Sends what is queued, then stops the sender. Later Record calls are dropped.
  void Stop();

  std::uint64_t dropped() const;
  std::uint64_t failed() const;

 private:
  struct Pending {
    ObjectReference object;
    EventType type;
    std::string reason;
    std::string message;
  };

  void Run();
  void Send(const Pending& pending);

  const ClientPtr client_;
  const EventRecorderOptions options_;
  EventCorrelator correlator_;  // only the sender thread touches it

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  std::uint64_t enqueued_ = 0;
  std::uint64_t finished_ = 0;
  std::uint64_t dropped_ = 0;
  std::uint64_t failed_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace agentrollout::kube
