#include "tests/harness/process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

extern char** environ;

namespace agentrollout::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string ErrnoText(const std::string& what) { return what + ": " + std::strerror(errno); }

// Owns a file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.Release()) {}
  Fd& operator=(Fd&& other) noexcept {
    Reset(other.Release());
    return *this;
  }
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  int Release() { return std::exchange(fd_, -1); }
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read;
  Fd write;
};

Result<Pipe> MakePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Internal(ErrnoText("pipe2"));
  return Pipe{Fd(fds[0]), Fd(fds[1])};
}

// The environment for a child: ours, with `overrides` replacing or adding entries.
std::vector<std::string> ChildEnvironment(const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    std::string name = entry.substr(0, entry.find('='));
    if (!overrides.contains(name)) env.push_back(std::move(entry));
  }
  for (const auto& [name, value] : overrides) env.push_back(name + "=" + value);
  return env;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// posix_spawnp with the child's stdin/stdout/stderr set to the given descriptors.
Result<pid_t> Spawn(const std::vector<std::string>& argv,
                    const std::map<std::string, std::string>& env, int in_fd, int out_fd,
                    int err_fd, bool new_session) {
  if (argv.empty()) return InvalidArgument("RunProcess: empty argv");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_fd, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_fd, STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // The child starts with default signal dispositions even if the test ignores SIGPIPE.
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  short flags = POSIX_SPAWN_SETSIGDEF;
  if (new_session) flags |= POSIX_SPAWN_SETSID;
  posix_spawnattr_setflags(&attr, flags);

  std::vector<std::string> args = argv;
  std::vector<std::string> envs = ChildEnvironment(env);
  auto c_args = CStrings(args);
  auto c_env = CStrings(envs);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, args[0].c_str(), &actions, &attr, c_args.data(), c_env.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Unavailable("cannot start " + argv[0] + ": " + std::strerror(rc));
  return pid;
}

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

void IgnoreSigpipeOnce() {
  // Writing stdin to a child that exited early must be an EPIPE error, not our death.
  static const bool ignored = [] {
    ::signal(SIGPIPE, SIG_IGN);
    return true;
  }();
  (void)ignored;
}

}  // namespace

std::string ProcessResult::Describe() const {
  std::ostringstream s;
  s << (timed_out ? "timed out" : "exit " + std::to_string(exit_code)) << ", stdout: " << out
    << ", stderr: " << err;
  return s.str();
}

Result<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                 const ProcessOptions& options) {
  IgnoreSigpipeOnce();
  auto in = MakePipe();
  auto out = MakePipe();
  auto err = MakePipe();
  if (!in.ok()) return in.error();
  if (!out.ok()) return out.error();
  if (!err.ok()) return err.error();
  auto pid = Spawn(argv, options.env, in->read.get(), out->write.get(), err->write.get(),
                   /*new_session=*/false);
  if (!pid.ok()) return pid.error();
  in->read.Reset();
  out->write.Reset();
  err->write.Reset();
  ::fcntl(in->write.get(), F_SETFL, O_NONBLOCK);

  ProcessResult result;
  std::size_t written = 0;
  if (options.stdin_data.empty()) in->write.Reset();
  const auto deadline = Clock::now() + options.timeout;
  char buffer[65536];
  while (out->read.get() >= 0 || err->read.get() >= 0) {
    pollfd fds[3] = {
        {out->read.get(), POLLIN, 0}, {err->read.get(), POLLIN, 0}, {in->write.get(), POLLOUT, 0}};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      ::kill(*pid, SIGKILL);
      break;
    }
    int n = ::poll(fds, 3, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      ssize_t got = ::read(fds[i].fd, buffer, sizeof buffer);
      if (got > 0) {
        (i == 0 ? result.out : result.err).append(buffer, static_cast<std::size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        (i == 0 ? out->read : err->read).Reset();
      }
    }
    if (fds[2].fd >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
      ssize_t put = ::write(fds[2].fd, options.stdin_data.data() + written,
                            options.stdin_data.size() - written);
      if (put > 0) written += static_cast<std::size_t>(put);
      if ((put < 0 && errno != EAGAIN && errno != EINTR) || written == options.stdin_data.size()) {
        in->write.Reset();
      }
    }
  }
  in->write.Reset();
  int status = 0;
  while (::waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = DecodeWaitStatus(status);
  return result;
}

Result<BackgroundProcess> BackgroundProcess::Start(const std::vector<std::string>& argv,
                                                   const std::filesystem::path& log_file,
                                                   const std::map<std::string, std::string>& env) {
  Fd log(::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (log.get() < 0) return Internal(ErrnoText("open " + log_file.string()));
  Fd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (null.get() < 0) return Internal(ErrnoText("open /dev/null"));
  auto pid = Spawn(argv, env, null.get(), log.get(), log.get(), /*new_session=*/true);
  if (!pid.ok()) return pid.error();
  return BackgroundProcess(*pid, log_file);
}

BackgroundProcess::BackgroundProcess(BackgroundProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      log_file_(std::move(other.log_file_)),
      exit_code_(other.exit_code_) {}

BackgroundProcess& BackgroundProcess::operator=(BackgroundProcess&& other) noexcept {
  if (this != &other) {
    Stop();
    pid_ = std::exchange(other.pid_, -1);
    log_file_ = std::move(other.log_file_);
    exit_code_ = other.exit_code_;
  }
  return *this;
}

BackgroundProcess::~BackgroundProcess() { Stop(); }

bool BackgroundProcess::Running() {
  if (pid_ < 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_code_ = DecodeWaitStatus(status);
    pid_ = -1;
    return false;
  }
  return r == 0;
}

void BackgroundProcess::Stop() {
  if (!Running()) return;
  ::kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (Running() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (Running()) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  pid_ = -1;
}

Result<std::string> BackgroundProcess::WaitForLog(const std::string& text,
                                                  std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    std::string log = ReadFileOrEmpty(log_file_);
    if (log.find(text) != std::string::npos) return log;
    if (!Running()) {
      return Unavailable("process exited before logging \"" + text + "\"; log: " + log);
    }
    if (Clock::now() >= deadline) {
      return Error(ErrorCode::kDeadlineExceeded, "\"" + text + "\" not logged within " +
                                                     std::to_string(timeout.count()) +
                                                     " ms; log: " + log);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void KeepFilesIfTestFailed(const std::string& server,
                           const std::vector<std::filesystem::path>& files) {
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  if (test == nullptr || !test->result()->Failed()) return;
  const std::filesystem::path keep = std::filesystem::current_path() / "agentrollout-logs" /
                                     (server + "-" + std::to_string(::getpid()));
  std::error_code ec;
  std::filesystem::create_directories(keep, ec);
  for (const std::filesystem::path& file : files) {
    std::filesystem::copy(file, keep / file.filename(),
                          std::filesystem::copy_options::overwrite_existing, ec);
  }
  std::cerr << "[" << server << "] test failed; log kept in " << keep << "\n";
}

Result<std::filesystem::path> MakeTempDir(const std::string& prefix) {
  const char* run_dir = std::getenv("AGENTROLLOUT_RUN_DIR");
  std::filesystem::path base = run_dir != nullptr && *run_dir != '\0' ? run_dir : "/tmp";
  std::error_code ec;
  std::filesystem::create_directories(base, ec);
  std::string templ = (base / (prefix + "-XXXXXX")).string();
  if (::mkdtemp(templ.data()) == nullptr) return Internal(ErrnoText("mkdtemp " + templ));
  return std::filesystem::path(templ);
}

std::vector<pid_t> ProcessesMentioning(const std::string& needle) {
  std::vector<pid_t> pids;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = std::stoi(name);
    if (pid == ::getpid()) continue;
    std::string cmdline = ReadFileOrEmpty(entry.path() / "cmdline");
    if (cmdline.find(needle) != std::string::npos) pids.push_back(pid);
  }
  return pids;
}

std::string ReadFileOrEmpty(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace agentrollout::testing
