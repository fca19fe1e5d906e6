// Text that came from outside (servers' error pages, JSON strings, spec values) made fit
// for where it goes - status, events, logs, notifications (API.md §3.1): secrets redacted
// first, then invalid UTF-8 replaced, control characters flattened, and the result cut to
// a byte bound on a character boundary. One place, so every path cleans text the same way.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace agentrollout {

// Length of the valid UTF-8 sequence starting at text[pos] (1 for ASCII), or 0 when the
// bytes there are not one (a stray continuation byte, truncated, overlong, a surrogate,
// beyond U+10FFFF).
std::size_t Utf8SequenceLength(std::string_view text, std::size_t pos);

bool IsValidUtf8(std::string_view text);

// `text` with every maximal invalid sequence replaced by U+FFFD (one per byte that does
// not start a valid sequence).
std::string ToValidUtf8(std::string_view text);

// The longest prefix of `text` of at most `max_bytes` bytes that does not split a valid
// UTF-8 sequence.
std::string_view CutOnCharacterBoundary(std::string_view text, std::size_t max_bytes);

// `text` with every occurrence of each non-empty secret replaced by "<redacted>".
std::string Redact(std::string text, const std::vector<std::string>& secrets);

// Server text for a one-line message: secrets redacted (before anything is cut, so a
// secret straddling the bound is still found), invalid UTF-8 replaced by U+FFFD, control
// characters turned into spaces, trailing spaces dropped, and cut to at most `max_bytes`
// on a character boundary with "..." appended when something was cut.
std::string CleanServerText(std::string_view text, const std::vector<std::string>& secrets,
                            std::size_t max_bytes);

// `value` for an error message: CleanServerText without secrets, at most 64 bytes, in
// double quotes.
std::string QuoteForMessage(std::string_view value);

// An HTTP header name (RFC 7230 token): one or more of letters, digits and
// !#$%&'*+-.^_`|~.
bool IsHttpToken(std::string_view text);

// An HTTP header value without control characters: no CR, LF, NUL or any other byte below
// 0x20 but tab, no DEL. What a header carries can then never end it or start another one.
bool IsHttpFieldValue(std::string_view text);

}  // namespace agentrollout
