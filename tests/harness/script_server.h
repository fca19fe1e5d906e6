// A server that a hack/ script starts and stops (hack/prometheus.sh, hack/alertmanager.sh),
// each instance in a temporary state directory of its own passed in an environment
// variable. Test fixtures wrap one; this holds what they share: running the script, the
// cleanup after a failed start, keeping the logs of a failed test, and checking that
// nothing of the instance runs after the stop.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/result.h"

namespace agentrollout::testing {

struct ScriptServerOptions {
  std::string script;        // under hack/, e.g. "prometheus.sh"
  std::string state_env;     // e.g. "AGENTROLLOUT_PROM_STATE_DIR"
  std::string name;          // for messages and the kept-logs directory, e.g. "prometheus"
  std::string stop_command;  // e.g. "stop" or "down"
  std::vector<std::string> kept_files;  // state files kept when the test failed
};

class ScriptServer {
 public:
  explicit ScriptServer(ScriptServerOptions options) : options_(std::move(options)) {}
  ScriptServer(const ScriptServer&) = delete;
  ScriptServer& operator=(const ScriptServer&) = delete;
  ~ScriptServer();

  // Runs the script with `args` in a new state directory; the first line it prints (the
  // base URL). A failed start is cleaned up.
  Result<std::string> Start(const std::vector<std::string>& args);
  // Runs the stop command (idempotent); keeps `kept_files` under agentrollout-logs/ when
  // the current test failed, and fails if a process of the instance still runs.
  Status Stop();

  // The running instance's state directory ("" when none runs).
  const std::filesystem::path& state_dir() const { return state_dir_; }

 private:
  ScriptServerOptions options_;
  std::filesystem::path state_dir_;
};

}  // namespace agentrollout::testing
