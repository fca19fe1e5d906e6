#!/usr/bin/env bash
# Format check of the project's C++ sources (clang-format, .clang-format at the top).
#   hack/format.sh          check; exits 1 and lists files that need formatting
#   hack/format.sh --fix    rewrite them in place
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.h' '*.cc' | grep -v '^third_party/' || true)
[ ${#files[@]} -gt 0 ] || { echo "format: no sources"; exit 0; }
if [ "${1:-}" = "--fix" ]; then
  clang-format -i "${files[@]}"
  exit 0
fi
bad=()
for f in "${files[@]}"; do
  if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then bad+=("$f"); fi
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "format: these files need clang-format (run hack/format.sh --fix):"
  printf '  %s\n' "${bad[@]}"
  exit 1
fi
echo "format: ${#files[@]} files clean"
