// Running external programs from tests (kubectl, hack/*.sh, python3, curl) without a
// shell: argv vectors go straight to posix_spawn, so no argument is ever re-parsed and a
// value cannot inject a command.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace agentrollout::testing {

struct ProcessResult {
  int exit_code = -1;  // the exit status, or 128 + signal number when killed by a signal
  bool timed_out = false;
  std::string out;
  std::string err;
  // "exit 1, stderr: ..." for assertion messages.
  std::string Describe() const;
};

struct ProcessOptions {
  std::string stdin_data;
  // Variables set (or overridden) on top of this process's environment.
  std::map<std::string, std::string> env;
  std::chrono::milliseconds timeout = std::chrono::minutes(5);
};

// Runs argv[0] (looked up on PATH when it has no slash) with argv, feeds stdin_data, and
// collects stdout and stderr. Only a failure to start the program is an Error; a non-zero
// exit is a ProcessResult. On timeout the process is killed with SIGKILL.
Result<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                 const ProcessOptions& options = {});

// A long-running child (a test HTTP server, ...) with stdout and stderr appended to a log
// file. The destructor stops it: SIGTERM, then SIGKILL after 5 s.
class BackgroundProcess {
 public:
  static Result<BackgroundProcess> Start(const std::vector<std::string>& argv,
                                         const std::filesystem::path& log_file,
                                         const std::map<std::string, std::string>& env = {});
  BackgroundProcess(BackgroundProcess&& other) noexcept;
  BackgroundProcess& operator=(BackgroundProcess&& other) noexcept;
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;
  ~BackgroundProcess();

  pid_t pid() const { return pid_; }
  bool Running();
  void Stop();
  // How the process ended (exit status, or 128 + signal), once Running() saw it end.
  std::optional<int> exit_code() const { return exit_code_; }
  // Polls the log until it contains `text` or the process exits / the timeout passes;
  // returns the log so far on success.
  Result<std::string> WaitForLog(const std::string& text, std::chrono::milliseconds timeout);

 private:
  BackgroundProcess(pid_t pid, std::filesystem::path log_file)
      : pid_(pid), log_file_(std::move(log_file)) {}
  pid_t pid_ = -1;
  std::filesystem::path log_file_;
  std::optional<int> exit_code_;
};

// When the current test failed: copies `files` (a server's log and config) into
// agentrollout-logs/SERVER-PID/ of the working directory and says so on stderr.
void KeepFilesIfTestFailed(const std::string& server,
                           const std::vector<std::filesystem::path>& files);

// A fresh directory under $AGENTROLLOUT_RUN_DIR (default /tmp) named prefix-XXXXXX.
// hack/test.sh points AGENTROLLOUT_RUN_DIR at one directory per run, so everything a run
// starts can be found (and checked to be gone) afterwards.
Result<std::filesystem::path> MakeTempDir(const std::string& prefix);

// Pids of processes (other than this one) whose command line contains `needle`.
std::vector<pid_t> ProcessesMentioning(const std::string& needle);

// Reads a whole file; "" when it does not exist.
std::string ReadFileOrEmpty(const std::filesystem::path& path);

}  // namespace agentrollout::testing
