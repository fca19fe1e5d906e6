// The HTTP transport: the one seam between the project and an HTTP library.
// The Kubernetes client and the Prometheus client both talk through it; the only
// implementation (http/cpprest_transport.cc) is the only file that includes cpprest,
// so the library can be swapped (libcurl, Boost.Beast) without touching callers.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace agentrollout::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct TlsConfig {
  std::string ca_pem;           // "" = system trust store
  std::string client_cert_pem;  // client certificate chain, from memory
  std::string client_key_pem;
  bool insecure_skip_verify = false;
  std::string server_name;  // SNI / verification name override; "" = host of base_url
};

struct ClientConfig {
  std::string base_url;  // scheme://host:port[/prefix]; IPv6 hosts in brackets
  TlsConfig tls;
  std::chrono::milliseconds default_timeout{30000};
};

struct Request {
  std::string method = "GET";
  std::string target;  // path and query, already escaped, appended to base_url
  Headers headers;
  std::string body;
  // Whole-request deadline for Send(); inactivity timeout for Stream(). 0 = client default.
  std::chrono::milliseconds timeout{0};
  // Responses with a longer body fail with ResourceExhausted instead of being buffered.
  std::size_t max_body_bytes = 64u << 20;
};

struct Response {
  int status = 0;
  Headers headers;
  std::string body;
  // Case-insensitive header lookup; nullopt when absent.
  std::optional<std::string> Header(std::string_view name) const;
};

// A streaming body read line by line (Kubernetes watch). Reads block the caller's
// thread, which must be one of the project's own threads.
class LineStream {
 public:
  virtual ~LineStream() = default;
  // The next line without its '\n'; nullopt at a clean end of stream; an Error when the
  // connection breaks or the inactivity timeout passes (callers treat both as "re-watch").
  virtual Result<std::optional<std::string>> NextLine() = 0;
  // Unblocks a pending NextLine() from another thread; later reads end the stream.
  virtual void Cancel() = 0;
};
using LineStreamPtr = std::unique_ptr<LineStream>;

struct StreamResponse {
  int status = 0;
  Headers headers;
  // For status 2xx, the body to read line by line. Otherwise the full error body is in
  // `error_body` and `lines` is null.
  LineStreamPtr lines;
  std::string error_body;
};

class Client {
 public:
  virtual ~Client() = default;
  // Sends a request and buffers the whole response. Transport failures (connect, TLS,
  // timeout) are Errors: kUnavailable, kDeadlineExceeded; any HTTP status is a Response.
  virtual Result<Response> Send(const Request& request) = 0;
  // Sends a request whose response body is a stream of lines.
  virtual Result<StreamResponse> Stream(const Request& request) = 0;
};
using ClientPtr = std::unique_ptr<Client>;

// The cpprestsdk implementation. Fails with kInvalidArgument for a bad URL or PEM, and for
// an IPv6 literal host (cpprest passes "[::1]" to the resolver verbatim and cannot dial it).
// `tls.server_name` is sent as the Host header: cpprest takes SNI and the verified name from it.
Result<ClientPtr> NewClient(const ClientConfig& config);

}  // namespace agentrollout::http
