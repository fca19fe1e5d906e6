#include "http/test_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

namespace agentrollout::http::testing {

namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

std::string ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 404:
      return "Not Found";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;

std::string OpenSslError() {
  unsigned long code = ERR_get_error();  // NOLINT(runtime/int): OpenSSL's type
  if (code == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

Result<SslCtxPtr> MakeServerContext(const TlsServerOptions& tls) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return Internal("SSL_CTX_new: " + OpenSslError());
  BIO* cert_bio = BIO_new_mem_buf(tls.cert_pem.data(), static_cast<int>(tls.cert_pem.size()));
  X509* cert = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
  BIO_free(cert_bio);
  if (cert == nullptr || SSL_CTX_use_certificate(ctx.get(), cert) != 1) {
    X509_free(cert);
    return InvalidArgument("server certificate: " + OpenSslError());
  }
  X509_free(cert);
  BIO* key_bio = BIO_new_mem_buf(tls.key_pem.data(), static_cast<int>(tls.key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
  BIO_free(key_bio);
  if (key == nullptr || SSL_CTX_use_PrivateKey(ctx.get(), key) != 1) {
    EVP_PKEY_free(key);
    return InvalidArgument("server key: " + OpenSslError());
  }
  EVP_PKEY_free(key);
  if (!tls.client_ca_pem.empty()) {
    BIO* ca_bio =
        BIO_new_mem_buf(tls.client_ca_pem.data(), static_cast<int>(tls.client_ca_pem.size()));
    X509* ca = PEM_read_bio_X509(ca_bio, nullptr, nullptr, nullptr);
    BIO_free(ca_bio);
    if (ca == nullptr) return InvalidArgument("client CA: " + OpenSslError());
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx.get()), ca);
    SSL_CTX_add_client_CA(ctx.get(), ca);
    X509_free(ca);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return ctx;
}

// A socket, optionally wrapped in TLS. Blocking I/O; Shutdown() from another thread
// makes pending reads fail.
class Connection {
 public:
  Connection(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}
  ~Connection() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    ::close(fd_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Reads some bytes; 0 at end of stream or on error.
  std::size_t Read(char* buf, std::size_t size) {
    if (ssl_ != nullptr) {
      int n = SSL_read(ssl_, buf, static_cast<int>(size));
      return n > 0 ? static_cast<std::size_t>(n) : 0;
    }
    ssize_t n = ::recv(fd_, buf, size, 0);
    return n > 0 ? static_cast<std::size_t>(n) : 0;
  }

  bool WriteAll(std::string_view data) {
    while (!data.empty()) {
      if (ssl_ != nullptr) {
        int n = SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
        if (n <= 0) return false;
        data.remove_prefix(static_cast<std::size_t>(n));
      } else {
        ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (n <= 0) return false;
        data.remove_prefix(static_cast<std::size_t>(n));
      }
    }
    return true;
  }

  void Shutdown() { ::shutdown(fd_, SHUT_RDWR); }

 private:
  int fd_;
  SSL* ssl_;
};

class ServerImpl;

class ExchangeImpl final : public Exchange {
 public:
  ExchangeImpl(ServerImpl& server, Connection& conn, ReceivedRequest request)
      : server_(server), conn_(conn), request_(std::move(request)) {}

  const ReceivedRequest& request() const override { return request_; }

  void Respond(int status, const Headers& headers, std::string_view body) override {
    std::string out = StatusAndHeaders(status, headers);
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    out += body;
    responded_ = true;
    conn_.WriteAll(out);
  }

  void StartChunked(int status, const Headers& headers) override {
    std::string out = StatusAndHeaders(status, headers);
    out += "Transfer-Encoding: chunked\r\n\r\n";
    responded_ = true;
    conn_.WriteAll(out);
  }

  void WriteChunk(std::string_view data) override {
    std::ostringstream out;
    out << std::hex << data.size() << "\r\n" << data << "\r\n";
    conn_.WriteAll(out.str());
  }

  void EndChunks() override { conn_.WriteAll("0\r\n\r\n"); }

  void CloseAfter() override { close_after_ = true; }

  bool Wait(std::chrono::milliseconds duration) override;

  bool responded() const { return responded_; }
  bool close_after() const { return close_after_; }

 private:
  static std::string StatusAndHeaders(int status, const Headers& headers) {
    std::string out = "HTTP/1.1 " + std::to_string(status) + " " + ReasonPhrase(status) + "\r\n";
    for (const auto& [name, value] : headers) out += name + ": " + value + "\r\n";
    return out;
  }

  ServerImpl& server_;
  Connection& conn_;
  ReceivedRequest request_;
  bool responded_ = false;
  bool close_after_ = false;
};

class ServerImpl final : public TestServer {
 public:
  ServerImpl(Handler handler, SslCtxPtr ssl_ctx, int listen_fd, int port)
      : handler_(std::move(handler)),
        ssl_ctx_(std::move(ssl_ctx)),
        listen_fd_(listen_fd),
        port_(port),
        accept_thread_([this] { AcceptLoop(); }) {}

  ~ServerImpl() override { Stop(); }

  int port() const override { return port_; }
  std::string url() const override {
    return std::string(ssl_ctx_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
  }
  int requests_served() const override { return requests_served_.load(); }
  int tls_handshake_failures() const override { return tls_failures_.load(); }

  void Stop() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      stopping_ = true;
      for (Connection* conn : open_) conn->Shutdown();
    }
    cv_.notify_all();
    ::shutdown(listen_fd_, SHUT_RDWR);
    accept_thread_.join();
    ::close(listen_fd_);
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      threads.swap(connection_threads_);
    }
    for (auto& t : threads) t.join();
  }

  bool WaitWhileRunning(std::chrono::milliseconds duration) {
    std::unique_lock<std::mutex> lock(mu_);
    return !cv_.wait_for(lock, duration, [this] { return stopping_; });
  }

 private:
  void AcceptLoop() {
    while (true) {
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) {
        ::close(fd);
        return;
      }
      connection_threads_.emplace_back([this, fd] { Serve(fd); });
    }
  }

  void Serve(int fd) {
    SSL* ssl = nullptr;
    if (ssl_ctx_) {
      ssl = SSL_new(ssl_ctx_.get());
      SSL_set_fd(ssl, fd);
    }
    Connection conn(fd, ssl);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      open_.insert(&conn);
    }
    if (ssl == nullptr || SSL_accept(ssl) == 1) {
      ServeRequests(conn);
    } else {
      tls_failures_++;
    }
    std::lock_guard<std::mutex> lock(mu_);
    open_.erase(&conn);
  }

  void ServeRequests(Connection& conn) {
    std::string buffer;
    while (true) {
      std::optional<ReceivedRequest> request = ReadRequest(conn, buffer);
      if (!request) return;
      bool client_closes = request->Header("Connection").value_or("") == "close";
      ExchangeImpl exchange(*this, conn, std::move(*request));
      handler_(exchange);
      requests_served_++;
      if (!exchange.responded() && !exchange.close_after()) {
        exchange.Respond(500, {}, "test handler wrote no response");
      }
      if (exchange.close_after() || client_closes) return;
    }
  }

  // Reads one request (headers and a Content-Length body); nullopt when the peer is gone.
  static std::optional<ReceivedRequest> ReadRequest(Connection& conn, std::string& buffer) {
    char chunk[16384];
    std::size_t header_end;
    while ((header_end = buffer.find("\r\n\r\n")) == std::string::npos) {
      std::size_t n = conn.Read(chunk, sizeof(chunk));
      if (n == 0) return std::nullopt;
      buffer.append(chunk, n);
    }
    ReceivedRequest request;
    std::istringstream head(buffer.substr(0, header_end));
    std::string line;
    std::getline(head, line);
    std::istringstream request_line(line);
    std::string version;
    request_line >> request.method >> request.target >> version;
    while (std::getline(head, line)) {
      std::size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      request.headers.emplace_back(Trim(line.substr(0, colon)), Trim(line.substr(colon + 1)));
    }
    buffer.erase(0, header_end + 4);
    std::size_t length = std::stoul(request.Header("Content-Length").value_or("0"));
    while (buffer.size() < length) {
      std::size_t n = conn.Read(chunk, sizeof(chunk));
      if (n == 0) return std::nullopt;
      buffer.append(chunk, n);
    }
    request.body = buffer.substr(0, length);
    buffer.erase(0, length);
    return request;
  }

  Handler handler_;
  SslCtxPtr ssl_ctx_;
  int listen_fd_;
  int port_;
  std::atomic<int> requests_served_{0};
  std::atomic<int> tls_failures_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::set<Connection*> open_;
  std::vector<std::thread> connection_threads_;
  std::thread accept_thread_;  // last: starts after every other member is ready
};

bool ExchangeImpl::Wait(std::chrono::milliseconds duration) {
  return server_.WaitWhileRunning(duration);
}

Result<std::string> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

std::optional<std::string> ReceivedRequest::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return std::nullopt;
}

Result<TestServerPtr> StartTestServer(Handler handler, std::optional<TlsServerOptions> tls) {
  // SSL_write to a peer that hung up raises SIGPIPE (plain sends use MSG_NOSIGNAL).
  std::signal(SIGPIPE, SIG_IGN);
  SslCtxPtr ssl_ctx;
  if (tls) {
    auto made = MakeServerContext(*tls);
    if (!made.ok()) return made.error();
    ssl_ctx = std::move(made).value();
  }
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Internal("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 64) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return Internal("cannot listen on 127.0.0.1");
  }
  return TestServerPtr(std::make_unique<ServerImpl>(std::move(handler), std::move(ssl_ctx), fd,
                                                    ntohs(addr.sin_port)));
}

Result<TestPki> GenerateTestPki() {
  char dir_template[] = "/tmp/agentrollout-pki-XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) return Internal("mkdtemp failed");
  const std::filesystem::path dir(dir_template);
  const std::string d = dir.string();
  const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  const std::string script =
      "set -e; cd '" + d + "'\n" + "openssl req -x509 " + key +
      " -keyout ca.key -out ca.crt -days 2 -subj /CN=test-ca\n" + "openssl req -x509 " + key +
      " -keyout other.key -out other.crt -days 2 -subj /CN=other\n" + "openssl req " + key +
      " -keyout server.key -out server.csr -subj /CN=127.0.0.1\n" +
      "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > server.ext\n" +
      "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
      "-out server.crt -days 2 -extfile server.ext\n" +
      "openssl req " + key + " -keyout client.key -out client.csr -subj /CN=test-client\n" +
      "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
      "-out client.crt -days 2\n";
  const std::string command = "bash -c \"$(cat <<'EOF'\n" + script + "EOF\n)\" >/dev/null 2>&1";
  int rc = std::system(command.c_str());
  TestPki pki;
  bool ok = rc == 0;
  const std::pair<std::string*, const char*> files[] = {
      {&pki.ca_cert_pem, "ca.crt"},        {&pki.server_cert_pem, "server.crt"},
      {&pki.server_key_pem, "server.key"}, {&pki.client_cert_pem, "client.crt"},
      {&pki.client_key_pem, "client.key"}, {&pki.other_ca_cert_pem, "other.crt"}};
  for (const auto& [out, name] : files) {
    if (!ok) break;
    auto content = ReadFile(dir / name);
    ok = content.ok();
    if (ok) *out = std::move(content).value();
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  if (!ok) return Internal("generating test certificates with the openssl CLI failed");
  return pki;
}

}  // namespace agentrollout::http::testing
