#!/usr/bin/env bash
# e2e_store_faults_serve.sh — the real `promptbandit serve` process on a failing disk, enabled
# the documented way (PB_DB_VFS=faulty, PB_DB_FAULT_FILE; docs/STORE.md "Disk faults"): while
# the control file says the disk is full, feedback, chat, erasure, choose and /healthz answer
# 503 with the reason and never 200; once it is emptied the service recovers by itself and the
# refused feedback, retried with its event id, commits. Then an fsync failure, a SIGKILL while
# it lasts, and a restart on the default VFS: every acknowledged event id is answered as a
# duplicate with its reward id, and `db status` finds the file intact. A bad db.vfs, or
# "faulty" without a control file, stops the start with a clear message.
source "$PB_SOURCE_DIR/tests/lib.sh"
: "${PB_BIN:?run through ctest}" "${PB_FAKE_LLM:?run through ctest}"

pb_start fake "$PB_FAKE_LLM" --port 0
pb_wait_line "$PB_TMP/fake.out" "listening on" || exit 1
fake=$(sed -n 's/.*\(http:[^ ]*\).*/\1/p' "$PB_TMP/fake.out" | head -1)
export PB_LLM_BASE_URL=$fake/v1 PB_SERVER_ACCESS_LOG='' PB_EMOTION_BACKEND=none
export PB_SERVER_ADMIN_TOKEN=adm PB_DB_SYNCHRONOUS=FULL PB_SERVER_THREADS=4
db=$PB_TMP/svc.db control=$PB_TMP/fault

pb_expect 1 'db.vfs must be empty' -- env PB_DB_VFS=bogus "$PB_BIN" db status --db "$db"
pb_expect 1 'needs db.fault_file' -- env PB_DB_VFS=faulty "$PB_BIN" db status --db "$db"

start_serve() { # start_serve [VFS]: serve on db, through VFS when given
  # The old log goes first: the new process truncates it only once it has started, and
  # pb_listen_url must not read the previous run's port meanwhile.
  rm -f "$PB_TMP/serve.err"
  PB_DB_VFS=${1:-} PB_DB_FAULT_FILE=$control \
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
choose() { pb_http POST "$url/v1/choose" '{}' && json_field impression_id; }
: >"$PB_TMP/acked"
feedback() { # feedback IMPRESSION EVENT: posts a like; logs "event impression reward_id" when acknowledged
  pb_http POST "$url/v1/feedback" "{\"impression_id\":$1,\"kind\":\"like\",\"event_id\":\"$2\"}"
  if [ "$PB_STATUS" = 200 ]; then echo "$2 $1 $(json_field reward_id)" >>"$PB_TMP/acked"; fi
}
refused() { # refused WHAT: the last answer is 503 "unavailable" with the reason
  pb_check "$1 answers 503 unavailable with the reason while the disk fails" \
    grep -q '"code": *"unavailable".*"message": *"[^"]*\(disk\|writes\)' <<<"$PB_BODY"
  pb_check_eq "$PB_STATUS" 503 "$1: status while the disk fails"
  pb_check "$1: the 503 says when to retry (Retry-After)" grep -qi '^Retry-After: *[0-9]' "$PB_HEADERS"
}

: >"$control"
start_serve faulty || exit 1
imp1=$(choose)
imp2=$(choose)
feedback "$imp1" ev-1
pb_check_eq "$PB_STATUS" 200 "feedback commits on the healthy disk"
pb_http POST "$url/v1/chat" '{"user_id":"victim","message":"오늘 힘들었어","consent":true}'
pb_check_eq "$PB_STATUS" 200 "chat commits on the healthy disk"

echo full >"$control"
feedback "$imp2" ev-2
refused feedback
pb_http POST "$url/v1/choose" '{}'
refused choose
pb_http POST "$url/v1/chat" '{"user_id":"other","message":"오늘 힘들었어","consent":true}'
refused chat
pb_http DELETE "$url/v1/users/victim" "" -H 'Authorization: Bearer adm'
refused erasure
pb_http GET "$url/healthz"
pb_check_eq "$PB_STATUS" 503 "healthz says the database takes no writes"

: >"$control"
for _ in $(seq 100); do
  pb_http POST "$url/v1/choose" '{}'
  [ "$PB_STATUS" = 200 ] && break
  sleep 0.1
done
pb_check_eq "$PB_STATUS" 200 "choose answers again within 10 s of the fault clearing"
feedback "$imp2" ev-2
pb_check_eq "$PB_STATUS" 200 "the refused feedback, retried, commits"
pb_check "and is not a duplicate" grep -q '"duplicate": *false' <<<"$PB_BODY"
pb_http DELETE "$url/v1/users/victim" "" -H 'Authorization: Bearer adm'
pb_check_eq "$PB_STATUS" 200 "the erasure commits"

for i in 3 4 5 6; do feedback "$(choose)" "ev-$i"; done
echo fsync >"$control"
feedback "$(choose)" ev-7
refused "feedback on a failing fsync"
kill -9 "$serve_pid"
wait "$serve_pid" 2>/dev/null
: >"$control"
start_serve || exit 1
lost=0
while read -r ev imp rid; do
  pb_http POST "$url/v1/feedback" "{\"impression_id\":$imp,\"kind\":\"like\",\"event_id\":\"$ev\"}"
  if ! { [ "$PB_STATUS" = 200 ] && [ "$(json_field reward_id)" = "$rid" ] &&
    grep -q '"duplicate": *true' <<<"$PB_BODY"; }; then
    lost=$((lost + 1))
    echo "lost: $ev ($rid): $PB_STATUS $PB_BODY"
  fi
done <"$PB_TMP/acked"
pb_check_eq "$(grep -c . "$PB_TMP/acked")" 6 "six feedbacks acknowledged"
pb_check_eq "$lost" 0 "every acknowledged feedback survived the faults and the SIGKILL"
kill "$serve_pid"
wait "$serve_pid" 2>/dev/null
pb_check "db status finds the file intact" grep -q 'integrity *ok' <("$PB_BIN" db status --db "$db")
pb_done
