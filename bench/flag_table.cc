#include "bench/flag_table.h"

#include <libpq-fe.h>
#include <poll.h>

#include <cstdlib>
#include <sstream>

namespace agentrollout::bench {
namespace {

constexpr char kChannel[] = "agentrollout_flags";

Status Exec(PGconn* connection, const std::string& sql) {
  PGresult* result = PQexec(connection, sql.c_str());
  const ExecStatusType status = PQresultStatus(result);
  PQclear(result);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return OkStatus();
  return Unavailable(std::string("feature_flags setup: ") + PQerrorMessage(connection));
}

}  // namespace

Result<std::unique_ptr<FlagTable>> FlagTable::Start(const std::string& uri, int n,
                                                    OnChange on_change) {
  PGconn* connection = PQconnectdb(uri.c_str());
  if (PQstatus(connection) != CONNECTION_OK) {
    std::string message = PQerrorMessage(connection);
    PQfinish(connection);
    return Unavailable("cannot connect to the bench's PostgreSQL: " + message);
  }
  std::ostringstream sql;
  sql << "DROP TABLE IF EXISTS public.feature_flags;"
         "CREATE TABLE public.feature_flags (name text PRIMARY KEY, enabled boolean NOT NULL "
         "DEFAULT false, percentage integer NOT NULL DEFAULT 0, enabled_tenants text[] NOT NULL "
         "DEFAULT '{}', disabled_tenants text[] NOT NULL DEFAULT '{}');"
         "INSERT INTO public.feature_flags (name) SELECT 'agent_' || i || '_v2' FROM "
         "generate_series(0, "
      << n - 1
      << ") AS i;"
         "CREATE OR REPLACE FUNCTION agentrollout_flag_changed() RETURNS trigger AS $$ BEGIN "
         "PERFORM pg_notify('"
      << kChannel
      << "', NEW.name || ' ' || NEW.enabled || ' ' || NEW.percentage); RETURN NEW; END $$ "
         "LANGUAGE plpgsql;"
         "CREATE TRIGGER flag_changed AFTER UPDATE ON public.feature_flags FOR EACH ROW "
         "EXECUTE FUNCTION agentrollout_flag_changed();"
         "LISTEN "
      << kChannel << ";";
  if (Status ready = Exec(connection, sql.str()); !ready.ok()) {
    PQfinish(connection);
    return ready.error();
  }
  std::unique_ptr<FlagTable> table(new FlagTable());
  table->on_change_ = std::move(on_change);
  table->thread_ = std::thread([raw = table.get(), connection] { raw->Listen(connection); });
  return table;
}

void FlagTable::Listen(void* handle) {
  auto* connection = static_cast<PGconn*>(handle);
  pollfd fd{PQsocket(connection), POLLIN, 0};
  while (!stop_.load()) {
    if (::poll(&fd, 1, 100) <= 0) continue;
    const auto at = Clock::now();
    if (PQconsumeInput(connection) == 0) break;
    while (PGnotify* notify = PQnotifies(connection)) {
      // "agent_<i>_v2 <true|false> <percentage>"
      std::istringstream payload(notify->extra);
      std::string name, enabled;
      int percentage = 0;
      payload >> name >> enabled >> percentage;
      if (name.rfind("agent_", 0) == 0) {
        on_change_(std::atoi(name.c_str() + 6), enabled == "true" && percentage > 0, at);
      }
      PQfreemem(notify);
    }
  }
  PQfinish(connection);
}

FlagTable::~FlagTable() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

}  // namespace agentrollout::bench
