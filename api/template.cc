#include "api/template.h"

#include <algorithm>

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
  std::size_t pos = 0;
  while (pos < query.size()) {
    const std::size_t open = query.find(kOpen, pos);
    if (open == std::string_view::npos) {
      parts.push_back({TemplatePart::Kind::kLiteral, std::string(query.substr(pos))});
      break;
    }
    if (open > pos) {
      parts.push_back({TemplatePart::Kind::kLiteral, std::string(query.substr(pos, open - pos))});
    }
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
    parts.push_back({TemplatePart::Kind::kVariable, std::string(name)});
    pos = close + kClose.size();
  }
  return parts;
}

std::vector<std::string> BuiltinTemplateVariables() {
  return {"name", "namespace", "flag", "phase", "canary", "stable"};
}

Status CheckTemplateVariables(std::string_view query,
                              const std::map<std::string, std::string>& args,
                              std::string_view field_path) {
  auto parts = ParseTemplate(query);
  if (!parts.ok()) return parts.error().WithContext(field_path);
  const std::vector<std::string> builtins = BuiltinTemplateVariables();
  for (const TemplatePart& part : *parts) {
    if (part.kind != TemplatePart::Kind::kVariable) continue;
    if (args.count(part.text) > 0 ||
        std::find(builtins.begin(), builtins.end(), part.text) != builtins.end()) {
      continue;
    }
    std::string known;
    for (const std::string& name : builtins) {
      known += known.empty() ? name : ", " + name;
    }
    for (const auto& [name, value] : args) known += ", " + name;
    return InvalidArgument(std::string(field_path) + ": unknown template variable {{" + part.text +
                           "}} (known: " + known + ")");
  }
  return OkStatus();
}

}  // namespace agentrollout::api
