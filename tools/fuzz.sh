#!/usr/bin/env bash
# fuzz.sh — builds the libFuzzer targets of tests/fuzz (clang, ASan + UBSan, -DPB_FUZZ=ON, in
# build-fuzz/) and runs each one in turn over a copy of its committed seed corpus, with its
# dictionary when there is one.
#
#   bash tools/fuzz.sh [SECONDS_PER_TARGET] [--runs N] [--only NAME[,NAME...]]
#
# SECONDS_PER_TARGET (default 60) bounds each target's time, --runs N its executions; given
# both, a target stops at whichever comes first (a campaign: `fuzz.sh 3600 --runs 10000000`);
# --runs alone has no time bound.
# --only picks targets by name (fuzz_ prefix optional). Prints per target the executions,
# executions per second, seconds, crashes and final corpus size, and exits 1 when any target
# crashed (a sanitizer report, a leak, a timeout, an abort() of a target's own check, or
# running out of memory). Crash inputs are kept in build-fuzz/fuzz-crashes/ (named
# <target>-crash-<sha1>); reproduce one with `./build-fuzz/<target> <file>`. Each target's
# grown corpus stays in build-fuzz/fuzz-work/<target>/ (rebuilt from the seeds on every run) and
# its log in build-fuzz/fuzz-logs/<target>.log. PB_FUZZ_MAX_LEN (default 4096) caps input size;
# PB_FUZZ_BUILD (default build-fuzz) names another build folder, e.g. for a campaign left running
# while the tree is rebuilt.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: bash tools/fuzz.sh [SECONDS_PER_TARGET] [--runs N] [--only NAME[,NAME...]]" >&2
  exit 2
}

seconds=""
runs=-1
only=""
while [ $# -gt 0 ]; do
  case "$1" in
  --help | -h)
    sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  --runs)
    [ $# -ge 2 ] && [[ "$2" =~ ^[0-9]+$ ]] || usage
    runs=$2
    shift 2
    ;;
  --only)
    [ $# -ge 2 ] || usage
    only=$2
    shift 2
    ;;
  *)
    [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -gt 0 ] || usage
    seconds=$1
    shift
    ;;
  esac
done

targets=()
for src in tests/fuzz/fuzz_*.c; do
  name=$(basename "$src" .c)
  if [ -n "$only" ]; then
    case ",$only," in
    *",$name,"* | *",${name#fuzz_},"*) ;;
    *) continue ;;
    esac
  fi
  targets+=("$name")
done
# Without a time, --runs alone bounds a run; with neither, 60 s per target.
if [ -z "$seconds" ]; then
  if [ "$runs" -ge 0 ]; then seconds=0; else seconds=60; fi
fi
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz.sh: no target matches '$only'; targets are:" >&2
  for src in tests/fuzz/fuzz_*.c; do echo "  $(basename "$src" .c)" >&2; done
  exit 2
fi

out=${PB_FUZZ_BUILD:-build-fuzz}
echo "== building ${#targets[@]} fuzz targets in $out/ (clang, ASan + UBSan)"
CC=clang cmake -S . -B "$out" -DCMAKE_BUILD_TYPE=Debug -DPB_FUZZ=ON >/dev/null
cmake --build "$out" -j"$(nproc)" --target "${targets[@]}" >/dev/null

crashes_dir=$out/fuzz-crashes
mkdir -p "$crashes_dir" "$out/fuzz-logs" "$out/fuzz-work"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=0
printf '%-24s %12s %10s %8s %8s %8s\n' target execs exec/s seconds crashes corpus
for name in "${targets[@]}"; do
  short=${name#fuzz_}
  work=$out/fuzz-work/$name
  log=$out/fuzz-logs/$name.log
  rm -rf "$work"
  mkdir -p "$work"
  [ -d "tests/fuzz/corpus_$short" ] && cp -r "tests/fuzz/corpus_$short"/. "$work"/
  args=(-max_total_time="$seconds" -runs="$runs" -max_len="${PB_FUZZ_MAX_LEN:-4096}" -timeout=20
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$crashes_dir/$name-")
  [ -f "tests/fuzz/$short.dict" ] && args+=(-dict="tests/fuzz/$short.dict")
  before=$(find "$crashes_dir" -name "$name-*" | wc -l)
  start=$(date +%s.%N)
  rc=0
  "./$out/$name" "${args[@]}" "$work" >"$log" 2>&1 || rc=$?
  end=$(date +%s.%N)
  after=$(find "$crashes_dir" -name "$name-*" | wc -l)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
  rate=$(awk -v n="${execs:-0}" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
  found=$((after - before))
  if [ "$rc" -ne 0 ] && [ "$found" -eq 0 ]; then
    found=1 # a failure that left no input (e.g. the target would not start): still a failure
  fi
  printf '%-24s %12s %10s %8s %8s %8s\n' "$name" "${execs:-?}" "${rate:-?}" "$secs" "$found" \
    "$(find "$work" -type f | wc -l)"
  if [ "$found" -ne 0 ]; then
    failed=1
    grep -m 3 -E 'ERROR: |runtime error|SUMMARY|deadly signal' "$log" | sed 's/^/    /' || true
    echo "    log: $log"
  fi
done
if [ "$failed" -ne 0 ]; then
  echo "fuzz.sh: crashes found; inputs in $crashes_dir/" >&2
  exit 1
fi
echo "fuzz.sh: no crashes; crash inputs would be in $crashes_dir/"
