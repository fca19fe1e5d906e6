// Helpers shared by the notifier's tests: waiting for asynchronous sends, and Secrets as
// the API server returns them.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

namespace agentrollout::controllers::notify_testing {

// Polls `condition` every 5 ms until it holds (true) or `timeout` passes (false).
template <typename Condition>
bool Eventually(Condition condition,
                std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

inline std::string Base64(const std::string& text) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned value = 0;
  int bits = 0;
  for (unsigned char c : text) {
    value = (value << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(value >> bits) & 63];
    }
  }
  if (bits > 0) out += kAlphabet[(value << (6 - bits)) & 63];
  while (out.size() % 4 != 0) out += '=';
  return out;
}

// A Secret with one data key (already base64) and the opt-in label the operator requires.
inline nlohmann::json Secret(const std::string& name, const std::string& key,
                             const std::string& base64) {
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata", {{"name", name}, {"labels", {{"rollouts.agentops.dev/use", "true"}}}}},
          {"data", {{key, base64}}}};
}

}  // namespace agentrollout::controllers::notify_testing
