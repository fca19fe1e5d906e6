// ParseTemplate and Render on arbitrary input. The input is split at the first NUL byte:
// the template before it, the value of {{v}} after it. Checks that rendering never crashes
// and that an escaped value can never end the string literal it is inserted into, for
// either quote: outside an escape sequence there is no such quote, no newline and no other
// control byte.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "analysis/template.h"
#include "api/template.h"

namespace {

bool StaysInsideTheLiteral(std::string_view escaped, char quote) {
  for (std::size_t i = 0; i < escaped.size(); ++i) {
    const auto byte = static_cast<unsigned char>(escaped[i]);
    if (escaped[i] == '\\') {
      if (i + 1 == escaped.size()) return false;  // a dangling backslash eats the quote
      ++i;                                        // the escaped character
      continue;
    }
    if (escaped[i] == quote || byte < 0x20 || byte == 0x7f) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t split = input.find('\0');
  const std::string_view query = input.substr(0, split);
  const std::string_view value =
      split == std::string_view::npos ? std::string_view() : input.substr(split + 1);

  (void)agentrollout::api::ParseTemplate(query);
  for (const char quote : {'"', '\''}) {
    const std::string escaped = agentrollout::analysis::EscapePromQLString(value, quote);
    if (!StaysInsideTheLiteral(escaped, quote)) __builtin_trap();
  }
  const auto rendered =
      agentrollout::analysis::Render(query, {{"v", std::string(value)}, {"canary", "c"}});
  (void)rendered;
  return 0;
}
