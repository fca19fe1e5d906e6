#include "api/template.h"

#include <algorithm>

#include "common/text.h"

namespace agentrollout::api {
namespace {

constexpr std::string_view kOpen = "{{";
constexpr std::string_view kClose = "}}";

bool IsNameStart(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }

bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9') || c == '.' || c == '-'; }

std::string_view TrimSpaces(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n";
  const auto first = s.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(kSpace);
  return s.substr(first, last - first + 1);
}

}  // namespace

bool IsTemplateVariableName(std::string_view name) {
  return !name.empty() && IsNameStart(name.front()) &&
         std::all_of(name.begin() + 1, name.end(), IsNameChar);
}

Result<std::vector<TemplatePart>> ParseTemplate(std::string_view query) {
  std::vector<TemplatePart> parts;
  TemplateContext context = TemplateContext::kBare;
  bool in_comment = false;
  bool escaped = false;  // the previous character of a "…" or '…' string was a backslash
  std::string literal;
  std::size_t pos = 0;
  while (pos < query.size()) {
    if (query.substr(pos).starts_with(kOpen)) {
      const std::size_t open = pos;
      const std::size_t inner = open + kOpen.size();
      const std::size_t close = query.find(kClose, inner);
      if (close == std::string_view::npos) {
        return InvalidArgument("unterminated {{ at offset " + std::to_string(open));
      }
      const std::string_view name = TrimSpaces(query.substr(inner, close - inner));
      if (!IsTemplateVariableName(name)) {
        return InvalidArgument("invalid template variable name \"" +
                               std::string(query.substr(inner, close - inner)) + "\" at offset " +
                               std::to_string(open));
      }
      if (escaped) {
        return InvalidArgument("{{" + std::string(name) + "}} at offset " + std::to_string(open) +
                               " follows a backslash inside a string literal");
      }
      if (!literal.empty()) {
        parts.push_back({TemplatePart::Kind::kLiteral, std::move(literal)});
        literal.clear();
      }
      parts.push_back({TemplatePart::Kind::kVariable, std::string(name),
                       in_comment ? TemplateContext::kBare : context});
      pos = close + kClose.size();
      continue;
    }
    const char c = query[pos++];
    literal += c;
    if (in_comment) {
      in_comment = c != '\n';
    } else if (escaped) {
      escaped = false;
    } else {
      switch (context) {
        case TemplateContext::kBare:
          if (c == '"') context = TemplateContext::kDoubleQuoted;
          if (c == '\'') context = TemplateContext::kSingleQuoted;
          if (c == '`') context = TemplateContext::kRaw;
          if (c == '#') in_comment = true;
          break;
        case TemplateContext::kDoubleQuoted:
        case TemplateContext::kSingleQuoted:
          if (c == '\\') {
            escaped = true;
          } else if (c == (context == TemplateContext::kDoubleQuoted ? '"' : '\'')) {
            context = TemplateContext::kBare;
          }
          break;
        case TemplateContext::kRaw:
          if (c == '`') context = TemplateContext::kBare;
          break;
      }
    }
  }
  if (!literal.empty()) parts.push_back({TemplatePart::Kind::kLiteral, std::move(literal)});
  return parts;
}

bool IsNumberOrDuration(std::string_view value) {
  const auto digits = [&](std::size_t& pos) {
    const std::size_t start = pos;
    while (pos < value.size() && value[pos] >= '0' && value[pos] <= '9') ++pos;
    return pos > start;
  };
  // A PromQL duration: one or more <digits><unit>, e.g. 1h30m.
  const auto duration = [&] {
    std::size_t pos = 0;
    while (pos < value.size()) {
      if (!digits(pos)) return false;
      const std::string_view rest = value.substr(pos);
      if (rest.starts_with("ms")) {
        pos += 2;
      } else if (!rest.empty() &&
                 std::string_view("smhdwy").find(rest[0]) != std::string_view::npos) {
        ++pos;
      } else {
        return false;
      }
    }
    return !value.empty();
  };
  // A decimal number: [+-] digits [. digits] or [+-] . digits, then [eE [+-] digits].
  const auto number = [&] {
    std::size_t pos = 0;
    if (pos < value.size() && (value[pos] == '+' || value[pos] == '-')) ++pos;
    const bool whole = digits(pos);
    bool fraction = false;
    if (pos < value.size() && value[pos] == '.') {
      ++pos;
      fraction = digits(pos);
    }
    if (!whole && !fraction) return false;
    if (pos < value.size() && (value[pos] == 'e' || value[pos] == 'E')) {
      ++pos;
      if (pos < value.size() && (value[pos] == '+' || value[pos] == '-')) ++pos;
      if (!digits(pos)) return false;
    }
    return pos == value.size();
  };
  return number() || duration();
}

std::vector<std::string> BuiltinTemplateVariables() {
  return {"name", "namespace", "flag", "phase", "canary", "stable"};
}

Status CheckTemplate(std::string_view query, const std::map<std::string, std::string>& args,
                     std::string_view field_path, std::string_view metric, TemplateScope scope) {
  auto parts = ParseTemplate(query);
  if (!parts.ok()) return parts.error().WithContext(field_path);
  const bool comparison = scope == TemplateScope::kComparison;
  std::vector<std::string> builtins = BuiltinTemplateVariables();
  if (comparison) {
    builtins.emplace_back(kVersionVariable);
    builtins.emplace_back(kWindowVariable);
  }
  for (const TemplatePart& part : *parts) {
    if (part.kind != TemplatePart::Kind::kVariable) continue;
    const bool builtin = std::find(builtins.begin(), builtins.end(), part.text) != builtins.end();
    const auto arg = args.find(part.text);
    if (!builtin && arg == args.end()) {
      std::string known;
      for (const std::string& name : builtins) {
        known += known.empty() ? name : ", " + name;
      }
      for (const auto& [name, value] : args) known += ", " + name;
      return InvalidArgument(std::string(field_path) + ": unknown template variable {{" +
                             part.text + "}} (known: " + known + ")");
    }
    if (part.context == TemplateContext::kDoubleQuoted ||
        part.context == TemplateContext::kSingleQuoted ||
        (comparison && part.text == kWindowVariable)) {
      continue;
    }
    const std::string where = std::string(field_path) + ": {{" + part.text + "}} of " +
                              (comparison ? "comparison " : "metric ") + QuoteForMessage(metric) +
                              " stands outside a \"…\" or '…' string literal, so its value "
                              "must be a number or a duration";
    if (builtin) {
      return InvalidArgument(where + "; built-in variables are names: put it inside \"…\"");
    }
    if (!IsNumberOrDuration(arg->second)) {
      return InvalidArgument(where + "; analysis.args." + part.text + " is " +
                             QuoteForMessage(arg->second));
    }
  }
  return OkStatus();
}

}  // namespace agentrollout::api
