#!/usr/bin/env bash
# bench_dashboard.sh — what one /admin refresh costs the service at many rewards (default
# 1,000,000): the page's requests (light experiment list; then in parallel the overview with
# verdict and series, the examples, the runs list and the judge evaluations), timed with curl
# on a database filled by SQL (4 arms, clicks over 30 days, 1 % of the turns consented with
# stored messages). Reports the service's start (live state rebuilt from every reward), the
# first refresh (the dashboard cache reads the history once), refreshes with nothing new, and
# refreshes after 10 new rewards each (the cache reads those, the series is recomputed), per
# window; and, for comparison, the endpoints the page used before (GET /v1/experiments/{name},
# mean.svg, feedback?limit=20), which read every reward on each call. Besides the times curl
# measured, the service's own CPU time per refresh (from /proc), which other load on the
# machine disturbs less than wall time.
#   bash tools/bench/bench_dashboard.sh [BUILD_DIR]
#   env: REWARDS (1000000), ROUNDS (10), WINDOWS ("7d 24h all")
set -euo pipefail
build=${1:-build}
n=${REWARDS:-1000000} rounds=${ROUNDS:-10} windows=${WINDOWS:-7d 24h all}
src=$(cd "$(dirname "$0")/../.." && pwd)
for tool in sqlite3 curl jq; do
  command -v "$tool" >/dev/null || { echo "bench_dashboard: $tool is not installed" >&2; exit 1; }
done
tmp=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
export PB_SERVER_ADMIN_TOKEN=benchadm PB_EMOTION_BACKEND=none PB_SERVER_ACCESS_LOG=
export PB_SERVER_THREADS=${PB_SERVER_THREADS:-4} PB_LLM_BASE_URL= OPENAI_BASE_URL= OPENAI_API_KEY=
db=$tmp/dash.db
now_ms() { date +%s%3N; }

# serve: starts the service on $db; leaves its URL in $url and the start time in $started_ms.
serve() {
  local t0
  t0=$(now_ms)
  "$build/promptbandit" serve --port 0 --db "$db" --prompts "$src/prompts" 2>"$tmp/serve.err" &
  pid=$!
  for _ in $(seq 600); do
    url=$(sed -n 's/.*listening on \(http:[^ ]*\)\/$/\1/p' "$tmp/serve.err" | head -1)
    [ -n "$url" ] && curl -sf "$url/healthz" >/dev/null && break
    sleep 0.1
  done
  [ -n "$url" ] || { echo "bench_dashboard: serve did not start: $(cat "$tmp/serve.err")" >&2; exit 1; }
  started_ms=$(($(now_ms) - t0))
}
stop() {
  kill "$pid" && wait "$pid" 2>/dev/null || true
  pid=
}

# The default experiment and its arms A-D come from the service itself; then the history.
serve
stop
t0=$(now_ms)
sqlite3 "$db" <<SQL
PRAGMA synchronous = OFF;
BEGIN;
CREATE TEMP TABLE k AS SELECT e.id AS exp, (SELECT min(id) FROM arms WHERE experiment_id = e.id) AS arm0,
  strftime('%s', 'now') * 1.0 AS now FROM experiments e WHERE e.name = 'default' AND e.status = 'active';
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $n)
INSERT INTO impressions (experiment_id, arm_id, segment, propensity, activated, created_at)
SELECT k.exp, k.arm0 + i % 4, CASE i % 3 WHEN 0 THEN 'negative' WHEN 1 THEN 'positive' ELSE 'neutral' END,
       0.25, 1, k.now - 30 * 86400 + i * (30 * 86400.0 / $n) FROM n, k;
INSERT INTO rewards (impression_id, source, value, created_at)
SELECT i.id, 'click', CASE WHEN abs(random()) % 100 < 50 + 5 * ((i.arm_id - k.arm0 + 1) % 4) THEN 1 ELSE -1 END,
       i.created_at + 5 FROM impressions i, k;
INSERT INTO users (id, consent, created_at) SELECT 'bench-user', 1, now FROM k;
INSERT INTO conversations (id, user_id, experiment_id, arm_id, segment, created_at)
SELECT 'c' || id, 'bench-user', experiment_id, arm_id, segment, created_at FROM impressions WHERE id % 100 = 0;
UPDATE impressions SET user_id = 'bench-user', conversation_id = 'c' || id WHERE id % 100 = 0;
INSERT INTO messages (conversation_id, impression_id, role, content, created_at)
SELECT 'c' || id, id, 'user', '오늘 있었던 일을 말해 볼게 ' || id || ' ;; 기쁨', created_at FROM impressions WHERE id % 100 = 0;
INSERT INTO messages (conversation_id, impression_id, role, content, created_at)
SELECT 'c' || id, id, 'assistant', '그랬구나, 답변 ' || id, created_at FROM impressions WHERE id % 100 = 0;
COMMIT;
SQL
echo "filled $(sqlite3 "$db" 'SELECT count(*) FROM rewards') rewards in $(($(now_ms) - t0)) ms"

serve
echo "serve start with $n rewards (live state rebuilt): ${started_ms} ms"
auth=(-H "Authorization: Bearer $PB_SERVER_ADMIN_TOKEN")

# ms of one GET, failing the run on a non-2xx answer.
get_ms() {
  local t
  t=$(curl -s -o "$tmp/body" -w '%{http_code} %{time_total}' "${auth[@]}" "$url$1")
  [ "${t%% *}" -lt 300 ] || { echo "bench_dashboard: $1 answered ${t%% *}: $(head -c 300 "$tmp/body")" >&2; exit 1; }
  awk -v s="${t#* }" 'BEGIN { printf "%.1f", s * 1000 }'
}

# One refresh as the page makes it: the list, then four requests in parallel. Prints the
# refresh's time (the list + the slowest of the four, each as curl measured it: the server's
# time plus loopback, without this script's process starts) and each request's own time.
refresh() {
  local w=$1 list jobs=()
  list=$(get_ms /v1/dashboard/experiments)
  get_ms "/v1/experiments/default/overview?window=$w" >"$tmp/t.ov" &
  jobs+=($!)
  get_ms /v1/experiments/default/examples >"$tmp/t.ex" &
  jobs+=($!)
  get_ms /v1/dashboard/runs >"$tmp/t.runs" &
  jobs+=($!)
  get_ms /v1/judge-evals >"$tmp/t.ev" &
  jobs+=($!)
  wait "${jobs[@]}" # not the service, also a child of this shell
  local ov ex runs ev
  ov=$(cat "$tmp/t.ov") ex=$(cat "$tmp/t.ex") runs=$(cat "$tmp/t.runs") ev=$(cat "$tmp/t.ev")
  awk -v l="$list" -v a="$ov" -v b="$ex" -v c="$runs" -v d="$ev" 'BEGIN {
    m = a; if (b > m) m = b; if (c > m) m = c; if (d > m) m = d
    printf "%.1f %s %s %s %s %s\n", l + m, l, a, b, c, d }'
}

# CPU time the service has used so far, in ms (user + system, /proc/PID/stat).
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) * 1000 / hz }' /proc/"$pid"/stat; }

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
column_median() { awk -v c="$1" '{ print $c }' "$2" | median; }

new_rewards() {
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    imp=$(curl -s -X POST -H 'Content-Type: application/json' "$url/v1/choose" -d '{"experiment":"default"}' | jq .impression_id)
    curl -s -o /dev/null -X POST -H 'Content-Type: application/json' "$url/v1/feedback" \
      -d "{\"impression_id\": $imp, \"kind\": \"like\"}"
  done
}

echo
echo "| case | window | refresh ms | list | overview | examples | runs | judge-evals | service CPU ms per refresh |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
first=1
for w in $windows; do
  : >"$tmp/warm" && : >"$tmp/new"
  if [ $first = 1 ]; then
    c0=$(cpu_ms)
    read -r wall l o e r j <<<"$(refresh "$w")"
    echo "| first refresh (cache empty) | $w | $wall | $l | $o | $e | $r | $j | $(awk -v a="$c0" -v b="$(cpu_ms)" 'BEGIN { print b - a }') |"
    first=0
  fi
  refresh "$w" >/dev/null # the window's series into the memo
  c0=$(cpu_ms)
  for _ in $(seq "$rounds"); do refresh "$w" >>"$tmp/warm"; done
  cpu_warm=$(awk -v a="$c0" -v b="$(cpu_ms)" -v n="$rounds" 'BEGIN { printf "%.1f", (b - a) / n }')
  cpu_new=0
  for _ in $(seq "$rounds"); do
    new_rewards
    c0=$(cpu_ms)
    refresh "$w" >>"$tmp/new"
    cpu_new=$(awk -v s="$cpu_new" -v a="$c0" -v b="$(cpu_ms)" 'BEGIN { print s + b - a }')
  done
  cpu_new=$(awk -v s="$cpu_new" -v n="$rounds" 'BEGIN { printf "%.1f", s / n }')
  for kind in warm new; do
    label=$([ $kind = warm ] && echo "nothing new (median of $rounds)" || echo "after 10 new rewards (median of $rounds)")
    cpu=$([ $kind = warm ] && echo "$cpu_warm" || echo "$cpu_new")
    echo "| $label | $w | $(column_median 1 "$tmp/$kind") | $(column_median 2 "$tmp/$kind") | $(column_median 3 "$tmp/$kind") | $(column_median 4 "$tmp/$kind") | $(column_median 5 "$tmp/$kind") | $(column_median 6 "$tmp/$kind") | $cpu |"
  done
done

echo
echo "Endpoints of the page before (each reads every reward), median of 3 (service CPU ms per call):"
for path in /v1/experiments/default /v1/experiments/default/plots/mean.svg \
  "/v1/experiments/default/feedback?limit=20"; do
  : >"$tmp/old"
  c0=$(cpu_ms)
  for _ in 1 2 3; do get_ms "$path" >>"$tmp/old" && echo >>"$tmp/old"; done
  echo "  $path: $(grep . "$tmp/old" | median) ms ($(awk -v a="$c0" -v b="$(cpu_ms)" 'BEGIN { printf "%.0f", (b - a) / 3 }'))"
done
echo "VmRSS: $(awk '/VmRSS/ { print $2 / 1024 " MiB" }' /proc/"$pid"/status)"
