#include "plugin/dashboard/guard.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <stdexcept>

namespace agentrollout::plugin::dashboard {
namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Error Refused(std::string what) { return Error(ErrorCode::kPermissionDenied, std::move(what)); }

}  // namespace

std::string NewToken() {
  std::array<unsigned char, 32> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    throw std::runtime_error("RAND_bytes failed: no randomness for the dashboard token");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char byte : bytes) {
    hex += kHex[byte >> 4];
    hex += kHex[byte & 0xf];
  }
  return hex;
}

RequestGuard::RequestGuard(std::string token, int port, std::vector<std::string> hosts)
    : token_(std::move(token)) {
  hosts.insert(hosts.end(), {"localhost", "127.0.0.1", "[::1]"});
  for (const std::string& host : hosts) {
    if (host == "*") any_host_ = true;
    hosts_.push_back(Lower(host) + ":" + std::to_string(port));
  }
}

bool RequestGuard::KnownHost(std::string_view host) const {
  if (any_host_) return !host.empty();
  return std::find(hosts_.begin(), hosts_.end(), Lower(host)) != hosts_.end();
}

Status RequestGuard::CheckRead(std::string_view host, std::string_view origin) const {
  if (!KnownHost(host)) {
    return Refused("Host header does not name this dashboard (DNS rebinding?)");
  }
  if (!origin.empty() && Lower(origin) != "http://" + Lower(host)) {
    return Refused("cross-origin request refused (Origin is not this dashboard)");
  }
  return OkStatus();
}

Status RequestGuard::CheckWrite(std::string_view host, std::string_view origin,
                                std::string_view token) const {
  if (Status read = CheckRead(host, origin); !read.ok()) return read;
  if (origin.empty()) return Refused("a state-changing request needs an Origin header");
  if (token.size() != token_.size() ||
      CRYPTO_memcmp(token.data(), token_.data(), token_.size()) != 0) {
    return Refused("missing or wrong CSRF token (reload the page)");
  }
  return OkStatus();
}

}  // namespace agentrollout::plugin::dashboard
