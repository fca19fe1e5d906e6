#!/usr/bin/env bash
# Static checks of the Dockerfile (no container engine on the development machine, and
# hadolint is not packaged in Debian): the builder uses the CI steps, every path COPY'd
# from the build context exists and is not excluded by .dockerignore, the runtime stage
# is bookworm-slim with a non-root USER and an exec-form ENTRYPOINT, and the target it
# builds is defined by the CMake project.
# Usage: tests/gitops/dockerfile_test.sh <repo root>
set -uo pipefail
root="${1:?usage: dockerfile_test.sh <repo root>}"
dockerfile="$root/Dockerfile"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

[ -f "$dockerfile" ] || { echo "FAIL: no $dockerfile"; exit 1; }
# Join continuation lines so each instruction is one line.
instructions="$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$dockerfile" | grep -Ev '^[[:space:]]*(#|$)')"

mapfile -t froms < <(grep -E '^FROM ' <<<"$instructions")
[ ${#froms[@]} -ge 2 ] || fail "not a multi-stage build (${#froms[@]} FROM lines)"
[[ "${froms[0]}" =~ ^FROM\ debian:bookworm\ AS\ [a-z]+$ ]] || fail "builder stage is not 'FROM debian:bookworm AS ...': ${froms[0]}"
[[ "${froms[-1]}" =~ ^FROM\ debian:bookworm-slim$ ]] || fail "runtime stage is not 'FROM debian:bookworm-slim': ${froms[-1]}"

grep -qE '^RUN .*bash hack/install-deps\.sh' <<<"$instructions" || fail "builder does not run hack/install-deps.sh"
grep -qE 'cmake --preset default' <<<"$instructions" || fail "builder does not configure with 'cmake --preset default'"
grep -qE 'cmake --build --preset default --target agentrollout-operator' <<<"$instructions" ||
  fail "builder does not build target agentrollout-operator"

# The runtime stage: everything after the last FROM.
runtime="$(awk '/^FROM /{stage=""} {stage = stage $0 "\n"} END {printf "%s", stage}' <<<"$instructions")"
grep -qE '^USER 65532:65532$' <<<"$runtime" || fail "runtime stage does not run as USER 65532:65532"
grep -qE '^ENTRYPOINT \["/usr/local/bin/agentrollout-operator"\]$' <<<"$runtime" ||
  fail "runtime ENTRYPOINT is not the binary in exec form"
grep -qE '^COPY --from=build /out/ /$' <<<"$runtime" || fail "runtime does not copy only the builder's /out"
if grep -E '^RUN .*apt-get install' <<<"$instructions" | grep -vq -- '--no-install-recommends'; then
  fail "apt-get install without --no-install-recommends"
fi
grep -qE '^ADD ' <<<"$instructions" && fail "ADD used (COPY is explicit; ADD fetches URLs and unpacks archives)"

# Every COPY source from the build context exists and is not ignored.
mapfile -t ignored < <(grep -Ev '^[[:space:]]*(#|$)' "$root/.dockerignore" 2>/dev/null)
while read -r _ args; do
  read -ra words <<<"$args"
  [[ "${words[0]}" == --from=* ]] && continue
  for src in "${words[@]:0:${#words[@]}-1}"; do
    [ -e "$root/$src" ] || fail "COPY source '$src' does not exist in the repository"
    for pattern in "${ignored[@]}"; do
      pattern="${pattern%/}"
      # shellcheck disable=SC2053  # glob match on purpose
      if [[ "$src" != . && ( "$src" == $pattern || "$src" == $pattern/* ) ]]; then
        fail "COPY source '$src' is excluded by .dockerignore pattern '$pattern'"
      fi
    done
  done
done < <(grep -E '^COPY ' <<<"$instructions")

# The build target and the path the builder installs from.
grep -rqsE 'add_executable\((agentrollout-operator)([[:space:]]|$)' "$root/operator/CMakeLists.txt" ||
  fail "operator/CMakeLists.txt defines no add_executable(agentrollout-operator ...) for the image to build"

if [ $failures -gt 0 ]; then
  echo "dockerfile_test: $failures problem(s)"
  exit 1
fi
echo "dockerfile_test: ok"
