// Go-syntax durations (API.md §2: `90s`, `5m`, `4h`, `1h30m`, `250ms`, `1.5h`, `0`).
#pragma once

#include <string>
#include <string_view>

#include "api/types.h"
#include "common/result.h"

namespace agentrollout::api {

// Parses a Go duration: a sequence of decimal numbers, each with an optional fraction and a
// unit (ns, us, µs, μs, ms, s, m, h), or the bare "0". Rejects the empty string, any sign
// (durations in the spec are never negative), a missing or unknown unit, and values beyond
// Go's limit (2562047h47m16.854775807s), so whatever Kubernetes tooling accepts as a Go
// duration means the same here. The model keeps milliseconds: finer parts are truncated
// ("1500us" is 1ms), as Go's Duration.Truncate(time.Millisecond) would.
// Errors (InvalidArgument, no field path): `invalid duration "5d": unknown unit "d" ...`.
Result<Duration> ParseDuration(std::string_view text);

// Formats like Go's time.Duration.String(): "0s", "250ms", "1.5s", "1m30s", "4h0m0s",
// "1h30m0s". This is how Kubernetes (metav1.Duration) prints durations, so encoded specs
// look like what Go tooling writes. ParseDuration(FormatDuration(d)) == d for every d >= 0.
// A negative d (never produced by the parser) is formatted with a leading "-".
std::string FormatDuration(Duration duration);

}  // namespace agentrollout::api
