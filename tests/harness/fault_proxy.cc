#include "tests/harness/fault_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <list>
#include <mutex>
#include <optional>
#include <thread>

namespace agentrollout::testing {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// How often a connection thread looks at injected faults while it waits for bytes.
constexpr auto kTick = 25ms;
// An HTTP-level fault waits this long for a request to answer; a truncate waits this long
// for a chunk to cut before it closes the idle connection instead.
constexpr auto kPendingLimit = 5s;
constexpr std::size_t kMaxRequestHead = 64 * 1024;
constexpr std::size_t kMaxRequestBody = 1024 * 1024;

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Closes with an RST instead of a FIN.
void ResetFd(int& fd) {
  if (fd < 0) return;
  const linger reset{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  CloseFd(fd);
}

bool WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::string RandomBytes(std::mt19937_64& rng, std::size_t size) {
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(rng() & 0xff);
  return bytes;
}

Result<int> ConnectTo(const std::string& host, int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) {
    return InvalidArgument("upstream host " + host + " is not an IPv4 address");
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unavailable(std::string("socket: ") + std::strerror(errno));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    const int error = errno;
    ::close(fd);
    return Unavailable("connect " + host + ":" + std::to_string(port) + ": " +
                       std::strerror(error));
  }
  return fd;
}

std::string Lower(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

std::string CannedAnswer(FaultKind kind, std::mt19937_64& rng) {
  int status = 200;
  std::string reason = "OK";
  std::string body;
  std::string extra;
  switch (kind) {
    case FaultKind::kHttp500:
      status = 500, reason = "Internal Server Error";
      body = R"({"status":"error","errorType":"internal","error":"injected by fault proxy"})";
      break;
    case FaultKind::kHttp429:
      status = 429, reason = "Too Many Requests", extra = "Retry-After: 1\r\n";
      body = R"({"status":"error","errorType":"unavailable","error":"injected by fault proxy"})";
      break;
    case FaultKind::kHttp410:
      status = 410, reason = "Gone";
      body = R"({"status":"error","errorType":"gone","error":"injected by fault proxy"})";
      break;
    default:  // kGarbageBody: a 200 whose JSON is anything but
      body = RandomBytes(rng, 1 + rng() % 2048);
      break;
  }
  return "HTTP/1.1 " + std::to_string(status) + " " + reason +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n" + extra + "Connection: close\r\n\r\n" + body;
}

}  // namespace

std::string_view Name(FaultKind kind) {
  switch (kind) {
    case FaultKind::kDelay:
      return "delay";
    case FaultKind::kDrop:
      return "drop";
    case FaultKind::kReset:
      return "reset";
    case FaultKind::kTruncate:
      return "truncate";
    case FaultKind::kGarbage:
      return "garbage";
    case FaultKind::kPartition:
      return "partition";
    case FaultKind::kHttp500:
      return "http500";
    case FaultKind::kHttp429:
      return "http429";
    case FaultKind::kHttp410:
      return "http410";
    case FaultKind::kGarbageBody:
      return "garbage_body";
  }
  return "unknown";
}

bool IsHttpLevel(FaultKind kind) {
  return kind == FaultKind::kHttp500 || kind == FaultKind::kHttp429 ||
         kind == FaultKind::kHttp410 || kind == FaultKind::kGarbageBody;
}

// ---------------------------------------------------------------- connections

namespace {

// A fault a connection's own thread carries out (it owns the sockets).
// kPartitionReset is a reset counted as part of its partition.
enum class Pending { kNone, kDrop, kReset, kGarbage, kTruncate, kPartitionReset };

struct Connection {
  std::mutex mu;
  int client = -1;
  int upstream = -1;
  Pending pending = Pending::kNone;
  Clock::time_point pending_since{};
  std::uint64_t pick = 0;
  Clock::time_point frozen_until{};
  std::atomic<bool> done{false};
  std::thread thread;
};

enum class Wait { kReady, kIdle, kClosed };

}  // namespace

class FaultProxy::Impl {
 public:
  explicit Impl(FaultProxyOptions options) : options_(std::move(options)) {}

  Status Listen() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) return Unavailable(std::string("socket: ") + std::strerror(errno));
    const int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listen_fd_, 128) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      return Unavailable(std::string("listen on 127.0.0.1: ") + std::strerror(errno));
    }
    port_ = ntohs(address.sin_port);
    accept_thread_ = std::thread([this] { AcceptLoop(); });
    return OkStatus();
  }

  int port() const { return port_; }

  void Inject(const Fault& fault) {
    if (IsHttpLevel(fault.kind)) {
      std::lock_guard lock(mu_);
      if (!options_.http) {
        ++counts_["skipped"];
      } else {
        http_faults_.push_back({fault, Clock::now()});
      }
      return;
    }
    if (fault.kind == FaultKind::kPartition) return Partition(fault);
    std::shared_ptr<Connection> target = PickConnection(fault.pick);
    if (target == nullptr) {
      std::lock_guard lock(mu_);
      connection_faults_.push_back({fault, Clock::now()});
      return;
    }
    Aim(*target, fault);
  }

  void Heal() {
    std::lock_guard lock(mu_);
    http_faults_.clear();
    connection_faults_.clear();
    partition_until_ = Clock::now();
    for (int& fd : held_) CloseFd(fd);
    held_.clear();
    for (const auto& connection : connections_) {
      std::lock_guard connection_lock(connection->mu);
      connection->frozen_until = Clock::time_point{};
      connection->pending = Pending::kNone;
    }
  }

  std::map<std::string, std::int64_t> Counts() const {
    std::lock_guard lock(mu_);
    return counts_;
  }

  std::int64_t connections() const {
    std::lock_guard lock(mu_);
    return accepted_;
  }

  void Stop() {
    if (stopping_.exchange(true)) return;
    if (accept_thread_.joinable()) accept_thread_.join();
    CloseFd(listen_fd_);
    std::list<std::shared_ptr<Connection>> connections;
    {
      std::lock_guard lock(mu_);
      connections.swap(connections_);
      for (int& fd : held_) CloseFd(fd);
      held_.clear();
    }
    for (const auto& connection : connections) {
      {
        std::lock_guard lock(connection->mu);
        if (connection->client >= 0) ::shutdown(connection->client, SHUT_RDWR);
        if (connection->upstream >= 0) ::shutdown(connection->upstream, SHUT_RDWR);
      }
      if (connection->thread.joinable()) connection->thread.join();
    }
  }

 private:
  void Count(FaultKind kind) {
    std::lock_guard lock(count_mu_);
    ++counts_unlocked_[std::string(Name(kind))];
  }

  // counts_ (under mu_) merged with the per-connection counts (under count_mu_).
  void MergeCounts() {
    std::map<std::string, std::int64_t> counted;
    {
      std::lock_guard lock(count_mu_);
      counted.swap(counts_unlocked_);
    }
    std::lock_guard lock(mu_);
    for (const auto& [kind, n] : counted) counts_[kind] += n;
  }

  std::shared_ptr<Connection> PickConnection(std::uint64_t pick) {
    std::lock_guard lock(mu_);
    std::vector<std::shared_ptr<Connection>> live;
    for (const auto& connection : connections_) {
      if (!connection->done) live.push_back(connection);
    }
    if (live.empty()) return nullptr;
    return live[pick % live.size()];
  }

  // Hands a connection-level fault to the connection's thread (a delay takes effect at once).
  void Aim(Connection& target, const Fault& fault) {
    std::lock_guard lock(target.mu);
    if (fault.kind == FaultKind::kDelay) {
      target.frozen_until = std::max(target.frozen_until, Clock::now() + fault.duration);
      Count(fault.kind);
      return;
    }
    target.pick = fault.pick;
    target.pending_since = Clock::now();
    switch (fault.kind) {
      case FaultKind::kDrop:
        target.pending = Pending::kDrop;
        break;
      case FaultKind::kReset:
        target.pending = Pending::kReset;
        break;
      case FaultKind::kGarbage:
        target.pending = Pending::kGarbage;
        break;
      default:
        target.pending = Pending::kTruncate;
        break;
    }
  }

  void Partition(const Fault& fault) {
    const auto until = Clock::now() + fault.duration;
    std::lock_guard lock(mu_);
    ++counts_[std::string(Name(FaultKind::kPartition))];
    partition_until_ = std::max(partition_until_, until);
    partition_refuse_ = fault.refuse;
    for (const auto& connection : connections_) {
      std::lock_guard connection_lock(connection->mu);
      if (fault.refuse) {
        connection->pending = Pending::kPartitionReset;
        connection->pending_since = Clock::now();
      } else {
        connection->frozen_until = std::max(connection->frozen_until, until);
      }
    }
  }

  void AcceptLoop() {
    while (!stopping_) {
      Housekeeping();
      pollfd listener{listen_fd_, POLLIN, 0};
      if (::poll(&listener, 1, static_cast<int>(kTick.count())) <= 0) continue;
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard lock(mu_);
      ++accepted_;
      if (Clock::now() < partition_until_) {
        int held = fd;
        if (partition_refuse_) {
          ResetFd(held);
        } else {
          held_.push_back(held);
        }
        continue;
      }
      auto connection = std::make_shared<Connection>();
      connection->client = fd;
      connection->thread = std::thread([this, connection] {
        if (options_.http) {
          RunHttp(*connection);
        } else {
          RunTcp(*connection);
        }
        std::lock_guard connection_lock(connection->mu);
        if (connection->pending != Pending::kNone &&
            connection->pending != Pending::kPartitionReset) {
          std::lock_guard count_lock(count_mu_);
          ++counts_unlocked_["skipped"];
        }
        CloseFd(connection->client);
        CloseFd(connection->upstream);
        connection->done = true;
      });
      // A fault that found no live connection hits the next one (HTTP clients of the
      // proxy mostly hold a connection only for one request).
      if (!connection_faults_.empty()) {
        Aim(*connection, connection_faults_.front().first);
        connection_faults_.pop_front();
      }
      connections_.push_back(std::move(connection));
    }
  }

  // Ends a blackhole partition's held connections, joins finished connection threads and
  // answers HTTP faults nobody came for.
  void Housekeeping() {
    MergeCounts();
    std::vector<std::shared_ptr<Connection>> finished;
    std::lock_guard lock(mu_);
    if (Clock::now() >= partition_until_) {
      for (int& fd : held_) CloseFd(fd);
      held_.clear();
    }
    for (auto* queue : {&http_faults_, &connection_faults_}) {
      while (!queue->empty() && Clock::now() - queue->front().second > kPendingLimit) {
        queue->pop_front();
        ++counts_["skipped"];
      }
    }
    for (auto it = connections_.begin(); it != connections_.end();) {
      if ((*it)->done) {
        if ((*it)->thread.joinable()) (*it)->thread.join();
        it = connections_.erase(it);
      } else {
        ++it;
      }
    }
  }

  std::optional<Fault> TakeHttpFault() {
    std::lock_guard lock(mu_);
    if (http_faults_.empty()) return std::nullopt;
    Fault fault = http_faults_.front().first;
    http_faults_.pop_front();
    return fault;
  }

  // Carries out a pending drop/reset/garbage (true: the connection is closed); a truncate
  // that found no chunk to cut within kPendingLimit closes the idle connection.
  bool ApplyPending(Connection& c) {
    std::lock_guard lock(c.mu);
    switch (c.pending) {
      case Pending::kNone:
        return false;
      case Pending::kTruncate:
        if (Clock::now() - c.pending_since < kPendingLimit) return false;
        Count(FaultKind::kTruncate);
        break;
      case Pending::kDrop:
        Count(FaultKind::kDrop);
        break;
      case Pending::kReset:
        Count(FaultKind::kReset);
        ResetFd(c.client);
        break;
      case Pending::kPartitionReset:
        ResetFd(c.client);
        break;
      case Pending::kGarbage: {
        Count(FaultKind::kGarbage);
        std::mt19937_64 rng(c.pick);
        const std::string garbage = RandomBytes(rng, 1 + rng() % 1024);
        if (c.client >= 0) ::send(c.client, garbage.data(), garbage.size(), MSG_NOSIGNAL);
        break;
      }
    }
    c.pending = Pending::kNone;
    CloseFd(c.client);
    CloseFd(c.upstream);
    return true;
  }

  // Waits up to one tick for bytes on `fds` (readable ones get POLLIN in `ready`).
  Wait WaitFor(Connection& c, std::vector<pollfd>& fds) {
    if (stopping_ || ApplyPending(c)) return Wait::kClosed;
    bool frozen;
    {
      std::lock_guard lock(c.mu);
      frozen = Clock::now() < c.frozen_until;
    }
    if (frozen) {
      std::this_thread::sleep_for(kTick);
      return Wait::kIdle;
    }
    for (pollfd& fd : fds) fd.revents = 0;
    const int n = ::poll(fds.data(), fds.size(), static_cast<int>(kTick.count()));
    if (n < 0 && errno != EINTR) return Wait::kClosed;
    return n > 0 ? Wait::kReady : Wait::kIdle;
  }

  // Moves one chunk from `from` to `to`; false at EOF, on an error or a truncate.
  bool Forward(Connection& c, int from, int to, bool from_upstream) {
    char buffer[16384];
    const ssize_t n = ::recv(from, buffer, sizeof buffer, 0);
    if (n <= 0) return false;
    std::string_view chunk(buffer, static_cast<std::size_t>(n));
    if (from_upstream) {
      std::lock_guard lock(c.mu);
      if (c.pending == Pending::kTruncate) {
        std::mt19937_64 rng(c.pick);
        WriteAll(to, chunk.substr(0, rng() % chunk.size()));
        c.pending = Pending::kNone;
        Count(FaultKind::kTruncate);
        return false;
      }
    }
    return WriteAll(to, chunk);
  }

  // Relays both ways until either side closes.
  void RunTcp(Connection& c) {
    auto upstream = ConnectTo(options_.upstream_host, options_.upstream_port);
    if (!upstream.ok()) return ResetFd(c.client);
    {
      std::lock_guard lock(c.mu);
      c.upstream = *upstream;
    }
    std::vector<pollfd> fds{{c.client, POLLIN, 0}, {c.upstream, POLLIN, 0}};
    while (true) {
      const Wait wait = WaitFor(c, fds);
      if (wait == Wait::kClosed) return;
      if (wait == Wait::kIdle) continue;
      if (fds[0].revents != 0 && !Forward(c, c.client, c.upstream, false)) return;
      if (fds[1].revents != 0 && !Forward(c, c.upstream, c.client, true)) return;
    }
  }

  // Reads from the client until `buffer` holds `size` bytes; false when the connection ended.
  bool ReadClient(Connection& c, std::string& buffer, std::size_t size) {
    std::vector<pollfd> fds{{c.client, POLLIN, 0}};
    while (buffer.size() < size) {
      const Wait wait = WaitFor(c, fds);
      if (wait == Wait::kClosed) return false;
      if (wait == Wait::kIdle) continue;
      char chunk[16384];
      const ssize_t n = ::recv(c.client, chunk, sizeof chunk, 0);
      if (n <= 0) return false;
      buffer.append(chunk, static_cast<std::size_t>(n));
    }
    return true;
  }

  // One request per connection: read it, then answer it with an injected fault or forward
  // it on an upstream connection of its own with `Connection: close` and relay the answer
  // to its end (the upstream's answer says `Connection: close` too, so the client does not
  // reuse the connection).
  void RunHttp(Connection& c) {
    std::string buffer;
    std::size_t head_end;
    while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (buffer.size() > kMaxRequestHead || !ReadClient(c, buffer, buffer.size() + 1)) return;
    }
    std::string head;
    std::size_t body_length = 0;
    for (std::size_t line_start = 0; line_start < head_end;) {
      const std::size_t line_end = buffer.find("\r\n", line_start);
      const std::string line = buffer.substr(line_start, line_end - line_start);
      line_start = line_end + 2;
      const std::string lower = Lower(line);
      if (lower.starts_with("connection:")) continue;
      if (lower.starts_with("transfer-encoding:")) return;  // our clients never chunk a request
      if (lower.starts_with("content-length:")) {
        body_length = std::strtoul(line.c_str() + 15, nullptr, 10);
        if (body_length > kMaxRequestBody) return;
      }
      head += line + "\r\n";
    }
    if (!ReadClient(c, buffer, head_end + 4 + body_length)) return;
    const std::string request =
        head + "Connection: close\r\n\r\n" + buffer.substr(head_end + 4, body_length);

    if (const std::optional<Fault> fault = TakeHttpFault()) {
      std::mt19937_64 rng(fault->pick);
      Count(fault->kind);
      std::lock_guard lock(c.mu);
      WriteAll(c.client, CannedAnswer(fault->kind, rng));
      return;
    }
    auto upstream = ConnectTo(options_.upstream_host, options_.upstream_port);
    if (!upstream.ok()) return ResetFd(c.client);
    {
      std::lock_guard lock(c.mu);
      c.upstream = *upstream;
    }
    if (!WriteAll(c.upstream, request)) return;
    std::vector<pollfd> fds{{c.upstream, POLLIN, 0}};
    while (true) {
      const Wait wait = WaitFor(c, fds);
      if (wait == Wait::kClosed) return;
      if (wait == Wait::kReady && !Forward(c, c.upstream, c.client, true)) return;
    }
  }

  const FaultProxyOptions options_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;

  mutable std::mutex mu_;  // everything below
  std::list<std::shared_ptr<Connection>> connections_;
  std::vector<int> held_;  // accepted during a blackhole partition
  Clock::time_point partition_until_{};
  bool partition_refuse_ = false;
  // Faults waiting for a request or a connection, with the time they were injected.
  std::deque<std::pair<Fault, Clock::time_point>> http_faults_;
  std::deque<std::pair<Fault, Clock::time_point>> connection_faults_;
  std::map<std::string, std::int64_t> counts_;
  std::int64_t accepted_ = 0;

  // Counts made by connection threads while they hold a connection's lock (never mu_, which
  // is taken before a connection's lock); merged into counts_ by Housekeeping and Counts.
  std::mutex count_mu_;
  std::map<std::string, std::int64_t> counts_unlocked_;

  friend class FaultProxy;
};

Result<std::unique_ptr<FaultProxy>> FaultProxy::Start(const FaultProxyOptions& options) {
  auto impl = std::make_unique<Impl>(options);
  if (Status listening = impl->Listen(); !listening.ok()) return listening.error();
  return std::unique_ptr<FaultProxy>(new FaultProxy(std::move(impl)));
}

FaultProxy::FaultProxy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FaultProxy::~FaultProxy() { Stop(); }
int FaultProxy::port() const { return impl_->port(); }
void FaultProxy::Inject(const Fault& fault) { impl_->Inject(fault); }
void FaultProxy::Stop() { impl_->Stop(); }
void FaultProxy::Heal() { impl_->Heal(); }
std::int64_t FaultProxy::connections() const { return impl_->connections(); }

std::map<std::string, std::int64_t> FaultProxy::Counts() const {
  impl_->MergeCounts();
  return impl_->Counts();
}

std::int64_t FaultProxy::Applied() const {
  std::int64_t applied = 0;
  for (const auto& [kind, n] : Counts()) {
    if (kind != "skipped") applied += n;
  }
  return applied;
}

// ---------------------------------------------------------------- schedules

FaultMix TcpFaultMix() {
  return {{FaultKind::kDelay, 4},    {FaultKind::kDrop, 3},    {FaultKind::kReset, 3},
          {FaultKind::kTruncate, 2}, {FaultKind::kGarbage, 2}, {FaultKind::kPartition, 1}};
}

FaultMix HttpFaultMix() {
  FaultMix mix = TcpFaultMix();
  mix[FaultKind::kHttp500] = 3;
  mix[FaultKind::kHttp429] = 2;
  mix[FaultKind::kHttp410] = 1;
  mix[FaultKind::kGarbageBody] = 2;
  return mix;
}

std::vector<ScheduledFault> MakeFaultSchedule(std::uint64_t seed, int count,
                                              std::chrono::milliseconds span, const FaultMix& mix) {
  std::mt19937_64 rng(seed);
  std::vector<FaultKind> kinds;
  std::vector<int> weights;
  for (const auto& [kind, weight] : mix) {
    kinds.push_back(kind);
    weights.push_back(weight);
  }
  std::discrete_distribution<std::size_t> pick_kind(weights.begin(), weights.end());
  std::vector<ScheduledFault> schedule;
  for (int i = 0; i < count && !kinds.empty() && span.count() > 0; ++i) {
    ScheduledFault scheduled;
    scheduled.at = std::chrono::milliseconds(rng() % static_cast<std::uint64_t>(span.count()));
    scheduled.fault.kind = kinds[pick_kind(rng)];
    if (scheduled.fault.kind == FaultKind::kDelay) {
      scheduled.fault.duration = std::chrono::milliseconds(100 + rng() % 2900);
    } else if (scheduled.fault.kind == FaultKind::kPartition) {
      scheduled.fault.duration = std::chrono::milliseconds(1000 + rng() % 3000);
      scheduled.fault.refuse = rng() % 2 == 0;
    }
    scheduled.fault.pick = rng();
    schedule.push_back(scheduled);
  }
  std::stable_sort(schedule.begin(), schedule.end(),
                   [](const ScheduledFault& a, const ScheduledFault& b) { return a.at < b.at; });
  return schedule;
}

class FaultRunner::Impl {
 public:
  Impl(FaultProxy& proxy, std::vector<ScheduledFault> schedule)
      : thread_([this, &proxy, schedule = std::move(schedule)] {
          const auto start = Clock::now();
          for (const ScheduledFault& scheduled : schedule) {
            std::unique_lock lock(mu_);
            if (cv_.wait_until(lock, start + scheduled.at, [this] { return stopped_; })) return;
            lock.unlock();
            proxy.Inject(scheduled.fault);
          }
        }) {}

  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopped_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  std::thread thread_;  // last: starts once the members it uses exist
};

FaultRunner::FaultRunner(FaultProxy& proxy, std::vector<ScheduledFault> schedule)
    : impl_(std::make_unique<Impl>(proxy, std::move(schedule))) {}
FaultRunner::~FaultRunner() { Stop(); }
void FaultRunner::Stop() { impl_->Stop(); }

}  // namespace agentrollout::testing
