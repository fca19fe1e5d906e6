#include "controllers/flagstore/postgres_sql.h"

#include "api/sql_names.h"
#include "controllers/json_members.h"

namespace agentrollout::controllers::postgres {
namespace {

using nlohmann::json;

// "$N" for the next parameter of `statement`, which takes `value`.
std::string Bind(Statement& statement, std::string value) {
  statement.params.push_back(std::move(value));
  return "$" + std::to_string(statement.params.size());
}

// The SQL expression of a bound column value, typed for its column.
std::string ValueExpression(Statement& statement, const ColumnValue& value) {
  const std::string param = Bind(statement, value.value);
  switch (value.kind) {
    case ColumnKind::kTextArray:
      // Order kept: WITH ORDINALITY numbers the elements as they are in the JSON array.
      return "ARRAY(SELECT e FROM jsonb_array_elements_text(" + param +
             "::jsonb) WITH ORDINALITY AS t(e, i) ORDER BY i)";
    case ColumnKind::kJsonb:
      return param + "::jsonb";
    case ColumnKind::kScalar:
      break;
  }
  return param;
}

Status CheckIdentifier(const std::string& field, const std::string& value) {
  if (api::IsSqlIdentifier(value)) return OkStatus();
  return InvalidArgument("flag.postgres." + field +
                         ": must be an SQL identifier [A-Za-z_][A-Za-z0-9_]* (at most 63), got " +
                         json(value).dump(-1, ' ', false, json::error_handler_t::replace));
}

}  // namespace

std::string QuoteIdentifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string QuoteTable(std::string_view table) {
  const std::size_t dot = table.find('.');
  if (dot == std::string_view::npos) return QuoteIdentifier(table);
  return QuoteIdentifier(table.substr(0, dot)) + "." + QuoteIdentifier(table.substr(dot + 1));
}

std::string TextArrayLiteral(const std::vector<std::string>& items) {
  std::string out = "{";
  for (const std::string& item : items) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (char c : item) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

Status CheckStore(const api::PostgresFlagStore& store) {
  if (store.connection_secret_ref.name.empty() || store.connection_secret_ref.key.empty()) {
    return InvalidArgument("flag.postgres.connectionSecretRef: name and key must not be empty");
  }
  if (!api::IsQualifiedSqlIdentifier(store.table)) {
    return InvalidArgument(
        "flag.postgres.table: must be an SQL identifier [A-Za-z_][A-Za-z0-9_]* (at most 63, "
        "optionally schema.table), got " +
        json(store.table).dump(-1, ' ', false, json::error_handler_t::replace));
  }
  if (Status key = CheckIdentifier("keyColumn", store.key_column); !key.ok()) return key;
  const api::PostgresFields none;
  const bool document = !store.json_column.empty();
  if (document == (store.columns != none) || document == (store.json_paths == none)) {
    return InvalidArgument(
        "flag.postgres: set columns (row mode) or jsonColumn and jsonPaths (JSON document "
        "mode), exactly one");
  }
  if (document) {
    if (Status column = CheckIdentifier("jsonColumn", store.json_column); !column.ok()) {
      return column;
    }
    for (const std::string* path :
         {&store.json_paths.enabled, &store.json_paths.percentage,
          &store.json_paths.enabled_tenants, &store.json_paths.disabled_tenants}) {
      if (!path->empty() && !api::IsJsonPath(*path)) {
        return InvalidArgument("flag.postgres.jsonPaths: not a dotted JSON path: " +
                               json(*path).dump(-1, ' ', false, json::error_handler_t::replace));
      }
    }
    return OkStatus();
  }
  const std::pair<const char*, const std::string*> columns[] = {
      {"columns.enabled", &store.columns.enabled},
      {"columns.percentage", &store.columns.percentage},
      {"columns.enabledTenants", &store.columns.enabled_tenants},
      {"columns.disabledTenants", &store.columns.disabled_tenants}};
  for (const auto& [field, column] : columns) {
    if (column->empty()) continue;
    if (Status valid = CheckIdentifier(field, *column); !valid.ok()) return valid;
  }
  return OkStatus();
}

Statement CatalogColumns(std::string_view table) {
  Statement statement;
  // to_regclass is NULL for a table that does not exist (or is not visible): no rows.
  statement.sql =
      "SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod) "
      "FROM pg_catalog.pg_attribute a WHERE a.attrelid = pg_catalog.to_regclass(" +
      Bind(statement, QuoteTable(table)) + ") AND a.attnum > 0 AND NOT a.attisdropped";
  return statement;
}

Result<ColumnKind> TenantListKind(const std::string& column, const std::string& sql_type) {
  if (sql_type == "text[]" || sql_type.rfind("character varying", 0) == 0) {
    if (sql_type.size() > 2 && sql_type.substr(sql_type.size() - 2) == "[]") {
      return ColumnKind::kTextArray;
    }
  }
  if (sql_type == "jsonb") return ColumnKind::kJsonb;
  return Error(ErrorCode::kFailedPrecondition,
               "column " + QuoteIdentifier(column) + " is " + sql_type +
                   "; a tenant list goes into a text[] or jsonb column");
}

Statement LockRows(const api::PostgresFlagStore& store, const std::vector<std::string>& keys) {
  Statement statement;
  const std::string key = QuoteIdentifier(store.key_column);
  std::string columns = key + "::text";
  if (!store.json_column.empty()) columns += ", " + QuoteIdentifier(store.json_column) + "::text";
  statement.sql = "SELECT " + columns + " FROM " + QuoteTable(store.table) + " WHERE " + key +
                  "::text = ANY(" + Bind(statement, TextArrayLiteral(keys)) +
                  "::text[]) ORDER BY 1 FOR UPDATE";
  return statement;
}

std::vector<ColumnValue> RowValues(const api::PostgresFields& columns, const flag::FlagState& state,
                                   bool own, const std::map<std::string, ColumnKind>& list_kinds) {
  std::vector<ColumnValue> values;
  if (!columns.enabled.empty()) {
    values.push_back({columns.enabled, state.enabled ? "true" : "false", ColumnKind::kScalar});
  }
  if (!columns.percentage.empty()) {
    values.push_back({columns.percentage, std::to_string(state.percentage), ColumnKind::kScalar});
  }
  if (!own) return values;
  const std::pair<const std::string*, const std::vector<std::string>*> lists[] = {
      {&columns.enabled_tenants, &state.enabled_tenants},
      {&columns.disabled_tenants, &state.disabled_tenants}};
  for (const auto& [column, tenants] : lists) {
    if (column->empty()) continue;
    const auto kind = list_kinds.find(*column);
    values.push_back({*column, json(*tenants).dump(-1, ' ', false, json::error_handler_t::replace),
                      kind == list_kinds.end() ? ColumnKind::kJsonb : kind->second});
  }
  return values;
}

Statement UpdateRow(const api::PostgresFlagStore& store, const std::string& key,
                    const std::vector<ColumnValue>& values) {
  Statement statement;
  const std::string key_param = Bind(statement, key);
  std::string sets;
  std::string differs;
  for (const ColumnValue& value : values) {
    const std::string column = QuoteIdentifier(value.column);
    const std::string expression = ValueExpression(statement, value);
    sets += (sets.empty() ? "" : ", ") + column + " = " + expression;
    differs += (differs.empty() ? "" : " OR ") + column + " IS DISTINCT FROM " + expression;
  }
  statement.sql = "UPDATE " + QuoteTable(store.table) + " SET " + sets + " WHERE " +
                  QuoteIdentifier(store.key_column) + "::text = " + key_param + " AND (" + differs +
                  ")";
  return statement;
}

std::vector<std::pair<std::string, json>> DocumentValues(
    const api::PostgresFields& paths, const std::vector<flag::FlagState>& flags) {
  std::vector<std::pair<std::string, json>> values;
  if (flags.empty()) return values;
  const flag::FlagState& own = flags.front();
  if (!paths.enabled.empty()) values.emplace_back(paths.enabled, own.enabled);
  if (!paths.percentage.empty()) values.emplace_back(paths.percentage, own.percentage);
  if (!paths.enabled_tenants.empty()) {
    values.emplace_back(paths.enabled_tenants, own.enabled_tenants);
  }
  if (!paths.disabled_tenants.empty()) {
    values.emplace_back(paths.disabled_tenants, own.disabled_tenants);
  }
  for (std::size_t i = 1; i < flags.size(); ++i) {
    const flag::FlagState& extra = flags[i];
    const int percent = extra.enabled ? extra.percentage : 0;
    json value = percent;
    if (percent == 100) value = true;
    if (percent == 0) value = false;
    values.emplace_back(extra.key, std::move(value));
  }
  return values;
}

Result<std::vector<PathWrite>> PlanDocument(json& document,
                                            const std::vector<std::pair<std::string, json>>& wanted,
                                            const std::string& where) {
  std::vector<PathWrite> writes;
  for (const auto& [dotted, value] : wanted) {
    const std::vector<std::string> path = api::SplitJsonPath(dotted);
    json* node = &document;
    std::size_t depth = 0;
    // Down to the deepest existing parent.
    for (; depth + 1 < path.size(); ++depth) {
      json* child = Member(*node, path[depth]);
      if (child == nullptr) break;
      if (!child->is_object()) {
        std::string prefix;
        for (std::size_t i = 0; i <= depth; ++i) prefix += (i ? "." : "") + path[i];
        return Error(ErrorCode::kFailedPrecondition,
                     where + ": path " + prefix + " is a JSON " + child->type_name() +
                         ", not an object, so " + dotted +
                         " cannot be written; fix or remove it, it is never overwritten");
      }
      node = child;
    }
    const json* leaf = depth + 1 == path.size() ? Member(*node, path[depth]) : nullptr;
    if (leaf != nullptr && *leaf == value) continue;
    // Write at the first missing segment: the rest of the path as nested objects.
    json written = value;
    for (std::size_t i = path.size() - 1; i > depth; --i) written = json{{path[i], written}};
    (*node)[path[depth]] = written;
    writes.push_back(
        {std::vector<std::string>(path.begin(), path.begin() + depth + 1), std::move(written)});
  }
  return writes;
}

Statement UpdateDocument(const api::PostgresFlagStore& store, const std::string& key,
                         const std::vector<PathWrite>& writes) {
  Statement statement;
  const std::string key_param = Bind(statement, key);
  const std::string column = QuoteIdentifier(store.json_column);
  std::string expression = "COALESCE(" + column + ", '{}'::jsonb)";
  for (const PathWrite& write : writes) {
    const std::string path = Bind(statement, TextArrayLiteral(write.path));
    const std::string value =
        Bind(statement, write.value.dump(-1, ' ', false, json::error_handler_t::replace));
    expression = "jsonb_set(" + expression + ", " + path + "::text[], " + value + "::jsonb, true)";
  }
  statement.sql = "UPDATE " + QuoteTable(store.table) + " SET " + column + " = " + expression +
                  " WHERE " + QuoteIdentifier(store.key_column) + "::text = " + key_param;
  return statement;
}

}  // namespace agentrollout::controllers::postgres
