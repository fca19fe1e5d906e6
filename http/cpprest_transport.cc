// The cpprestsdk implementation of http::Client: the only file that includes cpprest.
//
// Threading: cpprest completes its tasks on its own shared thread pool, and blocking in
// .get()/.wait() on those threads deadlocks once all of them block (cpprestsdk issues 1144,
// 1569, 1694). So every wait here happens on the caller's thread: a task's continuation
// (on a pool thread) only stores the outcome and notifies a condition variable
// (Rendezvous below). Every cpprest, boost and OpenSSL exception is caught here and
// turned into an Error.
#include <cpprest/containerstream.h>
#include <cpprest/http_client.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <pplx/threadpool.h>

#include <algorithm>
#include <boost/asio/ssl.hpp>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>

#include "common/text.h"
#include "http/transport.h"

namespace agentrollout::http {

namespace {

using SteadyClock = std::chrono::steady_clock;
namespace cpprest_client = web::http::client;
using ByteBuffer = concurrency::streams::container_buffer<std::vector<uint8_t>>;

// A stream's inactivity limit: each line must arrive within the timeout plus this grace
// (cpprest's own timer, rounded up in ClientFor, may fire later).
constexpr std::chrono::seconds kStreamReadGrace{5};
constexpr std::size_t kReadChunk = 64 * 1024;
// cpprest's shared pool runs the sockets, TLS records and task continuations of every
// client in the process. Its default of 40 threads hands each completion to another
// sleeping thread: in the benchmark's perf profile a third of the operator's CPU was the
// kernel waking them. Nothing blocks on those threads (every wait is the caller's, see
// Rendezvous), so two keep up with the I/O, and a completion mostly runs on the thread
// that polled it.
constexpr std::size_t kSharedPoolThreads = 2;

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

enum class WaitEnd { kDone, kDeadline, kCancelled };

template <typename T>
struct Outcome {
  WaitEnd end = WaitEnd::kDone;
  std::optional<T> value;
  std::exception_ptr error;
};

// Hands the outcome of cpprest tasks to the caller's thread, with a deadline and a cancel
// switch. One per request; shared with the continuations, which may outlive the caller's
// interest in them (a timed-out read completes later into an abandoned slot).
class Rendezvous : public std::enable_shared_from_this<Rendezvous> {
 public:
  template <typename T>
  Outcome<T> Await(pplx::task<T> task, SteadyClock::time_point deadline) {
    auto slot = std::make_shared<Slot<T>>();
    task.then([self = shared_from_this(), slot](pplx::task<T> finished) {
      std::optional<T> value;
      std::exception_ptr error;
      try {
        value.emplace(finished.get());
      } catch (...) {
        error = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(self->mu_);
      slot->value = std::move(value);
      slot->error = error;
      slot->done = true;
      self->cv_.notify_all();
    });
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_until(lock, deadline, [&] { return slot->done || cancelled_; });
    Outcome<T> outcome;
    if (slot->done) {
      outcome.value = std::move(slot->value);
      outcome.error = slot->error;
    } else {
      outcome.end = cancelled_ ? WaitEnd::kCancelled : WaitEnd::kDeadline;
    }
    return outcome;
  }

  void Cancel() {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    cv_.notify_all();
  }

  bool cancelled() {
    std::lock_guard<std::mutex> lock(mu_);
    return cancelled_;
  }

 private:
  template <typename T>
  struct Slot {
    bool done = false;
    std::optional<T> value;
    std::exception_ptr error;
  };

  std::mutex mu_;
  std::condition_variable cv_;
  bool cancelled_ = false;
};

// Why the last certificate verification failed. cpprest reports every handshake failure
// as "Error in SSL handshake"; this keeps OpenSSL's reason so the Error can say it.
class TlsDiagnostics {
 public:
  void Record(std::string reason) {
    std::lock_guard<std::mutex> lock(mu_);
    reason_ = std::move(reason);
    at_ = SteadyClock::now();
  }
  // The reason recorded since `since`, or "".
  std::string ReasonSince(SteadyClock::time_point since) {
    std::lock_guard<std::mutex> lock(mu_);
    return at_ >= since ? reason_ : std::string();
  }

 private:
  std::mutex mu_;
  std::string reason_;
  SteadyClock::time_point at_{};
};

// OpenSSL's whole-chain verification hook: verifies exactly as OpenSSL would (cpprest's
// per-certificate callback with its host-name check still runs inside X509_verify_cert)
// and records why it failed.
int VerifyAndRecord(X509_STORE_CTX* store, void* arg) {
  int ok = X509_verify_cert(store);
  if (ok != 1) {
    int err = X509_STORE_CTX_get_error(store);
    static_cast<TlsDiagnostics*>(arg)->Record(
        // cpprest's host-name check fails the chain without an OpenSSL reason of its own.
        err == X509_V_OK || err == X509_V_ERR_UNSPECIFIED
            ? "the server certificate does not match the host name"
            : std::string("server certificate verification failed: ") +
                  X509_verify_cert_error_string(err));
  }
  return ok;
}

// Loads the CA and client credentials from memory. Throws boost::system::system_error on
// bad PEM (NewClient checks them once up front, so connections never see that).
void ConfigureTls(boost::asio::ssl::context& ctx, const TlsConfig& tls,
                  TlsDiagnostics* diagnostics) {
  if (!tls.ca_pem.empty()) {
    // An explicit CA replaces the system trust store (as client-go does).
    SSL_CTX_set_cert_store(ctx.native_handle(), X509_STORE_new());
    ctx.add_certificate_authority(boost::asio::buffer(tls.ca_pem));
  }
  if (!tls.client_cert_pem.empty()) {
    ctx.use_certificate_chain(boost::asio::buffer(tls.client_cert_pem));
  }
  if (!tls.client_key_pem.empty()) {
    ctx.use_private_key(boost::asio::buffer(tls.client_key_pem), boost::asio::ssl::context::pem);
  }
  if (diagnostics != nullptr && !tls.insecure_skip_verify) {
    SSL_CTX_set_cert_verify_callback(ctx.native_handle(), &VerifyAndRecord, diagnostics);
  }
}

Status ValidateTls(const TlsConfig& tls) {
  if (tls.client_cert_pem.empty() != tls.client_key_pem.empty()) {
    return InvalidArgument(
        "tls: client certificate and client key must be given together (one is empty)");
  }
  boost::asio::ssl::context ctx(boost::asio::ssl::context::tls_client);
  const char* field = "tls.ca_pem";
  try {
    if (!tls.ca_pem.empty()) ctx.add_certificate_authority(boost::asio::buffer(tls.ca_pem));
    field = "tls.client_cert_pem";
    if (!tls.client_cert_pem.empty()) {
      ctx.use_certificate_chain(boost::asio::buffer(tls.client_cert_pem));
    }
    field = "tls.client_key_pem";
    if (!tls.client_key_pem.empty()) {
      ctx.use_private_key(boost::asio::buffer(tls.client_key_pem), boost::asio::ssl::context::pem);
    }
  } catch (const std::exception& e) {
    return InvalidArgument(std::string(field) + ": not usable PEM: " + e.what());
  }
  return OkStatus();
}

std::string Describe(const ClientConfig& config, const Request& request) {
  return request.method + " " + config.base_url + request.target;
}

Error ErrorFromException(std::exception_ptr error, const std::string& context,
                         std::chrono::milliseconds timeout, TlsDiagnostics& tls,
                         SteadyClock::time_point started) {
  try {
    std::rethrow_exception(error);
  } catch (const web::http::http_exception& e) {
    const int code = e.error_code().value();
    if (code == ETIMEDOUT) {
      return Error(ErrorCode::kDeadlineExceeded,
                   context + ": no response within " + std::to_string(timeout.count()) + "ms");
    }
    if (code == ECANCELED) return Error(ErrorCode::kCancelled, context + ": cancelled");
    std::string what = e.what();
    if (what == "Error in SSL handshake") {
      std::string reason = tls.ReasonSince(started);
      return Unavailable(context + ": TLS handshake failed" +
                         (reason.empty() ? std::string(" (") + what + ")" : ": " + reason));
    }
    return Unavailable(context + ": " + what);
  } catch (const web::uri_exception& e) {
    return InvalidArgument(context + ": bad URL: " + e.what());
  } catch (const pplx::task_canceled&) {
    return Error(ErrorCode::kCancelled, context + ": cancelled");
  } catch (const std::exception& e) {
    return Unavailable(context + ": " + e.what());
  } catch (...) {
    return Internal(context + ": unknown exception from the HTTP library");
  }
}

Error DeadlineError(const std::string& context, std::chrono::milliseconds timeout) {
  return Error(ErrorCode::kDeadlineExceeded,
               context + ": no response within " + std::to_string(timeout.count()) + "ms");
}

// Defence in depth: a header that could end itself or start another (CR, LF, ...) never
// reaches the wire, whatever the caller validated. The value is not quoted: it may be a
// credential.
Status CheckHeaders(const Request& request, const std::string& context) {
  for (const auto& [name, value] : request.headers) {
    if (!IsHttpToken(name)) {
      return InvalidArgument(context + ": header name " + QuoteForMessage(name) +
                             " is not an HTTP token; the request was not sent");
    }
    if (!IsHttpFieldValue(value)) {
      return InvalidArgument(context + ": header " + name +
                             " has a control character (CR, LF, NUL, ...) in its value; the "
                             "request was not sent");
    }
  }
  return OkStatus();
}

Headers ConvertHeaders(const web::http::http_headers& headers) {
  Headers out;
  for (const auto& [name, value] : headers) out.emplace_back(name, value);
  return out;
}

bool IsSuccess(int status) { return status >= 200 && status < 300; }

// Reads a whole body within `deadline`, failing once it exceeds `max_bytes`.
Result<std::string> ReadBody(concurrency::streams::istream body, Rendezvous& rendezvous,
                             pplx::cancellation_token_source& cts, SteadyClock::time_point deadline,
                             std::size_t max_bytes, const std::string& context,
                             std::chrono::milliseconds timeout, TlsDiagnostics& tls,
                             SteadyClock::time_point started) {
  ByteBuffer buffer;
  std::size_t total = 0;  // the buffer's vector grows ahead of the data read into it
  while (true) {
    Outcome<std::size_t> read = rendezvous.Await(body.read(buffer, kReadChunk), deadline);
    if (read.end != WaitEnd::kDone) {
      cts.cancel();
      return DeadlineError(context, timeout);
    }
    if (read.error) {
      cts.cancel();
      return ErrorFromException(read.error, context, timeout, tls, started);
    }
    total += *read.value;
    if (total > max_bytes) {
      cts.cancel();
      return Error(ErrorCode::kResourceExhausted,
                   context + ": response body exceeds " + std::to_string(max_bytes) + " bytes");
    }
    if (*read.value == 0) break;
  }
  const std::vector<uint8_t>& bytes = buffer.collection();
  return std::string(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(total));
}

class CpprestLineStream final : public LineStream {
 public:
  CpprestLineStream(web::http::http_response response, std::shared_ptr<Rendezvous> rendezvous,
                    pplx::cancellation_token_source cts, std::chrono::milliseconds inactivity,
                    std::size_t max_line, std::string context, std::shared_ptr<TlsDiagnostics> tls,
                    SteadyClock::time_point started)
      : response_(std::move(response)),
        body_(response_.body()),
        rendezvous_(std::move(rendezvous)),
        cts_(std::move(cts)),
        inactivity_(inactivity),
        max_line_(max_line),
        context_(std::move(context)),
        tls_(std::move(tls)),
        started_(started) {}

  // Closes the connection: cpprest would otherwise keep downloading the body.
  ~CpprestLineStream() override { Cancel(); }

  Result<std::optional<std::string>> NextLine() override {
    if (ended_ || rendezvous_->cancelled()) return std::optional<std::string>();
    try {
      ByteBuffer line;
      Outcome<std::size_t> read = rendezvous_->Await(
          body_.read_line(line), SteadyClock::now() + inactivity_ + kStreamReadGrace);
      if (read.end == WaitEnd::kCancelled) return std::optional<std::string>();
      if (read.end == WaitEnd::kDeadline) return End(DeadlineError(context_, inactivity_));
      if (read.error) {
        if (rendezvous_->cancelled()) return std::optional<std::string>();
        return End(ErrorFromException(read.error, context_, inactivity_, *tls_, started_));
      }
      if (*read.value == 0 && body_.is_eof()) {
        ended_ = true;
        return std::optional<std::string>();
      }
      const std::size_t length = std::min(*read.value, line.collection().size());
      if (length > max_line_) {
        return End(Error(ErrorCode::kResourceExhausted,
                         context_ + ": a line exceeds " + std::to_string(max_line_) + " bytes"));
      }
      const std::vector<uint8_t>& bytes = line.collection();
      return std::optional<std::string>(
          std::string(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(length)));
    } catch (...) {
      return End(
          ErrorFromException(std::current_exception(), context_, inactivity_, *tls_, started_));
    }
  }

  void Cancel() override {
    rendezvous_->Cancel();
    cts_.cancel();
  }

 private:
  Error End(Error error) {
    ended_ = true;
    cts_.cancel();
    return error;
  }

  web::http::http_response response_;
  concurrency::streams::istream body_;
  std::shared_ptr<Rendezvous> rendezvous_;
  pplx::cancellation_token_source cts_;
  std::chrono::milliseconds inactivity_;
  std::size_t max_line_;
  std::string context_;
  std::shared_ptr<TlsDiagnostics> tls_;
  SteadyClock::time_point started_;
  bool ended_ = false;
};

class CpprestClient final : public Client {
 public:
  explicit CpprestClient(ClientConfig config)
      : config_(std::move(config)), tls_diagnostics_(std::make_shared<TlsDiagnostics>()) {}

  Result<Response> Send(const Request& request) override {
    const std::chrono::milliseconds timeout = TimeoutOf(request);
    const std::string context = Describe(config_, request);
    if (Status s = CheckHeaders(request, context); !s.ok()) return s.error();
    const SteadyClock::time_point started = SteadyClock::now();
    const SteadyClock::time_point deadline = started + timeout;
    auto rendezvous = std::make_shared<Rendezvous>();
    pplx::cancellation_token_source cts;
    try {
      auto http = ClientFor(timeout);
      Outcome<web::http::http_response> sent =
          rendezvous->Await(http->request(BuildMessage(request), cts.get_token()), deadline);
      if (sent.end != WaitEnd::kDone) {
        cts.cancel();
        return DeadlineError(context, timeout);
      }
      if (sent.error) {
        return ErrorFromException(sent.error, context, timeout, *tls_diagnostics_, started);
      }
      web::http::http_response& raw = *sent.value;
      Response response;
      response.status = raw.status_code();
      response.headers = ConvertHeaders(raw.headers());
      if (raw.headers().content_length() > request.max_body_bytes) {
        cts.cancel();
        return Error(ErrorCode::kResourceExhausted,
                     context + ": response body of " +
                         std::to_string(raw.headers().content_length()) + " bytes exceeds " +
                         std::to_string(request.max_body_bytes));
      }
      auto body = ReadBody(raw.body(), *rendezvous, cts, deadline, request.max_body_bytes, context,
                           timeout, *tls_diagnostics_, started);
      if (!body.ok()) return body.error();
      response.body = std::move(body).value();
      return response;
    } catch (...) {
      cts.cancel();
      return ErrorFromException(std::current_exception(), context, timeout, *tls_diagnostics_,
                                started);
    }
  }

  Result<StreamResponse> Stream(const Request& request) override {
    const std::chrono::milliseconds inactivity = TimeoutOf(request);
    const std::string context = Describe(config_, request);
    if (Status s = CheckHeaders(request, context); !s.ok()) return s.error();
    const SteadyClock::time_point started = SteadyClock::now();
    auto rendezvous = std::make_shared<Rendezvous>();
    pplx::cancellation_token_source cts;
    try {
      auto http = ClientFor(inactivity);
      Outcome<web::http::http_response> sent = rendezvous->Await(
          http->request(BuildMessage(request), cts.get_token()), started + inactivity);
      if (sent.end != WaitEnd::kDone) {
        cts.cancel();
        return DeadlineError(context, inactivity);
      }
      if (sent.error) {
        return ErrorFromException(sent.error, context, inactivity, *tls_diagnostics_, started);
      }
      web::http::http_response& raw = *sent.value;
      StreamResponse response;
      response.status = raw.status_code();
      response.headers = ConvertHeaders(raw.headers());
      if (!IsSuccess(response.status)) {
        auto body =
            ReadBody(raw.body(), *rendezvous, cts, SteadyClock::now() + inactivity,
                     request.max_body_bytes, context, inactivity, *tls_diagnostics_, started);
        if (!body.ok()) return body.error();
        response.error_body = std::move(body).value();
        return response;
      }
      response.lines = std::make_unique<CpprestLineStream>(
          std::move(raw), std::move(rendezvous), std::move(cts), inactivity, request.max_body_bytes,
          context, tls_diagnostics_, started);
      return response;
    } catch (...) {
      cts.cancel();
      return ErrorFromException(std::current_exception(), context, inactivity, *tls_diagnostics_,
                                started);
    }
  }

 private:
  std::chrono::milliseconds TimeoutOf(const Request& request) const {
    return request.timeout.count() > 0 ? request.timeout : config_.default_timeout;
  }

  // cpprest's timeout is per http_client (an inactivity timer re-armed on every read), so
  // there is one http_client per distinct timeout, each with its own connection pool. Our
  // own deadlines are exact, so timeouts above a minute are rounded up to whole minutes for
  // cpprest: watches with random timeouts then share a few clients instead of one each.
  std::shared_ptr<cpprest_client::http_client> ClientFor(std::chrono::milliseconds timeout) {
    if (timeout > std::chrono::minutes(1)) {
      timeout = std::chrono::ceil<std::chrono::minutes>(timeout);
    }
    std::lock_guard<std::mutex> lock(mu_);
    auto& slot = clients_[timeout.count()];
    if (!slot) {
      cpprest_client::http_client_config config;
      config.set_timeout(timeout);
      config.set_validate_certificates(!config_.tls.insecure_skip_verify);
      config.set_ssl_context_callback(
          [tls = config_.tls, diagnostics = tls_diagnostics_](boost::asio::ssl::context& ctx) {
            ConfigureTls(ctx, tls, diagnostics.get());
          });
      slot = std::make_shared<cpprest_client::http_client>(web::uri(config_.base_url), config);
    }
    return slot;
  }

  web::http::http_request BuildMessage(const Request& request) const {
    web::http::http_request message(request.method);
    message.set_request_uri(web::uri(request.target.empty() ? "/" : request.target));
    std::string content_type;
    for (const auto& [name, value] : request.headers) {
      if (EqualsIgnoreCase(name, "Content-Type")) {
        content_type = value;
      } else {
        message.headers().add(name, value);
      }
    }
    // cpprest takes the TLS verification name (and SNI) from the Host header.
    if (!config_.tls.server_name.empty()) message.headers().add("Host", config_.tls.server_name);
    if (!request.body.empty() || !content_type.empty()) {
      // A byte-vector stream: cpprest's std::string overloads reinterpret a char buffer as a
      // byte buffer, which UBSan rightly reports.
      message.set_body(
          concurrency::streams::bytestream::open_istream(
              std::vector<uint8_t>(request.body.begin(), request.body.end())),
          request.body.size(),
          content_type.empty() ? std::string("application/octet-stream") : content_type);
    }
    return message;
  }

  const ClientConfig config_;
  const std::shared_ptr<TlsDiagnostics> tls_diagnostics_;
  std::mutex mu_;
  std::map<std::int64_t, std::shared_ptr<cpprest_client::http_client>> clients_;
};

// Sizes the shared pool before its first use (it cannot be resized after).
void SizeSharedPool() {
  static std::once_flag once;
  std::call_once(once, [] {
    try {
      crossplat::threadpool::initialize_with_threads(kSharedPoolThreads);
    } catch (const std::exception&) {
      // Already started by an earlier use of cpprest in this process: keep that pool.
    }
  });
}

}  // namespace

Result<ClientPtr> NewClient(const ClientConfig& config) {
  try {
    web::uri base(config.base_url);
    if (base.scheme() != "http" && base.scheme() != "https") {
      return InvalidArgument("base_url \"" + config.base_url + "\": scheme must be http or https");
    }
    if (base.host().empty()) {
      return InvalidArgument("base_url \"" + config.base_url + "\": no host");
    }
    // cpprest hands "[::1]" to the resolver as is, which fails on every connection.
    if (base.host().front() == '[') {
      return InvalidArgument("base_url \"" + config.base_url +
                             "\": IPv6 literal hosts are not supported by the cpprest transport; "
                             "use a DNS name");
    }
  } catch (const std::exception& e) {
    return InvalidArgument("base_url \"" + config.base_url + "\": " + e.what());
  }
  if (config.default_timeout.count() <= 0) {
    return InvalidArgument("default_timeout must be positive");
  }
  if (Status tls = ValidateTls(config.tls); !tls.ok()) return tls.error();
  SizeSharedPool();
  return ClientPtr(std::make_unique<CpprestClient>(config));
}

}  // namespace agentrollout::http
