#include "tests/harness/postgres.h"

#include <iostream>

#include "tests/harness/cluster.h"
#include "tests/harness/process.h"

namespace agentrollout::testing {

PostgresFixture::~PostgresFixture() {
  Status stopped = Stop();
  if (!stopped.ok()) std::cerr << "[postgres] " << stopped.error().ToString() << "\n";
}

Status PostgresFixture::Run(const std::string& command, std::string* out) const {
  ProcessOptions options;
  options.env["AGENTROLLOUT_PG_STATE_DIR"] = (state_dir_ / "pg").string();
  options.timeout = std::chrono::minutes(2);
  auto result = RunProcess({(SourceDir() / "hack" / "postgres.sh").string(), command}, options);
  if (!result.ok()) return result.error();
  if (result->exit_code != 0) {
    return Unavailable("hack/postgres.sh " + command + " failed: " + result->Describe());
  }
  if (out != nullptr) *out = result->out.substr(0, result->out.find('\n'));
  return OkStatus();
}

Status PostgresFixture::Start() {
  if (!uri_.empty()) return Error(ErrorCode::kFailedPrecondition, "PostgreSQL already runs");
  auto dir = MakeTempDir("agentrollout-postgres");
  if (!dir.ok()) return dir.error();
  state_dir_ = *dir;
  std::string uri;
  if (Status up = Run("up", &uri); !up.ok()) {
    Status cleaned = Stop();
    if (!cleaned.ok()) {
      return Error(up.error().code(),
                   up.error().message() + " (cleanup: " + cleaned.error().message() + ")");
    }
    return up;
  }
  uri_ = uri;
  return OkStatus();
}

Status PostgresFixture::StopServer() { return Run("stop"); }
Status PostgresFixture::StartServer() { return Run("start"); }

std::string PostgresFixture::UriFor(const std::string& user, const std::string& password) const {
  const std::string host = uri_.substr(uri_.find('@') + 1);
  return "postgresql://" + user + ":" + password + "@" + host;
}

Status PostgresFixture::Stop() {
  if (state_dir_.empty()) return OkStatus();
  KeepFilesIfTestFailed("postgres", {state_dir_ / "pg" / "postgres.log"});
  Status down = Run("down");
  std::filesystem::path dir = std::exchange(state_dir_, {});
  uri_.clear();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (!down.ok()) return down;
  if (!ProcessesMentioning(dir.string()).empty()) {
    return Internal("a PostgreSQL of " + dir.string() + " still runs after down");
  }
  return OkStatus();
}

}  // namespace agentrollout::testing
