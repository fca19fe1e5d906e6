// Tenant evaluation of an AgentRollout flag, for applications (docs/api-reference.md,
// "Flag documents").
//
// Header-only, C++17, standard library only. A tenant is ON iff the flag is enabled, the
// tenant is not pinned off, and it is pinned on or its bucket is below the percentage:
//
//   bucket(flagKey, tenantId) = (murmur3_x86_32(flagKey + tenantId, seed 0) * 100) >> 32
//
// in unsigned 64-bit arithmetic -- flagd's `fractional` bucketing, so the ConfigMap store
// and an OpenFeature/flagd store put the same tenants in the rollout, and a tenant that is
// in at 10 % stays in at 25 %. Shared test vectors: testdata/bucket_vectors.json.
//
// Parsing the flags.json document into FlagState: flag_client_json.h (needs nlohmann/json).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace agentrollout::flag {

// One flag's entry of the flags.json document.
struct FlagState {
  std::string key;
  bool enabled = false;
  int percentage = 0;  // 0..100
  std::vector<std::string> enabled_tenants;
  std::vector<std::string> disabled_tenants;  // wins over enabled_tenants

  friend bool operator==(const FlagState& a, const FlagState& b) {
    return a.key == b.key && a.enabled == b.enabled && a.percentage == b.percentage &&
           a.enabled_tenants == b.enabled_tenants && a.disabled_tenants == b.disabled_tenants;
  }
  friend bool operator!=(const FlagState& a, const FlagState& b) { return !(a == b); }
};

namespace internal {

inline std::uint32_t RotateLeft(std::uint32_t x, int r) noexcept {
  return (x << r) | (x >> (32 - r));
}

// Little-endian load, independent of the host's byte order.
inline std::uint32_t LoadLittleEndian32(const unsigned char* p) noexcept {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

}  // namespace internal

// MurmurHash3 x86_32 (Austin Appleby's reference algorithm) of the bytes of `data`.
inline std::uint32_t murmur3_x86_32(std::string_view data, std::uint32_t seed = 0) noexcept {
  constexpr std::uint32_t c1 = 0xcc9e2d51;
  constexpr std::uint32_t c2 = 0x1b873593;
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  const std::size_t length = data.size();
  const std::size_t block_count = length / 4;

  std::uint32_t h = seed;
  for (std::size_t i = 0; i < block_count; ++i) {
    std::uint32_t k = internal::LoadLittleEndian32(bytes + i * 4);
    k *= c1;
    k = internal::RotateLeft(k, 15);
    k *= c2;
    h ^= k;
    h = internal::RotateLeft(h, 13);
    h = h * 5 + 0xe6546b64;
  }

  const unsigned char* tail = bytes + block_count * 4;
  std::uint32_t k = 0;
  switch (length & 3) {
    case 3:
      k ^= static_cast<std::uint32_t>(tail[2]) << 16;
      [[fallthrough]];
    case 2:
      k ^= static_cast<std::uint32_t>(tail[1]) << 8;
      [[fallthrough]];
    case 1:
      k ^= static_cast<std::uint32_t>(tail[0]);
      k *= c1;
      k = internal::RotateLeft(k, 15);
      k *= c2;
      h ^= k;
      break;
    default:
      break;
  }

  h ^= static_cast<std::uint32_t>(length);
  h ^= h >> 16;
  h *= 0x85ebca6b;
  h ^= h >> 13;
  h *= 0xc2b2ae35;
  h ^= h >> 16;
  return h;
}

// The tenant's bucket for this flag, 0..99.
inline int bucket(std::string_view flag_key, std::string_view tenant_id) {
  std::string input;
  input.reserve(flag_key.size() + tenant_id.size());
  input.append(flag_key);
  input.append(tenant_id);
  const std::uint64_t hash = murmur3_x86_32(input, 0);
  return static_cast<int>((hash * 100u) >> 32);
}

// Whether the flag is on for this tenant.
inline bool isOn(const FlagState& flag, std::string_view tenant_id) {
  const auto contains = [tenant_id](const std::vector<std::string>& tenants) {
    return std::find(tenants.begin(), tenants.end(), tenant_id) != tenants.end();
  };
  if (!flag.enabled || contains(flag.disabled_tenants)) {
    return false;
  }
  return contains(flag.enabled_tenants) || bucket(flag.key, tenant_id) < flag.percentage;
}

}  // namespace agentrollout::flag
