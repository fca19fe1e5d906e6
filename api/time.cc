#include "api/time.h"

#include <chrono>
#include <cstdio>
#include <optional>

namespace agentrollout::api {
namespace {

using std::chrono::days;
using std::chrono::floor;
using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::minutes;
using std::chrono::nanoseconds;
using std::chrono::seconds;
using std::chrono::sys_days;

// Reads exactly `count` decimal digits from the front of `text`.
bool ReadDigits(std::string_view& text, std::size_t count, int& out) {
  if (text.size() < count) return false;
  int value = 0;
  for (std::size_t i = 0; i < count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    value = value * 10 + (text[i] - '0');
  }
  out = value;
  text.remove_prefix(count);
  return true;
}

bool Consume(std::string_view& text, char expected) {
  if (text.empty() || text.front() != expected) return false;
  text.remove_prefix(1);
  return true;
}

bool ConsumeEither(std::string_view& text, char upper, char lower) {
  return Consume(text, upper) || Consume(text, lower);
}

std::optional<Timestamp> Parse(std::string_view text) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!ReadDigits(text, 4, year) || !Consume(text, '-') || !ReadDigits(text, 2, month) ||
      !Consume(text, '-') || !ReadDigits(text, 2, day) || !ConsumeEither(text, 'T', 't') ||
      !ReadDigits(text, 2, hour) || !Consume(text, ':') || !ReadDigits(text, 2, minute) ||
      !Consume(text, ':') || !ReadDigits(text, 2, second)) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year(year),
                                         std::chrono::month(static_cast<unsigned>(month)),
                                         std::chrono::day(static_cast<unsigned>(day))};
  if (!date.ok() || hour > 23 || minute > 59 || second > 59) return std::nullopt;

  nanoseconds fraction{0};
  if (Consume(text, '.')) {
    std::size_t digits = 0;
    std::int64_t scale = 100'000'000;
    while (!text.empty() && text.front() >= '0' && text.front() <= '9') {
      fraction += nanoseconds((text.front() - '0') * scale);
      scale /= 10;
      text.remove_prefix(1);
      ++digits;
    }
    if (digits == 0) return std::nullopt;
  }

  minutes offset{0};
  if (!ConsumeEither(text, 'Z', 'z')) {
    if (text.empty() || (text.front() != '+' && text.front() != '-')) return std::nullopt;
    const int sign = text.front() == '-' ? -1 : 1;
    text.remove_prefix(1);
    int offset_hours = 0, offset_minutes = 0;
    if (!ReadDigits(text, 2, offset_hours) || !Consume(text, ':') ||
        !ReadDigits(text, 2, offset_minutes) || offset_hours > 23 || offset_minutes > 59) {
      return std::nullopt;
    }
    offset = minutes(sign * (offset_hours * 60 + offset_minutes));
  }
  if (!text.empty()) return std::nullopt;

  // Kubernetes accepts years 0000..9999, but a Timestamp (nanoseconds since 1970 in 64 bits)
  // covers about 1678..2262: reject what it cannot hold instead of overflowing.
  const auto local = sys_days(date) + hours(hour) + minutes(minute) + seconds(second);
  const auto utc = std::chrono::time_point_cast<seconds>(local - offset);
  const auto min = std::chrono::ceil<seconds>(Timestamp::min());
  const auto max = std::chrono::floor<seconds>(Timestamp::max()) - seconds(1);
  if (utc < min || utc > max) return std::nullopt;
  return std::chrono::time_point_cast<Timestamp::duration>(utc) +
         std::chrono::duration_cast<Timestamp::duration>(fraction);
}

// Formats UTC at second precision, plus six digits of microseconds if `with_micros`.
std::string Format(Timestamp time, bool with_micros) {
  const auto utc = std::chrono::time_point_cast<nanoseconds>(time);
  const sys_days day = floor<days>(utc);
  const std::chrono::year_month_day date(day);
  const std::chrono::hh_mm_ss clock(utc - day);
  char buffer[48];
  int length = std::snprintf(
      buffer, sizeof buffer, "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(date.year()),
      static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
      static_cast<int>(clock.hours().count()), static_cast<int>(clock.minutes().count()),
      static_cast<int>(clock.seconds().count()));
  if (with_micros) {
    const auto micros = std::chrono::duration_cast<microseconds>(clock.subseconds()).count();
    length += std::snprintf(buffer + length, sizeof buffer - static_cast<std::size_t>(length),
                            ".%06lld", static_cast<long long>(micros));
  }
  return std::string(buffer, static_cast<std::size_t>(length)) + "Z";
}

}  // namespace

Result<Timestamp> ParseTime(std::string_view text) {
  if (auto time = Parse(text)) return *time;
  return InvalidArgument("invalid time \"" + std::string(text) +
                         "\": must be RFC 3339, e.g. 2026-11-22T10:00:00Z");
}

std::string FormatTime(Timestamp time) { return Format(time, false); }

std::string FormatMicroTime(Timestamp time) { return Format(time, true); }

}  // namespace agentrollout::api
