#include "operator/memory.h"

#include <malloc.h>

#include <cstdlib>

namespace agentrollout::operator_ {

void LimitMallocArenas(int arenas) {
  if (std::getenv("MALLOC_ARENA_MAX") != nullptr) return;
  mallopt(M_ARENA_MAX, arenas);
}

void ReleaseFreeMemory() { malloc_trim(0); }

}  // namespace agentrollout::operator_
