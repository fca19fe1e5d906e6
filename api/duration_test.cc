#include "api/duration.h"

#include <gtest/gtest.h>

namespace agentrollout::api {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

struct DurationCase {
  std::string text;
  Duration want;
};

TEST(ParseDuration, AcceptsGoSyntax) {
  const std::vector<DurationCase> cases = {
      {"0", Duration(0)},
      {"0s", Duration(0)},
      {"90s", seconds(90)},
      {"5m", minutes(5)},
      {"4h", hours(4)},
      {"1h30m", minutes(90)},
      {"250ms", milliseconds(250)},
      {"1.5h", minutes(90)},
      {".5s", milliseconds(500)},
      {"1.s", seconds(1)},
      {"1h2m3s4ms", hours(1) + minutes(2) + seconds(3) + milliseconds(4)},
      {"2s1h", hours(1) + seconds(2)},  // Go accepts any order
      {"1500us", milliseconds(1)},      // truncated to milliseconds
      {"1500\xC2\xB5s", milliseconds(1)},
      {"1500\xCE\xBCs", milliseconds(1)},
      {"999999ns", Duration(0)},
      {"1000000ns", milliseconds(1)},
      {"0.001s", milliseconds(1)},
      {"24h", hours(24)},
      {"48h", hours(48)},
      {"2562047h", hours(2562047)},
      {"2562047h47m16.854775807s", milliseconds(9223372036854)},
      {"1.000000000000000000001h", hours(1)},  // extra fraction digits are ignored
  };
  for (const auto& c : cases) {
    auto got = ParseDuration(c.text);
    ASSERT_TRUE(got.ok()) << c.text << ": " << got.error().message();
    EXPECT_EQ(*got, c.want) << c.text;
  }
}

struct DurationErrorCase {
  std::string text;
  std::string message;
};

TEST(ParseDuration, RejectsMalformedInput) {
  const std::vector<DurationErrorCase> cases = {
      {"", R"(invalid duration "": must not be empty)"},
      {"-5m", R"(invalid duration "-5m": must not be negative)"},
      {"+5m", R"(invalid duration "+5m": expected a number at "+5m")"},
      {"5", R"(invalid duration "5": missing unit (one of ns, us, ms, s, m, h))"},
      {"1h30", R"(invalid duration "1h30": missing unit (one of ns, us, ms, s, m, h))"},
      {"00", R"(invalid duration "00": missing unit (one of ns, us, ms, s, m, h))"},
      {"5d", R"(invalid duration "5d": unknown unit "d" (one of ns, us, ms, s, m, h))"},
      {"5 m", R"(invalid duration "5 m": unknown unit " m" (one of ns, us, ms, s, m, h))"},
      {"5M", R"(invalid duration "5M": unknown unit "M" (one of ns, us, ms, s, m, h))"},
      {"s", R"(invalid duration "s": expected a number at "s")"},
      {".s", R"(invalid duration ".s": expected a number at ".s")"},
      {"1h ", R"(invalid duration "1h ": unknown unit "h " (one of ns, us, ms, s, m, h))"},
      {"2562048h", R"(invalid duration "2562048h": out of range)"},
      {"9223372036854775808ns", R"(invalid duration "9223372036854775808ns": out of range)"},
      {"99999999999999999999s", R"(invalid duration "99999999999999999999s": out of range)"},
      {"2562047h48m", R"(invalid duration "2562047h48m": out of range)"},
  };
  for (const auto& c : cases) {
    auto got = ParseDuration(c.text);
    ASSERT_FALSE(got.ok()) << c.text;
    EXPECT_EQ(got.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(got.error().message(), c.message) << c.text;
  }
}

TEST(FormatDuration, MatchesGoDurationString) {
  const std::vector<DurationCase> cases = {
      {"0s", Duration(0)},
      {"1ms", milliseconds(1)},
      {"250ms", milliseconds(250)},
      {"999ms", milliseconds(999)},
      {"1s", seconds(1)},
      {"1.5s", milliseconds(1500)},
      {"1.001s", milliseconds(1001)},
      {"1.05s", milliseconds(1050)},
      {"1m30s", seconds(90)},
      {"5m0s", minutes(5)},
      {"4h0m0s", hours(4)},
      {"1h30m0s", minutes(90)},
      {"1h0m0.25s", hours(1) + milliseconds(250)},
      {"48h0m0s", hours(48)},
      {"-1m30s", -seconds(90)},
  };
  for (const auto& c : cases) EXPECT_EQ(FormatDuration(c.want), c.text);
}

TEST(FormatDuration, RoundTripsThroughParseDuration) {
  const std::vector<Duration> durations = {Duration(0),
                                           milliseconds(1),
                                           milliseconds(999),
                                           milliseconds(1001),
                                           seconds(59),
                                           minutes(61),
                                           hours(4) + milliseconds(7),
                                           hours(2562047),
                                           milliseconds(9223372036854)};
  for (Duration d : durations) {
    auto parsed = ParseDuration(FormatDuration(d));
    ASSERT_TRUE(parsed.ok()) << FormatDuration(d);
    EXPECT_EQ(*parsed, d) << FormatDuration(d);
  }
}

}  // namespace
}  // namespace agentrollout::api
