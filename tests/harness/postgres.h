// A real PostgreSQL (hack/postgres.sh, the Debian package) for integration tests: its own
// cluster on a free loopback port, under a state directory of the test run. The log is
// kept when the test that owns the fixture failed.
#pragma once

#include <filesystem>
#include <string>

#include "common/result.h"

namespace agentrollout::testing {

class PostgresFixture {
 public:
  PostgresFixture() = default;
  PostgresFixture(const PostgresFixture&) = delete;
  PostgresFixture& operator=(const PostgresFixture&) = delete;
  ~PostgresFixture();

  // initdb and start; uri() then connects as the superuser `app` (no password); other
  // roles authenticate with passwords.
  Status Start();
  // Stops and removes it (idempotent); keeps the log under agentrollout-logs/ if the
  // current test failed.
  Status Stop();
  // The database going down and coming back on the same port, data kept.
  Status StopServer();
  Status StartServer();

  // postgresql://app@127.0.0.1:PORT/postgres ("" before Start).
  const std::string& uri() const { return uri_; }
  // The URI for another role: postgresql://USER:PASSWORD@127.0.0.1:PORT/postgres.
  std::string UriFor(const std::string& user, const std::string& password) const;

 private:
  Status Run(const std::string& command, std::string* out = nullptr) const;

  std::filesystem::path state_dir_;
  std::string uri_;
};

}  // namespace agentrollout::testing
