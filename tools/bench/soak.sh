#!/usr/bin/env bash
# soak.sh — the service under mixed load for a set time, sampled every 10 s. Starts fake-llm
# answering each chat after SLOW_MS and the service (default settings, synchronous FULL, an admin
# token, a fresh database), then tools/bench/soakload.c: CLIENTS client threads, each pausing
# THINK_MS between requests, mixing chats (25 %), choose (20 %), feedback on the impression just
# got (30 %), dashboard reads (24.5 %) and the erasure of the user it chatted as (0.5 %). Writes
# OUT/soak.csv (one row per 10 s: RSS, descriptors, threads, requests, 4xx, 5xx, requests with no
# HTTP answer, latency percentiles per kind), draws OUT/soak.svg (tools/bench/soak_plot.py) and
# prints the trend summary. Fails when a request got a 5xx or no answer at all. Loopback only.
#   bash tools/bench/soak.sh DURATION_S [BUILD_DIR]
#   env: OUT (a new temporary folder), CLIENTS (16), THINK_MS (50), SLOW_MS (300),
#        NICE (10: niceness of the service and the load), EXTRA_ENV ("PB_X=1": service settings)
set -euo pipefail
duration=${1:?usage: soak.sh DURATION_S [BUILD_DIR]}
build=${2:-build}
src=$(cd "$(dirname "$0")/../.." && pwd)
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
wait_line() { for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
nice_n=${NICE:-10}

nice -n "$nice_n" "$build/fake-llm" --port 0 --fault "slow=${SLOW_MS:-300}" --threads 2 \
  >"$tmp/fake.out" 2>"$tmp/fake.err" &
pids+=($!)
wait_line "$tmp/fake.out" 'listening on' || { echo "soak: fake-llm did not start" >&2; cat "$tmp/fake.err" >&2; exit 1; }
fake=$(sed -n 's/.*\(http:[^ ]*\).*/\1/p' "$tmp/fake.out" | head -1)
token=soak-admin-token
# shellcheck disable=SC2086  # EXTRA_ENV is a list of NAME=VALUE words
env PB_LLM_BASE_URL="$fake/v1" PB_SERVER_ACCESS_LOG= PB_EMOTION_BACKEND=none \
  PB_SERVER_ADMIN_TOKEN="$token" ${EXTRA_ENV:-} \
  nice -n "$nice_n" "$build/promptbandit" serve --port 0 --db "$tmp/soak.db" \
  --prompts "$src/prompts" 2>"$out/serve.err" &
spid=$!
pids+=("$spid")
wait_line "$out/serve.err" 'listening on' || { echo "soak: serve did not start" >&2; cat "$out/serve.err" >&2; exit 1; }
url=$(sed -n 's/.*\(http:[^ ]*\).*/\1/p' "$out/serve.err" | head -1)
url=${url%/}
echo "soak: $duration s against $url (service pid $spid), CSV in $out/soak.csv" >&2
status=0
nice -n "$nice_n" "$build/soakload" --url "$url" --pid "$spid" --duration-s "$duration" \
  --clients "${CLIENTS:-16}" --think-ms "${THINK_MS:-50}" --admin-token "$token" \
  >"$out/soak.csv" 2>"$out/soakload.err" || status=1
tail -1 "$out/soakload.err" >&2
kill -0 "$spid" 2>/dev/null || { echo "soak: the service died" >&2; status=1; }
python3 "$src/tools/bench/soak_plot.py" "$out/soak.csv" "$out/soak.svg" || status=1
exit "$status"
