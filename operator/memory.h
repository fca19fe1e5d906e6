// How the operator process keeps its allocator cheap and its resident memory near what it
// uses (docs/benchmarks.md). The operator is linked with jemalloc (CMake option
// AGENTROLLOUT_JEMALLOC, on by default): at 10,000 rollouts glibc's allocator took a third of
// its CPU. Builds without jemalloc (and sanitizer builds, whose allocator replaces both) run
// on glibc's, which gives each thread that contends for the heap an arena of its own (up to 8
// per core) and keeps memory freed inside an arena mapped; after the initial LIST the process
// kept its peak RSS for good.
#pragma once

#include <string>

namespace agentrollout::operator_ {

// The allocator this process runs on, for the start-up log: "jemalloc 5.3.0-…" or "glibc".
std::string AllocatorName();

// glibc: limits malloc to `arenas` arenas, unless MALLOC_ARENA_MAX is set in the environment
// (the operator's user decides then); call before starting threads. jemalloc reads its
// settings before main (the operator's malloc_conf, then MALLOC_CONF), so nothing is left to
// do here.
void LimitMallocArenas(int arenas);

// Returns free heap pages to the operating system (glibc's malloc_trim, jemalloc's purge of
// every arena), e.g. after the cache's first LIST and then periodically. Costs milliseconds;
// call from a quiet thread.
void ReleaseFreeMemory();

}  // namespace agentrollout::operator_
