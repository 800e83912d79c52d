#!/usr/bin/env bash
# format.sh — applies .clang-format to the C sources (or only to the files named);
# --check only reports (used by the test command).
#   bash tools/format.sh [--check] [FILE...]
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
if [ "${1:-}" = --check ]; then
  check=1
  shift
fi
if [ $# -gt 0 ]; then
  files=()
  for f in "$@"; do
    case "$f" in
    *.c | *.h) files+=("$f") ;;
    *) echo "format: skipping $f (only C sources are formatted)" >&2 ;;
    esac
  done
  [ ${#files[@]} -gt 0 ] || exit 0
else
  mapfile -t files < <(git ls-files -co --exclude-standard -- '*.c' '*.h' | grep -v '^build')
fi
if [ $check = 1 ]; then
  clang-format --dry-run -Werror "${files[@]}"
  echo "format: ${#files[@]} files clean"
else
  clang-format -i "${files[@]}"
fi
