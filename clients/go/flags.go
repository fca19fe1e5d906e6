// Package flags reads the flags an AgentRollout writes into a ConfigMap (the flags.json
// document, docs/api-reference.md#flag-documents) and evaluates them per tenant exactly as
// the operator's C++ header include/agentrollout/flag_client.h does:
//
//	on(tenant) = enabled && tenant ∉ disabledTenants
//	             && (tenant ∈ enabledTenants || bucket(flagKey, tenant) < percentage)
//	bucket     = (murmur3_x86_32(flagKey + tenantID, seed 0) * 100) >> 32
//
// which is flagd's `fractional` bucketing. Standard library only; checked against
// clients/testdata/flag_vectors.json.
package flags

import (
	"encoding/binary"
	"math/bits"
	"slices"
)

// FlagState is one flag's entry of the flags.json document.
type FlagState struct {
	Key             string   `json:"key"`
	Enabled         bool     `json:"enabled"`
	Percentage      int      `json:"percentage"` // 0..100
	EnabledTenants  []string `json:"enabledTenants"`
	DisabledTenants []string `json:"disabledTenants"` // wins over EnabledTenants
}

// Murmur3x86_32 is MurmurHash3 x86_32 (Austin Appleby's reference algorithm) of data.
func Murmur3x86_32(data []byte, seed uint32) uint32 {
	const c1, c2 = 0xcc9e2d51, 0x1b873593
	h := seed
	blockEnd := len(data) - len(data)%4
	for i := 0; i < blockEnd; i += 4 {
		k := binary.LittleEndian.Uint32(data[i:])
		k = bits.RotateLeft32(k*c1, 15) * c2
		h ^= k
		h = bits.RotateLeft32(h, 13)*5 + 0xe6546b64
	}
	var k uint32
	switch tail := data[blockEnd:]; len(tail) {
	case 3:
		k ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		k ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		k ^= uint32(tail[0])
		h ^= bits.RotateLeft32(k*c1, 15) * c2
	}
	h ^= uint32(len(data))
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}

// Bucket is the tenant's bucket for the flag, 0..99. Go strings are hashed as their bytes
// (UTF-8 for text).
func Bucket(flagKey, tenantID string) int {
	hash := uint64(Murmur3x86_32([]byte(flagKey+tenantID), 0))
	return int((hash * 100) >> 32)
}

// IsOn reports whether the flag is on for the tenant; a missing flag (nil) is off.
func IsOn(flag *FlagState, tenantID string) bool {
	if flag == nil || !flag.Enabled || slices.Contains(flag.DisabledTenants, tenantID) {
		return false
	}
	return slices.Contains(flag.EnabledTenants, tenantID) || Bucket(flag.Key, tenantID) < flag.Percentage
}
