#include "api/threshold.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace agentrollout::api {
namespace {

struct ThresholdCase {
  std::string text;
  Threshold want;
  std::string canonical;
};

TEST(ParseThreshold, AcceptsOperatorAndNumber) {
  const std::vector<ThresholdCase> cases = {
      {"< 0.02", {CompareOp::kLess, 0.02}, "< 0.02"},
      {"<0.02", {CompareOp::kLess, 0.02}, "< 0.02"},
      {"<= 5", {CompareOp::kLessEqual, 5}, "<= 5"},
      {"> 1200", {CompareOp::kGreater, 1200}, "> 1200"},
      {">= 5", {CompareOp::kGreaterEqual, 5}, ">= 5"},
      {"== 0", {CompareOp::kEqual, 0}, "== 0"},
      {"!= -1", {CompareOp::kNotEqual, -1}, "!= -1"},
      {"> 1e3", {CompareOp::kGreater, 1000}, "> 1000"},
      {"> 1E-7", {CompareOp::kGreater, 1e-7}, "> 1e-07"},
      {"  >=\t2.5  ", {CompareOp::kGreaterEqual, 2.5}, ">= 2.5"},
      {"<-1", {CompareOp::kLess, -1}, "< -1"},
      {"< +3", {CompareOp::kLess, 3}, "< 3"},
      {"< .5", {CompareOp::kLess, 0.5}, "< 0.5"},
      {"< -.5", {CompareOp::kLess, -0.5}, "< -0.5"},
      {"< 5.", {CompareOp::kLess, 5}, "< 5"},
      {"== -0", {CompareOp::kEqual, 0}, "== 0"},
      {"< 1.7976931348623157e308",
       {CompareOp::kLess, 1.7976931348623157e308},
       "< 1.7976931348623157e+308"},
  };
  for (const auto& c : cases) {
    auto got = ParseThreshold(c.text);
    ASSERT_TRUE(got.ok()) << c.text << ": " << got.error().message();
    EXPECT_EQ(*got, c.want) << c.text;
    EXPECT_EQ(FormatThreshold(*got), c.canonical) << c.text;
    auto again = ParseThreshold(FormatThreshold(*got));
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *got) << c.text;
  }
}

struct ThresholdErrorCase {
  std::string text;
  std::string message;
};

TEST(ParseThreshold, RejectsMalformedInput) {
  const std::vector<ThresholdErrorCase> cases = {
      {"", R"(invalid threshold "": must be OP NUMBER with OP one of < <= > >= == !=)"},
      {"0.02", R"(invalid threshold "0.02": must be OP NUMBER with OP one of < <= > >= == !=)"},
      {"lt 5", R"(invalid threshold "lt 5": must be OP NUMBER with OP one of < <= > >= == !=)"},
      {"<< 2", R"(invalid threshold "<< 2": unknown operator "<<" (one of < <= > >= == !=))"},
      {"= 2", R"(invalid threshold "= 2": unknown operator "=" (one of < <= > >= == !=))"},
      {"=< 2", R"(invalid threshold "=< 2": unknown operator "=<" (one of < <= > >= == !=))"},
      {"<> 2", R"(invalid threshold "<> 2": unknown operator "<>" (one of < <= > >= == !=))"},
      {"! 2", R"(invalid threshold "! 2": unknown operator "!" (one of < <= > >= == !=))"},
      {"===2", R"(invalid threshold "===2": unknown operator "===" (one of < <= > >= == !=))"},
      {"<", R"(invalid threshold "<": missing number after "<")"},
      {">=   ", R"(invalid threshold ">=   ": missing number after ">=")"},
      {"< abc", R"(invalid threshold "< abc": expected a number after "<", got "abc")"},
      {"< NaN", R"(invalid threshold "< NaN": expected a number after "<", got "NaN")"},
      {"< nan", R"(invalid threshold "< nan": expected a number after "<", got "nan")"},
      {"< inf", R"(invalid threshold "< inf": expected a number after "<", got "inf")"},
      {"< -Inf", R"(invalid threshold "< -Inf": expected a number after "<", got "-Inf")"},
      {"< +-1", R"(invalid threshold "< +-1": expected a number after "<", got "+-1")"},
      {"< - 1", R"(invalid threshold "< - 1": expected a number after "<", got "- 1")"},
      {"< .", R"(invalid threshold "< .": expected a number after "<", got ".")"},
      {"< 1e999", R"(invalid threshold "< 1e999": number out of range)"},
      {"< 0.02x", R"(invalid threshold "< 0.02x": unexpected "x" after the number)"},
      {"< 1e", R"(invalid threshold "< 1e": unexpected "e" after the number)"},
      {"< 0x10", R"(invalid threshold "< 0x10": unexpected "x10" after the number)"},
      {"< 1 2", R"(invalid threshold "< 1 2": unexpected "2" after the number)"},
      {"< 1 and > 2", R"(invalid threshold "< 1 and > 2": unexpected "and > 2" after the number)"},
  };
  for (const auto& c : cases) {
    auto got = ParseThreshold(c.text);
    ASSERT_FALSE(got.ok()) << c.text;
    EXPECT_EQ(got.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(got.error().message(), c.message) << c.text;
  }
}

struct MatchCase {
  Threshold threshold;
  double value;
  bool want;
};

TEST(Matches, ComparesLikeTheOperator) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<MatchCase> cases = {
      {{CompareOp::kLess, 0.02}, 0.0131, true},    {{CompareOp::kLess, 0.02}, 0.02, false},
      {{CompareOp::kLessEqual, 0.02}, 0.02, true}, {{CompareOp::kLessEqual, 0.02}, 0.03, false},
      {{CompareOp::kGreater, 5}, 5, false},        {{CompareOp::kGreater, 5}, 5.0001, true},
      {{CompareOp::kGreaterEqual, 5}, 5, true},    {{CompareOp::kGreaterEqual, 5}, 4.99, false},
      {{CompareOp::kEqual, 0}, 0, true},           {{CompareOp::kEqual, 0}, -0.0, true},
      {{CompareOp::kEqual, 0}, 1e-300, false},     {{CompareOp::kNotEqual, 0}, 1, true},
      {{CompareOp::kNotEqual, 0}, 0, false},       {{CompareOp::kNotEqual, 0}, nan, false},
      {{CompareOp::kLess, 1}, nan, false},         {{CompareOp::kGreater, 1}, nan, false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Matches(c.threshold, c.value), c.want)
        << FormatThreshold(c.threshold) << " vs " << c.value;
  }
}

TEST(FormatNumber, IsShortestRoundTrip) {
  const std::vector<std::pair<double, std::string>> cases = {
      {0.0131, "0.0131"},
      {912, "912"},
      {1e-07, "1e-07"},
      {0.02, "0.02"},
      {0.1 + 0.2, "0.30000000000000004"},
      {1e21, "1e+21"},
      {123456789, "123456789"},
      {-1.5, "-1.5"},
      {0.0, "0"},
      {-0.0, "0"},
      {std::numeric_limits<double>::quiet_NaN(), "NaN"},
      {std::numeric_limits<double>::infinity(), "+Inf"},
      {-std::numeric_limits<double>::infinity(), "-Inf"},
  };
  for (const auto& [value, text] : cases) EXPECT_EQ(FormatNumber(value), text);
}

TEST(FormatMeasurement, FourSignificantDigitsNeverAcrossTheLine) {
  const Threshold above{CompareOp::kGreater, 0.05};
  EXPECT_EQ(FormatMeasurement(1349.6666666666663, above), "1350");
  EXPECT_EQ(FormatMeasurement(1377.2727272727273, above), "1377");
  EXPECT_EQ(FormatMeasurement(0.0131, above), "0.0131");
  EXPECT_EQ(FormatMeasurement(0.071428571, above), "0.07143");
  EXPECT_EQ(FormatMeasurement(912, above), "912");
  EXPECT_EQ(FormatMeasurement(1234567.0, above), "1.235e+06");
  // Rounded to 4 digits, 0.050004 would read "0.05 is > 0.05": more digits instead.
  EXPECT_EQ(FormatMeasurement(0.050004, above), "0.050004");
  EXPECT_EQ(FormatMeasurement(0.04999999, Threshold{CompareOp::kLess, 0.05}), "0.04999999");
  EXPECT_EQ(FormatMeasurement(0.05000001, Threshold{CompareOp::kLess, 0.02}), "0.05");
  EXPECT_EQ(FormatMeasurement(-0.0, above), "0");
  EXPECT_EQ(FormatMeasurement(std::nan(""), above), "NaN");
  EXPECT_EQ(FormatMeasurement(-std::numeric_limits<double>::infinity(), above), "-Inf");
}

}  // namespace
}  // namespace agentrollout::api
