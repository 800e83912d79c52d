#!/usr/bin/env bash
# e2e_service_replicas_nginx.sh — issue #19's deployment bar: three `promptbandit serve`
# replicas on one database behind nginx, run with packaging/nginx-promptbandit.conf itself (its
# ports rewritten, an X-Upstream header added so that the load client knows which replica
# answered). nginx runs as an unprivileged user with a temporary prefix on a free port.
# First, two streamed chats through nginx must arrive token by token.
# tools/bench/soakload.c (--mix choose-feedback) sends choose and feedback through nginx for
# PB_REPLICAS_LOAD_S seconds (30); a third of the way in one replica gets SIGKILL, two thirds of
# the way in it starts again on its port. Then:
#  - every acknowledged reward (a 2xx feedback: event id and reward id) is in the database;
#  - the other replicas kept answering: each answered while the third was down, and every
#    failed request (no answer, 5xx, or a feedback 404 on an impression that was lost) was in
#    flight on the killed replica when it died — or is a feedback on an impression that replica
#    had chosen and not yet written;
#  - the killed replica serves again through nginx after its restart;
#  - within one second after the load stops, the three replicas report the same per-arm
#    statistics of their in-memory bandits (pulls, mean per segment and arm; each asked
#    directly, not through nginx), and those count every reward in the database.
# The database is PostgreSQL (tests/pgtest.sh) when PB_REPLICAS_BACKEND=pg, one SQLite file in
# WAL mode when it is sqlite. PB_REPLICAS_KEEP=DIR keeps the logs.
# shellcheck disable=SC2016  # the awk programs are in single quotes on purpose
source "$PB_SOURCE_DIR/tests/lib.sh"
source "$PB_SOURCE_DIR/tests/pgtest.sh"
: "${PB_BIN:?run through ctest}" "${PB_BUILD_DIR:?run through ctest}" "${PB_FAKE_LLM:?run through ctest}"
load_s=${PB_REPLICAS_LOAD_S:-30}
# Feedback rates an impression this long after it was chosen (default at once). The choosing
# replica writes the impression behind; another replica that gets the feedback first looks
# for it again after each poll for up to replica.feedback_wait_ms (2000 here, as
# packaging/README.md says for replicas) before a 404, so feedback sent at once through nginx
# is counted (with replica.feedback_wait_ms=0: about 90 of 18,000 answered 404 in a 20 s
# run, checked).
feedback_delay_ms=${PB_REPLICAS_FEEDBACK_DELAY_MS:-0}
backend=${PB_REPLICAS_BACKEND:-pg}
soakload=$PB_BUILD_DIR/soakload
nginx_bin=${PB_NGINX:-/usr/sbin/nginx}
token=replicas-admin

if [ ! -x "$nginx_bin" ]; then
  pb_fail "no nginx at $nginx_bin (Debian: apt-get install nginx; tools/bootstrap.sh test installs it)"
  pb_done
  exit 1
fi
[ -x "$soakload" ] || {
  pb_fail "no load client at $soakload (cmake --build builds tools/bench/soakload.c)"
  pb_done
  exit 1
}
if ! [[ $load_s =~ ^[0-9]+$ ]] || [ "$load_s" -lt 9 ]; then
  pb_fail "PB_REPLICAS_LOAD_S must be a whole number of seconds, at least 9 (got '$load_s')"
  pb_done
  exit 1
fi

case "$backend" in
pg)
  pg_test_start || {
    pb_fail "the test PostgreSQL server did not start"
    pb_done
    exit 1
  }
  db=$PB_PG_URL
  db_query() { "$PG_TEST_BIN/psql" -X -q -A -t -F ' ' -d "$PB_PG_URL" -c "$1"; }
  ;;
sqlite)
  db=$PB_TMP/replicas.db
  db_query() { sqlite3 -separator ' ' "$db" "$1"; }
  ;;
*)
  pb_fail "PB_REPLICAS_BACKEND must be pg or sqlite (got '$backend')"
  pb_done
  exit 1
  ;;
esac

calc() { awk "BEGIN { print ($1) }"; } # calc EXPR: floating-point arithmetic and comparisons (1/0)
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

export PB_SERVER_ADMIN_TOKEN=$token PB_SERVER_ACCESS_LOG='' PB_EMOTION_BACKEND=none
export PB_SERVER_PER_IP_CONNECTIONS=0 PB_SERVER_THREADS=2 PB_REPLICA_FEEDBACK_WAIT_MS=2000
# A provider that streams a token every 100 ms, for the streamed chats through nginx.
pb_start fake "$PB_FAKE_LLM" --port 0 --stream-delay-ms 100
fake=$(pb_listen_url "$PB_TMP/fake.out") || {
  pb_fail "fake-llm did not start"
  pb_done
  exit 1
}
export PB_LLM_BASE_URL=$fake/v1

ports=() pids=()
# start_replica I: replica I on ports[I] (picked once, so that nginx's upstream stays right)
start_replica() {
  local i=$1
  rm -f "$PB_TMP/replica$i.err"
  pb_start "replica$i" "$PB_BIN" serve --port "${ports[$i]}" --db "$db" \
    --prompts "$PB_SOURCE_DIR/prompts"
  pids[i]=$PB_LAST_PID
  pb_wait_http "http://127.0.0.1:${ports[$i]}/healthz" 300 || {
    echo "replica $i's stderr:" >&2
    cat "$PB_TMP/replica$i.err" >&2
    return 1
  }
}
for i in 0 1 2; do
  ports[i]=$(free_port)
  # The first replica creates the schema alone; the others open a migrated database.
  start_replica "$i" || {
    pb_fail "replica $i did not start"
    pb_done
    exit 1
  }
done

# nginx: the packaged configuration with this test's ports, run as an unprivileged user.
ndir=$PB_TMP/nginx
mkdir -p "$ndir/tmp"
chmod o+x "$PB_TMP"
nport=$(free_port)
sed -e "s/127\.0\.0\.1:8081/127.0.0.1:${ports[0]}/; s/127\.0\.0\.1:8082/127.0.0.1:${ports[1]}/" \
  -e "s/127\.0\.0\.1:8083/127.0.0.1:${ports[2]}/" \
  -e "s/^\( *\)listen 8080;/\1listen 127.0.0.1:$nport;\n\1add_header X-Upstream \$upstream_addr always;/" \
  "$PB_SOURCE_DIR/packaging/nginx-promptbandit.conf" >"$ndir/promptbandit.conf"
for p in "${ports[@]}" "listen 127.0.0.1:$nport" 'add_header X-Upstream'; do
  grep -q "$p" "$ndir/promptbandit.conf" || pb_fail "the rendered nginx configuration lacks '$p'"
done
cat >"$ndir/nginx.conf" <<EOF
worker_processes 1;
pid $ndir/nginx.pid;
error_log $ndir/error.log warn;
events { worker_connections 1024; }
http {
    access_log $ndir/access.log;
    client_body_temp_path $ndir/tmp/body;
    proxy_temp_path $ndir/tmp/proxy;
    fastcgi_temp_path $ndir/tmp/fastcgi;
    uwsgi_temp_path $ndir/tmp/uwsgi;
    scgi_temp_path $ndir/tmp/scgi;
    include $ndir/promptbandit.conf;
}
EOF
as_user=()
if [ "$(id -u)" -eq 0 ]; then
  pg_test_user || {
    pb_fail "no unprivileged user to run nginx as"
    pb_done
    exit 1
  }
  chown -R "$PG_TEST_USER:" "$ndir"
  as_user=(setpriv --reuid="$PG_TEST_USER" --regid="$PG_TEST_USER" --clear-groups --)
fi
pb_expect 0 'syntax is ok' -- "${as_user[@]}" "$nginx_bin" -t -p "$ndir" -c "$ndir/nginx.conf" \
  -e "$ndir/error.log"
pb_start nginx "${as_user[@]}" "$nginx_bin" -p "$ndir" -c "$ndir/nginx.conf" -e "$ndir/error.log" \
  -g 'daemon off;'
nginx_pid=$PB_LAST_PID
url=http://127.0.0.1:$nport
pb_wait_http "$url/healthz" 100 || {
  pb_fail "nginx does not answer at $url"
  cat "$ndir/error.log" "$PB_TMP/nginx.err" >&2
  pb_done
  exit 1
}
pb_check_eq "$(ps -o user= -p "$nginx_pid" | tr -d ' ')" "${PG_TEST_USER:-$(id -un)}" \
  "nginx runs as the unprivileged user"

# Streams pass through unbuffered: the first token of a streamed answer reaches the client
# through nginx while the provider is still sending the rest (a token every 100 ms).
stream_check() { # stream_check WHAT PATH BODY FIRST_TOKEN_PATTERN
  curl -sSN -m 30 -w '\nstatus %{http_code}\n' -H 'Content-Type: application/json' -d "$3" "$url$2" 2>&1 |
    while IFS= read -r line; do echo "$EPOCHREALTIME $line"; done >"$PB_TMP/stream"
  local first last lines
  first=$(grep -m 1 -- "$4" "$PB_TMP/stream" | cut -d' ' -f1)
  last=$(tail -n 1 "$PB_TMP/stream" | cut -d' ' -f1)
  lines=$(grep -c -- "$4" "$PB_TMP/stream")
  pb_check "$1 through nginx: the first token came $(calc "${last:-0} - ${first:-0}") s before the end ($lines token lines)" \
    test -n "$first" -a "$(calc "${last:-0} - ${first:-0} >= 0.5")" = 1
  [ -n "$first" ] || head -c 600 "$PB_TMP/stream"
}
stream_check "a streamed /v1/chat" /v1/chat \
  '{"user_id":"streamer","message":"오늘 너무 힘들었어","stream":true}' ' event: delta'
stream_check "a streamed /v1/chat/completions" /v1/chat/completions \
  '{"model":"default","messages":[{"role":"user","content":"안녕"}],"stream":true}' '"content":"'

# The load, with one replica killed and restarted on its port while it runs.
victim=1
vaddr=127.0.0.1:${ports[$victim]}
log=$PB_TMP/requests.tsv
echo "load: ${load_s} s through nginx at $url; replica $victim ($vaddr) is killed at 1/3, restarted at 2/3"
nice -n 5 "$soakload" --url "$url" --pid 0 --duration-s "$load_s" --interval-s "$load_s" \
  --clients 8 --think-ms 2 --mix choose-feedback --feedback-delay-ms "$feedback_delay_ms" \
  --log "$log" \
  --timeout-s 20 >"$PB_TMP/load.csv" 2>"$PB_TMP/load.err" &
load_pid=$!
PB_PIDS+=("$load_pid")
sleep "$(calc "$load_s / 3")"
t_kill=$(date +%s.%N)
kill -KILL "${pids[$victim]}"
wait "${pids[$victim]}" 2>/dev/null
sleep "$(calc "$load_s / 3")"
t_restart=$(date +%s.%N)
start_replica "$victim" || pb_fail "the killed replica did not start again"
t_back=$(date +%s.%N)
wait "$load_pid"
t_stop=$(date +%s.%N)
tail -n 1 "$PB_TMP/load.err"

# Columns: start end kind status upstream event impression reward origin curl_error
awk -F'\t' '{n[$3" "$4]++} END {for (k in n) print "  " k ": " n[k]}' "$log" | sort
acked=$(awk -F'\t' '$3 == "feedback" && $4 ~ /^2/' "$log" | wc -l)
chosen=$(awk -F'\t' '$3 == "choose" && $4 == 200' "$log" | wc -l)
pb_check "the load ran: at least 200 choices and 100 acknowledged rewards ($chosen, $acked)" \
  test "$chosen" -ge 200 -a "$acked" -ge 100
pb_check "the victim ($vaddr) answered before it was killed" \
  awk -F'\t' -v a="$vaddr" -v t="$t_kill" '$2 < t && $4 ~ /^2/ && $5 == a {f = 1} END {exit !f}' "$log"

# Every failed request must be explained by the kill: nginx answered 502/504 (or nothing came)
# for a request that was on the victim (nginx's $upstream_addr lists it) and in flight when it
# died, or it is feedback answered 404 for an impression the victim had chosen before it died
# (written behind, it may not have been committed).
# ($upstream_addr lists every replica nginx tried, "A,_B" once spaces became "_").
awk -F'\t' -v a="$vaddr" -v t="$t_kill" '
  function on_victim(u) { gsub(/_/, "", u); return index("," u ",", "," a ",") > 0 }
  NR == FNR { if ($3 == "choose" && $4 == 200) { chosen_at[$7] = $2; chosen_on[$7] = $5 }; next }
  $4 == 0 || $4 >= 500 || ($4 >= 400 && $4 != 409) {
    if (($4 == 0 || $4 == 502 || $4 == 504) && on_victim($5) && $1 <= t + 0.5 && $2 >= t - 0.05) {
      print "in-flight\t" $0
      next
    }
    if ($3 == "feedback" && $4 == 404 && ($7 in chosen_at) && chosen_on[$7] == a &&
        chosen_at[$7] <= t + 0.5) { print "lost-impression\t" $0; next }
    print "unexplained\t" $0
  }' "$log" "$log" >"$PB_TMP/errors.tsv"
n_inflight=$(grep -c '^in-flight' "$PB_TMP/errors.tsv")
n_lost=$(grep -c '^lost-impression' "$PB_TMP/errors.tsv")
n_bad=$(grep -c '^unexplained' "$PB_TMP/errors.tsv")
echo "errors: $n_inflight in flight on the killed replica, $n_lost feedback on its lost" \
  "impressions, $n_bad unexplained"
pb_check_eq "$n_bad" 0 "every failed request was in flight on the killed replica or rated an impression it lost"
if [ "$n_bad" -ne 0 ]; then
  grep '^unexplained' "$PB_TMP/errors.tsv" | head -20
  echo "the load client's 5xx answers, most frequent first:"
  sed -n 's/^soakload: \(POST [^ ]*\) -> \(5[0-9][0-9]\) .*"message":"\([^"]*\).*/\1 \2 \3/p' \
    "$PB_TMP/load.err" | cut -c1-200 | sort | uniq -c | sort -rn | head -5
  for i in 0 1 2; do
    echo "replica $i (127.0.0.1:${ports[$i]}), its log's warnings and errors:"
    grep -i -E 'error|warn|fail|refus' "$PB_TMP/replica$i.err" | head -10
  done
fi
for i in 0 1 2; do
  [ "$i" -eq "$victim" ] && continue
  pb_check "replica $i answered while replica $victim was down" \
    awk -F'\t' -v a="127.0.0.1:${ports[$i]}" -v t0="$t_kill" -v t1="$t_restart" \
    '$1 > t0 && $2 < t1 && $4 ~ /^2/ && $5 == a {f = 1} END {exit !f}' "$log"
done
pb_check "the restarted replica answered through nginx again" \
  awk -F'\t' -v a="$vaddr" -v t="$t_back" '$1 > t && $4 ~ /^2/ && $5 == a {f = 1} END {exit !f}' "$log"

# Every acknowledged reward is in the database, with the id it was acknowledged with.
awk -F'\t' '$3 == "feedback" && $4 ~ /^2/ {print $6, $8}' "$log" | sort -u >"$PB_TMP/acked"
db_query "SELECT event_id, id FROM rewards WHERE event_id IS NOT NULL" | sort -u >"$PB_TMP/stored"
missing=$(comm -23 "$PB_TMP/acked" "$PB_TMP/stored" | wc -l)
pb_check_eq "$missing" 0 "every acknowledged reward ($(wc -l <"$PB_TMP/acked")) is in the database with its reward id"
[ "$missing" -eq 0 ] || comm -23 "$PB_TMP/acked" "$PB_TMP/stored" | head -5

# The replicas agree on the per-arm statistics within one second of the load's end.
# /v1/arms's pulls and means are read from the database, so they agree trivially; the replica's
# in-memory bandits are the "segments" of /v1/experiments/{name} (every choose of this load is
# in segment "unknown", but all are compared) and, where the replica shows it, "live" (the
# global bandit).
arm_stats() { # arm_stats I: "segment arm pulls mean" of replica I's live bandits, or nothing
  curl -s -m 2 -H "Authorization: Bearer $token" \
    "http://127.0.0.1:${ports[$1]}/v1/experiments/default" |
    jq -r '((.segments | to_entries[] | .key as $s | .value.arms[] | [$s, .]),
        ((.live.arms // [])[] | ["live", .])) |
      "\(.[0]) \(.[1].id) \(.[1].pulls) \(.[1].mean * 1e9 | round)"' 2>/dev/null
}
agreed=
while :; do
  for i in 0 1 2; do arm_stats "$i" >"$PB_TMP/arms$i"; done
  now=$(date +%s.%N)
  if [ -s "$PB_TMP/arms0" ] && cmp -s "$PB_TMP/arms0" "$PB_TMP/arms1" &&
    cmp -s "$PB_TMP/arms0" "$PB_TMP/arms2"; then
    agreed=$(awk "BEGIN { printf \"%.2f\", $now - $t_stop }")
    break
  fi
  [ "$(calc "$now - $t_stop > 1.0")" -eq 1 ] && break
  sleep 0.05
done
pb_check "the three replicas report the same per-arm statistics within 1 s of the load's end${agreed:+ (after ${agreed} s)}" \
  test -n "$agreed"
if [ -z "$agreed" ]; then
  echo "segment arm pulls mean*1e9 of replicas 0 | 1 | 2, where they differ:"
  paste -d '|' "$PB_TMP/arms0" "$PB_TMP/arms1" "$PB_TMP/arms2" |
    awk -F'|' '$1 != $2 || $1 != $3' | head -10
fi
pulls=$(awk '$1 != "live" {s += $3} END {print s + 0}' "$PB_TMP/arms0")
stored=$(db_query "SELECT count(*) FROM rewards")
pb_check_eq "$pulls" "$stored" "the agreed statistics count every reward in the database"

for i in 0 1 2; do
  kill -0 "${pids[$i]}" 2>/dev/null || pb_fail "replica $i is not running at the end"
done
# PB_REPLICAS_KEEP=DIR keeps the request log, the classified errors and the replicas' logs.
if [ -n "${PB_REPLICAS_KEEP:-}" ]; then
  mkdir -p "$PB_REPLICAS_KEEP" &&
    cp "$log" "$PB_TMP"/errors.tsv "$PB_TMP"/replica*.err "$PB_TMP"/load.err "$PB_TMP"/acked \
      "$PB_TMP"/stored "$PB_REPLICAS_KEEP"/
fi
pb_done
