#include "kube/exec_credential.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "api/time.h"
#include "kube/process.h"

namespace agentrollout::kube {

namespace {

using nlohmann::json;

constexpr std::size_t kMaxOutput = 1u << 20;
constexpr std::size_t kMaxToken = 64u << 10;

// kubectl's wording, so that people find it when they search.
constexpr char kPluginDocs[] =
    "It looks like you are trying to use a client-go credential plugin that is not "
    "installed.\n\nTo learn more about this feature, consult the documentation available at:\n"
    "      https://kubernetes.io/docs/reference/access-authn-authz/authentication/"
    "#client-go-credential-plugins";

Error CredentialError(std::string message) {
  return Error(ErrorCode::kUnauthenticated, std::move(message));
}

std::string Base64(std::string_view bytes) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, bytes.size() - i);
    std::uint32_t chunk = 0;
    for (std::size_t j = 0; j < 3; ++j) {
      chunk = (chunk << 8) | (j < n ? static_cast<unsigned char>(bytes[i + j]) : 0u);
    }
    for (std::size_t j = 0; j < 4; ++j) {
      out.push_back(j <= n ? alphabet[(chunk >> (18 - 6 * j)) & 0x3F] : '=');
    }
  }
  return out;
}

bool HasControlCharacter(std::string_view text) {
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) return true;
  }
  return false;
}

// A string member of status, or "" when absent; an error when present but not a string.
Result<std::string> StatusString(const json& status, const char* key) {
  auto it = status.find(key);
  if (it == status.end() || it->is_null()) return std::string();
  if (!it->is_string()) return CredentialError(std::string("status.") + key + ": must be a string");
  return it->get<std::string>();
}

bool StdinIsTerminal() { return ::isatty(STDIN_FILENO) == 1; }

void WriteToStderr(std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(STDERR_FILENO, text.data(), text.size());
    if (n <= 0) return;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Holds the transport a stream came from for as long as the stream is read.
class TransportHoldingStream final : public http::LineStream {
 public:
  TransportHoldingStream(http::LineStreamPtr lines, std::shared_ptr<http::Client> transport)
      : lines_(std::move(lines)), transport_(std::move(transport)) {}
  Result<std::optional<std::string>> NextLine() override { return lines_->NextLine(); }
  void Cancel() override { lines_->Cancel(); }

 private:
  http::LineStreamPtr lines_;  // destroyed before the transport it reads from
  std::shared_ptr<http::Client> transport_;
};

class ExecTransport final : public http::Client {
 public:
  ExecTransport(http::ClientConfig config, std::shared_ptr<ExecCredentialSource> source,
                std::shared_ptr<http::Client> plain)
      : config_(std::move(config)), source_(std::move(source)), current_(std::move(plain)) {}

  Result<http::Response> Send(const http::Request& request) override {
    auto transport = Current();
    if (!transport.ok()) return transport.error();
    return (*transport)->Send(request);
  }

  Result<http::StreamResponse> Stream(const http::Request& request) override {
    auto transport = Current();
    if (!transport.ok()) return transport.error();
    auto response = (*transport)->Stream(request);
    if (response.ok() && response->lines) {
      response->lines =
          std::make_unique<TransportHoldingStream>(std::move(response->lines), *transport);
    }
    return response;
  }

 private:
  // The transport for the current credential's certificate (none: the plain one).
  Result<std::shared_ptr<http::Client>> Current() {
    auto credential = source_->Credential();
    if (!credential.ok()) return credential.error();
    std::lock_guard<std::mutex> lock(mu_);
    if (credential->client_cert_pem == cert_pem_ && credential->client_key_pem == key_pem_) {
      return current_;
    }
    http::ClientConfig config = config_;
    config.tls.client_cert_pem = credential->client_cert_pem;
    config.tls.client_key_pem = credential->client_key_pem;
    auto built = http::NewClient(config);
    if (!built.ok()) {
      return CredentialError(
          source_->Describe() +
          ": the client certificate it gave is not usable: " + built.error().message());
    }
    current_ = std::shared_ptr<http::Client>(std::move(built).value());
    cert_pem_ = credential->client_cert_pem;
    key_pem_ = credential->client_key_pem;
    return current_;
  }

  const http::ClientConfig config_;
  const std::shared_ptr<ExecCredentialSource> source_;
  std::mutex mu_;
  std::shared_ptr<http::Client> current_;
  std::string cert_pem_;
  std::string key_pem_;
};

}  // namespace

Result<ExecCredential> ParseExecCredential(std::string_view output, std::string_view api_version) {
  if (output.size() > kMaxOutput) {
    return CredentialError("output exceeds " + std::to_string(kMaxOutput) + " bytes");
  }
  const json root = json::parse(output, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) {
    return CredentialError("output is not a JSON object (an ExecCredential)");
  }
  const auto version = root.find("apiVersion");
  if (version == root.end() || !version->is_string() || *version != api_version) {
    return CredentialError("apiVersion: must be " + std::string(api_version) +
                           " as the kubeconfig asks, got " +
                           (version == root.end() ? std::string("nothing") : version->dump()));
  }
  const auto kind = root.find("kind");
  if (kind == root.end() || *kind != "ExecCredential") {
    return CredentialError("kind: must be ExecCredential");
  }
  const auto status = root.find("status");
  if (status == root.end() || !status->is_object()) {
    return CredentialError("status: missing (the plugin gave no credential)");
  }
  ExecCredential credential;
  auto token = StatusString(*status, "token");
  if (!token.ok()) return token.error();
  auto cert = StatusString(*status, "clientCertificateData");
  if (!cert.ok()) return cert.error();
  auto key = StatusString(*status, "clientKeyData");
  if (!key.ok()) return key.error();
  if (token->size() > kMaxToken) {
    return CredentialError("status.token: longer than " + std::to_string(kMaxToken) + " bytes");
  }
  if (HasControlCharacter(*token)) {
    return CredentialError("status.token: contains a control character");
  }
  if (cert->empty() != key->empty()) {
    return CredentialError(cert->empty() ? "status.clientCertificateData: missing (clientKeyData "
                                           "needs its certificate)"
                                         : "status.clientKeyData: missing (clientCertificateData "
                                           "needs its key)");
  }
  if (token->empty() && cert->empty()) {
    return CredentialError("status: neither token nor clientCertificateData is set");
  }
  for (const auto& [field, pem] :
       {std::pair{"clientCertificateData", &*cert}, std::pair{"clientKeyData", &*key}}) {
    if (!pem->empty() && pem->find("-----BEGIN ") == std::string::npos) {
      return CredentialError(std::string("status.") + field + ": not PEM");
    }
  }
  auto expires = StatusString(*status, "expirationTimestamp");
  if (!expires.ok()) return expires.error();
  if (!expires->empty()) {
    auto parsed = api::ParseTime(*expires);
    if (!parsed.ok()) {
      return CredentialError("status.expirationTimestamp: " + parsed.error().message());
    }
    credential.expires = *parsed;
  }
  credential.token = std::move(token).value();
  credential.client_cert_pem = std::move(cert).value();
  credential.client_key_pem = std::move(key).value();
  return credential;
}

std::string ExecInfo(const ExecConfig& exec, bool interactive, std::string_view server,
                     const http::TlsConfig& tls) {
  json info = {{"apiVersion", exec.api_version},
               {"kind", "ExecCredential"},
               {"spec", {{"interactive", interactive}}}};
  if (exec.provide_cluster_info) {
    json cluster = {{"server", server}};
    if (!tls.server_name.empty()) cluster["tls-server-name"] = tls.server_name;
    if (tls.insecure_skip_verify) cluster["insecure-skip-tls-verify"] = true;
    if (!tls.ca_pem.empty()) cluster["certificate-authority-data"] = Base64(tls.ca_pem);
    info["spec"]["cluster"] = std::move(cluster);
  }
  return info.dump();
}

ExecCredentialSource::ExecCredentialSource(ExecConfig exec, std::string server, http::TlsConfig tls,
                                           ExecOptions options)
    : exec_(std::move(exec)),
      server_(std::move(server)),
      tls_(std::move(tls)),
      options_(std::move(options)) {
  if (!options_.on_stderr) options_.on_stderr = WriteToStderr;
  if (!options_.stdin_is_terminal) options_.stdin_is_terminal = StdinIsTerminal;
  if (!options_.clock) options_.clock = RealClock();
}

Result<ExecCredential> ExecCredentialSource::Credential() {
  std::lock_guard<std::mutex> lock(mu_);
  if (cached_ && (!cached_->expires || options_.clock->WallNow() < *cached_->expires)) {
    return *cached_;
  }
  cached_.reset();
  auto credential = Run();
  if (!credential.ok()) return credential.error();
  cached_ = *credential;
  return credential;
}

Result<std::string> ExecCredentialSource::Token() {
  auto credential = Credential();
  if (!credential.ok()) return credential.error();
  return std::move(credential)->token;
}

bool ExecCredentialSource::Refresh(std::string_view rejected_token) {
  std::lock_guard<std::mutex> lock(mu_);
  if (cached_ && cached_->token == rejected_token) cached_.reset();
  return true;
}

std::string ExecCredentialSource::Describe() const {
  return "exec plugin \"" + exec_.command + "\" of " + exec_.user;
}

Result<ExecCredential> ExecCredentialSource::Run() {
  const std::string what = Describe();
  bool interactive = false;
  switch (exec_.interactive_mode) {
    case ExecConfig::InteractiveMode::kNever:
      break;
    case ExecConfig::InteractiveMode::kIfAvailable:
      interactive = options_.stdin_is_terminal();
      break;
    case ExecConfig::InteractiveMode::kAlways:
      if (!options_.stdin_is_terminal()) {
        return CredentialError(what +
                               ": interactiveMode is Always, but standard input is not a "
                               "terminal; log in from a terminal first, or use a plugin that "
                               "logs in without one");
      }
      interactive = true;
      break;
  }
  ProcessSpec spec;
  spec.program = exec_.command;
  spec.args = exec_.args;
  spec.env = exec_.env;
  spec.env.emplace_back("KUBERNETES_EXEC_INFO", ExecInfo(exec_, interactive, server_, tls_));
  spec.inherit_stdin = interactive;
  spec.timeout = options_.timeout;
  spec.max_stdout = kMaxOutput;
  spec.on_stderr = options_.on_stderr;
  auto ran = RunProcess(spec);
  if (!ran.ok()) {
    if (ran.error().code() == ErrorCode::kNotFound) {
      std::string message = what + ": executable " + exec_.command + " not found\n\n" + kPluginDocs;
      if (!exec_.install_hint.empty()) message += "\n\n" + exec_.install_hint;
      return CredentialError(std::move(message));
    }
    return CredentialError(what + ": " + ran.error().message());
  }
  if (ran->exit_code != 0) {
    return CredentialError(what + ": exited with " +
                           (ran->exit_code < 0 ? std::string("a signal")
                                               : "status " + std::to_string(ran->exit_code)) +
                           " (its stderr is above)");
  }
  auto credential = ParseExecCredential(ran->out, exec_.api_version);
  if (!credential.ok()) return CredentialError(what + ": " + credential.error().message());
  return credential;
}

Result<http::ClientPtr> NewExecTransport(const http::ClientConfig& config,
                                         std::shared_ptr<ExecCredentialSource> source) {
  auto plain = http::NewClient(config);
  if (!plain.ok()) return plain.error();
  return http::ClientPtr(std::make_unique<ExecTransport>(
      config, std::move(source), std::shared_ptr<http::Client>(std::move(plain).value())));
}

}  // namespace agentrollout::kube
