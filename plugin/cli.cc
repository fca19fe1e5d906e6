#include "plugin/cli.h"

// GCC 12 at -O2 reports a null dereference inside CLI11's own detail::split (a false
// positive in std::vector<std::string> relocation); the header is not ours to fix.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop
#include <malloc.h>
#include <spawn.h>
#include <sys/wait.h>

#include <optional>
#include <thread>
#include <vector>

#include "kube/config.h"
#include "plugin/dashboard/server.h"

namespace agentrollout::plugin {
namespace {

constexpr char kDescription[] =
    "kubectl agentrollout: show AgentRollouts (rollouts.agentops.dev/v1alpha1) and request\n"
    "manual actions. Actions set the annotation rollouts.agentops.dev/action, which the\n"
    "operator acts on and removes (plain `kubectl annotate` does the same).";

std::string_view ActionHelp(Action action) {
  switch (action) {
    case Action::kPromote:
      return "Skip the rest of the bake time / grant approval (a Go is still required)";
    case Action::kAbort:
      return "Roll back fully now: flag off, canary weight 0";
    case Action::kPause:
      return "Hold in the current phase (analysis and rollback continue)";
    case Action::kResume:
      return "Continue after pause or a stepBack rollback";
    case Action::kRetry:
      return "Start a RolledBack rollout again at phase 0";
  }
  return "";
}

int Fail(PluginEnv& env, const Error& error) {
  env.err << "error: " << error.message() << '\n';
  return 1;
}

struct Values {
  ConnectionFlags connection;
  bool all_namespaces = false;
  bool watch = false;
  std::string name;
  std::string flag;
  std::vector<std::string> tenants;
  std::optional<int> percent;
  std::vector<std::string> enabled_tenants;
  std::vector<std::string> disabled_tenants;
  std::string rollout;
  bool queries = false;
  std::string address = "127.0.0.1:3100";
  bool open = false;
};

// "host:port" or "[v6]:port" into DashboardOptions; the error names the flag.
Status ParseAddress(const std::string& address, dashboard::DashboardOptions& options) {
  const std::size_t colon = address.rfind(':');
  const auto bad = [&](const std::string& why) {
    return InvalidArgument("--address \"" + address + "\": " + why);
  };
  if (colon == std::string::npos || colon == 0) return bad("want HOST:PORT, e.g. 127.0.0.1:3100");
  std::string host = address.substr(0, colon);
  const std::string port = address.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535) {
    return bad("the port must be a number 0..65535");
  }
  if (host.starts_with('[') != host.ends_with(']')) return bad("unbalanced [ ] around the host");
  if (host.starts_with('[')) host = host.substr(1, host.size() - 2);
  if (host.find_first_of(" /?#@[]") != std::string::npos) return bad("not a host name or address");
  options.host = host;
  options.port = std::stoi(port);
  return OkStatus();
}

// Asks the desktop to open `url` (xdg-open); failing to is not an error, the URL is printed.
void OpenBrowser(PluginEnv& env, const std::string& url) {
  const char* argv[] = {"xdg-open", url.c_str(), nullptr};
  pid_t pid = 0;
  if (posix_spawnp(&pid, "xdg-open", nullptr, nullptr, const_cast<char* const*>(argv), environ) !=
      0) {
    env.err << "could not run xdg-open; open " << url << " yourself\n";
    return;
  }
  waitpid(pid, nullptr, 0);
}

int RunDashboard(PluginEnv& env, const Values& v) {
  dashboard::DashboardOptions options;
  if (Status parsed = ParseAddress(v.address, options); !parsed.ok()) {
    return Fail(env, parsed.error());
  }
  const bool loopback =
      options.host == "localhost" || options.host == "::1" || options.host.starts_with("127.");
  if (!loopback) {
    env.err << "warning: --address " << v.address
            << " is not a loopback address: anyone who can reach it sees every AgentRollout "
               "your kubeconfig may read (actions still need the page's token)\n";
  }
  // The server's pool threads each build large JSON answers; with glibc's default of up to
  // 8 arenas per core each keeps its own freed memory (measured: 68 MiB instead of ~40 MiB
  // with 1,000 rollouts after a few page loads).
  mallopt(M_ARENA_MAX, 2);
  Result<Connection> connection = env.connect(v.connection);
  if (!connection.ok()) return Fail(env, connection.error());
  options.namespace_ = v.all_namespaces ? "" : connection->namespace_;
  options.now = env.now;
  dashboard::Dashboard server(connection->client, options);
  if (Status started = server.Start(); !started.ok()) return Fail(env, started.error());
  env.stop.SetWatching();  // Ctrl-C ends the loop below instead of the process
  env.out << "dashboard: " << server.url() << " ("
          << (options.namespace_.empty() ? "all namespaces" : "namespace " + options.namespace_)
          << "); Ctrl-C stops it" << std::endl;
  if (v.open) OpenBrowser(env, server.url());
  while (!env.stop.stopped()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server.Stop();
  return 0;
}

int RunList(PluginEnv& env, const Values& v) {
  Result<Connection> connection = env.connect(v.connection);
  if (!connection.ok()) return Fail(env, connection.error());
  const std::string ns = v.all_namespaces ? "" : connection->namespace_;
  if (!v.watch) {
    Result<std::vector<api::AgentRollout>> rollouts = ListRollouts(*connection->client, ns);
    if (!rollouts.ok()) return Fail(env, rollouts.error());
    if (rollouts->empty()) {
      env.err << (v.all_namespaces ? "No AgentRollouts found.\n"
                                   : "No AgentRollouts found in namespace " + ns + ".\n");
      return 0;
    }
    env.out << FormatList(*rollouts, v.all_namespaces, env.now());
    return 0;
  }
  bool first = true;
  Status watched = WatchRollouts(
      *connection->client, ns, "", env.stop, [&](const std::vector<api::AgentRollout>& rollouts) {
        if (!first) env.out << '\n';
        first = false;
        env.out << FormatList(rollouts, v.all_namespaces, env.now()) << std::flush;
      });
  return watched.ok() ? 0 : Fail(env, watched.error());
}

int RunStatus(PluginEnv& env, const Values& v) {
  Result<Connection> connection = env.connect(v.connection);
  if (!connection.ok()) return Fail(env, connection.error());
  const std::string& ns = connection->namespace_;
  Result<api::AgentRollout> rollout = GetRollout(*connection->client, ns, v.name);
  if (!rollout.ok()) return Fail(env, rollout.error());
  const auto print = [&](const api::AgentRollout& shown) {
    env.out << FormatStatus(shown, env.now());
    if (v.queries) env.out << FormatQueries(shown, env.now());
  };
  if (!v.watch) {
    print(*rollout);
    return 0;
  }
  bool first = true;
  Status watched = WatchRollouts(*connection->client, ns, v.name, env.stop,
                                 [&](const std::vector<api::AgentRollout>& rollouts) {
                                   if (!first) env.out << '\n';
                                   first = false;
                                   if (rollouts.empty()) {
                                     env.out << "agentrollout \"" << v.name
                                             << "\" not found in namespace \"" << ns
                                             << "\" (deleted); watching for it\n";
                                   } else {
                                     print(rollouts.front());
                                   }
                                   env.out << std::flush;
                                 });
  return watched.ok() ? 0 : Fail(env, watched.error());
}

int RunAction(PluginEnv& env, const Values& v, Action action) {
  Result<Connection> connection = env.connect(v.connection);
  if (!connection.ok()) return Fail(env, connection.error());
  Result<std::string> done =
      RequestAction(*connection->client, connection->namespace_, v.name, action);
  if (!done.ok()) return Fail(env, done.error());
  env.out << *done << '\n';
  return 0;
}

int RunBucket(PluginEnv& env, const Values& v) {
  BucketState state;
  if (!v.rollout.empty()) {
    Result<Connection> connection = env.connect(v.connection);
    if (!connection.ok()) return Fail(env, connection.error());
    Result<BucketState> read =
        BucketStateOfRollout(*connection->client, connection->namespace_, v.rollout, v.flag);
    if (!read.ok()) return Fail(env, read.error());
    state = std::move(read).value();
  }
  // Flags given on the command line ask "what if": a percentage replaces the rollout's,
  // pins are added to its pins.
  if (v.percent) state.percent = v.percent;
  state.enabled_tenants.insert(state.enabled_tenants.end(), v.enabled_tenants.begin(),
                               v.enabled_tenants.end());
  state.disabled_tenants.insert(state.disabled_tenants.end(), v.disabled_tenants.begin(),
                                v.disabled_tenants.end());
  env.out << FormatBuckets(v.flag, v.tenants, state);
  return 0;
}

}  // namespace

Result<Connection> ConnectWithKubeconfig(const ConnectionFlags& flags) {
  kube::KubeconfigOptions options;
  options.path = flags.kubeconfig;
  options.context = flags.context;
  Result<kube::RestConfig> config = kube::LoadKubeconfig(options);
  if (!config.ok()) return config.error();
  kube::ClientOptions client_options;
  client_options.user_agent = "kubectl-agentrollout";
  Result<kube::ClientPtr> client = kube::NewClient(*config, client_options);
  if (!client.ok()) return client.error();
  Connection connection;
  connection.client = std::move(client).value();
  connection.namespace_ = !flags.namespace_.empty()     ? flags.namespace_
                          : !config->namespace_.empty() ? config->namespace_
                                                        : "default";
  return connection;
}

int RunPlugin(int argc, const char* const* argv, PluginEnv& env) {
  CLI::App app(kDescription, "kubectl agentrollout");
  app.set_help_flag("-h,--help", "Print this help and exit");
  app.require_subcommand(1, 1);
  Values v;
  app.add_option("--kubeconfig", v.connection.kubeconfig,
                 "Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)");
  app.add_option("--context", v.connection.context, "The kubeconfig context to use");
  app.add_option("-n,--namespace", v.connection.namespace_,
                 "Namespace (default: the context's namespace, else \"default\")");

  CLI::App* list =
      app.add_subcommand("list", "List AgentRollouts: NAME PHASE STEP FLAG% WEIGHT VERDICT AGE");
  list->fallthrough();
  list->add_flag("-A,--all-namespaces", v.all_namespaces, "List across all namespaces");
  list->add_flag("-w,--watch", v.watch, "Print again after every change (Ctrl-C ends)");

  CLI::App* status = app.add_subcommand(
      "status", "Show a rollout: phase, step, go/no-go table, rollback, history, conditions");
  status->fallthrough();
  status->add_option("NAME", v.name, "The AgentRollout")->required();
  status->add_flag("-w,--watch", v.watch, "Print again after every change (Ctrl-C ends)");
  status->add_flag("--queries", v.queries,
                   "Also print each metric's PromQL as the operator renders it for the current "
                   "phase (paste it into Prometheus to see what the operator sees)");

  std::vector<std::pair<CLI::App*, Action>> actions;
  for (Action action : kActions) {
    CLI::App* sub =
        app.add_subcommand(std::string(ActionName(action)), std::string(ActionHelp(action)));
    sub->fallthrough();
    sub->add_option("NAME", v.name, "The AgentRollout")->required();
    actions.emplace_back(sub, action);
  }

  CLI::App* bucket = app.add_subcommand(
      "bucket",
      "Print each tenant's bucket (0..99) for a flag: murmur3_x86_32(FLAG+TENANT)*100>>32, who is "
      "pinned, and with --percent or --rollout whether the flag is on for the tenant");
  bucket->fallthrough();  // -n/--context/--kubeconfig after the command, for --rollout
  bucket->add_option("FLAG", v.flag, "The flag key")->required();
  bucket->add_option("TENANT", v.tenants, "Tenant ids (targeting keys)")->required();
  bucket
      ->add_option("--percent", v.percent,
                   "Also say whether each tenant is in at this % (with --rollout: instead of "
                   "the rollout's current %)")
      ->check(CLI::Range(0, 100));
  bucket
      ->add_option("--enabled-tenant", v.enabled_tenants,
                   "A tenant pinned on (enabledTenants); repeat or separate with commas")
      ->delimiter(',')
      ->allow_extra_args(false);
  bucket
      ->add_option("--disabled-tenant", v.disabled_tenants,
                   "A tenant pinned off (disabledTenants; wins over pinned on); repeat or "
                   "separate with commas")
      ->delimiter(',')
      ->allow_extra_args(false);
  bucket->add_option("--rollout", v.rollout,
                     "Read the flag's state (enabled, %, pinned tenants) from this AgentRollout's "
                     "flag store, as applications see it (needs the cluster)");

  CLI::App* dash = app.add_subcommand(
      "dashboard",
      "Serve a live web dashboard of AgentRollouts on this machine, with your kubeconfig "
      "(RBAC decides what you see and may do)");
  dash->fallthrough();
  dash->add_option("--address", v.address,
                   "HOST:PORT to listen on (default 127.0.0.1:3100; port 0 = any free port)");
  dash->add_flag("-A,--all-namespaces", v.all_namespaces, "Show every namespace");
  dash->add_flag("--open", v.open, "Open the dashboard in the desktop's browser (xdg-open)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (app.get_subcommands().empty() && !app.remaining().empty()) {
      env.err << "error: unknown command \"" << app.remaining().front()
              << "\"; expected list, status, promote, abort, pause, resume, retry, bucket or "
                 "dashboard\n";
      return 1;
    }
    return app.exit(e, env.out, env.err) == 0 ? 0 : 1;
  }

  if (list->parsed()) return RunList(env, v);
  if (status->parsed()) return RunStatus(env, v);
  for (const auto& [sub, action] : actions) {
    if (sub->parsed()) return RunAction(env, v, action);
  }
  if (bucket->parsed()) return RunBucket(env, v);
  if (dash->parsed()) return RunDashboard(env, v);
  return 1;  // unreachable: require_subcommand(1, 1)
}

}  // namespace agentrollout::plugin
