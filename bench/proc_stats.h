// What the benchmarks measure of a controller process, read from /proc like `top` and
// `ps` do: resident memory now and at its peak (VmRSS, VmHWM of /proc/PID/status), threads,
// and CPU time used so far (utime + stime of /proc/PID/stat).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string_view>

#include "common/result.h"

namespace agentrollout::bench {

struct ProcSample {
  std::int64_t rss_kib = 0;       // VmRSS
  std::int64_t peak_rss_kib = 0;  // VmHWM: the high-water mark since the process started
  int threads = 0;
  double cpu_seconds = 0;  // user + system
};

Result<ProcSample> SampleProcess(pid_t pid);

// Parsers of the two files, separate for unit tests.
Result<ProcSample> ParseProcStatus(std::string_view status);
// utime + stime of a /proc/PID/stat line, in seconds (`ticks_per_second` = sysconf(_SC_CLK_TCK)).
Result<double> ParseProcStatCpuSeconds(std::string_view stat, long ticks_per_second);

}  // namespace agentrollout::bench
