#!/usr/bin/env bash
# Runs HEAPTRACK_BINARY under heaptrack's preload library as this very process (exec), so
# the benchmark's /proc readings (RSS, CPU) and its SIGTERM reach the profiled controller;
# `heaptrack BINARY` keeps a shell in between. The trace goes to HEAPTRACK_OUT (gzip, for
# heaptrack_print -f). Used by bench/run.sh with BENCH_HEAPTRACK=1.
set -euo pipefail
: "${HEAPTRACK_OUT:?the trace file to write}" "${HEAPTRACK_BINARY:?the binary to profile}"
lib=/usr/lib/heaptrack
[ -x "$lib/libexec/heaptrack_interpret" ] || {
  echo "heaptrack_exec.sh: heaptrack is not installed (apt-get install heaptrack)" >&2
  exit 1
}
pipe="$HEAPTRACK_OUT.fifo"
rm -f "$pipe"
mkfifo "$pipe"
"$lib/libexec/heaptrack_interpret" <"$pipe" | gzip -c >"$HEAPTRACK_OUT" &
# Both ends are open once the preload library has started writing; the name can go then.
(sleep 5 && rm -f "$pipe") &
LD_PRELOAD="$lib/libheaptrack_preload.so${LD_PRELOAD:+:$LD_PRELOAD}" \
  DUMP_HEAPTRACK_OUTPUT="$pipe" exec "$HEAPTRACK_BINARY" "$@"
