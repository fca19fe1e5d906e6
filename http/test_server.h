// A tiny scriptable HTTP/1.1 server for tests: plain sockets on 127.0.0.1 and a free port,
// optional TLS (OpenSSL, optionally requiring a client certificate), one thread per
// connection. Each request is handed to a test-supplied handler that writes the
// response byte by byte if it wants to (chunked bodies, stalls, dropped connections).
// Test-only: never linked into the operator.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "http/transport.h"

namespace agentrollout::http::testing {

struct ReceivedRequest {
  std::string method;
  std::string target;  // path and query as sent
  Headers headers;
  std::string body;
  std::optional<std::string> Header(std::string_view name) const;
};

// One request on a connection: the handler reads `request()` and writes a response.
class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual const ReceivedRequest& request() const = 0;
  // A complete response with Content-Length.
  virtual void Respond(int status, const Headers& headers, std::string_view body) = 0;
  // A chunked response: StartChunked, any number of WriteChunk, then EndChunks.
  virtual void StartChunked(int status, const Headers& headers) = 0;
  virtual void WriteChunk(std::string_view data) = 0;
  virtual void EndChunks() = 0;
  // Closes the connection once the handler returns (also without any response).
  virtual void CloseAfter() = 0;
  // Sleeps up to `duration`; returns false early when the server is stopping.
  virtual bool Wait(std::chrono::milliseconds duration) = 0;
};
using Handler = std::function<void(Exchange&)>;

struct TlsServerOptions {
  std::string cert_pem;
  std::string key_pem;
  std::string client_ca_pem;  // when set, a client certificate signed by it is required
};

class TestServer {
 public:
  virtual ~TestServer() = default;
  virtual int port() const = 0;
  // "http://127.0.0.1:PORT" or "https://127.0.0.1:PORT".
  virtual std::string url() const = 0;
  virtual int requests_served() const = 0;
  virtual int tls_handshake_failures() const = 0;
  // Closes every connection and joins every thread; handlers see Wait() return false.
  virtual void Stop() = 0;
};
using TestServerPtr = std::unique_ptr<TestServer>;

Result<TestServerPtr> StartTestServer(Handler handler,
                                      std::optional<TlsServerOptions> tls = std::nullopt);

// Certificates made with the openssl CLI in a temporary directory: a CA, a server
// certificate for 127.0.0.1/localhost, a client certificate, and an unrelated CA.
struct TestPki {
  std::string ca_cert_pem;
  std::string server_cert_pem;
  std::string server_key_pem;
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string other_ca_cert_pem;
};
Result<TestPki> GenerateTestPki();

}  // namespace agentrollout::http::testing
