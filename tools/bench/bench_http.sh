#!/usr/bin/env bash
# bench_http.sh — requests/s and p50/p99 latency of a trivial JSON route on the HTTP core
# versus a bare libmicrohttpd handler (the ceiling, measured in the same run), under wrk.
# Rounds alternate core and bare so drift hits both; the medians and their ratio are printed.
#   bash tools/bench/bench_http.sh [BUILD_DIR]
#   env: ROUNDS (3), DURATION (10s), CONNECTIONS (32), WRK_THREADS (1), PB_SERVER_THREADS (2)
set -euo pipefail
build=${1:-build}
rounds=${ROUNDS:-3} duration=${DURATION:-10s} conns=${CONNECTIONS:-32} wthreads=${WRK_THREADS:-1}
export PB_SERVER_THREADS=${PB_SERVER_THREADS:-2} PB_SERVER_ACCESS_LOG=${PB_SERVER_ACCESS_LOG-}
command -v wrk >/dev/null || {
  echo "bench_http: wrk is not installed" >&2
  exit 1
}
tmp=$(mktemp -d)
"$build/bench-http" >"$tmp/ports" 2>"$tmp/err" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do
  if grep -q '^raw ' "$tmp/ports"; then break; fi
  sleep 0.1
done
core=$(awk '$1 == "core" {print $2}' "$tmp/ports")
raw=$(awk '$1 == "raw" {print $2}' "$tmp/ports")

# wrk latency "812.00us" / "1.20ms" / "1.01s" -> milliseconds
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[0-9]s$/) n *= 1000; printf "%.3f", n }'; }

run() { # run NAME PORT: appends "rps p50 p99" to $tmp/NAME
  local out
  out=$(wrk -t"$wthreads" -c"$conns" -d"$duration" --latency "http://127.0.0.1:$2/bench")
  local rps p50 p99
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  echo "$rps $p50 $p99" >>"$tmp/$1"
  echo "round: $1 rps=$rps p50=${p50}ms p99=${p99}ms" >&2
}

for _ in $(seq "$rounds"); do
  run core "$core"
  run raw "$raw"
done

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
col() { awk -v c="$2" '{print $c}' "$tmp/$1" | median; }
printf '%-28s %12s %10s %10s\n' server "requests/s" "p50 ms" "p99 ms"
for s in core raw; do
  printf '%-28s %12.0f %10.3f %10.3f\n' "$([ $s = core ] && echo 'HTTP core, GET /bench' || echo 'bare libmicrohttpd')" \
    "$(col $s 1)" "$(col $s 2)" "$(col $s 3)"
done
awk -v a="$(col core 1)" -v b="$(col raw 1)" 'BEGIN { printf "core / bare throughput: %.2f\n", a / b }'
echo "(medians of $rounds rounds; wrk -t$wthreads -c$conns -d$duration; server threads $PB_SERVER_THREADS)"
