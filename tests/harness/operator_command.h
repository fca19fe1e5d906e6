// The agentrollout-operator command line of the tests that run the process (tests/e2e,
// tests/chaos): one namespace, leader election in it with second-long timings (a successor
// takes over within seconds of a kill), health and metrics on free ports, text logs.
#pragma once

#include <string>
#include <vector>

namespace agentrollout::testing {

struct OperatorCommand {
  std::string binary;
  std::string kubeconfig;
  std::string ns;  // watched, and where the Lease lives
  std::string pod_name;
  std::string log_level = "debug";
  std::string lease_duration = "4s";  // --renew-deadline 3s, --retry-period 1s
};

std::vector<std::string> OperatorArgv(const OperatorCommand& command);

}  // namespace agentrollout::testing
