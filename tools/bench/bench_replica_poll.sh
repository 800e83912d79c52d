#!/usr/bin/env bash
# bench_replica_poll.sh — what the replica poll (docs/SERVICE.md "Replicas") costs and how fast
# replicas agree: two `serve` processes (A, B) on one database — a SQLite file (WAL), or with
# BACKEND=pg a PostgreSQL 15 server this script starts (tests/pgtest.sh) — replica.poll_ms as
# given (default 200). Idle for IDLE seconds, then choose and feedback load on A (wrk), then
# the time until B's in-memory bandit (GET /v1/experiments/default .live) counts every reward A
# wrote. Prints A's time in polls (pb_replica_poll_seconds_total: wall time, so on PostgreSQL
# it includes the round trips) per second idle and under load, beside A's whole CPU time
# (utime + stime) in the same window, the rows the poll read per second, and B's rewards taken
# from A.
#   bash tools/bench/bench_replica_poll.sh [BUILD_DIR]
#   env: BACKEND (sqlite or pg), POLL_MS (200), DURATION (5s), IDLE (5), CONNECTIONS (32),
#        FEEDBACK_CONNECTIONS (128), SYNC (FULL)
set -euo pipefail
build=${1:-build}
duration=${DURATION:-5s} idle=${IDLE:-5} conns=${CONNECTIONS:-32} fconns=${FEEDBACK_CONNECTIONS:-128}
export PB_SERVER_ACCESS_LOG= PB_DB_SYNCHRONOUS=${SYNC:-FULL} PB_REPLICA_POLL_MS=${POLL_MS:-200}
export PB_SERVER_ADMIN_TOKEN=benchadm PB_EMOTION_BACKEND=none PB_SERVER_PER_IP_CONNECTIONS=0
command -v wrk >/dev/null || { echo "bench_replica_poll: wrk is not installed" >&2; exit 1; }
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  [ -z "${pgdir:-}" ] || bash "$src/tests/pgtest.sh" stop "$pgdir" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
db=$tmp/shared.db
if [ "${BACKEND:-sqlite}" = pg ]; then
  pgdir=$(mktemp -d)
  db=$(bash "$src/tests/pgtest.sh" start "$pgdir" $$) || { echo "bench_replica_poll: PostgreSQL did not start" >&2; exit 1; }
fi
wait_line() { for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
start() { # start NAME: a serve process on a free port; sets url_NAME and pid_NAME
  "$build/promptbandit" serve --port 0 --db "$db" --prompts "$src/prompts" 2>"$tmp/$1.err" &
  pids+=($!)
  eval "pid_$1=$!"
  wait_line "$tmp/$1.err" 'listening on' || { echo "serve $1 did not start:" >&2; cat "$tmp/$1.err" >&2; exit 1; }
  eval "url_$1=$(sed -n 's|.*listening on \(http://[^/ ]*\).*|\1|p' "$tmp/$1.err" | head -1)"
}
metric() { curl -s "$1/metrics" | awk -v n="$2" '$1 == n {print $2}'; }
cpu() { awk '{print ($14 + $15) / '"$(getconf CLK_TCK)"'}' "/proc/$1/stat"; }
live_total() {
  curl -s -H "Authorization: Bearer benchadm" "$1/v1/experiments/default" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["live"]["total_pulls"])'
}
store_total() {
  curl -s -H "Authorization: Bearer benchadm" "$1/v1/arms" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["total_pulls"])'
}
now() { date +%s.%N; }

start a
start b
cat >"$tmp/choose.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"user_id":"bench"}'
LUA
cat >"$tmp/feedback.lua" <<'LUA'
local first = 1
local k = 0
local kinds = {"like", "regenerate", "score"}
local extra = {"", "", ',"value":0.5'}
request = function()
  local body = string.format('{"user_id":"bench","impression_id":%d,"kind":"%s"%s}',
                             first + math.floor(k / 3), kinds[k % 3 + 1], extra[k % 3 + 1])
  k = k + 1
  return wrk.format("POST", "/v1/feedback", {["Content-Type"] = "application/json"}, body)
end
LUA

impressions() { curl -s -H "Authorization: Bearer benchadm" "$url_a/v1/arms" | python3 -c 'import json,sys; print(sum(a["impressions"] for a in json.load(sys.stdin)["arms"]))'; }
sleep 1 # the first poll opens its connection
p0=$(metric "$url_a" pb_replica_poll_seconds_total); c0=$(cpu "$pid_a"); t0=$(now)
sleep "$idle"
p1=$(metric "$url_a" pb_replica_poll_seconds_total); c1=$(cpu "$pid_a"); t1=$(now)
wrk -t1 -c"$conns" -d"$duration" -s "$tmp/choose.lua" "$url_a/v1/choose" >"$tmp/choose.out"
# Choose writes its impressions behind the answers: wait until the writer has stored them all.
last=-1
while :; do n=$(impressions); [ "$n" = "$last" ] && break; last=$n; sleep 0.5; done
wrk -t1 -c"$fconns" -d"$duration" -s "$tmp/feedback.lua" "$url_a/v1/feedback" >"$tmp/feedback.out"
p2=$(metric "$url_a" pb_replica_poll_seconds_total); c2=$(cpu "$pid_a"); t2=$(now)
rows=$(metric "$url_a" pb_replica_rows_read_total)
want=$(store_total "$url_a")
# Each check asks both replicas for their live totals (a request that also aggregates the
# rewards table, so it takes a while itself): agreement is reported as the start of the first
# check that found both equal to the database, after the load stopped.
agree=-1 checks=0
for i in $(seq 200); do
  s=$(now)
  checks=$((checks + 1))
  want=$(store_total "$url_a") # feedback answered after wrk's timeout may still be committing
  if [ "$(live_total "$url_b")" = "$want" ] && [ "$(live_total "$url_a")" = "$want" ]; then
    agree=$(awk -v a="$s" -v b="$t2" 'BEGIN {printf "%.0f", (a - b) * 1000}')
    break
  fi
  sleep 0.02
done
taken=$(metric "$url_b" pb_replica_rewards_taken_total)
echo "B: polled $(metric "$url_b" pb_replica_poll_seconds_total) s in all, last lag $(metric "$url_b" pb_replica_lag_seconds) s, watermark $(metric "$url_b" pb_replica_watermark), pending $(metric "$url_b" pb_replica_pending_ids)"
awk -v p0="$p0" -v p1="$p1" -v p2="$p2" -v c0="$c0" -v c1="$c1" -v c2="$c2" -v t0="$t0" \
  -v t1="$t1" -v t2="$t2" -v rows="$rows" -v poll="$PB_REPLICA_POLL_MS" -v backend="${BACKEND:-sqlite}" 'BEGIN {
  printf "replica.poll_ms=%s, two serve processes on one %s database\n", poll, backend
  printf "idle:  A spent %.3f ms per second in polls, wall time (A used %.1f ms CPU per second)\n", (p1 - p0) / (t1 - t0) * 1000, (c1 - c0) / (t1 - t0) * 1000
  printf "load:  A spent %.1f ms per second in polls, wall time (A used %.0f ms CPU per second; polls / CPU = %.2f %%); %.0f rows read per second, %.2f us per row\n",
    (p2 - p1) / (t2 - t1) * 1000, (c2 - c1) / (t2 - t1) * 1000, (c2 > c1 ? (p2 - p1) / (c2 - c1) * 100 : 0),
    rows / (t2 - t1), (rows > 0 ? (p2 - p1) / rows * 1e6 : 0)
}'
echo "choose on A: $(awk '/^Requests\/sec/ {print $2}' "$tmp/choose.out")/s; feedback on A: $(awk '/^Requests\/sec/ {print $2}' "$tmp/feedback.out")/s"
echo "rewards in the database: $want; B took $taken from A; both live states counted all at check $checks, begun ${agree} ms after the load stopped"
[ "$agree" -ge 0 ] || { echo "bench_replica_poll: B never agreed with the database" >&2; exit 1; }
