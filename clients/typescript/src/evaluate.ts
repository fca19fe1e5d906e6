// Tenant evaluation of an AgentRollout flag (docs/api-reference.md#flag-documents), the
// same as the operator's C++ header include/agentrollout/flag_client.h:
//
//   on(tenant) = enabled && !disabledTenants.has(tenant)
//                && (enabledTenants.has(tenant) || bucket(flagKey, tenant) < percentage)
//   bucket     = (murmur3_x86_32(utf8(flagKey + tenantId), seed 0) * 100) >> 32
//
// which is flagd's `fractional` bucketing. Checked against clients/testdata/flag_vectors.json.

/** One flag's entry of the flags.json document. */
export interface FlagState {
  key: string;
  enabled: boolean;
  /** 0..100 */
  percentage: number;
  enabledTenants: readonly string[];
  /** Wins over enabledTenants. */
  disabledTenants: readonly string[];
}

const utf8 = new TextEncoder();

/** MurmurHash3 x86_32 (Austin Appleby's reference algorithm); strings are hashed as UTF-8. */
export function murmur3_x86_32(data: Uint8Array | string, seed = 0): number {
  const bytes = typeof data === "string" ? utf8.encode(data) : data;
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  const blockEnd = bytes.length - (bytes.length % 4);
  let h = seed >>> 0;
  for (let i = 0; i < blockEnd; i += 4) {
    let k = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  switch (bytes.length & 3) {
    case 3:
      k ^= bytes[blockEnd + 2] << 16;
    // falls through
    case 2:
      k ^= bytes[blockEnd + 1] << 8;
    // falls through
    case 1:
      k ^= bytes[blockEnd];
      k = Math.imul(k, c1);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, c2);
      h ^= k;
  }
  h ^= bytes.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The tenant's bucket for this flag, 0..99. */
export function bucket(flagKey: string, tenantId: string): number {
  // hash * 100 < 2^39 is exact in a double, and dividing by 2^32 is exact too, so this is
  // the unsigned 64-bit (hash * 100) >> 32 of the contract.
  return Math.floor((murmur3_x86_32(flagKey + tenantId) * 100) / 2 ** 32);
}

/** Whether the flag is on for this tenant; a missing flag is off. */
export function isOn(flag: FlagState | undefined, tenantId: string): boolean {
  if (flag === undefined || !flag.enabled || flag.disabledTenants.includes(tenantId)) {
    return false;
  }
  return flag.enabledTenants.includes(tenantId) || bucket(flag.key, tenantId) < flag.percentage;
}
