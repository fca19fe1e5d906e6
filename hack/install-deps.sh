#!/usr/bin/env bash
# Installs every Debian package the build, the tests and the demo need.
# Idempotent: packages already installed are skipped; prints what it installs.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git clang clang-format ccache
  libclang-rt-14-dev
  # libraries
  libcpprest-dev libboost-system-dev libssl-dev
  libyaml-cpp-dev nlohmann-json3-dev
  prometheus-cpp-dev libcivetweb-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev libjemalloc-dev
  # the dashboard's HTTP server (kubectl agentrollout dashboard)
  libcpp-httplib-dev
  # servers and tools used by tests and the demo
  prometheus prometheus-alertmanager golang-go openssl curl procps iproute2 lua5.4 jq
  # the PostgreSQL flag store: its client library, and a throwaway server for its tests
  # (hack/postgres.sh)
  libpq-dev postgresql
  # benchmarks (bench/run.sh, bench/judge_sim.sh): the plots in docs/
  python3-matplotlib
  # the judge's reference test (tests/judge/reference.py)
  python3-numpy python3-scipy
  # the dashboard's browser tests (tests/dashboard/): Debian's Chromium, driven by Playwright
  # from a venv (hack/python-playwright.sh); never a downloaded browser
  chromium python3-venv
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Go comes with the machine on CI; only install Debian's when no go is on PATH.
if command -v go >/dev/null 2>&1; then
  filtered=()
  for p in "${missing[@]}"; do [ "$p" = golang-go ] || filtered+=("$p"); done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing: ${missing[*]}"
$SUDO apt-get update -qq
unavailable=()
for p in "${missing[@]}"; do
  if ! apt-cache show "$p" >/dev/null 2>&1; then unavailable+=("$p"); fi
done
if [ ${#unavailable[@]} -gt 0 ]; then
  echo "install-deps: ERROR: these packages are not in the configured apt sources: ${unavailable[*]}" >&2
  echo "install-deps: this project targets Debian 12 (bookworm); check /etc/apt/sources.list" >&2
  exit 1
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
