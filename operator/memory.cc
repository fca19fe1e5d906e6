#include "operator/memory.h"

#include <cstddef>
#include <cstdlib>

#if defined(AGENTROLLOUT_JEMALLOC)
#include <jemalloc/jemalloc.h>
#else
#include <malloc.h>
#endif

namespace agentrollout::operator_ {

#if defined(AGENTROLLOUT_JEMALLOC)

std::string AllocatorName() {
  // The library's own answer: the one loaded may differ from the headers built against.
  const char* version = nullptr;
  std::size_t size = sizeof(version);
  if (mallctl("version", &version, &size, nullptr, 0) != 0 || version == nullptr) {
    return "jemalloc";
  }
  return std::string("jemalloc ") + version;
}

void LimitMallocArenas(int /*arenas*/) {}

void ReleaseFreeMemory() {
  static_assert(MALLCTL_ARENAS_ALL == 4096, "the name below addresses every arena");
  mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0);
}

#else

std::string AllocatorName() { return "glibc"; }

void LimitMallocArenas(int arenas) {
  if (std::getenv("MALLOC_ARENA_MAX") != nullptr) return;
  mallopt(M_ARENA_MAX, arenas);
}

void ReleaseFreeMemory() { malloc_trim(0); }

#endif

}  // namespace agentrollout::operator_
