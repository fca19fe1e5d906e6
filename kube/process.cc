#include "kube/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <thread>

extern char** environ;

namespace agentrollout::kube {

namespace {

using SteadyClock = std::chrono::steady_clock;

// A file descriptor closed when it goes out of scope.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Close(); }
  int get() const { return fd_; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  void Reset(int fd) {
    Close();
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

Error SystemError(const std::string& what, int err) {
  return Error(ErrorCode::kInternal, what + ": " + std::strerror(err));
}

// This process's environment with `overrides` set on top, as NAME=VALUE strings.
std::vector<std::string> ChildEnvironment(
    const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::map<std::string, std::string> vars;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    const std::size_t eq = text.find('=');
    if (eq == std::string_view::npos) continue;
    vars.emplace(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
  }
  for (const auto& [name, value] : overrides) vars[name] = value;
  std::vector<std::string> out;
  out.reserve(vars.size());
  for (const auto& [name, value] : vars) out.push_back(name + "=" + value);
  return out;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Ends the child (and, when it leads a group of its own, that group) and reaps it.
void KillAndReap(pid_t pid, bool own_group) {
  ::kill(own_group ? -pid : pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

Result<ProcessResult> RunProcess(const ProcessSpec& spec) {
  const std::string what = "running " + spec.program;
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return SystemError(what + ": pipe", errno);
  Fd out_read(out_pipe[0]);
  Fd out_write(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return SystemError(what + ": pipe", errno);
  Fd err_read(err_pipe[0]);
  Fd err_write(err_pipe[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!spec.inherit_stdin) {
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_write.get(), STDERR_FILENO);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  if (!spec.inherit_stdin) {
    // A group of its own, so that a timeout also ends what the plugin started. An
    // interactive child stays in ours: a background group may not read the terminal.
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attributes, 0);
  }

  std::vector<std::string> argv_strings;
  argv_strings.push_back(spec.program);
  argv_strings.insert(argv_strings.end(), spec.args.begin(), spec.args.end());
  std::vector<std::string> env_strings = ChildEnvironment(spec.env);
  std::vector<char*> argv = Pointers(argv_strings);
  std::vector<char*> envp = Pointers(env_strings);
  pid_t pid = 0;
  const int spawned =
      ::posix_spawnp(&pid, spec.program.c_str(), &actions, &attributes, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (spawned == ENOENT) return Error(ErrorCode::kNotFound, what + ": executable not found");
  if (spawned == EACCES) {
    return Error(ErrorCode::kPermissionDenied, what + ": permission denied (not executable?)");
  }
  if (spawned != 0) return SystemError(what, spawned);
  const bool own_group = !spec.inherit_stdin;
  out_write.Close();
  err_write.Close();

  const SteadyClock::time_point deadline = SteadyClock::now() + spec.timeout;
  ProcessResult result;
  std::size_t stderr_passed = 0;
  std::array<char, 8192> buffer;
  while (out_read.get() >= 0 || err_read.get() >= 0) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
    if (left <= 0) {
      KillAndReap(pid, own_group);
      return Error(ErrorCode::kDeadlineExceeded,
                   what + ": no result within " + std::to_string(spec.timeout.count()) + "ms");
    }
    std::array<pollfd, 2> fds{pollfd{out_read.get(), POLLIN, 0}, pollfd{err_read.get(), POLLIN, 0}};
    const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(left));
    if (ready < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      KillAndReap(pid, own_group);
      return SystemError(what + ": poll", err);
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = ::read(fds[i].fd, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        (i == 0 ? out_read : err_read).Close();
        continue;
      }
      const std::string_view chunk(buffer.data(), static_cast<std::size_t>(n));
      if (i == 0) {
        if (result.out.size() + chunk.size() > spec.max_stdout) {
          KillAndReap(pid, own_group);
          return Error(ErrorCode::kResourceExhausted,
                       what + ": output exceeds " + std::to_string(spec.max_stdout) + " bytes");
        }
        result.out.append(chunk);
      } else if (spec.on_stderr && stderr_passed < spec.max_stderr) {
        const std::string_view passed = chunk.substr(0, spec.max_stderr - stderr_passed);
        stderr_passed += passed.size();
        spec.on_stderr(passed);
      }
    }
  }

  // Both pipes are closed; the child is ending (or closed them and lingers).
  int status = 0;
  while (true) {
    const pid_t waited = ::waitpid(pid, &status, WNOHANG);
    if (waited == pid) break;
    if (waited < 0 && errno != EINTR) return SystemError(what + ": waitpid", errno);
    if (SteadyClock::now() >= deadline) {
      KillAndReap(pid, own_group);
      return Error(ErrorCode::kDeadlineExceeded,
                   what + ": did not exit within " + std::to_string(spec.timeout.count()) + "ms");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace agentrollout::kube
