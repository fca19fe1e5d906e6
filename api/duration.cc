#include "api/duration.h"

#include <cstdint>
#include <limits>

namespace agentrollout::api {
namespace {

constexpr std::uint64_t kMaxNanos = std::numeric_limits<std::int64_t>::max();

struct Unit {
  std::string_view name;
  std::uint64_t nanos;
};

constexpr Unit kUnits[] = {
    {"ns", 1},
    {"us", 1'000},
    {"\xC2\xB5s", 1'000},  // U+00B5 micro sign
    {"\xCE\xBCs", 1'000},  // U+03BC Greek small letter mu
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60'000'000'000},
    {"h", 3'600'000'000'000},
};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

// Follows Go's time.ParseDuration: integer part exact in uint64 nanoseconds, fraction scaled
// in floating point (the same rounding Go applies).
Result<Duration> ParseDuration(std::string_view text) {
  const auto fail = [&](std::string_view why) -> Error {
    return InvalidArgument("invalid duration \"" + std::string(text) + "\": " + std::string(why));
  };
  if (text.empty()) return fail("must not be empty");
  if (text.front() == '-') return fail("must not be negative");
  if (text == "0") return Duration(0);

  std::string_view rest = text;
  std::uint64_t total = 0;
  while (!rest.empty()) {
    if (!IsDigit(rest.front()) && rest.front() != '.') {
      return fail("expected a number at \"" + std::string(rest) + "\"");
    }
    std::uint64_t whole = 0;
    std::size_t i = 0;
    for (; i < rest.size() && IsDigit(rest[i]); ++i) {
      if (whole > kMaxNanos / 10) return fail("out of range");
      whole = whole * 10 + static_cast<std::uint64_t>(rest[i] - '0');
      if (whole > kMaxNanos) return fail("out of range");
    }
    const bool has_whole = i > 0;
    std::uint64_t fraction = 0;
    double scale = 1;
    bool has_fraction = false;
    if (i < rest.size() && rest[i] == '.') {
      ++i;
      bool overflowed = false;
      for (; i < rest.size() && IsDigit(rest[i]); ++i) {
        has_fraction = true;
        if (overflowed || fraction > kMaxNanos / 10) {
          overflowed = true;  // further digits cannot change the result; ignore them
          continue;
        }
        fraction = fraction * 10 + static_cast<std::uint64_t>(rest[i] - '0');
        scale *= 10;
      }
    }
    if (!has_whole && !has_fraction)
      return fail("expected a number at \"" + std::string(rest) + "\"");
    rest.remove_prefix(i);

    std::size_t unit_length = 0;
    while (unit_length < rest.size() && !IsDigit(rest[unit_length]) && rest[unit_length] != '.') {
      ++unit_length;
    }
    const std::string_view unit_name = rest.substr(0, unit_length);
    if (unit_name.empty()) return fail("missing unit (one of ns, us, ms, s, m, h)");
    const Unit* unit = nullptr;
    for (const Unit& candidate : kUnits) {
      if (candidate.name == unit_name) unit = &candidate;
    }
    if (unit == nullptr) {
      return fail("unknown unit \"" + std::string(unit_name) + "\" (one of ns, us, ms, s, m, h)");
    }
    rest.remove_prefix(unit_length);

    if (whole > kMaxNanos / unit->nanos) return fail("out of range");
    std::uint64_t nanos = whole * unit->nanos;
    if (fraction > 0) {
      nanos += static_cast<std::uint64_t>(static_cast<double>(fraction) *
                                          (static_cast<double>(unit->nanos) / scale));
      if (nanos > kMaxNanos) return fail("out of range");
    }
    total += nanos;
    if (total > kMaxNanos) return fail("out of range");
  }
  return Duration(static_cast<Duration::rep>(total / 1'000'000));
}

std::string FormatDuration(Duration duration) {
  Duration::rep ms = duration.count();
  if (ms == 0) return "0s";
  std::string out;
  std::uint64_t magnitude = static_cast<std::uint64_t>(ms);
  if (ms < 0) {
    out = "-";
    magnitude = 0 - magnitude;  // well-defined for the most negative value too
  }
  if (magnitude < 1000) return out + std::to_string(magnitude) + "ms";

  const std::uint64_t hours = magnitude / 3'600'000;
  const std::uint64_t minutes = magnitude / 60'000 % 60;
  const std::uint64_t seconds = magnitude / 1000 % 60;
  const std::uint64_t millis = magnitude % 1000;
  if (hours > 0) out += std::to_string(hours) + "h";
  if (hours > 0 || minutes > 0) out += std::to_string(minutes) + "m";
  out += std::to_string(seconds);
  if (millis > 0) {
    std::string fraction = std::to_string(millis + 1000).substr(1);  // zero-padded to 3 digits
    fraction.erase(fraction.find_last_not_of('0') + 1);
    out += "." + fraction;
  }
  return out + "s";
}

}  // namespace agentrollout::api
