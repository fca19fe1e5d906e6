// Tenant evaluation cost of the client header (include/agentrollout/flag_client.h), the
// call an application makes on every request: goal <= 100 ns per isOn (issue 9, item 4).
// Google Benchmark; run by bench/run.sh, not a ctest.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "agentrollout/flag_client.h"

namespace {

using agentrollout::flag::bucket;
using agentrollout::flag::FlagState;
using agentrollout::flag::isOn;

// Realistic tenant ids (tenant ids, phone numbers), cycled so the branch predictor and
// the cache see varying input rather than one hot string.
std::vector<std::string> TenantIds(std::size_t count) {
  std::vector<std::string> ids;
  ids.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    ids.push_back(i % 2 == 0 ? "t-customer-" + std::to_string(100000 + i)
                             : "+4915" + std::to_string(10000000 + i * 7919));
  }
  return ids;
}

FlagState VoiceAgentFlag() {
  FlagState flag;
  flag.key = "voice_agent_v2";
  flag.enabled = true;
  flag.percentage = 25;
  flag.enabled_tenants = {"t-internal-1", "t-internal-2"};
  flag.disabled_tenants = {"t-vip-bank"};
  return flag;
}

void BM_Bucket(benchmark::State& state) {
  const auto ids = TenantIds(1024);
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(bucket("voice_agent_v2", ids[i++ & 1023]));
  }
}
BENCHMARK(BM_Bucket);

// The full decision with two pinned-on and one pinned-off tenant (examples/voice-agent-v2).
void BM_IsOn(benchmark::State& state) {
  const auto ids = TenantIds(1024);
  const FlagState flag = VoiceAgentFlag();
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(isOn(flag, ids[i++ & 1023]));
  }
}
BENCHMARK(BM_IsOn);

// Pinned lists are searched linearly: the cost with `pinned` tenants on each list.
void BM_IsOnPinned(benchmark::State& state) {
  const auto ids = TenantIds(1024);
  FlagState flag = VoiceAgentFlag();
  const auto pinned = static_cast<std::size_t>(state.range(0));
  flag.enabled_tenants = TenantIds(pinned * 2);
  flag.enabled_tenants.resize(pinned);
  for (auto& id : flag.enabled_tenants) id += "-pin";
  flag.disabled_tenants = flag.enabled_tenants;
  for (auto& id : flag.disabled_tenants) id += "-off";
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(isOn(flag, ids[i++ & 1023]));
  }
}
BENCHMARK(BM_IsOnPinned)->Arg(10)->Arg(100);

}  // namespace

BENCHMARK_MAIN();
