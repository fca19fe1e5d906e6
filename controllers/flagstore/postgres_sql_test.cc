#include "controllers/flagstore/postgres_sql.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace agentrollout::controllers::postgres {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

api::PostgresFlagStore Rows() {
  api::PostgresFlagStore store;
  store.connection_secret_ref = {"flags-db", "url"};
  store.table = "public.feature_flags";
  store.key_column = "name";
  store.columns = {"enabled", "percentage", "enabled_tenants", "disabled_tenants"};
  return store;
}

api::PostgresFlagStore Document() {
  api::PostgresFlagStore store;
  store.connection_secret_ref = {"flags-db", "url"};
  store.table = "app_config";
  store.key_column = "key";
  store.json_column = "value";
  store.json_paths.percentage = "unifiedServiceRolloutPercent";
  return store;
}

TEST(PostgresSql, QuotesIdentifiers) {
  EXPECT_EQ(QuoteIdentifier("name"), "\"name\"");
  EXPECT_EQ(QuoteIdentifier("Weird\"Name"), "\"Weird\"\"Name\"");
  EXPECT_EQ(QuoteTable("public.feature_flags"), "\"public\".\"feature_flags\"");
  EXPECT_EQ(QuoteTable("FeatureFlags"), "\"FeatureFlags\"");
  EXPECT_EQ(TextArrayLiteral({"a", "b\"c", "d\\e"}), R"({"a","b\"c","d\\e"})");
  EXPECT_EQ(TextArrayLiteral({}), "{}");
}

TEST(PostgresSql, CheckStoreRejectsHostileNamesAndMixedModes) {
  EXPECT_TRUE(CheckStore(Rows()).ok());
  EXPECT_TRUE(CheckStore(Document()).ok());
  api::PostgresFlagStore table = Rows();
  table.table = "feature_flags; DROP TABLE users; --";
  EXPECT_THAT(CheckStore(table).error().message(),
              HasSubstr("flag.postgres.table: must be an SQL identifier"));
  api::PostgresFlagStore column = Rows();
  column.columns.percentage = "percentage\" = 100 --";
  EXPECT_THAT(CheckStore(column).error().message(),
              HasSubstr("flag.postgres.columns.percentage: must be an SQL identifier"));
  api::PostgresFlagStore key = Rows();
  key.key_column = "name OR 1=1";
  EXPECT_THAT(CheckStore(key).error().message(), HasSubstr("flag.postgres.keyColumn"));
  api::PostgresFlagStore both = Document();
  both.columns.enabled = "enabled";
  EXPECT_THAT(CheckStore(both).error().message(), HasSubstr("exactly one"));
  api::PostgresFlagStore path = Document();
  path.json_paths.enabled = "a}'";
  EXPECT_THAT(CheckStore(path).error().message(), HasSubstr("not a dotted JSON path"));
  api::PostgresFlagStore secret = Rows();
  secret.connection_secret_ref.key = "";
  EXPECT_FALSE(CheckStore(secret).ok());
}

TEST(PostgresSql, CatalogAndLockBindEveryValue) {
  const Statement catalog = CatalogColumns("public.feature_flags");
  EXPECT_THAT(catalog.sql, HasSubstr("to_regclass($1)"));
  EXPECT_THAT(catalog.params, ElementsAre("\"public\".\"feature_flags\""));

  const Statement lock = LockRows(Rows(), {"voice_agent_v2", "x'); DROP TABLE t; --"});
  EXPECT_EQ(lock.sql,
            "SELECT \"name\"::text FROM \"public\".\"feature_flags\" WHERE \"name\"::text = "
            "ANY($1::text[]) ORDER BY 1 FOR UPDATE");
  EXPECT_THAT(lock.params, ElementsAre(R"({"voice_agent_v2","x'); DROP TABLE t; --"})"));

  const Statement document = LockRows(Document(), {"unified"});
  EXPECT_EQ(document.sql,
            "SELECT \"key\"::text, \"value\"::text FROM \"app_config\" WHERE \"key\"::text = "
            "ANY($1::text[]) ORDER BY 1 FOR UPDATE");
}

TEST(PostgresSql, TenantListKindFromTheCatalogType) {
  EXPECT_EQ(*TenantListKind("t", "text[]"), ColumnKind::kTextArray);
  EXPECT_EQ(*TenantListKind("t", "character varying(64)[]"), ColumnKind::kTextArray);
  EXPECT_EQ(*TenantListKind("t", "jsonb"), ColumnKind::kJsonb);
  auto text = TenantListKind("enabled_tenants", "text");
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.error().message(),
            "column \"enabled_tenants\" is text; a tenant list goes into a text[] or jsonb column");
}

TEST(PostgresSql, RowValuesWriteOnlyMappedColumns) {
  const flag::FlagState own{"voice_agent_v2", true, 10, {"t-1"}, {"t-\"vip\""}};
  const std::map<std::string, ColumnKind> kinds = {{"enabled_tenants", ColumnKind::kTextArray},
                                                   {"disabled_tenants", ColumnKind::kJsonb}};
  EXPECT_THAT(RowValues(Rows().columns, own, true, kinds),
              ElementsAre(ColumnValue{"enabled", "true", ColumnKind::kScalar},
                          ColumnValue{"percentage", "10", ColumnKind::kScalar},
                          ColumnValue{"enabled_tenants", R"(["t-1"])", ColumnKind::kTextArray},
                          ColumnValue{"disabled_tenants", R"(["t-\"vip\""])", ColumnKind::kJsonb}));
  // Another row of phases[].flags: enabled and percentage only.
  EXPECT_THAT(RowValues(Rows().columns, {"vouchers", true, 100, {}, {}}, false, kinds),
              ElementsAre(ColumnValue{"enabled", "true", ColumnKind::kScalar},
                          ColumnValue{"percentage", "100", ColumnKind::kScalar}));
  api::PostgresFields percentage_only;
  percentage_only.percentage = "pct";
  EXPECT_THAT(RowValues(percentage_only, own, true, kinds),
              ElementsAre(ColumnValue{"pct", "10", ColumnKind::kScalar}));
}

TEST(PostgresSql, UpdateRowWritesOnlyWhenAColumnDiffers) {
  const Statement update = UpdateRow(Rows(), "voice_agent_v2",
                                     {{"enabled", "false", ColumnKind::kScalar},
                                      {"enabled_tenants", R"(["t-1"])", ColumnKind::kTextArray},
                                      {"disabled_tenants", "[]", ColumnKind::kJsonb}});
  const std::string list =
      "ARRAY(SELECT e FROM jsonb_array_elements_text($3::jsonb) WITH ORDINALITY AS t(e, i) ORDER "
      "BY i)";
  EXPECT_EQ(update.sql,
            "UPDATE \"public\".\"feature_flags\" SET \"enabled\" = $2, "
            "\"enabled_tenants\" = " +
                list +
                ", \"disabled_tenants\" = $4::jsonb WHERE \"name\"::text = $1 "
                "AND (\"enabled\" IS DISTINCT FROM $2 OR \"enabled_tenants\" "
                "IS DISTINCT FROM " +
                list + " OR \"disabled_tenants\" IS DISTINCT FROM $4::jsonb)");
  EXPECT_THAT(update.params, ElementsAre("voice_agent_v2", "false", R"(["t-1"])", "[]"));
}

TEST(PostgresSql, DocumentValuesMapPathsAndExtraFlags) {
  api::PostgresFields paths;
  paths.enabled = "unifiedServiceEnabled";
  paths.percentage = "unifiedServiceRolloutPercent";
  const auto values = DocumentValues(paths, {{"app", true, 10, {}, {}},
                                             {"telemetry.on", true, 100, {}, {}},
                                             {"voucher", true, 0, {}, {}},
                                             {"whatsapp", true, 30, {}, {}},
                                             {"ai", false, 0, {}, {}}});
  EXPECT_THAT(values, ElementsAre(std::pair<std::string, json>{"unifiedServiceEnabled", true},
                                  std::pair<std::string, json>{"unifiedServiceRolloutPercent", 10},
                                  std::pair<std::string, json>{"telemetry.on", true},
                                  std::pair<std::string, json>{"voucher", false},
                                  std::pair<std::string, json>{"whatsapp", 30},
                                  std::pair<std::string, json>{"ai", false}));
}

TEST(PostgresSql, PlanDocumentWritesOnlyWhatDiffers) {
  json document = {{"unifiedServiceRolloutPercent", 1},
                   {"other", {{"keep", 1.25}}},
                   {"telemetry", {{"on", true}}}};
  auto writes = PlanDocument(document,
                             {{"unifiedServiceRolloutPercent", 10},
                              {"telemetry.on", true},
                              {"tenants.on", json::array({"t-1"})},
                              {"tenants.off", json::array()}},
                             "row");
  ASSERT_TRUE(writes.ok()) << writes.error().ToString();
  EXPECT_THAT(*writes, ElementsAre(PathWrite{{"unifiedServiceRolloutPercent"}, 10},
                                   PathWrite{{"tenants"}, {{"on", {"t-1"}}}},
                                   PathWrite{{"tenants", "off"}, json::array()}));
  EXPECT_EQ(document["other"], json({{"keep", 1.25}}));
  EXPECT_EQ(document["tenants"], json({{"on", {"t-1"}}, {"off", json::array()}}));

  const Statement update = UpdateDocument(Document(), "unified", *writes);
  EXPECT_EQ(update.sql,
            "UPDATE \"app_config\" SET \"value\" = jsonb_set(jsonb_set(jsonb_set(COALESCE("
            "\"value\", '{}'::jsonb), $2::text[], $3::jsonb, true), $4::text[], $5::jsonb, "
            "true), $6::text[], $7::jsonb, true) WHERE \"key\"::text = $1");
  EXPECT_THAT(update.params,
              ElementsAre("unified", R"({"unifiedServiceRolloutPercent"})", "10", R"({"tenants"})",
                          R"({"on":["t-1"]})", R"({"tenants","off"})", "[]"));

  json scalar_parent = {{"telemetry", 3}};
  auto refused = PlanDocument(scalar_parent, {{"telemetry.on", true}}, "row \"unified\"");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(refused.error().message(),
              HasSubstr("path telemetry is a JSON number, not an object"));
}

}  // namespace
}  // namespace agentrollout::controllers::postgres
