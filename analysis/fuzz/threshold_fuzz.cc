// ParseThreshold on arbitrary text: never crashes, and what it accepts formats back to
// text that parses to the same line (the documented round trip).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/threshold.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = agentrollout::api::ParseThreshold(text);
  if (!parsed.ok()) return 0;
  const auto again = agentrollout::api::ParseThreshold(agentrollout::api::FormatThreshold(*parsed));
  if (!again.ok() || !(*again == *parsed)) __builtin_trap();
  return 0;
}
