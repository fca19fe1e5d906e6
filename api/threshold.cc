#include "api/threshold.h"

#include <charconv>
#include <cmath>
#include <system_error>

#include "api/names.h"

namespace agentrollout::api {
namespace {

bool IsOperatorChar(char c) { return c == '<' || c == '>' || c == '=' || c == '!'; }

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view TrimLeft(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  return s;
}

}  // namespace

Result<Threshold> ParseThreshold(std::string_view text) {
  const auto fail = [&](const std::string& why) -> Error {
    return InvalidArgument("invalid threshold \"" + std::string(text) + "\": " + why);
  };
  std::string_view rest = TrimLeft(text);
  std::size_t op_length = 0;
  while (op_length < rest.size() && op_length < 3 && IsOperatorChar(rest[op_length])) ++op_length;
  const std::string_view op_text = rest.substr(0, op_length);
  if (op_text.empty()) return fail("must be OP NUMBER with OP one of < <= > >= == !=");
  const Result<CompareOp> op = ParseCompareOp(op_text);
  if (!op.ok()) {
    return fail("unknown operator \"" + std::string(op_text) + "\" (one of < <= > >= == !=)");
  }
  rest = TrimLeft(rest.substr(op_length));
  if (rest.empty()) return fail("missing number after \"" + std::string(op_text) + "\"");

  // from_chars takes no leading '+', and would accept "inf"/"nan": both handled here.
  const auto is_mantissa_start = [](std::string_view s) {
    return !s.empty() && ((s.front() >= '0' && s.front() <= '9') || s.front() == '.');
  };
  std::string_view number = rest;
  bool starts_numeric = is_mantissa_start(number);
  if (!starts_numeric && (number.front() == '+' || number.front() == '-')) {
    starts_numeric = is_mantissa_start(number.substr(1));
    if (number.front() == '+') number.remove_prefix(1);
  }
  if (!starts_numeric) {
    return fail("expected a number after \"" + std::string(op_text) + "\", got \"" +
                std::string(rest) + "\"");
  }
  double value = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value,
                                         std::chars_format::general);
  if (ec == std::errc::result_out_of_range) return fail("number out of range");
  if (ec != std::errc() || !std::isfinite(value)) {
    return fail("expected a number after \"" + std::string(op_text) + "\", got \"" +
                std::string(rest) + "\"");
  }
  const std::string_view trailing =
      TrimLeft(number.substr(static_cast<std::size_t>(end - number.data())));
  if (!trailing.empty()) {
    return fail("unexpected \"" + std::string(trailing) + "\" after the number");
  }
  return Threshold{*op, value};
}

bool Matches(const Threshold& threshold, double value) {
  if (std::isnan(value)) return false;
  switch (threshold.op) {
    case CompareOp::kLess:
      return value < threshold.value;
    case CompareOp::kLessEqual:
      return value <= threshold.value;
    case CompareOp::kGreater:
      return value > threshold.value;
    case CompareOp::kGreaterEqual:
      return value >= threshold.value;
    case CompareOp::kEqual:
      return value == threshold.value;
    case CompareOp::kNotEqual:
      return value != threshold.value;
  }
  return false;
}

std::string FormatThreshold(const Threshold& threshold) {
  return std::string(Name(threshold.op)) + " " + FormatNumber(threshold.value);
}

std::string FormatNumber(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == 0) return "0";
  char buffer[64];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  if (ec != std::errc()) return "NaN";  // unreachable: 64 bytes hold any double
  return std::string(buffer, end);
}

std::string FormatMeasurement(double value, const Threshold& line) {
  if (!std::isfinite(value) || value == 0) return FormatNumber(value);
  const bool matches = Matches(line, value);
  char buffer[64];
  for (int digits = 4; digits < 17; ++digits) {
    const auto [end, ec] =
        std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::general, digits);
    if (ec != std::errc()) break;  // unreachable: 64 bytes hold any double
    double shown = 0;
    const auto [parsed_end, parsed_ec] = std::from_chars(buffer, end, shown);
    if (parsed_ec == std::errc() && parsed_end == end && Matches(line, shown) == matches) {
      return std::string(buffer, end);
    }
  }
  return FormatNumber(value);
}

}  // namespace agentrollout::api
