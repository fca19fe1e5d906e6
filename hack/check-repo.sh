#!/usr/bin/env bash
# Checks that the repository stands alone (ctest runs it as `repo_check`, label lint):
# - every hack/*.sh, and every script the Markdown tells people to run, is executable in
#   git (mode 100755), so `hack/demo.sh` works as written after a fresh clone;
# - no Markdown file links to or names a path outside the repository (`../shared/…`,
#   `/work/…`), and every relative link points at a file or directory that exists;
# - no Markdown file cites the development workspace's `API.md` (users read
#   docs/api-reference.md);
# - no script, CMake file or manifest reads `../shared`.
# Usage: hack/check-repo.sh   (exit 1 listing every problem)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

problems=()
problem() { problems+=("$1"); }

# Tracked files with their git modes; outside a git checkout (an exported tarball), the
# files on disk and their executable bits.
declare -A mode_of=()
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  while read -r mode _ _ path; do mode_of["$path"]="$mode"; done < <(git ls-files -s)
else
  while read -r path; do
    if [ -x "$path" ]; then mode_of["$path"]=100755; else mode_of["$path"]=100644; fi
  done < <(find . -path ./build -prune -o -path ./.git -prune -o -type f -printf '%P\n')
fi
is_tracked() { [ -n "${mode_of[$1]+x}" ]; }

require_executable() {
  local path="$1" why="$2"
  if [ "${mode_of[$path]}" != 100755 ]; then
    problem "$path is not executable in git (mode ${mode_of[$path]}; $why): git update-index --chmod=+x $path"
  fi
}

# Resolves a relative path as seen from directory $1; prints it relative to the root,
# or nothing when it leaves the repository.
resolve() {
  local target
  target="$(realpath -m "$ROOT/$1/$2")"
  case "$target" in
    "$ROOT") echo . ;;
    "$ROOT"/*) echo "${target#"$ROOT"/}" ;;
  esac
}

markdown=()
for path in "${!mode_of[@]}"; do
  case "$path" in
    hack/*/*) ;;
    hack/*.sh) require_executable "$path" "a hack/ script" ;;
  esac
  case "$path" in
    *.md) markdown+=("$path") ;;
    third_party/* | hack/check-repo.sh) ;;
    *.sh | *.cmake | */CMakeLists.txt | CMakeLists.txt | *.yaml | *.yml | *.json | Dockerfile)
      if grep -n '\.\./shared' "$path" >/dev/null; then
        problem "$path reads ../shared (outside the repository): $(grep -n '\.\./shared' "$path" | head -n 1)"
      fi
      ;;
  esac
done

for md in "${markdown[@]}"; do
  dir="$(dirname "$md")"
  while IFS=: read -r line text; do
    problem "$md:$line names a path outside the repository: $text"
  done < <(grep -noE '(\.\./)*\.\./shared[^ `)]*|/work/[^ `)]*' "$md" || true)

  while IFS=: read -r line _; do
    problem "$md:$line cites API.md, which is not in the repository; link docs/api-reference.md"
  done < <(grep -noE '(^|[^-A-Za-z_/])API\.md' "$md" || true)

  # Every ../ path in the text, linked or in backticks, must stay inside the repository.
  while IFS=: read -r line ref; do
    [ -n "$(resolve "$dir" "$ref")" ] || problem "$md:$line refers to $ref, outside the repository"
  done < <(grep -noE '(\.\./)+[A-Za-z0-9_.-][^] `)"'"'"'<>#]*' "$md" || true)

  # Relative link targets must exist.
  while IFS=: read -r line link; do
    target="${link#](}"
    target="${target%)}"
    target="${target%%#*}"
    target="${target%% *}"
    case "$target" in '' | *://* | mailto:*) continue ;; esac
    resolved="$(resolve "$dir" "$target")"
    if [ -z "$resolved" ]; then
      problem "$md:$line links to $target, outside the repository"
    elif [ ! -e "$resolved" ]; then
      problem "$md:$line links to $target, which does not exist"
    fi
  done < <(grep -noE '\]\([^)]+\)' "$md" || true)

  # Scripts the page tells people to run: repository paths ending in .sh or .py that are
  # tracked files starting with `#!`.
  while IFS=: read -r line ref; do
    for candidate in "$ref" "$(resolve "$dir" "$ref")"; do
      if [ -n "$candidate" ] && is_tracked "$candidate" && [ "$(head -c 2 "$candidate")" = '#!' ]; then
        require_executable "$candidate" "$md:$line tells people to run it"
        break
      fi
    done
  done < <(grep -noE '[A-Za-z0-9_./-]+\.(sh|py)\b' "$md" || true)
done

if [ ${#problems[@]} -gt 0 ]; then
  mapfile -t problems < <(printf '%s\n' "${problems[@]}" | sort -u)
  printf 'check-repo: %s\n' "${problems[@]}" >&2
  echo "check-repo: ${#problems[@]} problem(s)" >&2
  exit 1
fi
echo "check-repo: ${#markdown[@]} Markdown files and the scripts they name are self-contained"
