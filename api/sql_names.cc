#include "api/sql_names.h"

namespace agentrollout::api {
namespace {

bool IsLetter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

bool IsSqlIdentifier(std::string_view text) {
  if (text.empty() || text.size() > kMaxSqlIdentifier || !IsLetter(text.front())) return false;
  for (char c : text) {
    if (!IsLetter(c) && !IsDigit(c)) return false;
  }
  return true;
}

bool IsQualifiedSqlIdentifier(std::string_view text) {
  const std::size_t dot = text.find('.');
  if (dot == std::string_view::npos) return IsSqlIdentifier(text);
  return IsSqlIdentifier(text.substr(0, dot)) && IsSqlIdentifier(text.substr(dot + 1));
}

bool IsJsonPath(std::string_view text) {
  constexpr std::size_t kMaxPath = 256;
  constexpr std::size_t kMaxSegment = 128;
  if (text.empty() || text.size() > kMaxPath) return false;
  std::size_t segment = 0;
  for (char c : text) {
    if (c == '.') {
      if (segment == 0) return false;
      segment = 0;
      continue;
    }
    if (!IsLetter(c) && !IsDigit(c) && c != '-') return false;
    if (++segment > kMaxSegment) return false;
  }
  return segment > 0;
}

bool IsFlagKey(std::string_view text) {
  constexpr std::size_t kMaxFlagKey = 128;
  if (text.empty() || text.size() > kMaxFlagKey) return false;
  for (char c : text) {
    if (!IsLetter(c) && !IsDigit(c) && c != '.' && c != '-') return false;
  }
  return true;
}

std::vector<std::string> SplitJsonPath(std::string_view text) {
  std::vector<std::string> segments;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = text.find('.', start);
    segments.emplace_back(text.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) return segments;
    start = dot + 1;
  }
}

}  // namespace agentrollout::api
