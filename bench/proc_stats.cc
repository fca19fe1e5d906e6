#include "bench/proc_stats.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <string>

#include "kube/files.h"

namespace agentrollout::bench {
namespace {

// The number after `key:` on its own line of /proc/PID/status ("VmRSS:\t  1234 kB").
Result<std::int64_t> StatusField(std::string_view status, std::string_view key) {
  while (!status.empty()) {
    const std::size_t eol = std::min(status.find('\n'), status.size());
    std::string_view line = status.substr(0, eol);
    status.remove_prefix(std::min(eol + 1, status.size()));
    if (line.size() <= key.size() || line.substr(0, key.size()) != key || line[key.size()] != ':') {
      continue;
    }
    line.remove_prefix(key.size() + 1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), value);
    if (ec != std::errc()) return InvalidArgument("bad " + std::string(key) + " in /proc status");
    return value;
  }
  return NotFound("no " + std::string(key) + " in /proc status");
}

}  // namespace

Result<ProcSample> ParseProcStatus(std::string_view status) {
  ProcSample sample;
  auto rss = StatusField(status, "VmRSS");
  if (!rss.ok()) return rss.error();
  auto peak = StatusField(status, "VmHWM");
  if (!peak.ok()) return peak.error();
  auto threads = StatusField(status, "Threads");
  if (!threads.ok()) return threads.error();
  sample.rss_kib = *rss;
  sample.peak_rss_kib = *peak;
  sample.threads = static_cast<int>(*threads);
  return sample;
}

Result<double> ParseProcStatCpuSeconds(std::string_view stat, long ticks_per_second) {
  // The command name (field 2) is in parentheses and may contain spaces: count fields
  // after the last ')'. utime and stime are fields 14 and 15, i.e. the 12th and 13th
  // after it (field 3, the state, is the first).
  const std::size_t close = stat.rfind(')');
  if (close == std::string_view::npos) return InvalidArgument("malformed /proc stat line");
  std::string_view rest = stat.substr(close + 1);
  double ticks = 0;
  int field = 2;
  std::size_t i = 0;
  while (i < rest.size() && field < 15) {
    while (i < rest.size() && rest[i] == ' ') ++i;
    std::size_t end = rest.find(' ', i);
    if (end == std::string_view::npos) end = rest.size();
    ++field;
    if (field == 14 || field == 15) {
      long long value = 0;
      const auto [ptr, ec] = std::from_chars(rest.data() + i, rest.data() + end, value);
      if (ec != std::errc() || ptr != rest.data() + end) {
        return InvalidArgument("malformed utime/stime in /proc stat line");
      }
      ticks += static_cast<double>(value);
    }
    i = end;
  }
  if (field < 15) return InvalidArgument("short /proc stat line");
  return ticks / static_cast<double>(ticks_per_second);
}

Result<ProcSample> SampleProcess(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid);
  auto status = kube::ReadFileToString(dir + "/status");
  if (!status.ok()) return status.error();
  auto stat = kube::ReadFileToString(dir + "/stat");
  if (!stat.ok()) return stat.error();
  auto sample = ParseProcStatus(*status);
  if (!sample.ok()) return sample.error();
  auto cpu = ParseProcStatCpuSeconds(*stat, sysconf(_SC_CLK_TCK));
  if (!cpu.ok()) return cpu.error();
  sample->cpu_seconds = *cpu;
  return sample;
}

}  // namespace agentrollout::bench
