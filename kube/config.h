// Where the API server is and who we are to it: kubeconfig files and in-cluster
// (service-account) configuration, as client-go's clientcmd and rest.InClusterConfig read them.
//
// Kubeconfig semantics (the same as kubectl's):
// - The file is the explicit path if one is given, else every file of the colon-separated
//   $KUBECONFIG list, else ~/.kube/config.
// - A $KUBECONFIG list is merged: files that do not exist are skipped; for clusters,
//   users and contexts the first file that defines a name wins; current-context comes
//   from the first file that sets it. Relative file paths in an entry are resolved
//   against the directory of the file that defined that entry.
// - The context is the one named by the caller, else current-context.
// - Supported: server, certificate-authority(-data), insecure-skip-tls-verify,
//   tls-server-name, client-certificate(-data), client-key(-data), token, tokenFile,
//   exec credential plugins (exec_credential.h), the context's namespace.
// - Refused with an error naming the user or cluster: auth-provider (the legacy gcp,
//   azure and oidc plugins, gone from kubectl since 1.26: the message names the exec
//   plugin that replaces them), username/password, proxy-url (the transport has no proxy
//   support) and an exec plugin together with a token or client certificate.
// Errors name the file and the field: `kubeconfig /x/y: context "foo" not found`,
// `kubeconfig /x/y: users[0].user.client-certificate-data: invalid base64`.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "http/transport.h"

namespace agentrollout::kube {

// A kubeconfig user's `exec` section (client.authentication.k8s.io/v1 or v1beta1).
struct ExecConfig {
  enum class InteractiveMode { kNever, kIfAvailable, kAlways };

  std::string api_version;
  std::string command;  // a name looked up in $PATH, or a path (relative: to the kubeconfig)
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  InteractiveMode interactive_mode = InteractiveMode::kIfAvailable;
  std::string install_hint;  // shown when the command is missing; control characters removed
  bool provide_cluster_info = false;
  std::string user;  // `user "NAME" of kubeconfig FILE`, for messages
};

struct RestConfig {
  std::string server;  // "https://host:port"
  http::TlsConfig tls;
  std::string bearer_token;            // static token ("" = none)
  std::string bearer_token_file;       // re-read for rotation; wins over bearer_token when set
  std::optional<ExecConfig> exec;      // credentials from a plugin (then no token or cert)
  std::string namespace_ = "default";  // the context's namespace, or the pod's
  std::string source;                  // where this came from, for logs (no secrets)
};

struct KubeconfigOptions {
  std::string path;     // explicit file; "" = $KUBECONFIG, then ~/.kube/config
  std::string context;  // "" = current-context
};

// Reads a kubeconfig as described above.
Result<RestConfig> LoadKubeconfig(const KubeconfigOptions& options);

struct InClusterOptions {
  std::string token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  std::string namespace_file = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
};

// The pod's service account: KUBERNETES_SERVICE_HOST/_PORT (an IPv6 host is put in
// brackets), the token (re-read from token_file for rotation), ca.crt and namespace.
Result<RestConfig> LoadInCluster(const InClusterOptions& options = {});

// What controller-runtime's GetConfig does: an explicit kubeconfig path, else $KUBECONFIG,
// else in-cluster when KUBERNETES_SERVICE_HOST is set, else ~/.kube/config.
Result<RestConfig> LoadDefault(const KubeconfigOptions& options = {},
                               const InClusterOptions& in_cluster = {});

}  // namespace agentrollout::kube
