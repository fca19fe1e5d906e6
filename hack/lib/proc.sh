# Process and port helpers for hack/cluster.sh and hack/prometheus.sh (sourced).
# No `cmd | grep -q` or `| head` here: under pipefail the writer's SIGPIPE would turn a
# match into a failure.
# Processes are tracked by pid files in a state directory and stopped by those pids only,
# never by name; a pid counts as ours only while its command line still mentions the state
# directory, so a recycled pid is never signalled.

# free_port: prints a TCP port on 127.0.0.1 that nothing listens on now. Callers retry the
# start when a race takes the port before the server binds it.
free_port() {
  local port i
  for i in $(seq 1 200); do
    port=$((20000 + RANDOM % 40000))
    if [ -z "$(ss -Htln "sport = :$port" 2>/dev/null)" ]; then
      echo "$port"
      return 0
    fi
  done
  die "no free TCP port found on 127.0.0.1"
}

# pid_is_ours PIDFILE MARKER: true when the recorded process runs and its command line
# contains MARKER (the state directory the process was started for).
pid_is_ours() {
  local pidfile="$1" marker="$2" pid
  [ -s "$pidfile" ] || return 1
  pid="$(cat "$pidfile")"
  [ -r "/proc/$pid/cmdline" ] || return 1
  local cmdline
  cmdline="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")" || return 1
  [[ "$cmdline" == *"$marker"* ]]
}

# stop_pid PIDFILE MARKER [NAME]: SIGTERM, wait up to 15 s, then SIGKILL; removes PIDFILE.
stop_pid() {
  local pidfile="$1" marker="$2" name="${3:-$(basename "$1" .pid)}" pid i
  if pid_is_ours "$pidfile" "$marker"; then
    pid="$(cat "$pidfile")"
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 150); do
      pid_is_ours "$pidfile" "$marker" || break
      sleep 0.1
    done
    if pid_is_ours "$pidfile" "$marker"; then
      log "$name (pid $pid) ignored SIGTERM for 15s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      for i in $(seq 1 50); do
        pid_is_ours "$pidfile" "$marker" || break
        sleep 0.1
      done
    fi
  fi
  rm -f "$pidfile"
}

# start_detached PIDFILE LOGFILE CMD...: runs CMD in its own session (so the caller's
# Ctrl-C or exit does not tear half of the cluster down), output appended to LOGFILE.
start_detached() {
  local pidfile="$1" logfile="$2"
  shift 2
  setsid "$@" </dev/null >>"$logfile" 2>&1 &
  echo $! >"$pidfile"
}

# wait_until SECONDS DESCRIPTION CMD...: polls CMD every 0.2 s until it succeeds.
wait_until() {
  local seconds="$1" what="$2" deadline
  deadline=$(($(date +%s) + seconds))
  shift 2
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "timed out after ${seconds}s waiting for $what"
      return 1
    fi
    sleep 0.2
  done
}

# remove_state DIR MARKER WHAT STOP...: runs STOP (which stops the server of DIR), then
# removes DIR. An empty DIR (made by mktemp for us) just goes; one without the MARKER file
# is not a WHAT state directory and is never touched.
remove_state() {
  local state="$1" marker="$2" what="$3"
  shift 3
  [ -e "$state" ] || return 0
  if [ -z "$(ls -A "$state")" ]; then
    rmdir "$state"
    return 0
  fi
  [ -f "$marker" ] || die "$state is not a $what state directory; not touching it"
  "$@"
  rm -rf "$state"
}

# check_no_leftovers DIR: fails (and stops them) if processes whose command line mentions
# DIR -- servers started for a test run -- are still running.
check_no_leftovers() {
  local dir="$1" pid cmdline left=()
  for pid in $(ls /proc | grep -E '^[0-9]+$'); do
    [ "$pid" != "$$" ] && [ "$pid" != "$BASHPID" ] || continue
    cmdline="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")" || continue
    [[ "$cmdline" == *"$dir"* ]] && left+=("$pid")
  done
  [ ${#left[@]} -eq 0 ] && return 0
  log "ERROR: ${#left[@]} process(es) of this run were left behind:"
  for pid in "${left[@]}"; do
    log "  $pid: $(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")"
    kill -TERM "$pid" 2>/dev/null || true
  done
  return 1
}

# start_on_free_port STATE NAME START_FN READY_FN: a loopback server whose pid is
# STATE/NAME.pid and log STATE/NAME.log, on a free port (written to STATE/port). Calls
# START_FN PORT (which starts it with start_detached) and waits up to 60 s for READY_FN;
# a port taken between free_port and the bind is retried twice. Prints nothing; dies with
# the log's tail when it does not come up.
start_on_free_port() {
  local state="$1" name="$2" start_fn="$3" ready_fn="$4" attempt port
  for attempt in 1 2 3; do
    port="$(free_port)"
    echo "$port" >"$state/port"
    "$start_fn" "$port"
    wait_until 60 "$name ready on port $port" "$ready_fn" && return 0
    stop_pid "$state/$name.pid" "$state" "$name"
    grep -q 'address already in use' "$state/$name.log" || break
    log "port $port was taken, retrying (attempt $attempt)"
  done
  tail -n 20 "$state/$name.log" >&2
  die "$name failed to start; see $state/$name.log"
}
