// ParseDuration on arbitrary text: never crashes, and what it accepts formats back to text
// that parses to the same duration (the documented round trip).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/duration.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = agentrollout::api::ParseDuration(text);
  if (!parsed.ok()) return 0;
  if (parsed->count() < 0) __builtin_trap();
  const auto again = agentrollout::api::ParseDuration(agentrollout::api::FormatDuration(*parsed));
  if (!again.ok() || *again != *parsed) __builtin_trap();
  return 0;
}
