#include "controllers/flagstore/postgres_flags.h"

#include <libpq-fe.h>

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>
#include <vector>

#include "api/sql_names.h"
#include "common/text.h"
#include "controllers/flagstore/flag_stores.h"
#include "controllers/flagstore/postgres_sql.h"
#include "kube/secret_data.h"

namespace agentrollout::controllers {
namespace {

using postgres::ColumnKind;
using postgres::Statement;

// A URI longer than this is not a connection string anyone wrote.
constexpr std::size_t kMaxUri = 4096;
constexpr std::size_t kMaxMessage = 400;

struct ConnectionCloser {
  void operator()(PGconn* connection) const { PQfinish(connection); }
};
struct ResultClearer {
  void operator()(PGresult* result) const { PQclear(result); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultClearer>;

// One server connection and what it learnt from the catalog.
struct Connection {
  std::unique_ptr<PGconn, ConnectionCloser> handle;
  // Table -> column -> type, read once per connection (API.md §5.3).
  std::map<std::string, std::map<std::string, std::string>> columns;
};
using ConnectionPtr = std::unique_ptr<Connection>;

// The idle connections of one Secret's URI.
struct Pool {
  std::string uri;
  std::mutex mu;
  std::vector<ConnectionPtr> idle;
};

std::string Quoted(const std::string& text) {
  return nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

class PostgresFlagStore final : public FlagStore {
 public:
  PostgresFlagStore(ConnectionUriSource uris, PostgresOptions options)
      : uris_(std::move(uris)), options_(options) {}

  Status Apply(const DesiredFlags& desired) override {
    if (Status valid = CheckInput(desired); !valid.ok()) return valid;
    auto uri = uris_(desired.namespace_, desired.postgres->connection_secret_ref);
    if (!uri.ok()) {
      // A missing Secret is not a missing flag target (FlagTargetNotFound): it is reported
      // as a failed precondition naming the Secret.
      const ErrorCode code = uri.error().code() == ErrorCode::kNotFound
                                 ? ErrorCode::kFailedPrecondition
                                 : uri.error().code();
      return Error(code, "flag.postgres.connectionSecretRef: " + uri.error().message());
    }
    if (uri->empty() || uri->size() > kMaxUri) {
      return InvalidArgument("flag.postgres.connectionSecretRef: the connection URI must be 1.." +
                             std::to_string(kMaxUri) + " bytes, got " +
                             std::to_string(uri->size()));
    }
    const std::string where = "postgres table " + desired.postgres->table;
    std::shared_ptr<Pool> pool = PoolFor(desired, *uri);
    // A pooled connection may have died with a server restart; that is only found out by
    // using it. Then its idle siblings are as dead: they are dropped, and the write is
    // retried once on a new connection.
    for (int attempt = 0;; ++attempt) {
      bool reused = false;
      auto connection = Acquire(*pool, reused);
      if (!connection.ok()) return connection.error().WithContext(where);
      Status written = Transaction(**connection, desired, where, pool->uri);
      const bool broken = PQstatus((*connection)->handle.get()) != CONNECTION_OK;
      Return(*pool, std::move(*connection));
      if (written.ok() || !broken || !reused || attempt > 0) return written;
      std::lock_guard lock(pool->mu);
      pool->idle.clear();
    }
  }

  Status Release(const DesiredFlags& desired, ReleaseMode mode) override {
    if (Status valid = CheckInput(desired); !valid.ok()) return valid;
    // The table records no owner (only mapped columns are written): letting go is writing
    // the state, when asked to.
    return mode == ReleaseMode::kWithState ? Apply(desired) : OkStatus();
  }

 private:
  static Status CheckInput(const DesiredFlags& desired) {
    if (Status valid = CheckDesiredFlags(desired); !valid.ok()) return valid;
    if (!desired.postgres) {
      return InvalidArgument("flag.postgres: not set (this store writes PostgreSQL only)");
    }
    if (Status store = postgres::CheckStore(*desired.postgres); !store.ok()) return store;
    const bool document = !desired.postgres->json_column.empty();
    for (std::size_t i = 0; i < desired.flags.size(); ++i) {
      const std::string& key = desired.flags[i].key;
      const bool path = document && i > 0;
      if (path ? !api::IsJsonPath(key) : !api::IsFlagKey(key)) {
        return InvalidArgument("flags: " + Quoted(key) + " is not a " +
                               (path ? "dotted JSON path" : "flag key ^[A-Za-z0-9_.-]{1,128}$"));
      }
    }
    return OkStatus();
  }

  std::shared_ptr<Pool> PoolFor(const DesiredFlags& desired, const std::string& uri) {
    const api::SecretKeyRef& ref = desired.postgres->connection_secret_ref;
    const std::string key = desired.namespace_ + "/" + ref.name + "/" + ref.key;
    std::lock_guard lock(mu_);
    std::shared_ptr<Pool>& pool = pools_[key];
    if (!pool || pool->uri != uri) {  // a changed Secret gets fresh connections
      pool = std::make_shared<Pool>();
      pool->uri = uri;
    }
    return pool;
  }

  Result<ConnectionPtr> Acquire(Pool& pool, bool& reused) {
    {
      std::lock_guard lock(pool.mu);
      if (!pool.idle.empty()) {
        ConnectionPtr connection = std::move(pool.idle.back());
        pool.idle.pop_back();
        reused = true;
        return connection;
      }
    }
    return Connect(pool.uri);
  }

  void Return(Pool& pool, ConnectionPtr connection) {
    PGconn* handle = connection->handle.get();
    if (PQstatus(handle) != CONNECTION_OK || PQtransactionStatus(handle) != PQTRANS_IDLE) return;
    std::lock_guard lock(pool.mu);
    if (pool.idle.size() < options_.connections_per_secret) {
      pool.idle.push_back(std::move(connection));
    }
  }

  Result<ConnectionPtr> Connect(const std::string& uri) const {
    // Keywords before dbname are defaults the URI may override (expand_dbname).
    const std::string timeout = std::to_string(options_.connect_timeout.count());
    const char* keywords[] = {"connect_timeout", "application_name", "dbname", nullptr};
    const char* values[] = {timeout.c_str(), "agentrollout-operator", uri.c_str(), nullptr};
    auto connection = std::make_unique<Connection>();
    connection->handle.reset(PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
    PGconn* handle = connection->handle.get();
    if (handle == nullptr) return Unavailable("cannot allocate a libpq connection");
    if (PQstatus(handle) != CONNECTION_OK) {
      return Unavailable("cannot connect: " + ScrubConnectionSecrets(PQerrorMessage(handle), uri));
    }
    const std::string set_timeout =
        "SET statement_timeout = " + std::to_string(options_.statement_timeout.count());
    ResultPtr result(PQexec(handle, set_timeout.c_str()));
    if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
      return Unavailable("cannot set the statement timeout: " +
                         ScrubConnectionSecrets(PQerrorMessage(handle), uri));
    }
    return connection;
  }

  // Runs `statement`; the error is classified for the executor: a missing table or column
  // kNotFound, a statement timeout kDeadlineExceeded, a lost connection kUnavailable.
  static Result<ResultPtr> Run(Connection& connection, const Statement& statement,
                               const std::string& uri) {
    std::vector<const char*> params;
    params.reserve(statement.params.size());
    for (const std::string& param : statement.params) params.push_back(param.c_str());
    PGconn* handle = connection.handle.get();
    ResultPtr result(PQexecParams(handle, statement.sql.c_str(), static_cast<int>(params.size()),
                                  nullptr, params.data(), nullptr, nullptr, 0));
    const ExecStatusType status = PQresultStatus(result.get());
    if (result && (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)) return result;
    const char* state = result ? PQresultErrorField(result.get(), PG_DIAG_SQLSTATE) : nullptr;
    const std::string sqlstate = state ? state : "";
    std::string message = ScrubConnectionSecrets(PQerrorMessage(handle), uri);
    if (PQstatus(handle) != CONNECTION_OK || sqlstate.rfind("08", 0) == 0) {
      return Unavailable("connection lost: " + message);
    }
    if (sqlstate == "42P01" || sqlstate == "42703" || sqlstate == "3F000") {
      return NotFound(message);
    }
    if (sqlstate == "57014") {
      return Error(ErrorCode::kDeadlineExceeded, "statement timeout: " + message);
    }
    if (sqlstate == "40P01" || sqlstate == "40001") return Unavailable(message);
    return Error(ErrorCode::kFailedPrecondition, message + " (SQLSTATE " + sqlstate + ")");
  }

  static Status Exec(Connection& connection, const std::string& sql, const std::string& uri) {
    auto result = Run(connection, Statement{sql, {}}, uri);
    return result.ok() ? OkStatus() : Status(result.error());
  }

  // BEGIN, the writes, COMMIT; ROLLBACK on any failure, so nothing is half-written.
  Status Transaction(Connection& connection, const DesiredFlags& desired, const std::string& where,
                     const std::string& uri) {
    if (Status begun = Exec(connection, "BEGIN", uri); !begun.ok()) {
      return begun.error().WithContext(where);
    }
    Status written = Write(connection, desired, uri);
    if (written.ok()) written = Exec(connection, "COMMIT", uri);
    if (!written.ok()) {
      if (PQstatus(connection.handle.get()) == CONNECTION_OK) {
        (void)Exec(connection, "ROLLBACK", uri);
      }
      // A table fixed after a FlagTargetNotFound is read from the catalog again.
      if (written.error().code() == ErrorCode::kNotFound) connection.columns.clear();
      return written.error().WithContext(where);
    }
    return OkStatus();
  }

  // The table's columns and types, from this connection's cache or the catalog.
  static Result<const std::map<std::string, std::string>*> Columns(Connection& connection,
                                                                   const std::string& table,
                                                                   const std::string& uri) {
    auto cached = connection.columns.find(table);
    if (cached != connection.columns.end()) return &cached->second;
    auto result = Run(connection, postgres::CatalogColumns(table), uri);
    if (!result.ok()) return result.error();
    std::map<std::string, std::string> columns;
    for (int row = 0; row < PQntuples(result->get()); ++row) {
      columns.emplace(PQgetvalue(result->get(), row, 0), PQgetvalue(result->get(), row, 1));
    }
    if (columns.empty()) {
      return NotFound(
          "does not exist (or the connection's user cannot see it); create it, the "
          "operator never creates tables");
    }
    return &connection.columns.emplace(table, std::move(columns)).first->second;
  }

  // The writes of one transaction; errors name what is wrong, the caller names the table.
  Status Write(Connection& connection, const DesiredFlags& desired, const std::string& uri) {
    const api::PostgresFlagStore& store = *desired.postgres;
    const bool document = !store.json_column.empty();
    auto columns = Columns(connection, store.table, uri);
    if (!columns.ok()) return columns.error();
    const std::map<std::string, std::string>& types = **columns;
    auto type_of = [&](const std::string& field,
                       const std::string& column) -> Result<const std::string*> {
      auto it = types.find(column);
      if (it == types.end()) {
        return NotFound("has no column " + postgres::QuoteIdentifier(column) + " (flag.postgres." +
                        field + ")");
      }
      return &it->second;
    };
    if (auto key = type_of("keyColumn", store.key_column); !key.ok()) return key.error();
    std::map<std::string, ColumnKind> list_kinds;
    if (document) {
      auto type = type_of("jsonColumn", store.json_column);
      if (!type.ok()) return type.error();
      if (**type != "jsonb") {
        return Error(ErrorCode::kFailedPrecondition,
                     "column " + postgres::QuoteIdentifier(store.json_column) + " is " + **type +
                         "; the flag document must be a jsonb column");
      }
    } else {
      const std::pair<const char*, const std::string*> mapped[] = {
          {"columns.enabled", &store.columns.enabled},
          {"columns.percentage", &store.columns.percentage},
          {"columns.enabledTenants", &store.columns.enabled_tenants},
          {"columns.disabledTenants", &store.columns.disabled_tenants}};
      for (const auto& [field, column] : mapped) {
        if (column->empty()) continue;
        auto type = type_of(field, *column);
        if (!type.ok()) return type.error();
        if (column == &store.columns.enabled_tenants || column == &store.columns.disabled_tenants) {
          auto kind = postgres::TenantListKind(*column, **type);
          if (!kind.ok()) return kind.error();
          list_kinds[*column] = *kind;
        }
      }
    }
    // The rows, locked until COMMIT: a row lock held by another writer makes this wait
    // (up to the statement timeout) instead of overwriting what it writes.
    std::vector<std::string> keys;
    if (document) {
      keys.push_back(desired.flags.front().key);
    } else {
      for (const flag::FlagState& state : desired.flags) keys.push_back(state.key);
    }
    auto locked = Run(connection, postgres::LockRows(store, keys), uri);
    if (!locked.ok()) return locked.error();
    std::set<std::string> found;
    for (int row = 0; row < PQntuples(locked->get()); ++row) {
      found.insert(PQgetvalue(locked->get(), row, 0));
    }
    for (const std::string& key : keys) {
      if (!found.count(key)) {
        return NotFound("has no row with " + store.key_column + " = " + Quoted(key) +
                        "; insert it (the operator never inserts rows)");
      }
    }
    if (document) return WriteDocument(connection, desired, *locked, uri);
    for (std::size_t i = 0; i < desired.flags.size(); ++i) {
      const auto values =
          postgres::RowValues(store.columns, desired.flags[i], /*own=*/i == 0, list_kinds);
      if (values.empty()) continue;
      auto updated = Run(connection, postgres::UpdateRow(store, desired.flags[i].key, values), uri);
      if (!updated.ok()) return updated.error();
    }
    return OkStatus();
  }

  static Status WriteDocument(Connection& connection, const DesiredFlags& desired,
                              const ResultPtr& locked, const std::string& uri) {
    const api::PostgresFlagStore& store = *desired.postgres;
    const std::string document_where =
        "row " + Quoted(desired.flags.front().key) + " column " + store.json_column;
    nlohmann::json document = nlohmann::json::object();
    if (!PQgetisnull(locked.get(), 0, 1)) {
      document = nlohmann::json::parse(PQgetvalue(locked.get(), 0, 1), nullptr,
                                       /*allow_exceptions=*/false);
    }
    if (!document.is_object()) {
      return Error(ErrorCode::kFailedPrecondition,
                   document_where + " is a JSON " + std::string(document.type_name()) +
                       ", not an object of flags; fix it, it is never overwritten");
    }
    auto writes = postgres::PlanDocument(
        document, postgres::DocumentValues(store.json_paths, desired.flags), document_where);
    if (!writes.ok()) return writes.error();
    if (writes->empty()) return OkStatus();
    auto updated =
        Run(connection, postgres::UpdateDocument(store, desired.flags.front().key, *writes), uri);
    return updated.ok() ? OkStatus() : Status(updated.error());
  }

  const ConnectionUriSource uris_;
  const PostgresOptions options_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Pool>> pools_;  // by namespace/secret/key
};

}  // namespace

std::string ScrubConnectionSecrets(const std::string& text, const std::string& uri) {
  std::vector<std::string> secrets = {uri};
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(uri.c_str(), &error);
  if (error != nullptr) PQfreemem(error);
  if (options != nullptr) {
    for (PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
      if (option->val != nullptr && std::string(option->keyword) == "password" &&
          *option->val != '\0') {
        secrets.emplace_back(option->val);
      }
    }
    PQconninfoFree(options);
  }
  std::string out = text;
  for (const std::string& secret : secrets) {
    if (secret.empty()) continue;
    for (std::size_t at = out.find(secret); at != std::string::npos; at = out.find(secret, at)) {
      out.replace(at, secret.size(), "[redacted]");
    }
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  for (char& c : out) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  if (out.size() > kMaxMessage) out = std::string(CutOnCharacterBoundary(out, kMaxMessage)) + "...";
  return out;
}

ConnectionUriSource LabelledSecretUris(kube::Client& client, std::chrono::seconds cache_for) {
  struct Cached {
    std::string uri;
    std::chrono::steady_clock::time_point read_at;
  };
  struct Cache {
    std::mutex mu;
    std::map<std::string, Cached> uris;
  };
  auto cache = std::make_shared<Cache>();
  return [&client, cache_for, cache](const std::string& ns,
                                     const api::SecretKeyRef& ref) -> Result<std::string> {
    const std::string key = ns + "/" + ref.name + "/" + ref.key;
    const auto now = std::chrono::steady_clock::now();
    {
      std::lock_guard lock(cache->mu);
      auto it = cache->uris.find(key);
      if (it != cache->uris.end() && now - it->second.read_at < cache_for) return it->second.uri;
    }
    auto secret = client.Get(kube::kSecrets, ns, ref.name);
    if (!secret.ok()) return secret.error();
    auto uri = kube::LabelledSecretData(*secret, ref.key);
    if (!uri.ok()) return uri.error();
    std::lock_guard lock(cache->mu);
    cache->uris[key] = Cached{*uri, now};
    return uri;
  };
}

FlagStorePtr NewPostgresFlagStore(ConnectionUriSource uris, PostgresOptions options) {
  return std::make_unique<PostgresFlagStore>(std::move(uris), options);
}

}  // namespace agentrollout::controllers
