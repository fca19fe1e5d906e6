#include "kube/config.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <vector>

#include "kube/files.h"
#include "kube/secret_data.h"

namespace agentrollout::kube {

namespace {

namespace fs = std::filesystem;

// One named cluster, user or context, with where it was defined.
struct Entry {
  YAML::Node body;  // the `cluster:` / `user:` / `context:` mapping (may be null)
  std::string name;
  std::string file;
  fs::path dir;
  std::string field;  // "users[0].user"
};

// One kubeconfig file, or several merged ($KUBECONFIG list).
struct Kubeconfig {
  std::string files;  // as named in errors: "/a/config" or "/a/config:/b/config"
  std::string current_context;
  std::map<std::string, Entry> clusters;
  std::map<std::string, Entry> users;
  std::map<std::string, Entry> contexts;
};

Error ConfigError(std::string_view file, std::string_view message,
                  ErrorCode code = ErrorCode::kInvalidArgument) {
  return Error(code, "kubeconfig " + std::string(file) + ": " + std::string(message));
}

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

Result<std::optional<std::string>> OptionalString(const Entry& entry, const char* key) {
  const YAML::Node& body = entry.body;
  if (!body.IsMap()) return std::optional<std::string>();
  const YAML::Node value = body[key];
  if (!value.IsDefined() || value.IsNull()) return std::optional<std::string>();
  if (!value.IsScalar()) {
    return ConfigError(entry.file, entry.field + "." + key + ": must be a string");
  }
  return std::optional<std::string>(value.Scalar());
}

Result<bool> OptionalBool(const Entry& entry, const char* key) {
  const YAML::Node& body = entry.body;
  if (!body.IsMap()) return false;
  const YAML::Node value = body[key];
  if (!value.IsDefined() || value.IsNull()) return false;
  bool out = false;
  if (!value.IsScalar() || !YAML::convert<bool>::decode(value, out)) {
    return ConfigError(entry.file, entry.field + "." + key + ": must be true or false");
  }
  return out;
}

bool Has(const Entry& entry, const char* key) {
  const YAML::Node& body = entry.body;
  return body.IsMap() && body[key].IsDefined() && !body[key].IsNull();
}

// `user "NAME" of kubeconfig FILE`: who a credential message is about.
std::string Describe(const char* kind, const Entry& entry) {
  return std::string(kind) + " " + Quote(entry.name) + " of kubeconfig " + entry.file;
}

// A path from the kubeconfig, relative ones resolved against the directory of its file.
std::string ResolvePath(const Entry& entry, const std::string& path) {
  fs::path file(path);
  if (file.is_relative()) file = (entry.dir / file).lexically_normal();
  return file.string();
}

// Text from the kubeconfig printed to a terminal: control characters other than newlines
// are dropped, and it is bounded.
std::string PrintableText(std::string_view text, std::size_t max_bytes) {
  std::string out;
  for (char c : text.substr(0, max_bytes)) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n' || (u >= 0x20 && u != 0x7F)) out.push_back(c);
  }
  return out;
}

// The legacy in-tree plugins and the exec plugins that replaced them.
std::string AuthProviderReplacement(std::string_view provider) {
  if (provider == "gcp") {
    return "install gke-gcloud-auth-plugin and run `gcloud container clusters get-credentials` "
           "again (it writes an exec section)";
  }
  if (provider == "azure") {
    return "install kubelogin and run `kubelogin convert-kubeconfig` (it writes an exec "
           "section)";
  }
  if (provider == "oidc") {
    return "use an OIDC exec plugin such as kubelogin (int128/kubelogin: `kubectl oidc-login`)";
  }
  return "use the provider's exec credential plugin";
}

Result<ExecConfig> ParseExec(const Entry& user) {
  const std::string field = user.field + ".exec";
  const YAML::Node node = user.body["exec"];
  if (!node.IsMap()) return ConfigError(user.file, field + ": must be a mapping");
  Entry exec{node, user.name, user.file, user.dir, field};
  ExecConfig config;
  config.user = Describe("user", user);

  auto api_version = OptionalString(exec, "apiVersion");
  if (!api_version.ok()) return api_version.error();
  config.api_version = api_version->value_or("");
  if (config.api_version != "client.authentication.k8s.io/v1" &&
      config.api_version != "client.authentication.k8s.io/v1beta1") {
    return ConfigError(user.file, field + ".apiVersion: " + Quote(config.api_version) +
                                      " is not supported; use client.authentication.k8s.io/v1 "
                                      "or client.authentication.k8s.io/v1beta1");
  }
  auto command = OptionalString(exec, "command");
  if (!command.ok()) return command.error();
  if (!*command || (*command)->empty()) return ConfigError(user.file, field + ".command: missing");
  config.command = **command;
  // As kubectl: a command with a path separator is a path, relative to the kubeconfig.
  if (config.command.find('/') != std::string::npos) {
    config.command = ResolvePath(user, config.command);
  }

  const YAML::Node args = node["args"];
  if (args.IsDefined() && !args.IsNull()) {
    if (!args.IsSequence()) return ConfigError(user.file, field + ".args: must be a list");
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (!args[i].IsScalar()) {
        return ConfigError(user.file, field + ".args[" + std::to_string(i) + "]: must be a string");
      }
      config.args.push_back(args[i].Scalar());
    }
  }
  const YAML::Node env = node["env"];
  if (env.IsDefined() && !env.IsNull()) {
    if (!env.IsSequence()) return ConfigError(user.file, field + ".env: must be a list");
    for (std::size_t i = 0; i < env.size(); ++i) {
      const std::string item = field + ".env[" + std::to_string(i) + "]";
      if (!env[i].IsMap()) return ConfigError(user.file, item + ": must be a mapping");
      const YAML::Node name = env[i]["name"];
      const YAML::Node value = env[i]["value"];
      if (!name.IsDefined() || !name.IsScalar() || name.Scalar().empty() ||
          name.Scalar().find('=') != std::string::npos) {
        return ConfigError(user.file, item + ".name: must be a variable name");
      }
      if (value.IsDefined() && !value.IsNull() && !value.IsScalar()) {
        return ConfigError(user.file, item + ".value: must be a string");
      }
      config.env.emplace_back(name.Scalar(),
                              value.IsDefined() && value.IsScalar() ? value.Scalar() : "");
    }
  }

  auto mode = OptionalString(exec, "interactiveMode");
  if (!mode.ok()) return mode.error();
  if (!*mode || (*mode)->empty()) {
    // client-go: v1 must say; v1beta1 defaults to IfAvailable.
    if (config.api_version == "client.authentication.k8s.io/v1") {
      return ConfigError(user.file, field +
                                        ".interactiveMode: missing (required by "
                                        "client.authentication.k8s.io/v1: Never, IfAvailable "
                                        "or Always)");
    }
  } else if (**mode == "Never") {
    config.interactive_mode = ExecConfig::InteractiveMode::kNever;
  } else if (**mode == "IfAvailable") {
    config.interactive_mode = ExecConfig::InteractiveMode::kIfAvailable;
  } else if (**mode == "Always") {
    config.interactive_mode = ExecConfig::InteractiveMode::kAlways;
  } else {
    return ConfigError(user.file, field + ".interactiveMode: " + Quote(**mode) +
                                      " is not one of Never, IfAvailable, Always");
  }
  auto hint = OptionalString(exec, "installHint");
  if (!hint.ok()) return hint.error();
  config.install_hint = PrintableText(hint->value_or(""), 4096);
  auto cluster_info = OptionalBool(exec, "provideClusterInfo");
  if (!cluster_info.ok()) return cluster_info.error();
  config.provide_cluster_info = *cluster_info;
  return config;
}

// A `*-data` field (base64) or the matching file path, relative to the entry's file.
Result<std::string> DataOrFile(const Entry& entry, const char* data_key, const char* file_key) {
  auto data = OptionalString(entry, data_key);
  if (!data.ok()) return data.error();
  auto path = OptionalString(entry, file_key);
  if (!path.ok()) return path.error();
  if (*data && *path) {
    return ConfigError(
        entry.file, entry.field + ": both " + data_key + " and " + file_key + " are set; use one");
  }
  if (*data) {
    auto decoded = DecodeBase64(**data);
    if (!decoded) {
      return ConfigError(entry.file, entry.field + "." + data_key + ": invalid base64");
    }
    return *std::move(decoded);
  }
  if (*path) {
    auto content = ReadFileToString(ResolvePath(entry, **path));
    if (!content.ok()) {
      return ConfigError(entry.file,
                         entry.field + "." + file_key + ": " + content.error().message());
    }
    return std::move(content).value();
  }
  return std::string();
}

// Adds one file's entries to `into`; names already defined by an earlier file stay.
Status MergeFile(const std::string& path, const std::string& text, Kubeconfig& into) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return ConfigError(path, std::string("invalid YAML: ") + e.what());
  }
  if (!root.IsDefined() || root.IsNull()) return OkStatus();  // an empty file is empty
  if (!root.IsMap()) return ConfigError(path, "the top level must be a mapping");
  const YAML::Node& top = root;
  const YAML::Node current = top["current-context"];
  if (current.IsDefined() && !current.IsNull()) {
    if (!current.IsScalar()) return ConfigError(path, "current-context: must be a string");
    if (into.current_context.empty()) into.current_context = current.Scalar();
  }
  // Lexically cleaned, as Go's filepath.Abs does for kubectl.
  const fs::path dir = fs::absolute(fs::path(path)).lexically_normal().parent_path();
  struct Section {
    const char* list;
    const char* item;
    std::map<std::string, Entry>* entries;
  };
  for (const Section& section :
       {Section{"clusters", "cluster", &into.clusters}, Section{"users", "user", &into.users},
        Section{"contexts", "context", &into.contexts}}) {
    const YAML::Node list = top[section.list];
    if (!list.IsDefined() || list.IsNull()) continue;
    if (!list.IsSequence())
      return ConfigError(path, std::string(section.list) + ": must be a list");
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string field = std::string(section.list) + "[" + std::to_string(i) + "]";
      const YAML::Node item = list[i];
      if (!item.IsMap()) return ConfigError(path, field + ": must be a mapping");
      const YAML::Node name = item["name"];
      if (!name.IsDefined() || !name.IsScalar() || name.Scalar().empty()) {
        return ConfigError(path, field + ".name: missing");
      }
      const YAML::Node body = item[section.item];
      if (body.IsDefined() && !body.IsNull() && !body.IsMap()) {
        return ConfigError(path, field + "." + section.item + ": must be a mapping");
      }
      section.entries->try_emplace(
          name.Scalar(), Entry{body, name.Scalar(), path, dir, field + "." + section.item});
    }
  }
  return OkStatus();
}

Result<RestConfig> Resolve(const Kubeconfig& kc, const std::string& context_override) {
  const std::string context_name = context_override.empty() ? kc.current_context : context_override;
  if (context_name.empty()) {
    return ConfigError(kc.files, "no context given and current-context is not set");
  }
  auto context_it = kc.contexts.find(context_name);
  if (context_it == kc.contexts.end()) {
    return ConfigError(kc.files, "context " + Quote(context_name) + " not found",
                       ErrorCode::kNotFound);
  }
  const Entry& context = context_it->second;

  auto cluster_name = OptionalString(context, "cluster");
  if (!cluster_name.ok()) return cluster_name.error();
  if (!*cluster_name || (*cluster_name)->empty()) {
    return ConfigError(context.file, context.field + ".cluster: missing");
  }
  auto cluster_it = kc.clusters.find(**cluster_name);
  if (cluster_it == kc.clusters.end()) {
    return ConfigError(context.file, "context " + Quote(context_name) + " refers to cluster " +
                                         Quote(**cluster_name) + ", which is not defined");
  }
  const Entry& cluster = cluster_it->second;

  auto user_name = OptionalString(context, "user");
  if (!user_name.ok()) return user_name.error();
  const Entry* user = nullptr;
  if (*user_name && !(*user_name)->empty()) {
    auto user_it = kc.users.find(**user_name);
    if (user_it == kc.users.end()) {
      return ConfigError(context.file, "context " + Quote(context_name) + " refers to user " +
                                           Quote(**user_name) + ", which is not defined");
    }
    user = &user_it->second;
  }

  RestConfig config;
  config.source = "kubeconfig " + kc.files + " context " + Quote(context_name);
  auto ns = OptionalString(context, "namespace");
  if (!ns.ok()) return ns.error();
  if (*ns && !(*ns)->empty()) config.namespace_ = **ns;

  auto server = OptionalString(cluster, "server");
  if (!server.ok()) return server.error();
  if (!*server || (*server)->empty()) {
    return ConfigError(cluster.file, cluster.field + ".server: missing");
  }
  config.server = **server;
  if (config.server.find("://") == std::string::npos) config.server = "https://" + config.server;
  auto ca = DataOrFile(cluster, "certificate-authority-data", "certificate-authority");
  if (!ca.ok()) return ca.error();
  config.tls.ca_pem = std::move(ca).value();
  auto insecure = OptionalBool(cluster, "insecure-skip-tls-verify");
  if (!insecure.ok()) return insecure.error();
  config.tls.insecure_skip_verify = *insecure;
  if (config.tls.insecure_skip_verify && !config.tls.ca_pem.empty()) {
    return ConfigError(cluster.file, cluster.field +
                                         ": insecure-skip-tls-verify together with a "
                                         "certificate authority is not allowed");
  }
  auto server_name = OptionalString(cluster, "tls-server-name");
  if (!server_name.ok()) return server_name.error();
  if (*server_name) config.tls.server_name = **server_name;

  if (Has(cluster, "proxy-url")) {
    return ConfigError(cluster.file, cluster.field + ".proxy-url: " + Describe("cluster", cluster) +
                                         " names a proxy; proxies are not supported (connect "
                                         "directly, e.g. from a host inside the network)");
  }

  if (user != nullptr) {
    if (Has(*user, "auth-provider")) {
      const YAML::Node auth_provider = user->body["auth-provider"];
      const std::string provider = auth_provider.IsMap() && auth_provider["name"].IsDefined() &&
                                           auth_provider["name"].IsScalar()
                                       ? PrintableText(auth_provider["name"].Scalar(), 64)
                                       : "";
      return ConfigError(user->file, user->field + ".auth-provider: " + Describe("user", *user) +
                                         " logs in with the legacy " +
                                         (provider.empty() ? "" : Quote(provider) + " ") +
                                         "auth-provider, which kubectl dropped in 1.26; " +
                                         AuthProviderReplacement(provider));
    }
    if (Has(*user, "username") || Has(*user, "password")) {
      return ConfigError(user->file,
                         user->field + ".username: basic authentication is not supported");
    }
    if (Has(*user, "exec")) {
      for (const char* other : {"token", "tokenFile", "client-certificate",
                                "client-certificate-data", "client-key", "client-key-data"}) {
        if (Has(*user, other)) {
          return ConfigError(user->file, user->field + ": " + Describe("user", *user) +
                                             " has both exec and " + other + "; use one");
        }
      }
      auto exec = ParseExec(*user);
      if (!exec.ok()) return exec.error();
      config.exec = std::move(exec).value();
      return config;
    }
    auto cert = DataOrFile(*user, "client-certificate-data", "client-certificate");
    if (!cert.ok()) return cert.error();
    auto key = DataOrFile(*user, "client-key-data", "client-key");
    if (!key.ok()) return key.error();
    if (cert->empty() != key->empty()) {
      return ConfigError(user->file,
                         user->field +
                             (cert->empty() ? ".client-certificate-data" : ".client-key-data") +
                             ": missing (a client certificate needs its key)");
    }
    config.tls.client_cert_pem = std::move(cert).value();
    config.tls.client_key_pem = std::move(key).value();
    auto token = OptionalString(*user, "token");
    if (!token.ok()) return token.error();
    if (*token) config.bearer_token = **token;
    auto token_file = OptionalString(*user, "tokenFile");
    if (!token_file.ok()) return token_file.error();
    if (*token_file && !(*token_file)->empty()) {
      const std::string file = ResolvePath(*user, **token_file);
      // Read now so a bad path fails at startup, not at the first request.
      auto content = ReadFileToString(file);
      if (!content.ok()) {
        return ConfigError(user->file, user->field + ".tokenFile: " + content.error().message());
      }
      if (config.bearer_token.empty()) config.bearer_token = TrimSpace(*content);
      config.bearer_token_file = file;
    }
  }
  return config;
}

std::vector<std::string> SplitList(std::string_view list) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    std::size_t end = list.find(':', start);
    if (end == std::string_view::npos) end = list.size();
    if (end > start) out.emplace_back(list.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string HomeKubeconfig() {
  const char* home = std::getenv("HOME");
  return home != nullptr && *home != '\0' ? std::string(home) + "/.kube/config" : std::string();
}

std::string EnvOrEmpty(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::string(value) : std::string();
}

}  // namespace

Result<RestConfig> LoadKubeconfig(const KubeconfigOptions& options) {
  Kubeconfig kc;
  if (!options.path.empty() || EnvOrEmpty("KUBECONFIG").empty()) {
    const std::string path = options.path.empty() ? HomeKubeconfig() : options.path;
    if (path.empty()) {
      return Error(ErrorCode::kNotFound, "kubeconfig: no path given, $KUBECONFIG and $HOME unset");
    }
    kc.files = path;
    auto text = ReadFileToString(path);
    if (!text.ok()) return ConfigError(path, text.error().message(), ErrorCode::kNotFound);
    if (Status merged = MergeFile(path, *text, kc); !merged.ok()) return merged.error();
  } else {
    const std::string list = EnvOrEmpty("KUBECONFIG");
    kc.files = list;
    bool any = false;
    for (const std::string& path : SplitList(list)) {
      std::error_code ec;
      if (!fs::exists(path, ec)) continue;  // kubectl skips missing files of the list
      auto text = ReadFileToString(path);
      if (!text.ok()) return ConfigError(path, text.error().message());
      if (Status merged = MergeFile(path, *text, kc); !merged.ok()) return merged.error();
      any = true;
    }
    if (!any) {
      return ConfigError(list, "none of the files in $KUBECONFIG exist", ErrorCode::kNotFound);
    }
  }
  return Resolve(kc, options.context);
}

Result<RestConfig> LoadInCluster(const InClusterOptions& options) {
  const std::string host = EnvOrEmpty("KUBERNETES_SERVICE_HOST");
  const std::string port = EnvOrEmpty("KUBERNETES_SERVICE_PORT");
  if (host.empty() || port.empty()) {
    return Error(ErrorCode::kFailedPrecondition,
                 "in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be "
                 "set (is this running in a pod?)");
  }
  RestConfig config;
  config.source = "in-cluster service account";
  const bool ipv6 = host.find(':') != std::string::npos;
  config.server = "https://" + (ipv6 ? "[" + host + "]" : host) + ":" + port;
  auto token = ReadFileToString(options.token_file);
  if (!token.ok()) return token.error().WithContext("in-cluster config: token");
  config.bearer_token = TrimSpace(*token);
  config.bearer_token_file = options.token_file;
  auto ca = ReadFileToString(options.ca_file);
  if (!ca.ok()) return ca.error().WithContext("in-cluster config: CA certificate");
  config.tls.ca_pem = std::move(ca).value();
  auto ns = ReadFileToString(options.namespace_file);
  if (ns.ok() && !TrimSpace(*ns).empty()) config.namespace_ = TrimSpace(*ns);
  return config;
}

Result<RestConfig> LoadDefault(const KubeconfigOptions& options,
                               const InClusterOptions& in_cluster) {
  if (!options.path.empty() || !EnvOrEmpty("KUBECONFIG").empty()) return LoadKubeconfig(options);
  if (!EnvOrEmpty("KUBERNETES_SERVICE_HOST").empty()) return LoadInCluster(in_cluster);
  const std::string home = HomeKubeconfig();
  std::error_code ec;
  if (!home.empty() && fs::exists(home, ec)) return LoadKubeconfig(options);
  return Error(ErrorCode::kNotFound,
               "no Kubernetes configuration found: no kubeconfig path given, $KUBECONFIG unset, "
               "KUBERNETES_SERVICE_HOST unset (not in a pod), and ~/.kube/config does not exist");
}

}  // namespace agentrollout::kube
