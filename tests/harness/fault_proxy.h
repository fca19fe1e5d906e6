// A TCP proxy that breaks things on purpose, for the fault-injection suite (tests/chaos).
//
// FaultProxy listens on a free loopback port and forwards every connection, byte for byte,
// to one upstream host:port; TLS passes through untouched (the kube-apiserver's certificate
// names 127.0.0.1, so a kubeconfig whose server is the proxy's address verifies). Faults
// are applied when Inject() is called -- by a FaultRunner playing a seeded schedule, or
// by a test directly:
//   delay      one live connection stops relaying for `duration`, then resumes
//   drop       one live connection is closed (FIN to both sides)
//   reset      one live connection is reset (SO_LINGER 0: the client reads ECONNRESET)
//   truncate   the next chunk from upstream on one connection is cut short, then closed
//   garbage    random bytes are written to one connection's client, then it is closed
//   partition  for `duration`: new connections are reset (refuse) or accepted and left
//              silent (blackhole); live ones are reset (refuse) or frozen (blackhole)
// In HTTP mode (plaintext HTTP/1.1, e.g. Prometheus) the proxy reads each request and
// forwards it on a fresh upstream connection with `Connection: close`, so it can also
// answer a request itself instead of forwarding it:
//   http500, http429 (Retry-After: 1), http410   that status with a small JSON body
//   garbage_body                                  200, application/json, random bytes
// A connection-level fault that finds no live connection hits the next connection accepted.
// Every applied fault is counted by kind; a fault that found nothing to hit within 5 s (no
// connection, no request arriving) is counted under "skipped" instead.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace agentrollout::testing {

enum class FaultKind {
  kDelay,
  kDrop,
  kReset,
  kTruncate,
  kGarbage,
  kPartition,
  kHttp500,
  kHttp429,
  kHttp410,
  kGarbageBody,
};

// "delay", "drop", ..., "http500", "garbage_body".
std::string_view Name(FaultKind kind);
bool IsHttpLevel(FaultKind kind);

struct Fault {
  FaultKind kind = FaultKind::kDrop;
  // kDelay: how long the connection stalls; kPartition: how long the partition lasts.
  std::chrono::milliseconds duration{0};
  // kPartition: reset connections (true) or blackhole them (false).
  bool refuse = false;
  // Chooses the live connection (pick % count) and seeds the bytes/lengths the fault uses,
  // so a schedule determines every fault completely.
  std::uint64_t pick = 0;
};

struct FaultProxyOptions {
  std::string upstream_host = "127.0.0.1";
  int upstream_port = 0;
  // Plaintext HTTP/1.1 upstream: requests are parsed and HTTP-level faults possible.
  bool http = false;
};

class FaultProxy {
 public:
  static Result<std::unique_ptr<FaultProxy>> Start(const FaultProxyOptions& options);
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;
  ~FaultProxy();

  int port() const;
  // "127.0.0.1:PORT".
  std::string address() const { return "127.0.0.1:" + std::to_string(port()); }

  // Applies `fault` now (HTTP-level kinds: to the next request that arrives within 5 s;
  // connection-level kinds without a live connection: to the next one within 5 s).
  // HTTP-level kinds on a proxy not in HTTP mode are counted as skipped.
  void Inject(const Fault& fault);

  // Ends every fault in effect (delays, a partition) and forgets the queued ones: from now
  // on the proxy only forwards, until the next Inject.
  void Heal();

  // Applied faults by Name(kind), plus "skipped"; kinds never applied are absent.
  std::map<std::string, std::int64_t> Counts() const;
  // The sum of Counts() without "skipped".
  std::int64_t Applied() const;
  // Connections accepted so far.
  std::int64_t connections() const;

  // Stops accepting, closes every connection and joins every thread (the destructor does it).
  void Stop();

  class Impl;

 private:
  explicit FaultProxy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct ScheduledFault {
  std::chrono::milliseconds at{0};  // from the start of the schedule
  Fault fault;
};

// Relative weights of the kinds a schedule draws (a kind absent or 0 is never drawn).
using FaultMix = std::map<FaultKind, int>;
// The mix for a proxy in front of a TLS server (TCP-level kinds only).
FaultMix TcpFaultMix();
// The mix for a proxy in front of a plaintext HTTP server (every kind).
FaultMix HttpFaultMix();

// `count` faults at seeded random instants in [0, span), sorted by time; the same seed gives
// the same schedule. Delays last 100 ms..3 s, partitions 1..4 s.
std::vector<ScheduledFault> MakeFaultSchedule(std::uint64_t seed, int count,
                                              std::chrono::milliseconds span, const FaultMix& mix);

// Plays a schedule against a proxy on a thread of its own, from construction until the
// schedule ends or Stop() (the destructor stops it).
class FaultRunner {
 public:
  FaultRunner(FaultProxy& proxy, std::vector<ScheduledFault> schedule);
  FaultRunner(const FaultRunner&) = delete;
  FaultRunner& operator=(const FaultRunner&) = delete;
  ~FaultRunner();
  void Stop();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace agentrollout::testing
