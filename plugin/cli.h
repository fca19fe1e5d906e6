// The command line of `kubectl agentrollout` (CLI11): global connection flags, the
// subcommands and their output. main.cc wires it to the process (stdout, stderr, the
// kubeconfig, Ctrl-C); tests run it over a FakeClient.
#pragma once

#include <chrono>
#include <functional>
#include <ostream>
#include <string>

#include "api/types.h"
#include "common/result.h"
#include "kube/client.h"
#include "plugin/commands.h"

namespace agentrollout::plugin {

// What kubectl users pass to every kubectl command.
struct ConnectionFlags {
  std::string kubeconfig;  // --kubeconfig; "" = $KUBECONFIG, then ~/.kube/config
  std::string context;     // --context; "" = current-context
  std::string namespace_;  // -n/--namespace; "" = the context's namespace
};

struct Connection {
  kube::ClientPtr client;
  std::string namespace_;  // the namespace commands act in
};
using Connect = std::function<Result<Connection>(const ConnectionFlags&)>;

// The real connection: the kubeconfig as kubectl reads it (kube/config.h), the
// namespace from -n, else the context's namespace, else "default".
Result<Connection> ConnectWithKubeconfig(const ConnectionFlags& flags);

struct PluginEnv {
  std::ostream& out;
  std::ostream& err;
  Connect connect;  // called only by commands that need the cluster (`bucket` with --rollout)
  WatchStop& stop;  // ends --watch (Ctrl-C)
  std::function<api::Timestamp()> now = [] { return std::chrono::system_clock::now(); };
};

// Runs one command line (argv[0] is the program). Returns the exit code: 0 on success,
// 1 on any error (printed to env.err as `error: ...`).
int RunPlugin(int argc, const char* const* argv, PluginEnv& env);

}  // namespace agentrollout::plugin
