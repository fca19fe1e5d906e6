// How the operator process asks glibc's allocator to keep its resident memory near what it
// uses. Both matter at 10,000 rollouts (docs/benchmarks.md): glibc gives each thread that
// contends for the heap an arena of its own (up to 8 per core), and memory freed inside an
// arena stays mapped; after the initial LIST the process kept its peak RSS for good.
#pragma once

#include <cstddef>

namespace agentrollout::operator_ {

// Limits glibc to `arenas` malloc arenas, unless MALLOC_ARENA_MAX is set in the
// environment (the operator's user decides then). Call before starting threads.
void LimitMallocArenas(int arenas);

// Returns free heap pages to the operating system (glibc's malloc_trim), e.g. after the
// cache's first LIST and then periodically. Costs milliseconds; call from a quiet thread.
void ReleaseFreeMemory();

}  // namespace agentrollout::operator_
