// Command-line flags of agentrollout-operator (API.md §9). Every flag has a default and
// an environment variable, both shown by --help; a flag given on the command line wins
// over its environment variable.
#pragma once

#include <spdlog/common.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "operator/logging.h"

namespace agentrollout::operator_ {

// A TCP address to listen on. `host` is an IP literal ("0.0.0.0" when the flag said
// ":8081"); `port` 0 lets the kernel pick one (tests).
struct ListenAddress {
  std::string host;
  std::uint16_t port = 0;
  // civetweb's `listening_ports` spelling: "0.0.0.0:8081", "[::1]:8081".
  std::string ToCivetweb() const;
  friend bool operator==(const ListenAddress&, const ListenAddress&) = default;
};

// ":8081" -> 0.0.0.0:8081, "127.0.0.1:0", "[::1]:9090". Hosts must be IP literals.
Result<ListenAddress> ParseListenAddress(std::string_view text);

struct Options {
  bool show_help = false;  // --help: the caller prints OptionsHelp() and exits 0

  std::string kubeconfig;  // "" = in-cluster config
  std::string namespace_;  // "" = watch all namespaces
  bool leader_elect = false;
  std::string leader_election_namespace;  // "" = the namespace the operator runs in
  std::string leader_election_id = "agentrollout-operator";
  std::chrono::milliseconds lease_duration = std::chrono::seconds(15);
  std::chrono::milliseconds renew_deadline = std::chrono::seconds(10);
  std::chrono::milliseconds retry_period = std::chrono::seconds(2);
  int concurrency = 4;
  // Flag stores and traffic targets are read from watch caches (kube::ReadCacheClient).
  bool cache_target_reads = true;
  // flag.deploymentEnv is written (the chart's deploymentEnv.enabled); off, it is refused.
  bool deployment_env_store = false;
  // A deletion under the onDelete `rollback` finalizer gives up after this long.
  std::chrono::milliseconds rollback_on_delete_timeout = std::chrono::minutes(2);
  // status.analysis values that say nothing new are written at most this often
  // (controllers::StatusRefresh); zero writes every evaluation.
  std::chrono::milliseconds status_refresh_interval = std::chrono::minutes(5);
  std::optional<ListenAddress> metrics_address = ListenAddress{"0.0.0.0", 8080};  // nullopt: off
  ListenAddress health_address{"0.0.0.0", 8081};
  LogFormat log_format = LogFormat::kJson;
  spdlog::level::level_enum log_level = spdlog::level::info;
  std::string pod_name;  // leader-election identity; defaults to the host name
};

// Parses argv (argv[0] is the program name) and the environment variables named in
// --help. Never exits: --help sets `show_help`; bad input is an InvalidArgument error
// naming the flag and the value.
Result<Options> ParseOptions(int argc, const char* const* argv);

// The --help text: every flag with its default and environment variable.
std::string OptionsHelp();

}  // namespace agentrollout::operator_
