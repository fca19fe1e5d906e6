#!/usr/bin/env bash
# A real local Kubernetes control plane (etcd + kube-apiserver, no nodes, no
# controller-manager) for tests and the demo, as controller-runtime's envtest runs it.
#
# Usage: hack/cluster.sh COMMAND
#   up                 build/cached binaries, certs, etcd, kube-apiserver, CRDs (idempotent)
#   down [--keep-logs DIR]  stop what `up` started (recorded pids only), remove the state
#   env                print `export KUBECONFIG=...` lines for eval
#   status             print pids and URLs; exit 1 unless the apiserver is ready
#   stop-apiserver | start-apiserver | restart-apiserver   (same port, same etcd)
#   compact-etcd       compact etcd to its current revision (old watches get 410 Gone)
#   install-crds       (re)apply crds/ and the third-party CRDs, wait until Established
# Env:
#   AGENTROLLOUT_STATE_DIR   state directory (default /tmp/agentrollout-cluster-$UID);
#                            one directory per cluster, so several can run side by side
#   AGENTROLLOUT_CLUSTER_OWNER_PID  when set at `up`, a watchdog runs `down` once that
#                            process exits (a crashed test binary leaves nothing behind)
#   AGENTROLLOUT_THIRD_PARTY_CRDS  directory of third-party CRDs
#                            (default: third_party/crds, vendored in the repository)
#   AGENTROLLOUT_APISERVER_PROFILING=1  at `up`: serve /debug/pprof (for CPU profiles of the
#                            apiserver in benchmarks: `kubectl get --raw
#                            '/debug/pprof/profile?seconds=N'`); off by default
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
source "$AGENTROLLOUT_ROOT/hack/lib/proc.sh"

STATE="${AGENTROLLOUT_STATE_DIR:-${TMPDIR:-/tmp}/agentrollout-cluster-$(id -u)}"
THIRD_PARTY_CRDS="${AGENTROLLOUT_THIRD_PARTY_CRDS:-$AGENTROLLOUT_ROOT/third_party/crds}"
PKI="$STATE/pki"
KUBECONFIG_FILE="$STATE/kubeconfig"
# Marker file: tells `down` (and the test harness) that a directory is a cluster state dir.
MARKER="$STATE/agentrollout-cluster"

kubectl_() { "$KUBE_BIN_DIR/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

port_of() { cat "$STATE/$1.port"; }
apiserver_url() { echo "https://127.0.0.1:$(port_of apiserver)"; }
etcd_url() { echo "http://127.0.0.1:$(port_of etcd-client)"; }

apiserver_ready() {
  curl -fsS --max-time 2 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "$(apiserver_url)/readyz" >/dev/null 2>&1
}
etcd_healthy() { [[ "$(curl -fsS --max-time 2 "$(etcd_url)/health")" == *'"health":"true"'* ]]; }

gen_pki() {
  mkdir -p "$PKI"
  local o="$PKI"
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -keyout "$o/ca.key" \
    -out "$o/ca.crt" -subj "/CN=agentrollout-test-ca" 2>/dev/null
  # Serving certificate of the apiserver, for 127.0.0.1 and localhost.
  openssl req -newkey rsa:2048 -nodes -keyout "$o/apiserver.key" -out "$o/apiserver.csr" \
    -subj "/CN=kube-apiserver" 2>/dev/null
  printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "extendedKeyUsage=serverAuth" \
    "keyUsage=critical,digitalSignature,keyEncipherment" >"$o/apiserver.ext"
  openssl x509 -req -in "$o/apiserver.csr" -CA "$o/ca.crt" -CAkey "$o/ca.key" \
    -CAcreateserial -days 3650 -sha256 -extfile "$o/apiserver.ext" -out "$o/apiserver.crt" 2>/dev/null
  # Admin client identity: group system:masters is allowed everything under RBAC.
  openssl req -newkey rsa:2048 -nodes -keyout "$o/admin.key" -out "$o/admin.csr" \
    -subj "/O=system:masters/CN=agentrollout-admin" 2>/dev/null
  printf '%s\n' "extendedKeyUsage=clientAuth" "keyUsage=critical,digitalSignature,keyEncipherment" \
    >"$o/admin.ext"
  openssl x509 -req -in "$o/admin.csr" -CA "$o/ca.crt" -CAkey "$o/ca.key" \
    -CAcreateserial -days 3650 -sha256 -extfile "$o/admin.ext" -out "$o/admin.crt" 2>/dev/null
  # Service-account token signing key pair.
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$o/sa.key" 2>/dev/null
  openssl pkey -in "$o/sa.key" -pubout -out "$o/sa.pub" 2>/dev/null
  chmod 600 "$o"/*.key
}

write_kubeconfig() {
  local b64='base64 -w0'
  cat >"$KUBECONFIG_FILE" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: agentrollout
  cluster:
    server: $(apiserver_url)
    certificate-authority-data: $($b64 <"$PKI/ca.crt")
users:
- name: agentrollout-admin
  user:
    client-certificate-data: $($b64 <"$PKI/admin.crt")
    client-key-data: $($b64 <"$PKI/admin.key")
contexts:
- name: agentrollout
  context: {cluster: agentrollout, user: agentrollout-admin, namespace: default}
current-context: agentrollout
EOF
  chmod 600 "$KUBECONFIG_FILE"
}

start_etcd() {
  local attempt client peer
  for attempt in 1 2 3; do
    client="$(free_port)"
    peer="$(free_port)"
    echo "$client" >"$STATE/etcd-client.port"
    echo "$peer" >"$STATE/etcd-peer.port"
    start_detached "$STATE/etcd.pid" "$STATE/etcd.log" "$KUBE_BIN_DIR/etcd" \
      --name=agentrollout --data-dir="$STATE/etcd-data" \
      --listen-client-urls="http://127.0.0.1:$client" --advertise-client-urls="http://127.0.0.1:$client" \
      --listen-peer-urls="http://127.0.0.1:$peer" --initial-advertise-peer-urls="http://127.0.0.1:$peer" \
      --initial-cluster="agentrollout=http://127.0.0.1:$peer" \
      --unsafe-no-fsync --quota-backend-bytes=$((2 * 1024 * 1024 * 1024)) --log-level=warn
    if wait_until 30 "etcd on port $client" etcd_healthy; then return 0; fi
    log "etcd did not become healthy (attempt $attempt); log tail:"
    tail -n 20 "$STATE/etcd.log" >&2
    stop_pid "$STATE/etcd.pid" "$STATE" etcd
    rm -rf "$STATE/etcd-data"
  done
  die "etcd failed to start; see $STATE/etcd.log"
}

# The apiserver's flags live in a file so stop/start/restart reuse the same port and keys.
write_apiserver_args() {
  local port="$1"
  echo "$port" >"$STATE/apiserver.port"
  cat >"$STATE/apiserver.args" <<EOF
--etcd-servers=$(etcd_url)
--bind-address=127.0.0.1
--advertise-address=127.0.0.1
--secure-port=$port
--cert-dir=$PKI
--tls-cert-file=$PKI/apiserver.crt
--tls-private-key-file=$PKI/apiserver.key
--client-ca-file=$PKI/ca.crt
--authorization-mode=RBAC
--service-account-issuer=https://127.0.0.1:$port
--service-account-key-file=$PKI/sa.pub
--service-account-signing-key-file=$PKI/sa.key
--service-cluster-ip-range=10.0.0.0/24
--allow-privileged=true
--disable-admission-plugins=ServiceAccount
--profiling=$([ "${AGENTROLLOUT_APISERVER_PROFILING:-0}" = 1 ] && echo true || echo false)
--v=1
EOF
}

start_apiserver_process() {
  local args
  mapfile -t args <"$STATE/apiserver.args"
  start_detached "$STATE/apiserver.pid" "$STATE/apiserver.log" "$KUBE_BIN_DIR/kube-apiserver" "${args[@]}"
  if ! wait_until 90 "kube-apiserver /readyz on port $(port_of apiserver)" apiserver_ready; then
    log "kube-apiserver log tail:"
    tail -n 30 "$STATE/apiserver.log" >&2
    return 1
  fi
}

start_apiserver() {
  local attempt
  for attempt in 1 2 3; do
    write_apiserver_args "$(free_port)"
    write_kubeconfig
    if start_apiserver_process; then return 0; fi
    stop_pid "$STATE/apiserver.pid" "$STATE" kube-apiserver
    if grep -q 'address already in use' "$STATE/apiserver.log"; then
      log "port $(port_of apiserver) was taken, retrying with another one (attempt $attempt)"
      continue
    fi
    break
  done
  die "kube-apiserver failed to start; see $STATE/apiserver.log"
}

install_crds() {
  [ -d "$THIRD_PARTY_CRDS" ] ||
    die "third-party CRDs not found at $THIRD_PARTY_CRDS (set AGENTROLLOUT_THIRD_PARTY_CRDS to a directory of CRD manifests)"
  # The project's CRDs the way users install them (client-side apply, which also keeps
  # `kubectl apply --dry-run=client -f crds/` working); the third-party ones server-side,
  # since some are too big for client-side apply's last-applied annotation.
  kubectl_ apply -f "$AGENTROLLOUT_ROOT/crds" >&2
  kubectl_ apply --server-side --force-conflicts --field-manager=agentrollout-cluster \
    -f "$THIRD_PARTY_CRDS" >&2
  kubectl_ wait --for=condition=Established --timeout=60s \
    -f "$AGENTROLLOUT_ROOT/crds" -f "$THIRD_PARTY_CRDS" >&2
}

# Runs `down` when the owner process exits, so a crashed test binary leaves nothing behind.
start_watchdog() {
  local owner="$1"
  start_detached "$STATE/watchdog.pid" "$STATE/watchdog.log" bash -c \
    'while kill -0 "$1" 2>/dev/null; do sleep 1; done; AGENTROLLOUT_STATE_DIR="$2" exec "$3" down' \
    agentrollout-cluster-watchdog "$owner" "$STATE" "$AGENTROLLOUT_ROOT/hack/cluster.sh"
}

is_up() {
  [ -f "$MARKER" ] && pid_is_ours "$STATE/etcd.pid" "$STATE" &&
    pid_is_ours "$STATE/apiserver.pid" "$STATE" && apiserver_ready
}

cmd_up() {
  if is_up; then
    log "already up ($STATE, $(apiserver_url)); re-applying CRDs"
    install_crds
    return 0
  fi
  # An empty directory (e.g. made by mktemp for us) is fine; anything else is stale state.
  if [ -n "$(ls -A "$STATE" 2>/dev/null)" ]; then
    log "removing stale state in $STATE"
    cmd_down
  fi
  local start
  start=$(date +%s)
  "$AGENTROLLOUT_ROOT/hack/kube-bins.sh" >&2
  mkdir -p "$STATE"
  touch "$MARKER"
  gen_pki
  start_etcd
  start_apiserver
  if [ -n "${AGENTROLLOUT_CLUSTER_OWNER_PID:-}" ]; then start_watchdog "$AGENTROLLOUT_CLUSTER_OWNER_PID"; fi
  install_crds
  log "up in $(($(date +%s) - start))s: $(apiserver_url) (state $STATE)"
}

cmd_down() {
  if [ "${1:-}" = --keep-logs ]; then
    [ -n "${2:-}" ] || die "down --keep-logs needs a directory"
    mkdir -p "$2"
    cp "$STATE"/*.log "$2"/ 2>/dev/null || true
  fi
  [ -e "$STATE" ] || return 0
  if [ -z "$(ls -A "$STATE")" ]; then
    rmdir "$STATE"
    return 0
  fi
  if [ ! -f "$MARKER" ]; then
    die "$STATE is not a cluster state directory (no $(basename "$MARKER") marker); not touching it"
  fi
  stop_pid "$STATE/apiserver.pid" "$STATE" kube-apiserver
  stop_pid "$STATE/etcd.pid" "$STATE" etcd
  # The watchdog may be the caller (it runs `down` itself); never signal ourselves.
  if [ -s "$STATE/watchdog.pid" ] && [ "$(cat "$STATE/watchdog.pid")" != "$PPID" ] &&
    [ "$(cat "$STATE/watchdog.pid")" != "$$" ]; then
    stop_pid "$STATE/watchdog.pid" "$STATE" watchdog
  fi
  rm -rf "$STATE"
}

cmd_env() {
  [ -f "$KUBECONFIG_FILE" ] || die "no cluster in $STATE; run hack/cluster.sh up"
  printf 'export KUBECONFIG=%q\n' "$KUBECONFIG_FILE"
  printf 'export AGENTROLLOUT_KUBECONFIG=%q\n' "$KUBECONFIG_FILE"
  printf 'export AGENTROLLOUT_STATE_DIR=%q\n' "$STATE"
  printf 'export AGENTROLLOUT_APISERVER_URL=%q\n' "$(apiserver_url)"
  printf 'export AGENTROLLOUT_ETCD_URL=%q\n' "$(etcd_url)"
  printf 'export AGENTROLLOUT_KUBECTL=%q\n' "$KUBE_BIN_DIR/kubectl"
  printf 'export PATH=%q:"$PATH"\n' "$KUBE_BIN_DIR"
}

cmd_status() {
  local ok=0 name
  echo "state:     $STATE"
  for name in etcd apiserver watchdog; do
    if pid_is_ours "$STATE/$name.pid" "$STATE"; then
      echo "$name: running (pid $(cat "$STATE/$name.pid"))"
    else
      echo "$name: not running"
    fi
  done
  if [ -f "$STATE/apiserver.port" ] && apiserver_ready; then
    echo "apiserver: ready at $(apiserver_url)"
    echo "etcd:      $(etcd_url)"
    echo "kubeconfig: $KUBECONFIG_FILE"
  else
    echo "apiserver: not ready"
    ok=1
  fi
  return $ok
}

require_state() { [ -f "$MARKER" ] || die "no cluster in $STATE; run hack/cluster.sh up"; }

cmd_compact_etcd() {
  require_state
  local rev
  # The etcd v3 JSON gateway: a range on any key returns the current revision in the header.
  rev="$(curl -fsS --max-time 5 -X POST -d '{"key":"AA=="}' "$(etcd_url)/v3/kv/range" |
    sed -n 's/.*"revision":"\([0-9]*\)".*/\1/p')"
  [ -n "$rev" ] || die "could not read the etcd revision from $(etcd_url)"
  curl -fsS --max-time 30 -X POST -d "{\"revision\":\"$rev\",\"physical\":true}" \
    "$(etcd_url)/v3/kv/compaction" >/dev/null || die "etcd compaction to revision $rev failed"
  echo "$rev"
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  up) cmd_up ;;
  down) cmd_down "$@" ;;
  env) cmd_env ;;
  status) cmd_status ;;
  stop-apiserver) require_state && stop_pid "$STATE/apiserver.pid" "$STATE" kube-apiserver ;;
  start-apiserver)
    require_state
    pid_is_ours "$STATE/apiserver.pid" "$STATE" || start_apiserver_process || die "kube-apiserver did not restart; see $STATE/apiserver.log"
    ;;
  restart-apiserver)
    require_state
    stop_pid "$STATE/apiserver.pid" "$STATE" kube-apiserver
    start_apiserver_process || die "kube-apiserver did not restart; see $STATE/apiserver.log"
    ;;
  compact-etcd) cmd_compact_etcd ;;
  install-crds) require_state && install_crds ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
