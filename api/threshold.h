// Go / No-Go / abort lines: `OP NUMBER` with OP one of < <= > >= == != (API.md §2).
#pragma once

#include <string>
#include <string_view>

#include "api/types.h"
#include "common/result.h"

namespace agentrollout::api {

// Parses "< 0.02", ">=5", " == 0 ", "!= -1", "> 1e3". Whitespace is optional around the
// operator and the number. The number is decimal (optional sign, fraction, exponent) and
// finite. Errors (InvalidArgument, no field path) start with `invalid threshold "TEXT": `.
Result<Threshold> ParseThreshold(std::string_view text);

// Whether `value` satisfies the line. NaN satisfies nothing (not even "!= x").
bool Matches(const Threshold& threshold, double value);

// The canonical text: operator, one space, FormatNumber(value), e.g. "< 0.02".
// ParseThreshold(FormatThreshold(t)) == t for every finite t.
std::string FormatThreshold(const Threshold& threshold);

// The shortest text that parses back to exactly `value` (std::to_chars): 0.0131 -> "0.0131",
// 912 -> "912", 1e-07 -> "1e-07", 1e21 -> "1e+21". -0 is "0"; non-finite values use
// Prometheus' spelling: "NaN", "+Inf", "-Inf".
std::string FormatNumber(double value);

// A measured value for messages, Events and notifications (status.analysis.metrics[].value
// keeps FormatNumber's exact text): at most 4 significant digits, 1349.6666666666663 ->
// "1350", 0.0131 -> "0.0131", 1234567 -> "1.235e+06" - more only where fewer would put the
// shown number on the other side of `line` than the value (0.050004 against "> 0.05" is
// "0.050004", never "0.05 is > 0.05"). Verdicts are computed on the exact value, never on
// this text.
std::string FormatMeasurement(double value, const Threshold& line);

}  // namespace agentrollout::api
