#include "bench/control_plane.h"

#include <charconv>
#include <deque>
#include <thread>
#include <utility>

#include "bench/measure.h"

namespace agentrollout::bench {
namespace {

constexpr std::string_view kRequestTotal = "apiserver_request_total{";

// The labels of one exposition line `name{k="v",...} value`, and its value. Values are
// unescaped (\\, \", \n) as the text format defines.
bool ParseSeries(std::string_view line, std::map<std::string, std::string>& labels, double& value) {
  std::size_t at = line.find('{');
  if (at == std::string_view::npos) return false;
  ++at;
  while (at < line.size() && line[at] != '}') {
    const std::size_t eq = line.find("=\"", at);
    if (eq == std::string_view::npos) return false;
    std::string key(line.substr(at, eq - at));
    std::string text;
    std::size_t i = eq + 2;
    for (; i < line.size() && line[i] != '"'; ++i) {
      if (line[i] == '\\' && i + 1 < line.size()) {
        ++i;
        text += line[i] == 'n' ? '\n' : line[i];
      } else {
        text += line[i];
      }
    }
    if (i >= line.size()) return false;
    labels[std::move(key)] = std::move(text);
    at = i + 1;
    if (at < line.size() && line[at] == ',') ++at;
  }
  if (at >= line.size()) return false;
  std::size_t begin = at + 1;
  while (begin < line.size() && line[begin] == ' ') ++begin;
  const std::size_t end = std::min(line.find(' ', begin), line.size());
  return std::from_chars(line.data() + begin, line.data() + end, value).ec == std::errc();
}

bool IsWrite(std::string_view key) {
  const std::string_view verb = key.substr(0, key.find(' '));
  return verb == "POST" || verb == "PUT" || verb == "PATCH" || verb == "DELETE" ||
         verb == "DELETECOLLECTION" || verb == "APPLY";
}

// GET /metrics; with a bearer token when the credentials have one (the bench's kubeconfig
// otherwise authenticates with a client certificate, in the transport's TLS settings).
Result<std::string> GetMetrics(http::Client& client, std::string_view what,
                               const std::string& bearer_token = "") {
  http::Request request;
  request.target = "/metrics";
  if (!bearer_token.empty())
    request.headers.emplace_back("Authorization", "Bearer " + bearer_token);
  request.timeout = std::chrono::seconds(10);
  auto response = client.Send(request);
  if (!response.ok()) return response.error().WithContext(std::string(what) + " /metrics");
  if (response->status != 200) {
    return Internal(std::string(what) + " /metrics answered " + std::to_string(response->status));
  }
  return std::move(response->body);
}

struct Rates {
  nlohmann::json by_key;  // key -> per minute, the keys that moved
  double all = 0;
  double writes = 0;
};

Rates PerMinute(const std::map<std::string, double>& before,
                const std::map<std::string, double>& after, double seconds) {
  Rates rates{nlohmann::json::object()};
  for (const auto& [key, count] : after) {
    const auto was = before.find(key);
    const double moved = count - (was == before.end() ? 0.0 : was->second);
    if (moved <= 0) continue;
    const double rate = moved * 60.0 / seconds;
    rates.by_key[key] = rate;
    rates.all += rate;
    if (IsWrite(key)) rates.writes += rate;
  }
  return rates;
}

double Mib(std::int64_t kib) { return static_cast<double>(kib) / 1024.0; }

}  // namespace

std::map<std::string, double> ParseRequestCounts(std::string_view exposition,
                                                 std::string_view code) {
  std::map<std::string, double> counts;
  while (!exposition.empty()) {
    const std::size_t eol = std::min(exposition.find('\n'), exposition.size());
    const std::string_view line = exposition.substr(0, eol);
    exposition.remove_prefix(std::min(eol + 1, exposition.size()));
    if (line.substr(0, kRequestTotal.size()) != kRequestTotal) continue;
    std::map<std::string, std::string> labels;
    double value = 0;
    if (!ParseSeries(line, labels, value)) continue;
    if (!code.empty() && labels["code"] != code) continue;
    std::string key = labels["verb"] + " " + labels["resource"];
    if (!labels["subresource"].empty()) key += "/" + labels["subresource"];
    counts[key] += value;
  }
  return counts;
}

Result<ControlPlane> ControlPlane::Connect(ControlPlaneTarget target) {
  ControlPlane plane;
  auto apiserver = http::NewClient(
      {target.apiserver.server, target.apiserver.tls, std::chrono::milliseconds(10000)});
  if (!apiserver.ok()) return apiserver.error().WithContext("kube-apiserver");
  auto etcd =
      http::NewClient({target.etcd_metrics_url.substr(0, target.etcd_metrics_url.rfind("/metrics")),
                       {},
                       std::chrono::milliseconds(10000)});
  if (!etcd.ok()) return etcd.error().WithContext("etcd");
  plane.target_ = std::move(target);
  plane.apiserver_ = std::move(*apiserver);
  plane.etcd_ = std::move(*etcd);
  return plane;
}

Result<std::pair<ProcSample, ProcSample>> ControlPlane::ReadProcesses() const {
  auto apiserver = SampleProcess(target_.apiserver_pid);
  if (!apiserver.ok()) return apiserver.error().WithContext("kube-apiserver process");
  auto etcd = SampleProcess(target_.etcd_pid);
  if (!etcd.ok()) return etcd.error().WithContext("etcd process");
  return std::make_pair(*apiserver, *etcd);
}

Result<double> ControlPlane::WaitUntilQuiet(double max_cores, std::chrono::seconds quiet_for,
                                            std::chrono::seconds at_most) const {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  std::deque<std::pair<Clock::time_point, double>> cpu;  // (when, apiserver + etcd CPU s)
  while (true) {
    auto processes = ReadProcesses();
    if (!processes.ok()) return processes.error();
    const Clock::time_point now = Clock::now();
    cpu.emplace_back(now, processes->first.cpu_seconds + processes->second.cpu_seconds);
    while (cpu.size() > 1 && now - cpu[1].first >= quiet_for) cpu.pop_front();
    const std::chrono::duration<double> span = now - cpu.front().first;
    const std::chrono::duration<double> waited = now - start;
    if (span >= quiet_for && (cpu.back().second - cpu.front().second) / span.count() <= max_cores) {
      return waited.count();
    }
    if (waited >= at_most) return waited.count();
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

Result<ControlPlaneReading> ControlPlane::Read(double t) const {
  ControlPlaneReading reading;
  reading.t = t;
  auto processes = ReadProcesses();
  if (!processes.ok()) return processes.error();
  reading.apiserver = processes->first;
  reading.etcd = processes->second;
  auto apiserver = GetMetrics(*apiserver_, "kube-apiserver", target_.apiserver.bearer_token);
  if (!apiserver.ok()) return apiserver.error();
  reading.requests = ParseRequestCounts(*apiserver);
  reading.conflicts = ParseRequestCounts(*apiserver, "409");
  auto etcd = GetMetrics(*etcd_, "etcd");
  if (!etcd.ok()) return etcd.error();
  reading.etcd_db_bytes = SumSeries(*etcd, "etcd_mvcc_db_total_size_in_bytes");
  reading.etcd_db_in_use_bytes = SumSeries(*etcd, "etcd_mvcc_db_total_size_in_use_in_bytes");
  return reading;
}

nlohmann::json ControlPlaneDelta(const ControlPlaneReading& before,
                                 const ControlPlaneReading& after) {
  const double seconds = after.t - before.t;
  nlohmann::json out{{"seconds", seconds}};
  if (seconds <= 0) return out;
  const double apiserver_cpu = (after.apiserver.cpu_seconds - before.apiserver.cpu_seconds);
  const double etcd_cpu = (after.etcd.cpu_seconds - before.etcd.cpu_seconds);
  out["apiserver_cpu_cores"] = apiserver_cpu / seconds;
  out["etcd_cpu_cores"] = etcd_cpu / seconds;
  out["apiserver_rss_mib"] = Mib(after.apiserver.rss_kib);
  out["etcd_rss_mib"] = Mib(after.etcd.rss_kib);
  out["etcd_db_growth_mib"] = (after.etcd_db_bytes - before.etcd_db_bytes) / (1 << 20);
  out["etcd_db_in_use_growth_mib"] =
      (after.etcd_db_in_use_bytes - before.etcd_db_in_use_bytes) / (1 << 20);
  const auto [per_minute, all, writes] = PerMinute(before.requests, after.requests, seconds);
  out["requests_per_minute"] = per_minute;
  out["requests_per_minute_all"] = all;
  out["writes_per_minute"] = writes;
  out["conflicts_per_minute"] = PerMinute(before.conflicts, after.conflicts, seconds).by_key;
  return out;
}

}  // namespace agentrollout::bench
