#include "tests/harness/operator_command.h"

namespace agentrollout::testing {

std::vector<std::string> OperatorArgv(const OperatorCommand& command) {
  return {command.binary,
          "--kubeconfig",
          command.kubeconfig,
          "--namespace",
          command.ns,
          "--leader-elect",
          "--leader-election-namespace",
          command.ns,
          "--lease-duration",
          command.lease_duration,
          "--renew-deadline",
          "3s",
          "--retry-period",
          "1s",
          "--health-addr",
          "127.0.0.1:0",
          "--metrics-addr",
          "127.0.0.1:0",
          "--log-format",
          "text",
          "--log-level",
          command.log_level,
          "--pod-name",
          command.pod_name};
}

}  // namespace agentrollout::testing
