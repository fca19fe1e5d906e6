#include "operator/options.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <climits>
#include <cstdint>
#include <regex>
#include <string>
#include <vector>

#include "api/duration.h"

namespace agentrollout::operator_ {
namespace {

using std::chrono::milliseconds;

// What CLI11 binds; converted to Options after parsing. Defaults here are what --help
// shows, so they must equal Options' defaults (a unit test parses no flags and compares).
struct FlagValues {
  std::string kubeconfig;
  std::string namespace_;
  bool leader_elect = false;
  std::string leader_election_namespace;
  std::string leader_election_id = "agentrollout-operator";
  std::string lease_duration = "15s";  // Go duration syntax, like Kubernetes components
  std::string renew_deadline = "10s";
  std::string retry_period = "2s";
  int concurrency = 4;
  bool cache_target_reads = true;
  bool deployment_env_store = false;
  std::string rollback_on_delete_timeout = "2m";
  std::string status_refresh_interval = "5m";
  std::string metrics_addr = ":8080";
  std::string health_addr = ":8081";
  std::string log_format = "json";
  std::string log_level = "info";
  std::string pod_name;
};

void DefineFlags(CLI::App& app, FlagValues& v) {
  app.description(
      "agentrollout-operator: runs AgentRollout canary rollouts (rollouts.agentops.dev/v1alpha1).\n"
      "Every flag can also be set by the environment variable shown with it; a flag given on\n"
      "the command line wins over the environment.");
  app.set_help_flag("-h,--help", "Print this help and exit");
  app.option_defaults()->always_capture_default();

  app.add_option("--kubeconfig", v.kubeconfig,
                 "Path to a kubeconfig file; empty = in-cluster config (service account)")
      ->envname("KUBECONFIG");
  app.add_option("--namespace", v.namespace_,
                 "Namespace whose AgentRollouts are reconciled; empty = all namespaces")
      ->envname("AGENTROLLOUT_NAMESPACE");
  app.add_flag("--leader-elect", v.leader_elect,
               "Elect a leader with a coordination.k8s.io/v1 Lease; only the leader reconciles "
               "(default: off)")
      ->envname("AGENTROLLOUT_LEADER_ELECT");
  app.add_option("--leader-election-namespace", v.leader_election_namespace,
                 "Namespace of the Lease; empty = the namespace the operator runs in")
      ->envname("AGENTROLLOUT_LEADER_ELECTION_NAMESPACE");
  app.add_option("--leader-election-id", v.leader_election_id, "Name of the Lease")
      ->envname("AGENTROLLOUT_LEADER_ELECTION_ID");
  app.add_option("--lease-duration", v.lease_duration,
                 "How long a Lease is valid without renewal (Go duration: 15s, 1m30s)")
      ->envname("AGENTROLLOUT_LEASE_DURATION");
  app.add_option("--renew-deadline", v.renew_deadline,
                 "How long the leader keeps retrying to renew before it steps down")
      ->envname("AGENTROLLOUT_RENEW_DEADLINE");
  app.add_option("--retry-period", v.retry_period, "Interval between Lease acquire/renew tries")
      ->envname("AGENTROLLOUT_RETRY_PERIOD");
  app.add_option("--concurrency", v.concurrency, "AgentRollouts reconciled in parallel (workers)")
      ->envname("AGENTROLLOUT_CONCURRENCY")
      ->check(CLI::Range(1, 256));
  app.add_option("--cache-target-reads", v.cache_target_reads,
                 "Read flag stores and traffic targets from watch caches (needs list and watch "
                 "on them); false = GET them on every evaluation")
      ->envname("AGENTROLLOUT_CACHE_TARGET_READS")
      ->default_str("true");
  app.add_flag("--deployment-env-store", v.deployment_env_store,
               "Write flag.deploymentEnv rollouts' flags into Deployments' pod templates (needs "
               "patch on deployments; default: off, such rollouts fail their writes)")
      ->envname("AGENTROLLOUT_DEPLOYMENT_ENV_STORE");
  app.add_option("--rollback-on-delete-timeout", v.rollback_on_delete_timeout,
                 "How long the deletion of an AgentRollout with onDelete: rollback retries "
                 "failed flag and traffic writes before it lets the object go with a Warning "
                 "Event")
      ->envname("AGENTROLLOUT_ROLLBACK_ON_DELETE_TIMEOUT");
  app.add_option("--status-refresh-interval", v.status_refresh_interval,
                 "How often a rollout's status.analysis values (lastEvaluated, metric values, "
                 "comparison counts) are written when nothing else changed; a change of phase, "
                 "verdict, counter or message, a metric changing zone or a value moving by more "
                 "than 10% is written at once. 0 writes every evaluation")
      ->envname("AGENTROLLOUT_STATUS_REFRESH_INTERVAL");
  app.add_option("--metrics-addr", v.metrics_addr,
                 "Address of the Prometheus /metrics endpoint (HOST:PORT or :PORT); \"0\" = off")
      ->envname("AGENTROLLOUT_METRICS_ADDR");
  app.add_option("--health-addr", v.health_addr,
                 "Address of the /healthz and /readyz endpoints (HOST:PORT or :PORT)")
      ->envname("AGENTROLLOUT_HEALTH_ADDR");
  app.add_option("--log-format", v.log_format, "Log line format")
      ->envname("AGENTROLLOUT_LOG_FORMAT")
      ->check(
          CLI::IsMember(std::vector<std::string>(kLogFormatNames.begin(), kLogFormatNames.end())));
  app.add_option("--log-level", v.log_level, "Least severe level logged")
      ->envname("AGENTROLLOUT_LOG_LEVEL")
      ->check(
          CLI::IsMember(std::vector<std::string>(kLogLevelNames.begin(), kLogLevelNames.end())));
  app.add_option("--pod-name", v.pod_name,
                 "Names this replica in the leader-election Lease (its identity there is this, '_' "
                 "and a random suffix); empty = the host name")
      ->envname("POD_NAME");
}

bool IsDnsLabel(const std::string& text) {
  static const std::regex kLabel("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
  return std::regex_match(text, kLabel);
}

bool IsDnsSubdomain(const std::string& text) {
  static const std::regex kSubdomain("[a-z0-9]([-a-z0-9.]*[a-z0-9])?");
  return text.size() <= 253 && std::regex_match(text, kSubdomain);
}

std::string HostName() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

Error FlagError(std::string_view flag, const std::string& value, std::string_view why) {
  return InvalidArgument(std::string(flag) + ": \"" + value + "\" " + std::string(why));
}

Result<milliseconds> ParseDuration(std::string_view flag, const std::string& text) {
  auto parsed = api::ParseDuration(text);
  if (!parsed.ok()) return parsed.error().WithContext(flag);
  return milliseconds(*parsed);
}

Result<Options> Convert(const FlagValues& v) {
  Options o;
  o.kubeconfig = v.kubeconfig;

  if (!v.namespace_.empty() && !IsDnsLabel(v.namespace_)) {
    return FlagError("--namespace", v.namespace_, "is not a valid namespace name (DNS label)");
  }
  o.namespace_ = v.namespace_;
  if (!v.leader_election_namespace.empty() && !IsDnsLabel(v.leader_election_namespace)) {
    return FlagError("--leader-election-namespace", v.leader_election_namespace,
                     "is not a valid namespace name (DNS label)");
  }
  o.leader_election_namespace = v.leader_election_namespace;
  if (!IsDnsSubdomain(v.leader_election_id)) {
    return FlagError("--leader-election-id", v.leader_election_id,
                     "is not a valid Lease name (DNS subdomain)");
  }
  o.leader_election_id = v.leader_election_id;
  o.leader_elect = v.leader_elect;

  auto lease = ParseDuration("--lease-duration", v.lease_duration);
  if (!lease.ok()) return lease.error();
  auto renew = ParseDuration("--renew-deadline", v.renew_deadline);
  if (!renew.ok()) return renew.error();
  auto retry = ParseDuration("--retry-period", v.retry_period);
  if (!retry.ok()) return retry.error();
  // client-go's rules: leaseDuration > renewDeadline > retryPeriod > 0.
  if (*retry <= milliseconds(0)) {
    return FlagError("--retry-period", v.retry_period, "must be positive");
  }
  if (*renew <= *retry) {
    return FlagError("--renew-deadline", v.renew_deadline,
                     "must be longer than --retry-period (" + v.retry_period + ")");
  }
  if (*lease <= *renew) {
    return FlagError("--lease-duration", v.lease_duration,
                     "must be longer than --renew-deadline (" + v.renew_deadline + ")");
  }
  o.lease_duration = *lease;
  o.renew_deadline = *renew;
  o.retry_period = *retry;

  o.concurrency = v.concurrency;
  o.cache_target_reads = v.cache_target_reads;
  o.deployment_env_store = v.deployment_env_store;
  auto on_delete = ParseDuration("--rollback-on-delete-timeout", v.rollback_on_delete_timeout);
  if (!on_delete.ok()) return on_delete.error();
  o.rollback_on_delete_timeout = *on_delete;
  auto refresh = ParseDuration("--status-refresh-interval", v.status_refresh_interval);
  if (!refresh.ok()) return refresh.error();
  if (*refresh < milliseconds(0)) {
    return FlagError("--status-refresh-interval", v.status_refresh_interval,
                     "must not be negative");
  }
  o.status_refresh_interval = *refresh;

  if (v.metrics_addr == "0") {
    o.metrics_address.reset();
  } else {
    auto address = ParseListenAddress(v.metrics_addr);
    if (!address.ok()) return address.error().WithContext("--metrics-addr");
    o.metrics_address = *address;
  }
  auto health = ParseListenAddress(v.health_addr);
  if (!health.ok()) return health.error().WithContext("--health-addr");
  o.health_address = *health;

  auto format = ParseLogFormat(v.log_format);
  if (!format.ok()) return format.error().WithContext("--log-format");
  o.log_format = *format;
  auto level = ParseLogLevel(v.log_level);
  if (!level.ok()) return level.error().WithContext("--log-level");
  o.log_level = *level;

  o.pod_name = v.pod_name.empty() ? HostName() : v.pod_name;
  return o;
}

}  // namespace

std::string ListenAddress::ToCivetweb() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  const auto quoted = "\"" + std::string(text) + "\"";
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return InvalidArgument("address " + quoted + " is not HOST:PORT or :PORT");
  }
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);

  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port > 65535) {
    return InvalidArgument("address " + quoted + ": port \"" + std::string(port_text) +
                           "\" is not a number in 0..65535");
  }

  ListenAddress address;
  address.port = static_cast<std::uint16_t>(port);
  if (host.empty()) {
    address.host = "0.0.0.0";
    return address;
  }
  const bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) host = host.substr(1, host.size() - 2);
  address.host = std::string(host);
  unsigned char parsed[sizeof(in6_addr)];
  const int family = bracketed ? AF_INET6 : AF_INET;
  if (inet_pton(family, address.host.c_str(), parsed) != 1) {
    return InvalidArgument("address " + quoted + ": host \"" + address.host + "\" is not an " +
                           (bracketed ? "IPv6" : "IPv4") +
                           " address (write [::1]:PORT for IPv6; host names are not resolved)");
  }
  return address;
}

Result<Options> ParseOptions(int argc, const char* const* argv) {
  CLI::App app("", "agentrollout-operator");
  FlagValues values;
  DefineFlags(app, values);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    Options options;
    options.show_help = true;
    return options;
  } catch (const CLI::ParseError& e) {
    return InvalidArgument(e.what());
  }
  return Convert(values);
}

std::string OptionsHelp() {
  CLI::App app("", "agentrollout-operator");
  FlagValues values;
  DefineFlags(app, values);
  return app.help();
}

}  // namespace agentrollout::operator_
