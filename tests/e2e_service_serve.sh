#!/usr/bin/env bash
# e2e_service.sh — the real `promptbandit serve` command against the fake LLM: starts with the
# repository's prompts, chats, exposes /healthz and /metrics (pulls and rewards per arm), keeps
# message text and user ids out of the access log, stops cleanly on SIGTERM, and loses no
# acknowledged feedback when killed with SIGKILL under load (each acknowledged event id, posted
# again after a restart, is answered as a duplicate with the same reward id).
source "$PB_SOURCE_DIR/tests/lib.sh"
: "${PB_BIN:?run through ctest}" "${PB_FAKE_LLM:?run through ctest}"

pb_start fake "$PB_FAKE_LLM" --port 0
pb_wait_line "$PB_TMP/fake.out" "listening on" || exit 1
fake=$(sed -n 's/.*\(http:[^ ]*\).*/\1/p' "$PB_TMP/fake.out" | head -1)

export PB_LLM_BASE_URL=$fake/v1 PB_SERVER_ACCESS_LOG=$PB_TMP/access.log PB_EMOTION_BACKEND=none
export PB_SERVER_ADMIN_TOKEN=adm PB_DB_SYNCHRONOUS=FULL PB_SERVER_THREADS=4
db=$(pb_db svc.db) || exit 2 # a file, or a PostgreSQL database in the PostgreSQL pass

start_serve() {
  # A restart must not read the killed process's "listening on" line (its port is dead).
  rm -f "$PB_TMP/serve.err"
  pb_start serve "$PB_BIN" serve --port 0 --db "$db" --prompts "$PB_SOURCE_DIR/prompts"
  serve_pid=$PB_LAST_PID
  url=$(pb_listen_url "$PB_TMP/serve.err") && pb_wait_http "$url/healthz" 300 || {
    echo "serve's stderr:" >&2
    cat "$PB_TMP/serve.err" >&2
    return 1
  }
}

json_field() { # json_field NAME: a number or string field of $PB_BODY (flat answers only)
  sed -n "s/.*\"$1\": *\"\\{0,1\\}\\([^\",}]*\\).*/\\1/p" <<<"$PB_BODY" | head -1
}

start_serve || exit 1
pb_check "serve says where it listens" grep -q "listening on $url/" "$PB_TMP/serve.err"

pb_http POST "$url/v1/chat" '{"user_id":"shell-user","message":"SECRET-SENTENCE 오늘 힘들었어","consent":true}'
pb_check_eq "$PB_STATUS" 200 "chat answers 200"
pb_check "the reply carries the seed's layout marker" grep -q '"impression_id"' <<<"$PB_BODY"
imp=$(json_field impression_id)
pb_http POST "$url/v1/feedback" "{\"user_id\":\"shell-user\",\"impression_id\":$imp,\"kind\":\"like\"}"
pb_check_eq "$PB_STATUS" 200 "feedback answers 200"

pb_http GET "$url/healthz"
pb_check "healthz names db, provider and emotion backend" \
  grep -q '"db": *"ok".*"provider": *"configured".*"emotion_backend": *"none"' <<<"$PB_BODY"
pb_http GET "$url/metrics"
pb_check "metrics count pulls per arm" grep -q '^pb_pulls_total{experiment="default",arm="[A-D]"} 1' <<<"$PB_BODY"
pb_check "metrics count rewards per arm" grep -q '^pb_rewards_total{.*source="click"} 1' <<<"$PB_BODY"
pb_check "metrics count LLM calls" grep -q '^pb_llm_calls_total{outcome="ok"} 1' <<<"$PB_BODY"

# ---- SIGKILL under feedback load loses nothing acknowledged ----
n=300
: >"$PB_TMP/imps"
for ((i = 0; i < n; i++)); do
  pb_http POST "$url/v1/choose" '{"user_id":"loader"}'
  json_field impression_id >>"$PB_TMP/imps"
done
pb_check_eq "$(grep -c . "$PB_TMP/imps")" "$n" "$n impressions chosen"

fire() { # fire WORKER: posts feedback for every 4th impression, logs "event reward_id"
  local w=$1 k=0 imp out
  while read -r imp; do
    k=$((k + 1))
    [ $((k % 4)) -eq "$w" ] || continue
    out=$(curl -s -m 5 -H 'Content-Type: application/json' \
      --data-binary "{\"user_id\":\"loader\",\"impression_id\":$imp,\"kind\":\"score\",\"value\":0.5,\"event_id\":\"ev-$imp\"}" \
      "$url/v1/feedback") || continue
    rid=$(sed -n 's/.*"reward_id": *\([0-9]*\).*/\1/p' <<<"$out")
    [ -n "$rid" ] && echo "ev-$imp $imp $rid" >>"$PB_TMP/acked.$w"
  done <"$PB_TMP/imps"
}
fire_pids=()
for w in 0 1 2 3; do
  fire "$w" &
  fire_pids+=($!)
done
sleep 0.7
kill -9 "$serve_pid"
wait "$serve_pid" 2>/dev/null
wait "${fire_pids[@]}"
cat "$PB_TMP"/acked.* >"$PB_TMP/acked" 2>/dev/null
acked=$(grep -c . "$PB_TMP/acked")
echo "acknowledged before SIGKILL: $acked of $n"
pb_check "some feedback was acknowledged before the kill" test "$acked" -gt 0

start_serve || exit 1
lost=0
while read -r ev imp rid; do
  pb_http POST "$url/v1/feedback" "{\"user_id\":\"loader\",\"impression_id\":$imp,\"kind\":\"score\",\"value\":0.5,\"event_id\":\"$ev\"}"
  if ! grep -q "\"reward_id\": *$rid,.*\"duplicate\": *true" <<<"$PB_BODY"; then
    lost=$((lost + 1))
    echo "lost: $ev (reward $rid): $PB_BODY"
  fi
done <"$PB_TMP/acked"
pb_check_eq "$lost" 0 "every acknowledged reward survived SIGKILL"

# ---- privacy of the access log, graceful stop ----
kill -TERM "$serve_pid"
wait "$serve_pid"
pb_check_eq "$?" 0 "SIGTERM stops serve with status 0"
pb_check "the access log has lines" test -s "$PB_TMP/access.log"
pb_check "no message text in the access log" bash -c "! grep -q SECRET-SENTENCE '$PB_TMP/access.log'"
pb_check "no user id in the access log" bash -c "! grep -q shell-user '$PB_TMP/access.log'"
pb_check "no message text in serve's stderr" bash -c "! grep -q SECRET-SENTENCE '$PB_TMP/serve.err'"
pb_done
