#include "kube/leader_election.h"

#include <spdlog/spdlog.h>

#include "api/time.h"

namespace agentrollout::kube {

namespace {

using nlohmann::json;

constexpr double kJitterFactor = 1.2;  // client-go's JitterFactor

std::int64_t CeilSeconds(std::chrono::milliseconds duration) {
  return (duration.count() + 999) / 1000;
}

std::string StringAt(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

std::int64_t IntAt(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

}  // namespace

LeaseRecord LeaseRecordFromJson(const json& lease) {
  LeaseRecord record;
  if (!lease.is_object() || !lease.contains("spec") || !lease["spec"].is_object()) return record;
  const json& spec = lease["spec"];
  record.holder_identity = StringAt(spec, "holderIdentity");
  record.lease_duration_seconds = IntAt(spec, "leaseDurationSeconds");
  record.acquire_time = StringAt(spec, "acquireTime");
  record.renew_time = StringAt(spec, "renewTime");
  record.lease_transitions = IntAt(spec, "leaseTransitions");
  return record;
}

Result<std::unique_ptr<LeaderElector>> LeaderElector::Create(ClientPtr client,
                                                             LeaderElectionConfig config) {
  if (config.lease_name.empty() || config.lease_namespace.empty()) {
    return InvalidArgument("leader election: lease_namespace and lease_name are required");
  }
  if (config.identity.empty()) return InvalidArgument("leader election: identity is required");
  if (config.retry_period.count() <= 0) {
    return InvalidArgument("leader election: retry_period must be positive");
  }
  if (config.lease_duration <= config.renew_deadline) {
    return InvalidArgument("leader election: lease_duration (" +
                           std::to_string(config.lease_duration.count()) +
                           "ms) must be greater than renew_deadline (" +
                           std::to_string(config.renew_deadline.count()) + "ms)");
  }
  if (static_cast<double>(config.renew_deadline.count()) <=
      kJitterFactor * static_cast<double>(config.retry_period.count())) {
    return InvalidArgument(
        "leader election: renew_deadline must be greater than 1.2 * retry_period");
  }
  if (!config.clock) config.clock = RealClock();
  return std::unique_ptr<LeaderElector>(new LeaderElector(std::move(client), std::move(config)));
}

LeaderElector::LeaderElector(ClientPtr client, LeaderElectionConfig config)
    : client_(std::move(client)), config_(std::move(config)), random_(std::random_device{}()) {}

LeaderElector::~LeaderElector() { Stop(); }

void LeaderElector::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || stop_) return;
  thread_ = std::thread([this] { Run(); });
}

void LeaderElector::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void LeaderElector::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return done_ || !thread_.joinable(); });
}

bool LeaderElector::IsLeader() const { return leading_.load(); }

std::string LeaderElector::CurrentLeader() const {
  std::lock_guard<std::mutex> lock(leader_mu_);
  return current_leader_;
}

bool LeaderElector::WaitFor(Clock::Duration duration) {
  std::unique_lock<std::mutex> lock(mu_);
  const Clock::TimePoint deadline = config_.clock->Now() + duration;
  while (!stop_ && config_.clock->Now() < deadline) config_.clock->WaitUntil(cv_, lock, deadline);
  return !stop_;
}

Clock::Duration LeaderElector::Jittered(Clock::Duration duration) {
  std::uniform_real_distribution<double> factor(1.0, kJitterFactor);
  return std::chrono::duration_cast<Clock::Duration>(duration * factor(random_));
}

json LeaderElector::NewLease(const LeaseRecord& record) const {
  return {{"apiVersion", "coordination.k8s.io/v1"},
          {"kind", "Lease"},
          {"metadata", {{"name", config_.lease_name}, {"namespace", config_.lease_namespace}}},
          {"spec",
           {{"holderIdentity", record.holder_identity},
            {"leaseDurationSeconds", record.lease_duration_seconds},
            {"acquireTime", record.acquire_time},
            {"renewTime", record.renew_time},
            {"leaseTransitions", record.lease_transitions}}}};
}

void LeaderElector::Observe(const LeaseRecord& record) {
  observed_record_ = record;
  observed_time_ = config_.clock->Now();
  bool changed;
  {
    std::lock_guard<std::mutex> lock(leader_mu_);
    changed = current_leader_ != record.holder_identity;
    current_leader_ = record.holder_identity;
  }
  if (changed && !record.holder_identity.empty() && config_.on_new_leader) {
    config_.on_new_leader(record.holder_identity);
  }
}

bool LeaderElector::TryAcquireOrRenew() {
  const std::string now = api::FormatMicroTime(config_.clock->WallNow());
  LeaseRecord desired;
  desired.holder_identity = config_.identity;
  desired.lease_duration_seconds = CeilSeconds(config_.lease_duration);
  desired.acquire_time = now;
  desired.renew_time = now;

  auto current = client_->Get(kLeases, config_.lease_namespace, config_.lease_name);
  if (!current.ok()) {
    if (!IsNotFound(current.error())) {
      spdlog::warn("leader election: reading lease {}/{}: {}", config_.lease_namespace,
                   config_.lease_name, current.error().ToString());
      return false;
    }
    auto created = client_->Create(kLeases, config_.lease_namespace, NewLease(desired));
    if (!created.ok()) {
      spdlog::info("leader election: creating lease {}/{}: {}", config_.lease_namespace,
                   config_.lease_name, created.error().ToString());
      return false;
    }
    Observe(desired);
    return true;
  }

  const LeaseRecord record = LeaseRecordFromJson(*current);
  if (!(record == observed_record_)) Observe(record);
  const auto duration = std::chrono::seconds(record.lease_duration_seconds);
  if (!record.holder_identity.empty() && record.holder_identity != config_.identity &&
      observed_time_ + duration > config_.clock->Now()) {
    return false;  // held by someone else, and valid by our own clock
  }
  if (record.holder_identity == config_.identity) {
    desired.acquire_time = record.acquire_time;
    desired.lease_transitions = record.lease_transitions;
  } else {
    desired.lease_transitions = record.lease_transitions + 1;
  }
  json lease = *current;
  lease["spec"] = NewLease(desired)["spec"];  // metadata.resourceVersion guards the write
  auto updated = client_->Update(kLeases, config_.lease_namespace, lease);
  if (!updated.ok()) {
    spdlog::info("leader election: updating lease {}/{}: {}", config_.lease_namespace,
                 config_.lease_name, updated.error().ToString());
    return false;
  }
  Observe(desired);
  return true;
}

void LeaderElector::Release() {
  auto current = client_->Get(kLeases, config_.lease_namespace, config_.lease_name);
  if (!current.ok()) return;
  const LeaseRecord record = LeaseRecordFromJson(*current);
  if (record.holder_identity != config_.identity) return;
  const std::string now = api::FormatMicroTime(config_.clock->WallNow());
  LeaseRecord released;
  released.lease_duration_seconds = 1;
  released.acquire_time = now;
  released.renew_time = now;
  released.lease_transitions = record.lease_transitions;
  json lease = *current;
  lease["spec"] = NewLease(released)["spec"];
  auto updated = client_->Update(kLeases, config_.lease_namespace, lease);
  if (!updated.ok()) {
    spdlog::warn("leader election: releasing lease {}/{}: {}", config_.lease_namespace,
                 config_.lease_name, updated.error().ToString());
    return;
  }
  Observe(released);
}

void LeaderElector::Run() {
  // Acquire.
  bool acquired = false;
  Clock::TimePoint acquisition_sent = config_.clock->Now();
  while (!(acquired = TryAcquireOrRenew())) {
    if (!WaitFor(Jittered(config_.retry_period))) break;
    acquisition_sent = config_.clock->Now();
  }
  if (acquired) {
    leading_ = true;
    spdlog::info("leader election: {} leads {}/{}", config_.identity, config_.lease_namespace,
                 config_.lease_name);
    if (config_.on_started_leading) config_.on_started_leading();
    // Renew until we cannot for renew_deadline, or are stopped. The deadline counts from
    // when the last successful renewal was *sent*: its answer may have come late (a slow
    // network), while another candidate counts leaseDuration from when it saw the record
    // change, which is no earlier than the send. Counting from the answer instead would let
    // this replica act on for up to that delay after a successor may have taken over.
    bool stopped = false;
    Clock::TimePoint renewal_sent = acquisition_sent;
    while (!stopped) {
      if (!WaitFor(config_.retry_period)) {
        stopped = true;
        break;
      }
      const Clock::TimePoint deadline = renewal_sent + config_.renew_deadline;
      bool renewed = false;
      Clock::TimePoint sent = config_.clock->Now();
      while (!(renewed = TryAcquireOrRenew()) && config_.clock->Now() < deadline) {
        const Clock::Duration left = deadline - config_.clock->Now();
        if (!WaitFor(std::min<Clock::Duration>(config_.retry_period, left))) {
          stopped = true;
          break;
        }
        sent = config_.clock->Now();
      }
      if (renewed) renewal_sent = sent;
      if (!renewed && !stopped) {
        spdlog::warn("leader election: {} lost {}/{} (no renewal within {}ms)", config_.identity,
                     config_.lease_namespace, config_.lease_name, config_.renew_deadline.count());
        break;
      }
    }
    if (stopped && config_.release_on_cancel) Release();
    leading_ = false;
    if (config_.on_stopped_leading) config_.on_stopped_leading();
  }
  std::lock_guard<std::mutex> lock(mu_);
  done_ = true;
  cv_.notify_all();
}

}  // namespace agentrollout::kube
