#include "api/time.h"

#include <gtest/gtest.h>

namespace agentrollout::api {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;
using std::chrono::sys_days;

// 2026-11-22T10:00:00Z
Timestamp Example() {
  return Timestamp(sys_days(std::chrono::year(2026) / 11 / 22).time_since_epoch() + hours(10));
}

struct TimeCase {
  std::string text;
  Timestamp want;
};

TEST(ParseTime, AcceptsRfc3339) {
  const std::vector<TimeCase> cases = {
      {"2026-11-22T10:00:00Z", Example()},
      {"2026-11-22t10:00:00z", Example()},
      {"2026-11-22T12:00:00+02:00", Example()},
      {"2026-11-22T08:30:00-01:30", Example()},
      {"2026-11-22T10:00:00.5Z", Example() + milliseconds(500)},
      {"2026-11-22T10:00:00.123456Z", Example() + microseconds(123456)},
      {"2026-11-22T10:00:00.123456789Z", Example() + nanoseconds(123456789)},
      {"2026-11-22T10:00:00.1234567891Z", Example() + nanoseconds(123456789)},
      {"1970-01-01T00:00:00Z", Timestamp{}},
      {"1969-12-31T23:59:59Z", Timestamp{} - seconds(1)},
      {"2024-02-29T00:00:00Z", Timestamp(sys_days(std::chrono::year(2024) / 2 / 29))},
  };
  for (const auto& c : cases) {
    auto got = ParseTime(c.text);
    ASSERT_TRUE(got.ok()) << c.text << ": " << got.error().message();
    EXPECT_EQ(*got, c.want) << c.text;
  }
}

TEST(ParseTime, RejectsMalformedInput) {
  for (const char* text :
       {"", "2026-11-22", "2026-11-22T10:00:00", "2026-11-22 10:00:00Z", "2026-13-01T00:00:00Z",
        "2025-02-29T00:00:00Z", "2026-11-22T24:00:00Z", "2026-11-22T10:60:00Z",
        "2026-11-22T10:00:60Z", "2026-11-22T10:00:00.Z", "2026-11-22T10:00:00+0200",
        "2026-11-22T10:00:00+24:00", "2026-11-22T10:00:00Zjunk", "26-11-22T10:00:00Z",
        "2026-1-22T10:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"}) {
    auto got = ParseTime(text);
    ASSERT_FALSE(got.ok()) << text;
    EXPECT_EQ(got.error().message(), "invalid time \"" + std::string(text) +
                                         "\": must be RFC 3339, e.g. 2026-11-22T10:00:00Z");
  }
}

TEST(FormatTime, IsUtcSecondPrecision) {
  EXPECT_EQ(FormatTime(Example()), "2026-11-22T10:00:00Z");
  EXPECT_EQ(FormatTime(Example() + milliseconds(999)), "2026-11-22T10:00:00Z");
  EXPECT_EQ(FormatTime(Timestamp{}), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatTime(Timestamp{} - milliseconds(1)), "1969-12-31T23:59:59Z");
  EXPECT_EQ(
      FormatTime(Timestamp(sys_days(std::chrono::year(2024) / 2 / 29)) + hours(23) + seconds(3599)),
      "2024-02-29T23:59:59Z");
}

TEST(FormatMicroTime, KeepsMicroseconds) {
  EXPECT_EQ(FormatMicroTime(Example() + nanoseconds(123456789)), "2026-11-22T10:00:00.123456Z");
  EXPECT_EQ(FormatMicroTime(Example()), "2026-11-22T10:00:00.000000Z");
}

TEST(FormatTime, RoundTripsThroughParseTime) {
  for (Timestamp t : {Example(), Timestamp{}, Example() + hours(24 * 400) + seconds(17)}) {
    auto parsed = ParseTime(FormatTime(t));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, t);
    auto micro = ParseTime(FormatMicroTime(t + microseconds(42)));
    ASSERT_TRUE(micro.ok());
    EXPECT_EQ(*micro, t + microseconds(42));
  }
}

}  // namespace
}  // namespace agentrollout::api
