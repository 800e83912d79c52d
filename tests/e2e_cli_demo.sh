#!/usr/bin/env bash
# e2e_cli_demo.sh — `promptbandit demo` without any provider or key: the simulated users chat and
# give feedback through the real pipeline (the simulated provider is reached over HTTP through
# src/llm), rewards and the dashboard's statistics move within seconds, every page carries the
# DEMO banner and every log line the "promptbandit demo:" label, a person can chat too, SIGTERM
# stops it with status 0; `serve` never shows the banner.
source "${PB_SOURCE_DIR:?run through ctest}/tests/lib.sh"
# The databases (SQLite files, or PostgreSQL databases in the PostgreSQL pass: lib.sh pb_db).
db_demo=$(pb_db demo.db) || exit 2
BIN=${PB_BIN:?PB_BIN must name the promptbandit binary}
cd "$PB_SOURCE_DIR" || exit 1 # the demo reads the repository's prompts and emotion model
unset PB_LLM_BASE_URL OPENAI_BASE_URL OPENAI_API_KEY PB_LLM_API_KEY PB_SERVER_ADMIN_TOKEN

"$BIN" demo --help >"$PB_TMP/help" 2>&1
pb_check_eq "$?" 0 "demo --help exits 0"
pb_check "the help says what the users favour" grep -q "joy favours prompt C" "$PB_TMP/help"
pb_expect 2 "--speed 0..1000" -- "$BIN" demo --speed fast

mkdir "$PB_TMP/demotmp" # where the demo makes its own folder (TMPDIR)
pb_start demo env TMPDIR="$PB_TMP/demotmp" "$BIN" demo --port 0 --speed 50 --seed 3 --db "$db_demo"
demo_pid=$PB_LAST_PID
url=$(pb_listen_url "$PB_TMP/demo.err") && pb_wait_http "$url/healthz" || exit 1
token=$(sed -n 's/^promptbandit demo: admin token \(.*\)$/\1/p' "$PB_TMP/demo.err")
pb_check "an admin token is printed" test -n "$token"

pb_http GET "$url/"
pb_check "the chat page carries the DEMO banner" grep -q ">DEMO — simulated provider" <<<"$PB_BODY"
pb_http GET "$url/admin"
pb_check "the dashboard carries the DEMO banner" grep -q ">DEMO — simulated provider" <<<"$PB_BODY"

rewards() { curl -s "$url/metrics" | awk '/^pb_rewards_total/ { s += $NF } END { print s + 0 }'; }
for _ in $(seq 1 150); do # up to 15 s
  [ "$(rewards)" -ge 100 ] && break
  sleep 0.1
done
pb_check "simulated feedback reaches the bandit within seconds ($(rewards) rewards)" \
  test "$(rewards)" -ge 100
pb_http GET "$url/v1/experiments/default" "" -H "Authorization: Bearer $token"
pb_check_eq "$PB_STATUS" 200 "the dashboard's statistics answer"
pb_check "every arm was tried" jq -e '[.arms[] | .pulls > 0] | all' <<<"$PB_BODY"
pb_check "the pulls are not all equal: the bandit learns" \
  jq -e "[.arms[].pulls] | max > min" <<<"$PB_BODY"

pb_http POST "$url/v1/chat" '{"user_id":"person","message":"오늘 시험 붙었어!","consent":false}'
pb_check_eq "$PB_STATUS" 200 "a person can chat with the demo"
pb_check "the simulated provider answered about the message" grep -q "오늘 시험 붙었어" <<<"$PB_BODY"

kill -TERM "$demo_pid"
wait "$demo_pid"
pb_check_eq "$?" 0 "SIGTERM stops the demo with status 0"
pb_check "every log line is labelled as the demo" \
  test "$(grep -vc '^promptbandit demo: ' "$PB_TMP/demo.err")" = 0
# Beside a database file; a URL has no folder, so in the demo's own temporary folder.
if pb_is_url "$db_demo"; then
  demo_log=$(ls "$PB_TMP"/demotmp/promptbandit-demo-*/access.log 2>/dev/null | head -n 1)
else
  demo_log=$db_demo.access.log
fi
pb_check "the access log went to the demo's own file (${demo_log:-none})" test -s "$demo_log"

# serve, on the same database, shows no banner
PB_LLM_BASE_URL= pb_start serve "$BIN" serve --port 0 --db "$db_demo"
serve_url=$(pb_listen_url "$PB_TMP/serve.err") && pb_wait_http "$serve_url/healthz" || exit 1
pb_http GET "$serve_url/"
pb_check_eq "$PB_STATUS" 200 "serve answers its chat page"
pb_check "serve never shows the DEMO banner" test "$(grep -c 'DEMO — simulated' <<<"$PB_BODY")" = 0

pb_done
