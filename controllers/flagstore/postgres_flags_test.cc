// The PostgreSQL store without a server: what it refuses before connecting, and the
// scrubbing of connection secrets. Its writes are tested against a real PostgreSQL in
// tests/controllers/postgres_flags_integration_test.cc.
#include "controllers/flagstore/postgres_flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace agentrollout::controllers {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

DesiredFlags Desired() {
  DesiredFlags desired;
  desired.namespace_ = "voice";
  desired.rollout = "voice/voice-agent-v2";
  api::PostgresFlagStore store;
  store.connection_secret_ref = {"flags-db", "url"};
  store.table = "feature_flags";
  store.key_column = "name";
  store.columns.enabled = "enabled";
  store.columns.percentage = "percentage";
  desired.postgres = store;
  desired.flags = {{"voice_agent_v2", true, 10, {}, {}}};
  return desired;
}

TEST(PostgresFlagStore, RefusesHostileInputBeforeConnecting) {
  int asked = 0;
  FlagStorePtr store = NewPostgresFlagStore(
      [&](const std::string&, const api::SecretKeyRef&) -> Result<std::string> {
        ++asked;
        return std::string("postgresql://app@127.0.0.1:1/db");
      });
  DesiredFlags key = Desired();
  key.flags[0].key = "x'; DROP TABLE feature_flags; --";
  EXPECT_THAT(store->Apply(key).error().message(), HasSubstr("is not a flag key"));
  DesiredFlags column = Desired();
  column.postgres->columns.enabled = "enabled = true; --";
  EXPECT_THAT(store->Apply(column).error().message(),
              HasSubstr("flag.postgres.columns.enabled: must be an SQL identifier"));
  DesiredFlags path = Desired();
  path.postgres->columns = {};
  path.postgres->json_column = "value";
  path.postgres->json_paths.percentage = "p";
  path.flags.push_back({"a..b", true, 100, {}, {}});
  EXPECT_THAT(store->Apply(path).error().message(), HasSubstr("is not a dotted JSON path"));
  EXPECT_EQ(asked, 0);
}

TEST(PostgresFlagStore, SecretErrorsNameTheFieldAndAreNoMissingTarget) {
  FlagStorePtr store =
      NewPostgresFlagStore([](const std::string&, const api::SecretKeyRef&) -> Result<std::string> {
        return NotFound("secret voice/flags-db not found");
      });
  Status applied = store->Apply(Desired());
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(applied.error().message(),
            "flag.postgres.connectionSecretRef: secret voice/flags-db not found");
}

TEST(PostgresFlagStore, ADownServerIsAFailedWriteWithoutThePassword) {
  // Port 1 on loopback: nothing listens, the connection is refused at once.
  const std::string uri = "postgresql://app:s3cr3t-pw@127.0.0.1:1/db?connect_timeout=2";
  FlagStorePtr store = NewPostgresFlagStore(
      [&](const std::string&, const api::SecretKeyRef&) -> Result<std::string> { return uri; });
  Status applied = store->Apply(Desired());
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.error().code(), ErrorCode::kUnavailable);
  EXPECT_THAT(applied.error().message(), HasSubstr("postgres table feature_flags: cannot connect"));
  EXPECT_THAT(applied.error().message(), Not(HasSubstr("s3cr3t-pw")));
}

TEST(ScrubConnectionSecrets, RemovesTheUriAndThePassword) {
  const std::string uri = "postgresql://app:hunter2@db:5432/flags";
  EXPECT_EQ(ScrubConnectionSecrets("bad uri " + uri + "\n", uri), "bad uri [redacted]");
  EXPECT_EQ(ScrubConnectionSecrets("password hunter2 rejected", uri),
            "password [redacted] rejected");
  EXPECT_EQ(ScrubConnectionSecrets("FATAL:  no\nsuch\tdb\n", "host=db password=pw"),
            "FATAL:  no such db");
  EXPECT_LE(ScrubConnectionSecrets(std::string(5000, 'x'), uri).size(), 403u);
}

}  // namespace
}  // namespace agentrollout::controllers
