#!/usr/bin/env bash
# A throwaway PostgreSQL (the Debian postgresql package) for tests and the demo: its own
# cluster (initdb) under a state directory, listening on a free loopback port only. No
# system service is used or started.
#
# Usage: hack/postgres.sh COMMAND
#   up      initdb (superuser `app` without a password; other roles authenticate with
#           SCRAM passwords), start on loopback, wait until it accepts connections, print
#           the connection URI postgresql://app@127.0.0.1:PORT/postgres
#   down    stop the server and remove the state directory
#   stop    stop the server, keeping its data and port (a test's "database down")
#   start   start it again on the same port (after stop)
#   env     print `export AGENTROLLOUT_POSTGRES_URI=...` for eval
#   status  exit 0 and print the URI when it accepts connections
# Env: AGENTROLLOUT_PG_STATE_DIR (default $AGENTROLLOUT_RUN_DIR/postgres, else
#      /tmp/agentrollout-postgres-$UID): one directory per instance.
#      AGENTROLLOUT_PG_BIN: the server binaries (default /usr/lib/postgresql/15/bin).
#
# initdb and postgres refuse to run as root. Run as root (CI, sessions), the server runs as
# the `postgres` user the Debian package creates: the state directory is given to it, and
# each directory above it that it cannot traverse gets o+x (traverse, not list).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
source "$AGENTROLLOUT_ROOT/hack/lib/proc.sh"

if [ -n "${AGENTROLLOUT_PG_STATE_DIR:-}" ]; then
  STATE="$AGENTROLLOUT_PG_STATE_DIR"
elif [ -n "${AGENTROLLOUT_RUN_DIR:-}" ]; then
  STATE="$AGENTROLLOUT_RUN_DIR/postgres"
else
  STATE="${TMPDIR:-/tmp}/agentrollout-postgres-$(id -u)"
fi
MARKER="$STATE/agentrollout-postgres"
PG_BIN="${AGENTROLLOUT_PG_BIN:-/usr/lib/postgresql/15/bin}"
DATA="$STATE/data"

# as_server CMD...: runs CMD as the user the server runs as.
as_server() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

uri() { echo "postgresql://app@127.0.0.1:$(cat "$STATE/port")/postgres"; }
ready() { as_server "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$(cat "$STATE/port")"; }

# give_to_server: the state directory becomes the server user's, and it can reach it.
give_to_server() {
  [ "$(id -u)" -eq 0 ] || return 0
  id postgres >/dev/null 2>&1 || die "no 'postgres' user; run hack/install-deps.sh (Debian package postgresql)"
  chown -R postgres: "$STATE"
  local dir
  dir="$(dirname "$STATE")"
  while [ "$dir" != / ]; do
    runuser -u postgres -- test -x "$dir" || chmod o+x "$dir"
    dir="$(dirname "$dir")"
  done
}

# server_start PORT: starts the server of $DATA on PORT; false when it did not come up.
server_start() {
  local port="$1"
  as_server "$PG_BIN/pg_ctl" -D "$DATA" -l "$STATE/postgres.log" -w -t 60 \
    -o "-p $port -k $STATE -c listen_addresses=127.0.0.1" start >/dev/null
}

cmd_up() {
  [ -x "$PG_BIN/initdb" ] || die "$PG_BIN/initdb not found; run hack/install-deps.sh (Debian package postgresql)"
  if [ -f "$MARKER" ] && [ -f "$STATE/port" ] && ready; then
    die "a PostgreSQL already runs from $STATE ($(uri)); stop it first or use another AGENTROLLOUT_PG_STATE_DIR"
  fi
  if [ -n "$(ls -A "$STATE" 2>/dev/null)" ]; then cmd_down; fi
  mkdir -p "$STATE"
  touch "$MARKER"
  give_to_server
  as_server "$PG_BIN/initdb" -D "$DATA" -A trust -U app --no-sync >"$STATE/initdb.log" 2>&1 || {
    cat "$STATE/initdb.log" >&2
    die "initdb failed; see $STATE/initdb.log"
  }
  # Loopback only. The superuser `app` needs no password; every other role does (SCRAM),
  # so tests can cover password authentication from a connection URI.
  cat >"$DATA/pg_hba.conf" <<'HBA'
local all all trust
host all app 127.0.0.1/32 trust
host all all 127.0.0.1/32 scram-sha-256
HBA
  [ "$(id -u)" -ne 0 ] || chown postgres: "$DATA/pg_hba.conf"
  local attempt port
  for attempt in 1 2 3; do
    port="$(free_port)"
    echo "$port" >"$STATE/port"
    if server_start "$port" && wait_until 30 "PostgreSQL on port $port" ready; then
      uri
      return 0
    fi
    grep -q 'could not bind' "$STATE/postgres.log" 2>/dev/null || break
    log "port $port was taken, retrying (attempt $attempt)"
  done
  tail -n 20 "$STATE/postgres.log" >&2 || true
  die "PostgreSQL failed to start; see $STATE/postgres.log"
}

cmd_stop() {
  [ -f "$DATA/postmaster.pid" ] || return 0
  as_server "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
}

cmd_start() {
  [ -f "$MARKER" ] && [ -f "$STATE/port" ] || die "no PostgreSQL in $STATE; run 'up' first"
  server_start "$(cat "$STATE/port")" || die "PostgreSQL failed to start again; see $STATE/postgres.log"
  wait_until 30 "PostgreSQL" ready || die "PostgreSQL does not accept connections; see $STATE/postgres.log"
  uri
}

stop_before_removal() {
  [ -d "$DATA" ] || return 0
  cmd_stop || log "pg_ctl stop failed; removing the state anyway"
}

cmd_down() { remove_state "$STATE" "$MARKER" PostgreSQL stop_before_removal; }

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  up) cmd_up ;;
  down) cmd_down ;;
  stop) cmd_stop ;;
  start) cmd_start ;;
  env)
    [ -f "$STATE/port" ] || die "no PostgreSQL in $STATE"
    echo "export AGENTROLLOUT_POSTGRES_URI=$(uri)"
    ;;
  status)
    [ -f "$STATE/port" ] && ready || {
      echo "not running ($STATE)"
      exit 1
    }
    echo "ready at $(uri) (state $STATE)"
    ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
