// RFC 3339 timestamps as Kubernetes writes them (metav1.Time, metav1.MicroTime).
#pragma once

#include <string>
#include <string_view>

#include "api/types.h"
#include "common/result.h"

namespace agentrollout::api {

// Parses RFC 3339: "2026-11-22T10:00:00Z", "2026-11-22T10:00:00.123456Z",
// "2026-11-22T12:00:00+02:00" ('t' and 'z' accepted in lower case too). Fractions of a
// second are kept (to nanoseconds, further digits ignored). Errors (InvalidArgument, no
// field path): `invalid time "TEXT": must be RFC 3339, e.g. 2026-11-22T10:00:00Z`.
// A Timestamp holds nanoseconds since 1970 in 64 bits (about years 1678..2262): times
// outside that range are rejected as `invalid time`.
Result<Timestamp> ParseTime(std::string_view text);

// "2026-11-22T10:00:00Z": UTC, second precision (the fraction is dropped, rounding toward
// the past), like metav1.Time.
std::string FormatTime(Timestamp time);

// "2026-11-22T10:00:00.123456Z": UTC, microsecond precision, like metav1.MicroTime
// (coordination.k8s.io Lease acquireTime / renewTime).
std::string FormatMicroTime(Timestamp time);

}  // namespace agentrollout::api
