// The PostgreSQL flag store (controllers/flagstore/postgres_flags.h) against a real
// PostgreSQL 15 started by hack/postgres.sh: both modes, both tenant-list types, 50 rollouts
// sharing one table and one document, a competing transaction's row lock, hostile names, a
// restart mid-rollout, a rollback while the database is down, password authentication.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "api/codec.h"
#include "controllers/flagstore/postgres_flags.h"
#include "tests/harness/cluster.h"
#include "tests/harness/postgres.h"
#include "tests/harness/yaml_json.h"

namespace agentrollout::testing {
namespace {

using controllers::DesiredFlags;
using controllers::FlagStorePtr;
using controllers::NewPostgresFlagStore;
using controllers::PostgresOptions;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

// The test's own connection: plain SQL, rows as text.
class Sql {
 public:
  explicit Sql(const std::string& uri) : handle_(PQconnectdb(uri.c_str()), PQfinish) {}
  bool ok() const { return PQstatus(handle_.get()) == CONNECTION_OK; }

  // The rows of `sql` (each a vector of column texts, NULL as "NULL"); fails the test on an
  // SQL error.
  std::vector<std::vector<std::string>> Rows(const std::string& sql) {
    std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(handle_.get(), sql.c_str()),
                                                         PQclear);
    const ExecStatusType status = PQresultStatus(result.get());
    EXPECT_TRUE(status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
        << sql << ": " << PQerrorMessage(handle_.get());
    std::vector<std::vector<std::string>> rows;
    for (int r = 0; r < PQntuples(result.get()); ++r) {
      std::vector<std::string> row;
      for (int c = 0; c < PQnfields(result.get()); ++c) {
        row.push_back(PQgetisnull(result.get(), r, c) ? "NULL" : PQgetvalue(result.get(), r, c));
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }
  void Exec(const std::string& sql) { Rows(sql); }
  std::string Value(const std::string& sql) {
    auto rows = Rows(sql);
    return rows.empty() || rows[0].empty() ? "<no row>" : rows[0][0];
  }

 private:
  std::unique_ptr<PGconn, decltype(&PQfinish)> handle_;
};

class PostgresFlagsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    postgres_ = new PostgresFixture();
    Status started = postgres_->Start();
    ASSERT_TRUE(started.ok()) << started.error().ToString();
  }
  static void TearDownTestSuite() {
    delete postgres_;
    postgres_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(postgres_, nullptr);
    ASSERT_FALSE(postgres_->uri().empty());
    sql_ = std::make_unique<Sql>(postgres_->uri());
    ASSERT_TRUE(sql_->ok());
    sql_->Exec(
        "DROP TABLE IF EXISTS feature_flags, app_config, jsonb_flags CASCADE;"
        "CREATE TABLE feature_flags (name text PRIMARY KEY, enabled boolean NOT NULL DEFAULT "
        "false, percentage integer NOT NULL DEFAULT 0, enabled_tenants text[] NOT NULL DEFAULT "
        "'{}', disabled_tenants text[] NOT NULL DEFAULT '{}', description text, updated_at "
        "timestamptz);"
        "INSERT INTO feature_flags (name, description) VALUES ('voice_agent_v2', 'voice v2'), "
        "('voucher_creation', 'vouchers'), ('telemetry', 'telemetry');"
        "CREATE TABLE jsonb_flags (name text PRIMARY KEY, enabled boolean, percentage integer, "
        "enabled_tenants jsonb, disabled_tenants jsonb);"
        "INSERT INTO jsonb_flags (name) VALUES ('voice_agent_v2');"
        "CREATE TABLE app_config (key text PRIMARY KEY, value jsonb, note text);"
        "INSERT INTO app_config VALUES ('flags', "
        "'{\"unifiedServiceRolloutPercent\": 0, \"other\": {\"precise\": "
        "12345678901234567890.123456789, \"s\": \"kept\"}}', 'hand-written');");
    uri_ = postgres_->uri();
    store_ = NewStore({});
  }

  FlagStorePtr NewStore(PostgresOptions options) {
    return NewPostgresFlagStore(
        [this](const std::string&, const api::SecretKeyRef& ref) -> Result<std::string> {
          EXPECT_EQ(ref.name, "flags-db");
          return uri_;
        },
        options);
  }

  static DesiredFlags Rows(const std::string& table, int percent, bool enabled = true) {
    DesiredFlags desired;
    desired.namespace_ = "voice";
    desired.rollout = "voice/voice-agent-v2";
    api::PostgresFlagStore store;
    store.connection_secret_ref = {"flags-db", "url"};
    store.table = "public." + table;
    store.key_column = "name";
    store.columns = {"enabled", "percentage", "enabled_tenants", "disabled_tenants"};
    desired.postgres = store;
    desired.flags = {{"voice_agent_v2", enabled, percent, {"t-internal-1"}, {"t-vip-bank"}}};
    return desired;
  }

  static DesiredFlags Document(const std::string& path, int percent) {
    DesiredFlags desired;
    desired.namespace_ = "web";
    desired.rollout = "web/" + path;
    api::PostgresFlagStore store;
    store.connection_secret_ref = {"flags-db", "url"};
    store.table = "app_config";
    store.key_column = "key";
    store.json_column = "value";
    store.json_paths.percentage = path;
    desired.postgres = store;
    desired.flags = {{"flags", percent > 0, percent, {}, {}}};
    return desired;
  }

  std::string FlagRow() {
    auto rows = sql_->Rows(
        "SELECT enabled, percentage, enabled_tenants, disabled_tenants, description FROM "
        "feature_flags WHERE name = 'voice_agent_v2'");
    if (rows.empty()) return "<no row>";
    std::string out;
    for (const std::string& cell : rows[0]) out += (out.empty() ? "" : " ") + cell;
    return out;
  }

  static PostgresFixture* postgres_;
  std::unique_ptr<Sql> sql_;
  std::string uri_;
  FlagStorePtr store_;
};

PostgresFixture* PostgresFlagsTest::postgres_ = nullptr;

TEST_F(PostgresFlagsTest, RowModeWritesOnlyMappedColumnsOfTextArrayLists) {
  ASSERT_TRUE(store_->Apply(Rows("feature_flags", 10)).ok());
  EXPECT_EQ(FlagRow(), "t 10 {t-internal-1} {t-vip-bank} voice v2");
  // Idempotent: a row already in the state is not written (its xmin stays).
  const std::string xmin =
      sql_->Value("SELECT xmin FROM feature_flags WHERE name = 'voice_agent_v2'");
  ASSERT_TRUE(store_->Apply(Rows("feature_flags", 10)).ok());
  EXPECT_EQ(sql_->Value("SELECT xmin FROM feature_flags WHERE name = 'voice_agent_v2'"), xmin);
  // Total rollback.
  ASSERT_TRUE(store_->Apply(Rows("feature_flags", 0, false)).ok());
  EXPECT_EQ(FlagRow(), "f 0 {t-internal-1} {t-vip-bank} voice v2");
  // Other rows untouched.
  EXPECT_EQ(sql_->Value("SELECT enabled::text || percentage FROM feature_flags WHERE name = "
                        "'telemetry'"),
            "false0");
}

TEST_F(PostgresFlagsTest, RowModeJsonbListsAndPhaseFlagsRows) {
  ASSERT_TRUE(store_->Apply(Rows("jsonb_flags", 25)).ok());
  EXPECT_EQ(sql_->Value("SELECT enabled_tenants::text || ' ' || disabled_tenants::text || ' ' || "
                        "percentage FROM jsonb_flags"),
            R"(["t-internal-1"] ["t-vip-bank"] 25)");
  // phases[].flags: other rows' enabled and percentage.
  DesiredFlags phases = Rows("feature_flags", 10);
  phases.postgres->columns.disabled_tenants.clear();
  phases.flags.push_back({"telemetry", true, 100, {}, {}});
  phases.flags.push_back({"voucher_creation", true, 0, {}, {}});
  ASSERT_TRUE(store_->Apply(phases).ok());
  EXPECT_EQ(sql_->Rows("SELECT name, enabled::text, percentage::text FROM feature_flags ORDER BY "
                       "name"),
            (std::vector<std::vector<std::string>>{{"telemetry", "true", "100"},
                                                   {"voice_agent_v2", "true", "10"},
                                                   {"voucher_creation", "true", "0"}}));
  // A column left out of the mapping is not written.
  EXPECT_EQ(sql_->Value("SELECT disabled_tenants::text FROM feature_flags WHERE name = "
                        "'voice_agent_v2'"),
            "{}");
}

TEST_F(PostgresFlagsTest, DocumentModeChangesOnlyItsPaths) {
  const std::string other = sql_->Value("SELECT (value->'other')::text FROM app_config");
  for (int percent : {1, 10, 50, 100}) {
    ASSERT_TRUE(store_->Apply(Document("unifiedServiceRolloutPercent", percent)).ok());
    EXPECT_EQ(sql_->Value("SELECT value->>'unifiedServiceRolloutPercent' FROM app_config"),
              std::to_string(percent));
  }
  EXPECT_EQ(sql_->Value("SELECT (value->'other')::text FROM app_config"), other);
  EXPECT_THAT(other, HasSubstr("12345678901234567890.123456789"));
  EXPECT_EQ(sql_->Value("SELECT note FROM app_config"), "hand-written");
  // Every path kind: nested paths created, enabled, tenant lists, phases[].flags paths.
  DesiredFlags all = Document("unified.percent", 5);
  all.postgres->json_paths.enabled = "unified.enabled";
  all.postgres->json_paths.enabled_tenants = "unified.tenants.on";
  all.flags[0].enabled_tenants = {"t-1"};
  all.flags.push_back({"telemetry.enabled", true, 100, {}, {}});
  all.flags.push_back({"whatsapp", true, 30, {}, {}});
  ASSERT_TRUE(store_->Apply(all).ok());
  EXPECT_EQ(json::parse(sql_->Value("SELECT (value - 'other')::text FROM app_config")),
            json::parse(R"({"unifiedServiceRolloutPercent": 100,
                            "unified": {"percent": 5, "enabled": true, "tenants": {"on": ["t-1"]}},
                            "telemetry": {"enabled": true}, "whatsapp": 30})"));
}

// 50 rollouts: each its own row of one table, and its own path of one shared document,
// all writing at once, several times each: nothing lost.
TEST_F(PostgresFlagsTest, FiftyRolloutsShareOneTableAndOneDocument) {
  constexpr int kRollouts = 50;
  std::string insert = "INSERT INTO feature_flags (name) VALUES ";
  for (int i = 0; i < kRollouts; ++i)
    insert += (i ? ", " : "") + std::string("('flag_") + std::to_string(i) + "')";
  sql_->Exec(insert);
  std::vector<std::future<int>> writers;
  for (int i = 0; i < kRollouts; ++i) {
    writers.push_back(std::async(std::launch::async, [this, i] {
      int failures = 0;
      for (int percent : {5, 25, 50, 10 + i}) {
        DesiredFlags row = Rows("feature_flags", percent);
        row.flags[0].key = "flag_" + std::to_string(i);
        failures += store_->Apply(row).ok() ? 0 : 1;
        failures += store_->Apply(Document("rollout_" + std::to_string(i), percent)).ok() ? 0 : 1;
      }
      return failures;
    }));
  }
  int failures = 0;
  for (auto& writer : writers) failures += writer.get();
  EXPECT_EQ(failures, 0);
  const json document = json::parse(sql_->Value("SELECT value::text FROM app_config"));
  int lost = 0;
  for (int i = 0; i < kRollouts; ++i) {
    const std::string key = "flag_" + std::to_string(i);
    if (sql_->Value("SELECT percentage FROM feature_flags WHERE name = '" + key + "'") !=
        std::to_string(10 + i)) {
      ++lost;
    }
    if (document.value("rollout_" + std::to_string(i), -1) != 10 + i) ++lost;
  }
  EXPECT_EQ(lost, 0) << document.dump();
}

// A competing transaction holds the row lock: the store waits for it (it does not write
// around it), then writes on top of the committed row.
TEST_F(PostgresFlagsTest, WaitsForACompetingTransactionsRowLock) {
  Sql competitor(postgres_->uri());
  competitor.Exec("BEGIN");
  competitor.Exec("SELECT * FROM feature_flags WHERE name = 'voice_agent_v2' FOR UPDATE");
  competitor.Exec("UPDATE feature_flags SET percentage = 77 WHERE name = 'voice_agent_v2'");
  const auto started = std::chrono::steady_clock::now();
  auto write =
      std::async(std::launch::async, [this] { return store_->Apply(Rows("feature_flags", 10)); });
  EXPECT_EQ(write.wait_for(std::chrono::milliseconds(700)), std::future_status::timeout)
      << "the store wrote while another transaction held the row lock";
  EXPECT_EQ(sql_->Value("SELECT percentage FROM feature_flags WHERE name = 'voice_agent_v2'"), "0");
  competitor.Exec("COMMIT");
  Status written = write.get();
  ASSERT_TRUE(written.ok()) << written.error().ToString();
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(700));
  EXPECT_EQ(FlagRow(), "t 10 {t-internal-1} {t-vip-bank} voice v2");

  // A lock held longer than the statement timeout: a failed write, nothing written.
  PostgresOptions impatient;
  impatient.statement_timeout = std::chrono::milliseconds(300);
  FlagStorePtr store = NewStore(impatient);
  competitor.Exec("BEGIN");
  competitor.Exec("SELECT * FROM feature_flags WHERE name = 'voice_agent_v2' FOR UPDATE");
  Status timed_out = store->Apply(Rows("feature_flags", 50));
  competitor.Exec("ROLLBACK");
  ASSERT_FALSE(timed_out.ok());
  EXPECT_EQ(timed_out.error().code(), ErrorCode::kDeadlineExceeded) << timed_out.error().ToString();
  EXPECT_EQ(FlagRow(), "t 10 {t-internal-1} {t-vip-bank} voice v2");
}

TEST_F(PostgresFlagsTest, MissingTableColumnOrRowIsNotFoundWithNothingWritten) {
  DesiredFlags table = Rows("no_such_table", 10);
  Status missing_table = store_->Apply(table);
  ASSERT_FALSE(missing_table.ok());
  EXPECT_EQ(missing_table.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(missing_table.error().message(),
              HasSubstr("postgres table public.no_such_table: does not exist"));

  DesiredFlags column = Rows("feature_flags", 10);
  column.postgres->columns.percentage = "rollout_percent";
  Status missing_column = store_->Apply(column);
  ASSERT_FALSE(missing_column.ok());
  EXPECT_EQ(missing_column.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(missing_column.error().message(),
            "postgres table public.feature_flags: has no column \"rollout_percent\" "
            "(flag.postgres.columns.percentage)");

  // One of two rows missing: neither is written (one transaction).
  DesiredFlags row = Rows("feature_flags", 10);
  row.flags.push_back({"no_such_flag", true, 100, {}, {}});
  Status missing_row = store_->Apply(row);
  ASSERT_FALSE(missing_row.ok());
  EXPECT_EQ(missing_row.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(missing_row.error().message(),
              HasSubstr("has no row with name = \"no_such_flag\"; insert it"));
  EXPECT_EQ(FlagRow(), "f 0 {} {} voice v2");

  // Release with state of a target that is gone counts as done for the executor (kNotFound).
  EXPECT_EQ(store_->Release(table, controllers::ReleaseMode::kWithState).error().code(),
            ErrorCode::kNotFound);
  EXPECT_TRUE(store_->Release(table, controllers::ReleaseMode::kOwnerOnly).ok());

  // Created afterwards: the next write finds it (the catalog is read again).
  sql_->Exec(
      "CREATE TABLE no_such_table (name text PRIMARY KEY, enabled boolean, percentage "
      "int, enabled_tenants text[], disabled_tenants jsonb);"
      "INSERT INTO no_such_table (name) VALUES ('voice_agent_v2')");
  Status created = store_->Apply(table);
  EXPECT_TRUE(created.ok()) << created.error().ToString();
}

TEST_F(PostgresFlagsTest, HostileFlagKeyAndColumnNamesAreRejected) {
  DesiredFlags key = Rows("feature_flags", 10);
  key.flags[0].key = "voice_agent_v2'; DROP TABLE feature_flags; --";
  EXPECT_EQ(store_->Apply(key).error().code(), ErrorCode::kInvalidArgument);
  DesiredFlags column = Rows("feature_flags", 10);
  column.postgres->columns.enabled = "enabled\" = true; DROP TABLE feature_flags; --";
  EXPECT_EQ(store_->Apply(column).error().code(), ErrorCode::kInvalidArgument);
  DesiredFlags table = Rows("feature_flags", 10);
  table.postgres->table = "feature_flags; DROP TABLE app_config";
  EXPECT_EQ(store_->Apply(table).error().code(), ErrorCode::kInvalidArgument);
  // Tenant names are values: quotes and braces land as text.
  DesiredFlags tenants = Rows("feature_flags", 10);
  tenants.flags[0].enabled_tenants = {"t'); DROP TABLE feature_flags; --", "a\"b}", "c,d"};
  ASSERT_TRUE(store_->Apply(tenants).ok());
  EXPECT_EQ(sql_->Value("SELECT array_length(enabled_tenants, 1)::text || '|' || "
                        "enabled_tenants[1] || '|' || enabled_tenants[2] FROM feature_flags "
                        "WHERE name = 'voice_agent_v2'"),
            "3|t'); DROP TABLE feature_flags; --|a\"b}");
  EXPECT_EQ(sql_->Value("SELECT count(*) FROM feature_flags"), "3");
  EXPECT_EQ(sql_->Value("SELECT count(*) FROM app_config"), "1");
}

TEST_F(PostgresFlagsTest, SurvivesARestartMidRollout) {
  // Four writers at once leave four pooled connections idle; the restart kills them all.
  std::vector<std::future<Status>> writers;
  for (int i = 0; i < 4; ++i) {
    writers.push_back(std::async(std::launch::async,
                                 [this] { return store_->Apply(Rows("feature_flags", 10)); }));
  }
  for (auto& writer : writers) ASSERT_TRUE(writer.get().ok());
  ASSERT_TRUE(postgres_->StopServer().ok());
  ASSERT_TRUE(postgres_->StartServer().ok());
  Status advanced = store_->Apply(Rows("feature_flags", 50));
  ASSERT_TRUE(advanced.ok()) << advanced.error().ToString();
  sql_ = std::make_unique<Sql>(postgres_->uri());
  EXPECT_EQ(FlagRow(), "t 50 {t-internal-1} {t-vip-bank} voice v2");
}

TEST_F(PostgresFlagsTest, RollbackWhileTheDatabaseIsDownLandsWhenItIsBack) {
  ASSERT_TRUE(store_->Apply(Rows("feature_flags", 25)).ok());
  ASSERT_TRUE(postgres_->StopServer().ok());
  for (int attempt = 0; attempt < 3; ++attempt) {  // the executor's retries
    Status down = store_->Apply(Rows("feature_flags", 0, false));
    ASSERT_FALSE(down.ok());
    EXPECT_EQ(down.error().code(), ErrorCode::kUnavailable) << down.error().ToString();
  }
  ASSERT_TRUE(postgres_->StartServer().ok());
  Status rolled_back = store_->Apply(Rows("feature_flags", 0, false));
  ASSERT_TRUE(rolled_back.ok()) << rolled_back.error().ToString();
  sql_ = std::make_unique<Sql>(postgres_->uri());
  EXPECT_EQ(FlagRow(), "f 0 {t-internal-1} {t-vip-bank} voice v2");
}

TEST_F(PostgresFlagsTest, PasswordFromTheUriAndNeverInMessages) {
  sql_->Exec(
      "DROP ROLE IF EXISTS flag_writer; CREATE ROLE flag_writer LOGIN PASSWORD "
      "'pw-Secret-42'; GRANT SELECT, UPDATE ON feature_flags TO flag_writer");
  uri_ = postgres_->UriFor("flag_writer", "pw-Secret-42");
  Status written = store_->Apply(Rows("feature_flags", 10));
  ASSERT_TRUE(written.ok()) << written.error().ToString();
  EXPECT_EQ(FlagRow(), "t 10 {t-internal-1} {t-vip-bank} voice v2");

  uri_ = postgres_->UriFor("flag_writer", "wrong-Secret-43");
  Status refused = store_->Apply(Rows("feature_flags", 50));
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.error().message(), HasSubstr("password authentication failed"));
  EXPECT_THAT(refused.error().message(), Not(HasSubstr("wrong-Secret-43")));
  EXPECT_THAT(refused.error().message(), Not(HasSubstr(uri_)));
  EXPECT_EQ(FlagRow(), "t 10 {t-internal-1} {t-vip-bank} voice v2");
  sql_->Exec("REVOKE ALL ON feature_flags FROM flag_writer; DROP ROLE flag_writer");
}

// TLS is what the URI's sslmode says: this test server has no TLS, so sslmode=require is
// refused rather than silently sent in the clear, and sslmode=disable connects.
TEST_F(PostgresFlagsTest, TlsAsTheUriSays) {
  uri_ = postgres_->uri() + "?sslmode=require";
  Status required = store_->Apply(Rows("feature_flags", 10));
  ASSERT_FALSE(required.ok());
  EXPECT_EQ(required.error().code(), ErrorCode::kUnavailable);
  EXPECT_THAT(required.error().message(), HasSubstr("does not support SSL"));
  EXPECT_EQ(FlagRow(), "f 0 {} {} voice v2");
  uri_ = postgres_->uri() + "?sslmode=disable";
  EXPECT_TRUE(store_->Apply(Rows("feature_flags", 10)).ok());
}

// examples/*-postgres.yaml on the tables of examples/sql/, as the least-privileged role the
// SQL grants: every phase's percentage lands, then a total rollback.
TEST_F(PostgresFlagsTest, TheExamplesRunOnTheirTables) {
  sql_->Exec(
      "DROP TABLE IF EXISTS feature_flags, app_config; DROP ROLE IF EXISTS flag_writer;"
      "CREATE ROLE flag_writer LOGIN PASSWORD 'example-pw'");
  int examples = 0;
  for (const char* name : {"voice-agent-postgres.yaml", "unified-webhook-postgres.yaml"}) {
    SCOPED_TRACE(name);
    auto documents = LoadYamlDocuments(SourceDir() / "examples" / name);
    ASSERT_TRUE(documents.ok()) << documents.error().ToString();
    auto rollout = api::DecodeAgentRollout(documents->at(0));
    ASSERT_TRUE(rollout.ok()) << rollout.error().ToString();
    const api::FlagSpec& flag = *rollout->spec.flag;
    ASSERT_TRUE(flag.postgres);
    std::string table = flag.postgres->table;
    table = table.substr(table.find('.') + 1);
    std::ifstream file(SourceDir() / "examples" / "sql" / (table + ".sql"));
    std::stringstream text;
    text << file.rdbuf();
    ASSERT_FALSE(text.str().empty()) << "examples/sql/" << table << ".sql";
    sql_->Exec(text.str());
    uri_ = postgres_->UriFor("flag_writer", "example-pw");

    DesiredFlags desired;
    desired.namespace_ = rollout->metadata.namespace_;
    desired.rollout = desired.namespace_ + "/" + rollout->metadata.name;
    desired.postgres = flag.postgres;
    std::vector<std::string> seen;
    for (const api::PhaseSpec& phase : rollout->spec.phases) {
      desired.flags = {
          {flag.key, true, phase.flag_percent, flag.enabled_tenants, flag.disabled_tenants}};
      Status applied = store_->Apply(desired);
      ASSERT_TRUE(applied.ok()) << applied.error().ToString();
      seen.push_back(
          flag.postgres->json_column.empty()
              ? sql_->Value("SELECT percentage FROM feature_flags WHERE name = '" + flag.key + "'")
              : sql_->Value("SELECT value->>'unifiedServiceRolloutPercent' FROM "
                            "app_config WHERE key = '" +
                            flag.key + "'"));
    }
    std::vector<std::string> want;
    for (const api::PhaseSpec& phase : rollout->spec.phases) {
      want.push_back(std::to_string(phase.flag_percent));
    }
    EXPECT_EQ(seen, want);
    desired.flags = {{flag.key, false, 0, flag.enabled_tenants, flag.disabled_tenants}};
    ASSERT_TRUE(store_->Apply(desired).ok());
    ++examples;
  }
  EXPECT_EQ(sql_->Value("SELECT enabled::text || percentage || array_to_string(enabled_tenants, "
                        "',') || description FROM feature_flags"),
            "false0t-internal-1,t-internal-2Voice agent v2 (driven by AgentRollout "
            "voice/voice-agent-v2-postgres)");
  EXPECT_EQ(json::parse(sql_->Value("SELECT value::text FROM app_config")),
            json::parse(R"({"unifiedServiceEnabled": false, "unifiedServiceRolloutPercent": 0,
                            "legacyRetries": 3})"));
  EXPECT_EQ(examples, 2);
  sql_->Exec("DROP TABLE feature_flags, app_config; DROP ROLE flag_writer");
}

}  // namespace
}  // namespace agentrollout::testing
