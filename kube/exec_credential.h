// Kubeconfig `exec` credential plugins (client.authentication.k8s.io v1 and v1beta1), run
// as kubectl (client-go's plugin/pkg/client/auth/exec) runs them: how EKS
// (`aws eks get-token`), GKE (gke-gcloud-auth-plugin) and AKS (kubelogin) log in.
//
// - The command runs with the kubeconfig's args and env on top of this process's
//   environment, plus KUBERNETES_EXEC_INFO: an ExecCredential naming the apiVersion and
//   spec.interactive (and spec.cluster with provideClusterInfo).
// - interactiveMode: Never runs without stdin; IfAvailable gives the plugin stdin when it
//   is a terminal; Always fails up front when stdin is not a terminal.
// - Its stdout is hostile until checked: at most 1 MiB, JSON, an ExecCredential of the
//   configured apiVersion with status.token or status.clientCertificateData and
//   clientKeyData (PEM), and optionally status.expirationTimestamp. A token must fit in an
//   HTTP header (no control characters). Its stderr goes to ours (at most 64 KiB per run).
// - The credential is cached until expirationTimestamp (none: until the API server answers
//   401), and the plugin runs again after that. Concurrent requests share one run.
// - A missing command says so, with the kubeconfig's installHint; a run that outlives the
//   timeout is killed together with its process group.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "http/transport.h"
#include "kube/clock.h"
#include "kube/config.h"
#include "kube/token_source.h"

namespace agentrollout::kube {

// What a plugin run produced, checked.
struct ExecCredential {
  std::string token;  // "" when the plugin gave a client certificate
  std::string client_cert_pem;
  std::string client_key_pem;
  std::optional<std::chrono::system_clock::time_point> expires;  // nullopt = until a 401
};

// Checks a plugin's stdout as described above. Errors (kUnauthenticated) name the field:
// `status.token: contains a control character`, never the credential itself.
Result<ExecCredential> ParseExecCredential(std::string_view output, std::string_view api_version);

// The KUBERNETES_EXEC_INFO value: an ExecCredential with spec.interactive, and with
// spec.cluster (server, tls-server-name, insecure-skip-tls-verify,
// certificate-authority-data) when the config asks for provideClusterInfo.
std::string ExecInfo(const ExecConfig& exec, bool interactive, std::string_view server,
                     const http::TlsConfig& tls);

struct ExecOptions {
  // Per run. Generous: an interactive or browser login waits for a person.
  std::chrono::milliseconds timeout = std::chrono::minutes(2);
  // The plugin's stderr; default: this process's stderr.
  std::function<void(std::string_view)> on_stderr;
  // Whether stdin is a terminal; default: isatty(0).
  std::function<bool()> stdin_is_terminal;
  ClockPtr clock = RealClock();  // WallNow() is compared with expirationTimestamp
};

// Runs the plugin when a credential is needed and none is cached (or it has expired).
class ExecCredentialSource final : public TokenSource {
 public:
  ExecCredentialSource(ExecConfig exec, std::string server, http::TlsConfig tls,
                       ExecOptions options);

  // The current credential, running the plugin if none is cached or it has expired.
  Result<ExecCredential> Credential();
  // TokenSource: the current credential's token ("" for a client certificate).
  Result<std::string> Token() override;
  // Drops the cached credential if it is the one the server refused: the next request
  // runs the plugin again. Returns true (a new run may give a new credential).
  bool Refresh(std::string_view rejected_token) override;
  // `exec plugin "CMD" of user "NAME" of kubeconfig FILE`, for messages.
  std::string Describe() const;

 private:
  Result<ExecCredential> Run();

  const ExecConfig exec_;
  const std::string server_;
  const http::TlsConfig tls_;
  ExecOptions options_;
  std::mutex mu_;  // held during a run, so concurrent requests share it
  std::optional<ExecCredential> cached_;
};

// The HTTP transport for a client whose exec plugin may give client certificates:
// requests go through a transport built from `config` with the credential's certificate,
// rebuilt when the plugin gives a new one (streams keep the transport they started on).
// A token credential uses `config` as it is.
Result<http::ClientPtr> NewExecTransport(const http::ClientConfig& config,
                                         std::shared_ptr<ExecCredentialSource> source);

}  // namespace agentrollout::kube
