#include "tests/harness/fault_proxy.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace agentrollout::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using Clock = std::chrono::steady_clock;

// A loopback upstream: echoes every byte back, or (http) answers every request with
// "200 upstream" and closes, remembering the requests it saw.
class Upstream {
 public:
  explicit Upstream(bool http) : http_(http) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::listen(fd_, 16);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~Upstream() {
    stopping_ = true;
    thread_.join();
    ::close(fd_);
    for (std::thread& worker : workers_) worker.join();
  }
  int port() const { return port_; }
  std::vector<std::string> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void Serve() {
    while (!stopping_) {
      pollfd listener{fd_, POLLIN, 0};
      if (::poll(&listener, 1, 20) <= 0) continue;
      const int client = ::accept(fd_, nullptr, nullptr);
      if (client >= 0) workers_.emplace_back([this, client] { Handle(client); });
    }
  }
  void Handle(int fd) {
    std::string seen;
    char buffer[16384];
    while (true) {
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      if (!http_) {
        if (::send(fd, buffer, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) break;
        continue;
      }
      seen.append(buffer, static_cast<std::size_t>(n));
      if (seen.find("\r\n\r\n") == std::string::npos) continue;
      {
        std::lock_guard lock(mu_);
        requests_.push_back(seen);
      }
      const std::string answer =
          "HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nupstream";
      ::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL);
      break;
    }
    ::close(fd);
  }

  const bool http_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::vector<std::string> requests_;
};

int Connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  return fd;
}

struct Received {
  std::string bytes;
  enum class End { kEof, kReset, kTimeout } end = End::kTimeout;
};

// Reads until `size` bytes arrived, the peer closed, or `timeout`.
Received Receive(int fd, std::size_t size, std::chrono::milliseconds timeout = 5s) {
  Received received;
  const auto deadline = Clock::now() + timeout;
  while (received.bytes.size() < size && Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    char buffer[16384];
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n == 0) {
      received.end = Received::End::kEof;
      return received;
    }
    if (n < 0) {
      received.end = errno == ECONNRESET ? Received::End::kReset : Received::End::kEof;
      return received;
    }
    received.bytes.append(buffer, static_cast<std::size_t>(n));
  }
  return received;
}

std::string Pattern(std::size_t size, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(rng() & 0xff);
  return bytes;
}

void SendAll(int fd, const std::string& bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    ASSERT_GT(n, 0);
    sent += static_cast<std::size_t>(n);
  }
}

std::unique_ptr<FaultProxy> StartProxy(const Upstream& upstream, bool http) {
  FaultProxyOptions options;
  options.upstream_port = upstream.port();
  options.http = http;
  auto proxy = FaultProxy::Start(options);
  EXPECT_TRUE(proxy.ok()) << proxy.error().ToString();
  return proxy.ok() ? std::move(*proxy) : nullptr;
}

// Sends `bytes` and reads the echo on a sender thread (the echo can outgrow the buffers).
Received EchoRoundTrip(int fd, const std::string& bytes) {
  std::thread sender([&] { SendAll(fd, bytes); });
  Received received = Receive(fd, bytes.size(), 10s);
  sender.join();
  return received;
}

TEST(FaultProxyTest, ForwardsEveryByteExactlyWhenNoFaultIsInjected) {
  Upstream upstream(false);
  auto proxy = StartProxy(upstream, false);
  ASSERT_NE(proxy, nullptr);
  for (int i = 0; i < 3; ++i) {
    const int fd = Connect(proxy->port());
    const std::string bytes = Pattern(1 << 20, static_cast<std::uint64_t>(i));
    const Received received = EchoRoundTrip(fd, bytes);
    EXPECT_EQ(received.bytes.size(), bytes.size());
    EXPECT_TRUE(received.bytes == bytes) << "the echo differs from what was sent";
    ::close(fd);
  }
  EXPECT_EQ(proxy->connections(), 3);
  EXPECT_EQ(proxy->Applied(), 0);
}

// A connection that has carried one echo, so the proxy counts it as live.
int LiveConnection(FaultProxy& proxy) {
  const int fd = Connect(proxy.port());
  SendAll(fd, "hello");
  EXPECT_EQ(Receive(fd, 5).bytes, "hello");
  return fd;
}

TEST(FaultProxyTest, DropClosesTheConnection) {
  Upstream upstream(false);
  auto proxy = StartProxy(upstream, false);
  const int fd = LiveConnection(*proxy);
  proxy->Inject({FaultKind::kDrop});
  const Received received = Receive(fd, 1);
  EXPECT_EQ(received.end, Received::End::kEof);
  EXPECT_EQ(proxy->Counts()["drop"], 1);
  ::close(fd);
}

TEST(FaultProxyTest, ResetMakesTheClientReadConnectionReset) {
  Upstream upstream(false);
  auto proxy = StartProxy(upstream, false);
  const int fd = LiveConnection(*proxy);
  proxy->Inject({FaultKind::kReset});
  EXPECT_EQ(Receive(fd, 1).end, Received::End::kReset);
  EXPECT_EQ(proxy->Counts()["reset"], 1);
  ::close(fd);
}

TEST(FaultProxyTest, TruncateCutsTheNextChunkFromUpstreamAndCloses) {
  Upstream upstream(false);
  auto proxy = StartProxy(upstream, false);
  const int fd = LiveConnection(*proxy);
  proxy->Inject({FaultKind::kTruncate, 0ms, false, 7});
  const std::string bytes = Pattern(4096, 1);
  const Received received = EchoRoundTrip(fd, bytes);
  EXPECT_EQ(received.end, Received::End::kEof);
  EXPECT_LT(received.bytes.size(), bytes.size());
  EXPECT_EQ(received.bytes, bytes.substr(0, received.bytes.size())) << "a prefix, unaltered";
  EXPECT_EQ(proxy->Counts()["truncate"], 1);
  ::close(fd);
}

TEST(FaultProxyTest, GarbageWritesBytesUpstreamNeverSentThenCloses) {
  Upstream upstream(false);
  auto proxy = StartProxy(upstream, false);
  const int fd = LiveConnection(*proxy);
  proxy->Inject({FaultKind::kGarbage, 0ms, false, 42});
  const Received received = Receive(fd, 1 << 20);
  EXPECT_EQ(received.end, Received::End::kEof);
  EXPECT_FALSE(received.bytes.empty());  // nothing was sent since the echo: all garbage
  EXPECT_EQ(proxy->Counts()["garbage"], 1);
  ::close(fd);
}

TEST(FaultProxyTest, DelayStallsTheConnectionThenItResumes) {
  Upstream upstream(false);
  auto proxy = StartProxy(upstream, false);
  const int fd = LiveConnection(*proxy);
  proxy->Inject({FaultKind::kDelay, 600ms});
  const auto start = Clock::now();
  SendAll(fd, "again");
  const Received received = Receive(fd, 5);
  EXPECT_EQ(received.bytes, "again");
  EXPECT_GE(Clock::now() - start, 550ms);
  EXPECT_EQ(proxy->Counts()["delay"], 1);
  ::close(fd);
}

TEST(FaultProxyTest, RefusingPartitionResetsLiveAndNewConnectionsUntilItEnds) {
  Upstream upstream(false);
  auto proxy = StartProxy(upstream, false);
  const int live = LiveConnection(*proxy);
  proxy->Inject({FaultKind::kPartition, 1500ms, true});
  EXPECT_EQ(Receive(live, 1).end, Received::End::kReset);
  const int during = Connect(proxy->port());  // the kernel accepts, the proxy resets it
  EXPECT_NE(Receive(during, 1).end, Received::End::kTimeout) << "refused, not served";
  std::this_thread::sleep_for(1600ms);
  const int after = LiveConnection(*proxy);  // healed
  EXPECT_EQ(proxy->Counts()["partition"], 1);
  EXPECT_EQ(proxy->Counts().count("reset"), 0u) << "counted once, as the partition";
  for (int fd : {live, during, after}) ::close(fd);
}

TEST(FaultProxyTest, BlackholePartitionLeavesConnectionsSilentThenLiveOnesResume) {
  Upstream upstream(false);
  auto proxy = StartProxy(upstream, false);
  const int live = LiveConnection(*proxy);
  proxy->Inject({FaultKind::kPartition, 1500ms, false});
  const int during = Connect(proxy->port());  // accepted by the kernel, then never served
  SendAll(live, "held");
  SendAll(during, "lost");
  const Received silent = Receive(during, 4, 800ms);
  EXPECT_EQ(silent.end, Received::End::kTimeout);
  EXPECT_TRUE(silent.bytes.empty());
  // The live connection answers once the partition heals; the one accepted during it is
  // closed then (reset, as it holds unread bytes).
  EXPECT_EQ(Receive(live, 4, 5s).bytes, "held");
  EXPECT_NE(Receive(during, 4, 5s).end, Received::End::kTimeout);
  for (int fd : {live, during}) ::close(fd);
}

TEST(FaultProxyTest, AFaultWithoutALiveConnectionHitsTheNextOne) {
  Upstream upstream(false);
  auto proxy = StartProxy(upstream, false);
  proxy->Inject({FaultKind::kReset});
  const int fd = Connect(proxy->port());
  EXPECT_EQ(Receive(fd, 1).end, Received::End::kReset);
  EXPECT_EQ(proxy->Counts()["reset"], 1);
  ::close(fd);
}

TEST(FaultProxyTest, HealEndsPartitionsAndDelaysAndForgetsQueuedFaults) {
  Upstream upstream(false);
  auto proxy = StartProxy(upstream, false);
  const int delayed = LiveConnection(*proxy);
  proxy->Inject({FaultKind::kDelay, 60s});
  proxy->Inject({FaultKind::kPartition, 60s, false});
  proxy->Heal();
  proxy->Inject({FaultKind::kDrop});  // queued for the next connection: not after a Heal
  proxy->Heal();
  SendAll(delayed, "now");
  EXPECT_EQ(Receive(delayed, 3, 2s).bytes, "now");
  const int fresh = LiveConnection(*proxy);
  for (int fd : {delayed, fresh}) ::close(fd);
}

TEST(FaultProxyTest, FaultsWithNothingToHitAreCountedAsSkipped) {
  Upstream upstream(false);
  auto proxy = StartProxy(upstream, false);
  proxy->Inject({FaultKind::kHttp500});  // not an HTTP proxy
  EXPECT_EQ(proxy->Counts()["skipped"], 1);
  EXPECT_EQ(proxy->Applied(), 0);
}

std::string HttpGet(int port, const std::string& target) {
  const int fd = Connect(port);
  SendAll(fd, "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n");
  std::string answer = Receive(fd, 1 << 20).bytes;
  ::close(fd);
  return answer;
}

TEST(FaultProxyTest, HttpModeForwardsARequestWithConnectionClose) {
  Upstream upstream(true);
  auto proxy = StartProxy(upstream, true);
  EXPECT_THAT(HttpGet(proxy->port(), "/api/v1/query?query=up"), HasSubstr("\r\n\r\nupstream"));
  const auto requests = upstream.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_THAT(requests[0], StartsWith("GET /api/v1/query?query=up HTTP/1.1\r\n"));
  EXPECT_THAT(requests[0], HasSubstr("Connection: close\r\n"));
  EXPECT_THAT(requests[0], ::testing::Not(HasSubstr("keep-alive")));
}

TEST(FaultProxyTest, HttpModeAnswersInjectedStatusesAndGarbageBodies) {
  Upstream upstream(true);
  auto proxy = StartProxy(upstream, true);
  proxy->Inject({FaultKind::kHttp500});
  EXPECT_THAT(HttpGet(proxy->port(), "/"), StartsWith("HTTP/1.1 500 "));
  proxy->Inject({FaultKind::kHttp429});
  const std::string throttled = HttpGet(proxy->port(), "/");
  EXPECT_THAT(throttled, StartsWith("HTTP/1.1 429 "));
  EXPECT_THAT(throttled, HasSubstr("Retry-After: 1\r\n"));
  proxy->Inject({FaultKind::kHttp410});
  EXPECT_THAT(HttpGet(proxy->port(), "/"), StartsWith("HTTP/1.1 410 "));
  proxy->Inject({FaultKind::kGarbageBody, 0ms, false, 3});
  const std::string garbage = HttpGet(proxy->port(), "/");
  EXPECT_THAT(garbage, StartsWith("HTTP/1.1 200 "));
  EXPECT_THAT(garbage, ::testing::Not(HasSubstr("upstream")));
  EXPECT_TRUE(upstream.requests().empty()) << "answered by the proxy, never forwarded";
  // The next request is forwarded again.
  EXPECT_THAT(HttpGet(proxy->port(), "/"), HasSubstr("upstream"));
  const auto counts = proxy->Counts();
  for (const char* kind : {"http500", "http429", "http410", "garbage_body"}) {
    EXPECT_EQ(counts.at(kind), 1) << kind;
  }
}

TEST(FaultScheduleTest, TheSeedDeterminesTheWholeSchedule) {
  const auto a = MakeFaultSchedule(7, 200, 60s, HttpFaultMix());
  const auto b = MakeFaultSchedule(7, 200, 60s, HttpFaultMix());
  const auto c = MakeFaultSchedule(8, 200, 60s, HttpFaultMix());
  ASSERT_EQ(a.size(), 200u);
  bool same = true, differs = false;
  std::set<FaultKind> kinds;
  for (std::size_t i = 0; i < a.size(); ++i) {
    same = same && a[i].at == b[i].at && a[i].fault.kind == b[i].fault.kind &&
           a[i].fault.pick == b[i].fault.pick && a[i].fault.duration == b[i].fault.duration;
    differs = differs || a[i].at != c[i].at || a[i].fault.kind != c[i].fault.kind;
    kinds.insert(a[i].fault.kind);
    EXPECT_LT(a[i].at, 60s);
    if (i > 0) {
      EXPECT_LE(a[i - 1].at, a[i].at);
    }
  }
  EXPECT_TRUE(same);
  EXPECT_TRUE(differs);
  EXPECT_EQ(kinds.size(), HttpFaultMix().size()) << "200 draws reach every kind";
  for (const auto& scheduled : MakeFaultSchedule(7, 200, 60s, TcpFaultMix())) {
    EXPECT_FALSE(IsHttpLevel(scheduled.fault.kind));
  }
}

TEST(FaultRunnerTest, PlaysTheScheduleAgainstTheProxy) {
  Upstream upstream(true);
  auto proxy = StartProxy(upstream, true);
  std::vector<ScheduledFault> schedule = {{0ms, {FaultKind::kHttp500}},
                                          {100ms, {FaultKind::kHttp410}}};
  FaultRunner runner(*proxy, schedule);
  std::this_thread::sleep_for(300ms);
  EXPECT_THAT(HttpGet(proxy->port(), "/"), StartsWith("HTTP/1.1 500 "));
  EXPECT_THAT(HttpGet(proxy->port(), "/"), StartsWith("HTTP/1.1 410 "));
}

}  // namespace
}  // namespace agentrollout::testing
