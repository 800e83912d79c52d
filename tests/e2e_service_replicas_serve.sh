#!/usr/bin/env bash
# e2e_service_replicas_serve.sh — two real `promptbandit serve` processes (replicas) on one
# database, first a SQLite file (WAL), then a PostgreSQL server this test starts
# (tests/pgtest.sh; a failure, never a skip, when it cannot): with their own threads running
# (the poll every replica.poll_ms, the background jobs), impressions chosen on A and rewarded on
# B, the rest given the default reward by the reward wait sweep, reach both in-memory bandits
# (GET /v1/experiments/default .live) within a second of the last write, and the sweep runs once
# per interval across the two (pb_jobs_total), not once per replica.
source "$PB_SOURCE_DIR/tests/lib.sh"
source "$PB_SOURCE_DIR/tests/pgtest.sh"
: "${PB_BIN:?run through ctest}"

export PB_EMOTION_BACKEND=none PB_SERVER_ADMIN_TOKEN=adm PB_SERVER_ACCESS_LOG=
export PB_REPLICA_POLL_MS=100 PB_REWARDS_WAIT_S=1 PB_REWARDS_MISSING=0 PB_REWARDS_SWEEP_INTERVAL_S=1
# As packaging/README.md says for replicas: feedback on B for an impression A has not committed
# yet is looked for again after B's polls instead of a 404 (on a loaded machine A's commit can
# take longer than the 0.1 s below).
export PB_REPLICA_FEEDBACK_WAIT_MS=2000

json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
live_total() { curl -s -H "Authorization: Bearer adm" "$1/v1/experiments/default" | json 'd["live"]["total_pulls"]'; }
store_total() { curl -s -H "Authorization: Bearer adm" "$1/v1/arms" | json 'd["total_pulls"]'; }
metric() { curl -s "$1/metrics" | awk -v n="$2" '$1 == n {v = $2} END {print v + 0}'; }

run() { # run BACKEND DB
  local backend=$1 db=$2 a b t0 imp
  pb_start "a-$backend" "$PB_BIN" serve --port 0 --db "$db" --prompts "$PB_SOURCE_DIR/prompts"
  a=$(pb_listen_url "$PB_TMP/a-$backend.err") || { cat "$PB_TMP/a-$backend.err" >&2; return 1; }
  pb_start "b-$backend" "$PB_BIN" serve --port 0 --db "$db" --prompts "$PB_SOURCE_DIR/prompts"
  b=$(pb_listen_url "$PB_TMP/b-$backend.err") || { cat "$PB_TMP/b-$backend.err" >&2; return 1; }
  t0=$(date +%s.%N)
  for i in $(seq 10); do
    pb_http POST "$a/v1/choose" "{\"user_id\":\"u$i\"}"
    imp=$(json 'd["impression_id"]' <<<"$PB_BODY")
    if [ $((i % 2)) -eq 0 ]; then
      sleep 0.1 # choose writes behind; B waits for A's commit if it is later
      pb_http POST "$b/v1/feedback" "{\"user_id\":\"u$i\",\"impression_id\":$imp,\"kind\":\"like\"}"
      pb_check_eq "$PB_STATUS" 200 "$backend: feedback on B for an impression chosen on A"
    fi
  done
  # The 5 impressions without feedback get the default reward after rewards.wait_s (1 s) from
  # whichever replica's sweep runs; wait for the database to hold all 10.
  for _ in $(seq 60); do [ "$(store_total "$a")" = 10 ] && break; sleep 0.1; done
  pb_check_eq "$(store_total "$a")" 10 "$backend: 5 likes and 5 default rewards stored, one per impression"
  local last=$(date +%s.%N) la lb agreed=0
  for _ in $(seq 10); do
    la=$(live_total "$a") lb=$(live_total "$b")
    [ "$la" = 10 ] && [ "$lb" = 10 ] && { agreed=1; break; }
    sleep 0.1
  done
  pb_check_eq "$agreed" 1 "$backend: both replicas' live bandits count all 10 within a second (A $la, B $lb)"
  echo "   agreed $(awk -v a="$(date +%s.%N)" -v b="$last" 'BEGIN {printf "%.0f", (a - b) * 1000}') ms after the database held all 10"
  sleep 2 # a few more sweep ticks
  local ran skipped secs
  ran=$(($(metric "$a" 'pb_jobs_total{job="reward_sweep",outcome="ran"}') + $(metric "$b" 'pb_jobs_total{job="reward_sweep",outcome="ran"}')))
  skipped=$(($(metric "$a" 'pb_jobs_total{job="reward_sweep",outcome="skipped"}') + $(metric "$b" 'pb_jobs_total{job="reward_sweep",outcome="skipped"}')))
  secs=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN {printf "%d", a - b}')
  echo "   $secs s: the sweep ran $ran times and was skipped $skipped times over both replicas"
  # Both timers tick every second: once per interval means about half the ticks run.
  pb_check "$backend: the sweep ran at most once per second across both ($ran runs in $secs s)" \
    test "$ran" -le $((secs + 1))
  pb_check "$backend: about one tick in two ran ($ran of $((ran + skipped)))" \
    test "$ran" -le $(((ran + skipped) / 2 + 1))
  pb_check "$backend: the other replica's ticks were skipped ($skipped)" test "$skipped" -ge 1
  # An arm retired with the CLI on the shared database: both running replicas stop serving it.
  PB_PROMPTS_DIR=$PB_SOURCE_DIR/prompts "$PB_BIN" prompts retire D --db "$db" >/dev/null 2>&1 ||
    pb_fail "$backend: prompts retire D"
  sleep 0.5 # a few polls
  local served_d=0
  for i in $(seq 40); do
    for u in "$a" "$b"; do
      pb_http POST "$u/v1/choose" "{\"user_id\":\"r$i\"}"
      [ "$(json 'd["arm"]' <<<"$PB_BODY")" = D ] && served_d=$((served_d + 1))
    done
  done
  pb_check_eq "$served_d" 0 "$backend: no replica serves arm D after the CLI retired it (80 choices)"
  taken=$(metric "$a" pb_replica_rewards_taken_total)
  pb_check "$backend: A took B's likes from the database ($taken)" test "$taken" -ge 5
}

run sqlite "$PB_TMP/replicas.db"
pg_test_start || { pb_fail "PostgreSQL did not start"; pb_done; exit 1; }
run pg "$PB_PG_URL"
pb_done
