#include "tests/harness/script_server.h"

#include <iostream>

#include "tests/harness/cluster.h"
#include "tests/harness/process.h"

namespace agentrollout::testing {
namespace {

Result<ProcessResult> RunScript(const ScriptServerOptions& options,
                                const std::filesystem::path& state_dir,
                                const std::vector<std::string>& args) {
  std::vector<std::string> argv = {(SourceDir() / "hack" / options.script).string()};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessOptions process;
  process.env[options.state_env] = state_dir.string();
  process.timeout = std::chrono::minutes(2);
  return RunProcess(argv, process);
}

}  // namespace

ScriptServer::~ScriptServer() {
  Status stopped = Stop();
  if (!stopped.ok())
    std::cerr << "[" << options_.name << "] " << stopped.error().ToString() << "\n";
}

Result<std::string> ScriptServer::Start(const std::vector<std::string>& args) {
  if (!state_dir_.empty()) {
    return Error(ErrorCode::kFailedPrecondition, options_.name + " already runs");
  }
  auto dir = MakeTempDir("agentrollout-" + options_.name);
  if (!dir.ok()) return dir.error();
  state_dir_ = *dir;
  auto started = RunScript(options_, state_dir_, args);
  if (!started.ok() || started->exit_code != 0) {
    Error error =
        started.ok()
            ? Unavailable("hack/" + options_.script + " failed to start: " + started->Describe())
            : started.error();
    Status cleaned = Stop();  // removes whatever the failed start left
    if (!cleaned.ok()) {
      error =
          Error(error.code(), error.message() + " (cleanup: " + cleaned.error().message() + ")");
    }
    return error;
  }
  return started->out.substr(0, started->out.find('\n'));
}

Status ScriptServer::Stop() {
  if (state_dir_.empty()) return OkStatus();
  std::vector<std::filesystem::path> kept;
  for (const std::string& file : options_.kept_files) kept.push_back(state_dir_ / file);
  KeepFilesIfTestFailed(options_.name, kept);
  auto stopped = RunScript(options_, state_dir_, {options_.stop_command});
  std::filesystem::path dir = std::exchange(state_dir_, {});
  if (!stopped.ok()) return stopped.error();
  if (stopped->exit_code != 0) {
    return Unavailable("hack/" + options_.script + " " + options_.stop_command +
                       " failed: " + stopped->Describe());
  }
  if (!ProcessesMentioning(dir.string()).empty()) {
    return Internal("a " + options_.name + " of " + dir.string() + " still runs after stop");
  }
  return OkStatus();
}

}  // namespace agentrollout::testing
