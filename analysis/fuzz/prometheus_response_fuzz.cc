// ParseQueryResponse on arbitrary bodies: never crashes, and every success has the shape
// the classifier relies on (a scalar has exactly one sample).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "analysis/prometheus_client.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using agentrollout::analysis::ParseQueryResponse;
  using agentrollout::analysis::QueryResult;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  for (const int status : {200, 400, 503}) {
    const auto result = ParseQueryResponse(status, body);
    if (result.ok() && result->type == QueryResult::Type::kScalar && result->samples.size() != 1) {
      __builtin_trap();
    }
    if (!result.ok() && result.error().message().empty()) __builtin_trap();
  }
  return 0;
}
