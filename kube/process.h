// Runs a program as a child process — no shell — with a deadline and bounded output: how
// kubeconfig exec credential plugins are run. The child's output is hostile input: stdout
// is capped (a larger one fails the run), stderr is handed on in bounded chunks.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace agentrollout::kube {

struct ProcessSpec {
  std::string program;                                   // a path, or a name looked up in $PATH
  std::vector<std::string> args;                         // argv[1..]
  std::vector<std::pair<std::string, std::string>> env;  // set on top of this process's own
  // true: the child reads this process's stdin (an interactive login); false: /dev/null,
  // and the child runs in a process group of its own so a timeout ends its children too.
  bool inherit_stdin = false;
  std::chrono::milliseconds timeout{60000};
  std::size_t max_stdout = 1u << 20;
  // Receives stderr as it arrives, at most max_stderr bytes in all (the rest is read and
  // dropped, so a chatty child never blocks). Null: stderr is dropped.
  std::function<void(std::string_view)> on_stderr;
  std::size_t max_stderr = 64u << 10;
};

struct ProcessResult {
  int exit_code = 0;  // -1 when ended by a signal
  std::string out;    // stdout
};

// Runs `spec` to its end. Errors: kNotFound (no such program), kPermissionDenied (not
// executable), kDeadlineExceeded (killed at the timeout), kResourceExhausted (stdout over
// max_stdout; killed), kInternal (pipes, spawn). A non-zero exit is a result, not an error.
Result<ProcessResult> RunProcess(const ProcessSpec& spec);

}  // namespace agentrollout::kube
