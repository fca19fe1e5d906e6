#!/usr/bin/env bash
# Builds the libFuzzer targets (analysis/fuzz/) with clang + ASan + UBSan in build/fuzz and
# runs each for a while. CI runs it with the short default.
#   hack/fuzz.sh                 20 s per target
#   hack/fuzz.sh 300             5 min per target
#   hack/fuzz.sh 60 template_fuzz   one target
# The growing corpus lives in build/fuzz/corpus/<target> (seeded from
# analysis/fuzz/corpus/<target>); a crashing input is written to build/fuzz/artifacts/ and
# the script fails: turn that input into a unit test next to the parser it broke.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-${FUZZ_SECONDS:-20}}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(threshold_fuzz duration_fuzz template_fuzz prometheus_response_fuzz server_text_fuzz)
fi

build=build/fuzz
sanitizers="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DAGENTROLLOUT_FUZZ=ON \
  -DCMAKE_CXX_FLAGS="$sanitizers" >/dev/null
cmake --build "$build" -j2 --target "${targets[@]}"

mkdir -p "$build/artifacts"
status=0
for target in "${targets[@]}"; do
  corpus="$build/corpus/$target"
  mkdir -p "$corpus"
  dict=()
  if [ -f "analysis/fuzz/$target.dict" ]; then dict=(-dict="analysis/fuzz/$target.dict"); fi
  echo "==> $target for ${seconds}s"
  if ! UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$build/analysis/fuzz/$target" \
      "${dict[@]+"${dict[@]}"}" -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$build/artifacts/$target-" -print_final_stats=1 \
      "$corpus" "analysis/fuzz/corpus/$target" 2>"$build/$target.log"; then
    echo "FAIL: $target crashed; input in $build/artifacts/, log in $build/$target.log"
    tail -n 40 "$build/$target.log"
    status=1
  else
    grep -E "^stat::number_of_executed_units|^#[0-9]+.*DONE" "$build/$target.log" | tail -n 2 || true
  fi
done
exit $status
