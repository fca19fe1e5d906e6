"""Tenant evaluation of an AgentRollout flag (docs/api-reference.md#flag-documents).

The same as the operator's C++ header include/agentrollout/flag_client.h::

    on(tenant) = enabled and tenant not in disabledTenants
                 and (tenant in enabledTenants or bucket(flagKey, tenant) < percentage)
    bucket     = (murmur3_x86_32(utf8(flagKey + tenantId), seed 0) * 100) >> 32

which is flagd's ``fractional`` bucketing. Checked against clients/testdata/flag_vectors.json.
"""
from dataclasses import dataclass, field
from typing import Optional, Tuple, Union

_MASK = 0xFFFFFFFF


@dataclass(frozen=True)
class FlagState:
    """One flag's entry of the flags.json document."""

    key: str
    enabled: bool = False
    percentage: int = 0  # 0..100
    enabled_tenants: Tuple[str, ...] = field(default_factory=tuple)
    disabled_tenants: Tuple[str, ...] = field(default_factory=tuple)  # wins over enabled


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _MASK


def _utf8(text: str) -> bytes:
    # surrogatepass: a lone surrogate (valid in a Python str, not in UTF-8) is hashed as
    # its 3-byte encoding instead of raising in the middle of a request.
    return text.encode("utf-8", "surrogatepass")


def murmur3_x86_32(data: Union[bytes, str], seed: int = 0) -> int:
    """MurmurHash3 x86_32 (Austin Appleby's reference algorithm); str is hashed as UTF-8."""
    raw = _utf8(data) if isinstance(data, str) else bytes(data)
    c1, c2 = 0xCC9E2D51, 0x1B873593
    h = seed & _MASK
    block_end = len(raw) - len(raw) % 4
    for i in range(0, block_end, 4):
        k = int.from_bytes(raw[i : i + 4], "little")
        k = _rotl((k * c1) & _MASK, 15)
        h ^= (k * c2) & _MASK
        h = (_rotl(h, 13) * 5 + 0xE6546B64) & _MASK
    tail = raw[block_end:]
    if tail:
        k = int.from_bytes(tail, "little")
        k = _rotl((k * c1) & _MASK, 15)
        h ^= (k * c2) & _MASK
    h ^= len(raw) & _MASK
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _MASK
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _MASK
    h ^= h >> 16
    return h


def bucket(flag_key: str, tenant_id: str) -> int:
    """The tenant's bucket for this flag, 0..99."""
    return (murmur3_x86_32(flag_key + tenant_id) * 100) >> 32


def is_on(flag: Optional[FlagState], tenant_id: str) -> bool:
    """Whether the flag is on for this tenant; a missing flag (None) is off."""
    if flag is None or not flag.enabled or tenant_id in flag.disabled_tenants:
        return False
    return tenant_id in flag.enabled_tenants or bucket(flag.key, tenant_id) < flag.percentage
