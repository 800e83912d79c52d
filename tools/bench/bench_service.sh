#!/usr/bin/env bash
# bench_service.sh — the service under wrk on this machine: requests/s and p50/p99 latency of
# POST /v1/choose and POST /v1/feedback (each a durable write through the group-commit writer),
# beside a bare libmicrohttpd handler (bench-http's "raw" port, the ceiling) measured in the same
# run; the pipeline's own time per chat turn (POST /v1/chat against a zero-delay fake LLM, one
# connection, minus the fake's own time measured the same way); and the service's VmRSS.
#   bash tools/bench/bench_service.sh [BUILD_DIR]
#   env: ROUNDS (3), DURATION (10s), CONNECTIONS (32), FEEDBACK_CONNECTIONS (128), SYNC (FULL),
#        POLICY (ucb1, the default policy; choose is also measured with thompson on a second
#        service), PB_SERVER_THREADS (the default). The fsync bound of feedback is 128 / the
#        latency of one durable commit, measured here by bench-store in the same run.
set -euo pipefail
build=${1:-build}
rounds=${ROUNDS:-3} duration=${DURATION:-10s} conns=${CONNECTIONS:-32} fconns=${FEEDBACK_CONNECTIONS:-128}
export PB_SERVER_ACCESS_LOG= PB_DB_SYNCHRONOUS=${SYNC:-FULL}
export PB_SERVER_ADMIN_TOKEN=benchadm PB_EMOTION_BACKEND=${PB_EMOTION_BACKEND:-none}
export PB_SERVER_PER_IP_CONNECTIONS=0 PB_BANDIT_POLICY=${POLICY:-ucb1}
command -v wrk >/dev/null || {
  echo "bench_service: wrk is not installed" >&2
  exit 1
}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
wait_line() { for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }

"$build/bench-http" >"$tmp/ports" 2>"$tmp/http.err" &
pids+=($!)
"$build/fake-llm" --port 0 >"$tmp/fake.out" 2>&1 &
pids+=($!)
wait_line "$tmp/ports" '^raw ' || { echo "bench_service: bench-http did not start" >&2; exit 1; }
wait_line "$tmp/fake.out" 'listening on' || { echo "bench_service: fake-llm did not start" >&2; exit 1; }
raw=$(awk '$1 == "raw" {print $2}' "$tmp/ports")
fake=$(sed -n 's/.*\(http:[^ ]*\).*/\1/p' "$tmp/fake.out" | head -1)
port=$((20000 + RANDOM % 40000))
PB_LLM_BASE_URL=$fake/v1 "$build/promptbandit" serve --port "$port" --db "$tmp/bench.db" \
  --prompts "$src/prompts" 2>"$tmp/serve.err" &
serve=$!
pids+=($serve)
wait_line "$tmp/serve.err" 'listening on' || {
  echo "bench_service: serve did not start:" >&2
  cat "$tmp/serve.err" >&2
  exit 1
}
svc=http://127.0.0.1:$port
# The same service with Thompson sampling, for choose only (its propensity is the costliest).
tport=$((20000 + (port - 20000 + 1 + RANDOM % 1000) % 40000))
PB_BANDIT_POLICY=thompson PB_LLM_BASE_URL=$fake/v1 "$build/promptbandit" serve --port "$tport" \
  --db "$tmp/bench-ts.db" --prompts "$src/prompts" 2>"$tmp/serve-ts.err" &
pids+=($!)
wait_line "$tmp/serve-ts.err" 'listening on' || {
  echo "bench_service: the thompson service did not start:" >&2
  cat "$tmp/serve-ts.err" >&2
  exit 1
}
tsvc=http://127.0.0.1:$tport

cat >"$tmp/choose.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"user_id":"bench"}'
LUA
cat >"$tmp/feedback.lua" <<'LUA'
-- one new reward per request: impression ids from FIRST upward (created by the choose rounds),
-- three sources each (click, regenerate, score), so the pool lasts three times as long
local first = tonumber(os.getenv("FIRST"))
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
cat >"$tmp/chat.lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"user_id":"chat%d","message":"오늘 너무 힘들었어"}', n)
  return wrk.format("POST", "/v1/chat", {["Content-Type"] = "application/json"}, body)
end
LUA
cat >"$tmp/fake.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"m","messages":[{"role":"system","content":"친구, 일상대화, 반말"},{"role":"user","content":"오늘 너무 힘들었어 ;; 알 수 없음"}]}'
LUA

to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[0-9]s$/) n *= 1000; printf "%.3f", n }'; }
run() { # run NAME URL SCRIPT CONNS: appends "2xx/s p50 p99 non2xx" to $tmp/NAME
  local out rps p50 p99 bad
  out=$(wrk -t1 -c"$4" -d"$duration" --latency ${3:+-s "$3"} "$2")
  # Only 2xx answers count: a refusal (429 when the writer is far behind, 503) is not served.
  rps=$(awk '/requests in/ {n = $1} /Non-2xx/ {bad = $5} /^Requests\/sec:/ {r = $2}
             END {printf "%.2f", (n > 0 ? r * (n - bad) / n : 0)}' <<<"$out")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  bad=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  echo "$rps $p50 $p99 ${bad:-0}" >>"$tmp/$1"
  echo "round: $1 rps=$rps p50=${p50}ms p99=${p99}ms non-2xx=${bad:-0}" >&2
}
impressions() { curl -s -H "Authorization: Bearer benchadm" "$svc/v1/arms" | grep -o '"impressions": *[0-9]*' | awk -F: '{s += $2} END {print s + 0}'; }

# One durable commit's latency on this disk, in the same run: bench-store's single-row
# transactions under synchronous=FULL.
commit_rate() {
  "$build/bench-store" --n 400 --batch 2 --runs 3 --dir "$tmp" 2>/dev/null |
    awk '/synchronous=FULL/ && /1 per txn/ {print $(NF - 2)}'
}
first=1
for _ in $(seq "$rounds"); do
  run raw "http://127.0.0.1:$raw/bench" "" "$conns"
  run choose "$svc/v1/choose" "$tmp/choose.lua" "$conns"
  run choose_ts "$tsvc/v1/choose" "$tmp/choose.lua" "$conns"
  FIRST=$first run feedback "$svc/v1/feedback" "$tmp/feedback.lua" "$fconns"
  first=$(($(impressions) + 1))
  commit_rate >>"$tmp/commits"
done
for _ in $(seq "$rounds"); do
  run fake1 "$fake/v1/chat/completions" "$tmp/fake.lua" 1
  run chat1 "$svc/v1/chat" "$tmp/chat.lua" 1
done
rss=$(awk '/^VmRSS/ {print $2, $3}' "/proc/$serve/status")
hwm=$(awk '/^VmHWM/ {print $2, $3}' "/proc/$serve/status")

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
col() { awk -v c="$2" '{print $c}' "$tmp/$1" | median; }
printf '%-44s %12s %10s %10s %8s\n' "endpoint (db.synchronous=$PB_DB_SYNCHRONOUS)" "2xx/s" "p50 ms" "p99 ms" "non-2xx"
for s in raw choose choose_ts feedback fake1 chat1; do
  case $s in
  raw) name="bare libmicrohttpd (ceiling), -c$conns" ;;
  choose) name="POST /v1/choose ($PB_BANDIT_POLICY), -c$conns" ;;
  choose_ts) name="POST /v1/choose (thompson), -c$conns" ;;
  feedback) name="POST /v1/feedback, -c$fconns" ;;
  fake1) name="fake LLM alone, -c1" ;;
  chat1) name="POST /v1/chat via fake LLM, -c1" ;;
  esac
  printf '%-44s %12.0f %10.3f %10.3f %8s\n' "$name" "$(col $s 1)" "$(col $s 2)" "$(col $s 3)" "$(col $s 4)"
done
commits=$(median <"$tmp/commits")
awk -v a="$(col choose 1)" -v t="$(col choose_ts 1)" -v b="$(col feedback 1)" -v r="$(col raw 1)" \
  -v c="$commits" -v n="$fconns" 'BEGIN {
    bound = n * c; bar = 0.15 * r < 0.8 * bound ? 0.15 * r : 0.8 * bound
    printf "choose / ceiling: %.2f (thompson %.2f)\n", a / r, t / r
    printf "one durable commit: %.2f ms (%.0f/s); fsync bound for -c%d: %.0f/s\n", 1000 / c, c, n, bound
    printf "feedback: %.0f/s = %.2f of the ceiling, %.2f of the fsync bound (bar: %.0f/s, the lower of 0.15 x ceiling and 0.8 x bound)\n", b, b / r, b / bound, bar
  }'
awk -v c="$(col chat1 2)" -v f="$(col fake1 2)" \
  'BEGIN { printf "pipeline time per chat turn (p50 chat - p50 fake alone): %.3f ms\n", c - f }'
echo "service VmRSS after the runs: $rss (peak VmHWM $hwm)"
echo "(medians of $rounds rounds; wrk -t1 -d$duration; server threads ${PB_SERVER_THREADS:-default}; policy $PB_BANDIT_POLICY; emotion backend $PB_EMOTION_BACKEND)"
