// The SQL of the PostgreSQL flag store (API.md §5.3), built without a database so it can
// be tested alone. Identifiers (table, columns) come from the spec, are validated
// (api/sql_names.h) and double-quoted; every value -- flag keys, states, tenant lists,
// document paths -- is a bound parameter ($1, $2, ...), sent as text and typed by the
// server from the column it is compared with or cast to.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agentrollout/flag_client.h"
#include "api/types.h"
#include "common/result.h"

namespace agentrollout::controllers::postgres {

// One statement and its parameters.
struct Statement {
  std::string sql;
  std::vector<std::string> params;
  friend bool operator==(const Statement&, const Statement&) = default;
};

// "name"; a double quote inside would be doubled (validated names have none).
std::string QuoteIdentifier(std::string_view name);
// public.feature_flags -> "public"."feature_flags".
std::string QuoteTable(std::string_view table);
// {"a","b"}: a text[] literal, for a bound parameter.
std::string TextArrayLiteral(const std::vector<std::string>& items);

// kInvalidArgument, naming the field and value, unless every identifier of `store` is
// valid and the store is in exactly one mode (row: columns; document: jsonColumn and
// jsonPaths) -- the spec's validation, checked again here because these names go into SQL.
Status CheckStore(const api::PostgresFlagStore& store);

// The columns of `table` with their types (format_type), from the catalog; no row when the
// table does not exist.
Statement CatalogColumns(std::string_view table);

// How a column is written, from its catalog type.
enum class ColumnKind {
  kScalar,     // enabled, percentage: the text of the value, typed by the column
  kTextArray,  // text[] / varchar[] tenant list: built from a JSON array
  kJsonb,      // jsonb tenant list or document
};
// The kind for a tenant-list column of type `sql_type`; kFailedPrecondition for a type a
// list cannot go into.
Result<ColumnKind> TenantListKind(const std::string& column, const std::string& sql_type);

// Locks the rows whose key column is one of `keys`, in key order (writers sharing rows
// take their locks in the same order and never deadlock), and returns each row's key --
// and, in document mode, the document as text.
Statement LockRows(const api::PostgresFlagStore& store, const std::vector<std::string>& keys);

// A column and its new value (JSON text for lists, else the value's text).
struct ColumnValue {
  std::string column;
  std::string value;
  ColumnKind kind = ColumnKind::kScalar;
  friend bool operator==(const ColumnValue&, const ColumnValue&) = default;
};

// The mapped columns of one row and their values: the rollout's own flag (`own`) writes
// every mapped column; a phases[].flags row writes enabled and percentage only.
// `list_kinds` holds the kind of each mapped tenant-list column.
std::vector<ColumnValue> RowValues(const api::PostgresFields& columns, const flag::FlagState& state,
                                   bool own, const std::map<std::string, ColumnKind>& list_kinds);

// UPDATE of the row `key` that sets `values` only when one of them differs (a row already
// in that state is not written, and its triggers do not fire).
Statement UpdateRow(const api::PostgresFlagStore& store, const std::string& key,
                    const std::vector<ColumnValue>& values);

// Document mode: the dotted path of each value the flags want in the document, in order.
// The rollout's own flag (first) writes its mapped paths; each phases[].flags key is a path
// written true at 100, false at 0, else the number.
std::vector<std::pair<std::string, nlohmann::json>> DocumentValues(
    const api::PostgresFields& paths, const std::vector<flag::FlagState>& flags);

// A value to put at a path of the document.
struct PathWrite {
  std::vector<std::string> path;
  nlohmann::json value;
  friend bool operator==(const PathWrite&, const PathWrite&) = default;
};

// The writes that bring `document` (a JSON object) to `wanted`, applied to `document` as
// well; a path already holding its value needs none, and a missing parent is written as
// one nested object. kFailedPrecondition when a parent on a path is not an object: what
// the store does not understand is never overwritten.
Result<std::vector<PathWrite>> PlanDocument(
    nlohmann::json& document, const std::vector<std::pair<std::string, nlohmann::json>>& wanted,
    const std::string& where);

// UPDATE of the row `key` that applies `writes` to the document with jsonb_set, leaving
// every other path as it is (a NULL document counts as {}).
Statement UpdateDocument(const api::PostgresFlagStore& store, const std::string& key,
                         const std::vector<PathWrite>& writes);

}  // namespace agentrollout::controllers::postgres
