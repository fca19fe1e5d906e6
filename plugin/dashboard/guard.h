// The dashboard's defences against other web pages (the server runs on the user's machine
// with the user's cluster credentials, so any site the user visits could try to use it):
// - Host must name this server (a DNS-rebinding page reaches 127.0.0.1 under its own name);
// - a request that carries Origin must come from this server's own origin, and a
//   state-changing one must carry it;
// - a state-changing request must carry the per-process token that only the dashboard's
//   own pages can read (CSRF).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace agentrollout::plugin::dashboard {

// 32 random bytes, hex (OpenSSL RAND_bytes).
std::string NewToken();

class RequestGuard {
 public:
  // `port` is the bound port; `hosts` the names the server answers to besides the loopback
  // ones (localhost, 127.0.0.1, [::1]), e.g. the host of a non-loopback --address; "*" (a
  // wildcard address such as 0.0.0.0, whose names cannot be known) accepts any Host — the
  // server is then reachable under any name anyway, and Origin and token checks remain.
  RequestGuard(std::string token, int port, std::vector<std::string> hosts = {});

  const std::string& token() const { return token_; }

  // Every request: Host must be one of ours with our port; an Origin, when present, must be
  // http://<that host>. Errors (kPermissionDenied) say which header was refused.
  Status CheckRead(std::string_view host, std::string_view origin) const;
  // State-changing requests: CheckRead, and Origin must be present, and `token` must equal
  // the process's token (compared in constant time).
  Status CheckWrite(std::string_view host, std::string_view origin, std::string_view token) const;

 private:
  bool KnownHost(std::string_view host) const;

  std::string token_;
  std::vector<std::string> hosts_;  // "name:port"
  bool any_host_ = false;
};

}  // namespace agentrollout::plugin::dashboard
