#include "operator/memory.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace agentrollout::operator_ {
namespace {

// Resident set size from /proc/self/statm, in bytes.
long ResidentBytes() {
  long pages_total = 0;
  long pages_resident = 0;
  std::FILE* statm = std::fopen("/proc/self/statm", "r");
  if (statm == nullptr) return -1;
  const int read = std::fscanf(statm, "%ld %ld", &pages_total, &pages_resident);
  std::fclose(statm);
  return read == 2 ? pages_resident * sysconf(_SC_PAGESIZE) : -1;
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kOwnAllocator = false;
#else
constexpr bool kOwnAllocator = true;  // jemalloc or glibc's, whichever memory.cc was built for
#endif

// What the initial LIST left behind: a big heap of small blocks, nearly all freed, with
// a few survivors (the typed cache) scattered through it so the heap's top cannot shrink.
TEST(MemoryTest, ReleaseFreeMemoryReturnsAFragmentedHeapToTheSystem) {
  if (!kOwnAllocator) GTEST_SKIP() << "the sanitizer's allocator replaces the operator's";
  constexpr std::size_t kBlock = 1024;
  constexpr std::size_t kBlocks = 128 * 1024;  // 128 MiB
  std::vector<char*> blocks(kBlocks);
  for (char*& block : blocks) {
    block = static_cast<char*>(std::malloc(kBlock));
    std::memset(block, 1, kBlock);
  }
  for (std::size_t i = 0; i < kBlocks; ++i) {
    if (i % 256 != 255) {
      std::free(blocks[i]);
      blocks[i] = nullptr;
    }
  }
  const long before = ResidentBytes();
  ReleaseFreeMemory();
  const long after = ResidentBytes();
  for (char* block : blocks) std::free(block);
  ASSERT_GT(before, 0);
  EXPECT_LT(after, before - 64L * 1024 * 1024)
      << "resident before " << before / 1024 << " KiB, after " << after / 1024 << " KiB";
}

TEST(MemoryTest, AllocatorNameSaysWhichAllocatorRuns) {
#if defined(AGENTROLLOUT_JEMALLOC_EXPECTED)
  EXPECT_EQ(AllocatorName().rfind("jemalloc ", 0), 0u) << AllocatorName();
#else
  EXPECT_EQ(AllocatorName(), "glibc");
#endif
}

}  // namespace
}  // namespace agentrollout::operator_
