#!/usr/bin/env bash
# bench_replicas.sh — throughput of the choose / feedback mix with one, two and three `serve`
# replicas on PostgreSQL behind nginx, beside SQLite's single process, in one run on this
# machine (issue #19; figures in docs/BENCHMARKS.md, "Replicas on PostgreSQL").
#
# Each measurement starts from a fresh database (a new SQLite file; a new PostgreSQL database on
# one test server, tests/pgtest.sh) and fresh processes: the replicas, nginx with
# packaging/nginx-promptbandit.conf (its upstream cut to the replicas measured), and
# tools/bench/soakload.c --mix choose-feedback (CLIENTS threads, no think time, feedback on
# impressions at least 250 ms old, half and half) for WARMUP_S + DURATION_S + 1 s; the
# requests answered 2xx in the DURATION_S seconds after the warm-up are the throughput, and
# the CPU each process group used meanwhile (utime + stime from /proc/PID/stat, children
# included for nginx and PostgreSQL; "machine busy" from /proc/stat, other users' work
# included) and the replicas' writer commits (pb_writer_batches and pb_writer_records from
# /metrics) say where the time went. Configurations alternate within each of
# ROUNDS rounds; the table has the medians and the ratio to the SQLite baseline of this run.
#   bash tools/bench/bench_replicas.sh [BUILD_DIR]
# USERS_FIRST=1 (the default) first runs the load for 1 s against one replica alone, so that
# the clients' users exist before several replicas write and the measured seconds are the
# steady state; USERS_FIRST=0 measures the users' creation too (where replicas' writers
# deadlocked on PostgreSQL before main's 7b96b33; docs/BENCHMARKS.md).
#   env: ROUNDS (3), DURATION_S (10), WARMUP_S (3), CLIENTS (64), NICE (0), USERS_FIRST (1),
#        CONFIGS ("sqlite sqlite-nginx pg-1 pg-2 pg-3"; sqlite-nginx is the SQLite process
#        behind the same nginx, to show nginx's own cost), REPLICA_DB (pg; "sqlite" runs the
#        pg-N configurations on one shared SQLite file instead, for checking the script),
#        OUT (a new temporary folder: per-measurement CSV and logs, results.tsv)
set -euo pipefail
build=${1:-build}
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$build" && pwd)
rounds=${ROUNDS:-3} duration=${DURATION_S:-10} warmup=${WARMUP_S:-3} clients=${CLIENTS:-64}
users_first=${USERS_FIRST:-1}
configs=${CONFIGS:-sqlite sqlite-nginx pg-1 pg-2 pg-3}
replica_db=${REPLICA_DB:-pg}
nice_n=${NICE:-0}
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
tmp=$(mktemp -d)
chmod o+x "$tmp"
hz=$(getconf CLK_TCK)
nginx_bin=${PB_NGINX:-/usr/sbin/nginx}
# shellcheck source=tests/pgtest.sh
source "$src/tests/pgtest.sh"

pids=()
stop_all() { # stops what this measurement started, by pid
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  pids=()
}
pg_dir=
cleanup() {
  stop_all
  [ -n "$pg_dir" ] && pg_test_server_stop "$pg_dir"
  rm -rf "$tmp"
}
trap cleanup EXIT
die() {
  echo "bench_replicas: $*" >&2
  exit 1
}
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_http() {
  local i
  for i in $(seq 300); do
    [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$1")" = 200 ] && return 0
    sleep 0.1
  done
  return 1
}
# ticks PID...: utime + stime of the processes and their live children, in clock ticks
ticks() {
  local p c sum=0
  for p in "$@"; do
    for c in "$p" $(pgrep -P "$p" 2>/dev/null); do
      [ -r "/proc/$c/stat" ] || continue
      # Fields after the command's closing parenthesis: utime is the 12th, stime the 13th.
      sum=$((sum + $(sed 's/.*) //' "/proc/$c/stat" | awk '{print $12 + $13}')))
    done
  done
  echo "$sum"
}
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
# writer_sum NAME PORT...: a /metrics value (pb_writer_batches, ...) summed over the replicas
writer_sum() {
  local name=$1 p
  shift
  for p in "$@"; do curl -s -m 2 "http://127.0.0.1:$p/metrics"; done |
    awk -v n="$name" '$1 == n {s += $2} END {printf "%.0f\n", s}'
}

if [ ! -x "$build/promptbandit" ] || [ ! -x "$build/soakload" ]; then
  die "build first: $build/promptbandit, $build/soakload"
fi
[ -x "$nginx_bin" ] || die "no nginx at $nginx_bin (apt-get install nginx)"
as_user=()
if [ "$(id -u)" -eq 0 ]; then
  pg_test_user || die "no unprivileged user for nginx"
  as_user=(setpriv --reuid="$PG_TEST_USER" --regid="$PG_TEST_USER" --clear-groups --)
fi
if [[ " $configs " == *" pg-"* ]] && [ "$replica_db" = pg ]; then
  pg_dir=$tmp/pg
  pg_test_server_start "$pg_dir" $$ >"$tmp/pg.url" || die "the PostgreSQL test server did not start"
  pg_pid=$(head -n 1 "$pg_dir/data/postmaster.pid")
fi

export PB_SERVER_ACCESS_LOG='' PB_EMOTION_BACKEND=none PB_SERVER_PER_IP_CONNECTIONS=0
export PB_REPLICA_FEEDBACK_WAIT_MS=2000
export PB_DB_SYNCHRONOUS=FULL PB_LLM_BASE_URL=http://127.0.0.1:9/v1

# measure CONFIG ROUND: one measurement; appends a line to $out/results.tsv
measure() {
  local config=$1 round=$2 n=1 via_nginx=1 db i port url tag=$1-r$2
  case "$config" in
  sqlite) via_nginx=0 db=$tmp/$tag.db ;;
  sqlite-nginx) db=$tmp/$tag.db ;;
  pg-[123])
    n=${config#pg-}
    if [ "$replica_db" = pg ]; then
      db=$(pg_test_createdb "$pg_dir" "b_${tag//-/_}") || die "createdb failed"
    else
      db=$tmp/$tag.db
    fi
    ;;
  *) die "unknown configuration $config" ;;
  esac
  local ports=() rpids=()
  for ((i = 0; i < n; i++)); do
    port=$(free_port)
    nice -n "$nice_n" "$build/promptbandit" serve --port "$port" --db "$db" \
      --prompts "$src/prompts" 2>"$out/$tag.replica$i.err" &
    pids+=($!)
    rpids+=($!)
    ports+=("$port")
    # One at a time: the first replica migrates a fresh database.
    wait_http "http://127.0.0.1:$port/healthz" || die "replica $i of $tag did not start: $(tail -3 "$out/$tag.replica$i.err")"
  done
  url=http://127.0.0.1:${ports[0]}
  local npids=()
  if [ "$via_nginx" = 1 ]; then
    local nd=$tmp/nginx-$tag nport
    mkdir -p "$nd/tmp"
    nport=$(free_port)
    # The packaged file with this measurement's upstream: server lines for the replicas only.
    awk -v ports="${ports[*]}" -v listen="$nport" '
      BEGIN { n = split(ports, p, " ") }
      /^ *server 127\.0\.0\.1:808[1-3] / { if (++k <= n) sub(/127\.0\.0\.1:808[1-3]/, "127.0.0.1:" p[k]); else next }
      /^ *listen 8080;/ { sub(/8080/, "127.0.0.1:" listen) }
      { print }' "$src/packaging/nginx-promptbandit.conf" >"$nd/site.conf"
    cat >"$nd/nginx.conf" <<EOF
worker_processes auto;
pid $nd/nginx.pid;
error_log $nd/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $nd/tmp/body;
    proxy_temp_path $nd/tmp/proxy;
    fastcgi_temp_path $nd/tmp/fastcgi;
    uwsgi_temp_path $nd/tmp/uwsgi;
    scgi_temp_path $nd/tmp/scgi;
    include $nd/site.conf;
}
EOF
    [ ${#as_user[@]} -gt 0 ] && chown -R "$PG_TEST_USER:" "$nd"
    nice -n "$nice_n" "${as_user[@]}" "$nginx_bin" -p "$nd" -c "$nd/nginx.conf" -e "$nd/error.log" \
      -g 'daemon off;' 2>"$out/$tag.nginx.err" &
    pids+=($!)
    npids+=($!)
    url=http://127.0.0.1:$nport
    wait_http "$url/healthz" || die "nginx for $tag did not answer: $(cat "$nd/error.log")"
  fi
  if [ "$users_first" = 1 ]; then
    # The clients' users, created through one replica alone (see USERS_FIRST above).
    "$build/soakload" --url "http://127.0.0.1:${ports[0]}" --pid 0 --duration-s 1 --interval-s 1 \
      --clients "$clients" --think-ms 0 --mix choose-feedback --user-prefix "u-$tag" \
      >/dev/null 2>"$out/$tag.users.err" || die "creating the users for $tag failed: $(tail -3 "$out/$tag.users.err")"
  fi
  nice -n "$nice_n" "$build/soakload" --url "$url" --pid 0 --duration-s $((warmup + duration + 1)) \
    --interval-s 1 --clients "$clients" --think-ms 0 --mix choose-feedback --user-prefix "u-$tag" \
    --feedback-delay-ms 250 --timeout-s 20 >"$out/$tag.csv" 2>"$out/$tag.load.err" &
  local lpid=$!
  pids+=("$lpid")
  sleep "$warmup"
  local pgp=()
  [ "$replica_db" = pg ] && [ "$n" -gt 0 ] && [[ $config == pg-* ]] && pgp=("$pg_pid")
  local t0 r0 n0 p0 l0 b0
  local wb0 wr0 wb1 wr1
  wb0=$(writer_sum pb_writer_batches "${ports[@]}") wr0=$(writer_sum pb_writer_records "${ports[@]}")
  t0=$(date +%s.%N) r0=$(ticks "${rpids[@]}") l0=$(ticks "$lpid") b0=$(busy_ticks)
  n0=0 p0=0
  [ ${#npids[@]} -gt 0 ] && n0=$(ticks "${npids[@]}")
  [ ${#pgp[@]} -gt 0 ] && p0=$(ticks "${pgp[@]}")
  sleep "$duration"
  local t1 r1 n1=0 p1=0 l1 b1
  t1=$(date +%s.%N) r1=$(ticks "${rpids[@]}") l1=$(ticks "$lpid") b1=$(busy_ticks)
  [ ${#npids[@]} -gt 0 ] && n1=$(ticks "${npids[@]}")
  [ ${#pgp[@]} -gt 0 ] && p1=$(ticks "${pgp[@]}")
  wb1=$(writer_sum pb_writer_batches "${ports[@]}") wr1=$(writer_sum pb_writer_records "${ports[@]}")
  wait "$lpid" || true
  # CSV: t_s,rss_kb,fds,threads,requests,ok,c4xx,c5xx,no_answer,chat_n,..,feedback_n,..,choose_n,..
  local ok err choose feedback
  read -r ok err choose feedback < <(awk -F, -v w="$warmup" -v e="$((warmup + duration))" 'NR > 1 && $1 > w && $1 <= e {
      ok += $6; err += $7 + $8 + $9; fb += $13; ch += $16 } END {print ok + 0, err + 0, ch + 0, fb + 0}' \
    "$out/$tag.csv")
  awk -v c="$config" -v r="$round" -v ok="$ok" -v err="$err" -v ch="$choose" -v fb="$feedback" \
    -v t0="$t0" -v t1="$t1" -v hz="$hz" -v rd="$((r1 - r0))" -v nd="$((n1 - n0))" \
    -v pd="$((p1 - p0))" -v ld="$((l1 - l0))" -v bd="$((b1 - b0))" -v d="$duration" \
    -v wb="$((wb1 - wb0))" -v wr="$((wr1 - wr0))" 'BEGIN {
      s = (t1 - t0) * hz / 100  # ticks per percent of one core
      printf "%s\t%s\t%.0f\t%.0f\t%.0f\t%d\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.1f\n", c, r, ok / d,
        ch / d, fb / d, err, rd / s, nd / s, pd / s, ld / s, bd / s, wb / (t1 - t0),
        wb ? wr / wb : 0 }' >>"$out/results.tsv"
  tail -n 1 "$out/results.tsv" >&2
  stop_all
  rm -f "$tmp/$tag".db*
}

echo "bench_replicas: $(nproc) cores, $(uptime | sed 's/.*load/load/'); rounds $rounds," \
  "${duration} s each after ${warmup} s, $clients clients (users first: $users_first);" \
  "configurations: $configs" \
  "(pg-N on $replica_db); details in $out" >&2
: >"$out/results.tsv"
read -r -a cfg <<<"$configs"
for ((r = 1; r <= rounds; r++)); do
  # Rotate the order each round, so that no configuration always runs first or last.
  for ((k = 0; k < ${#cfg[@]}; k++)); do
    measure "${cfg[$(((k + r - 1) % ${#cfg[@]}))]}" "$r"
  done
done
echo "bench_replicas: load after the run: $(uptime | sed 's/.*load/load/')" >&2

# Medians per configuration; the ratio is to the median of "sqlite" in this run.
python3 - "$out/results.tsv" "$configs" "$replica_db" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
order, db = sys.argv[2].split(), sys.argv[3]
med = {}
for c in order:
    rs = [r for r in rows if r[0] == c]
    if rs:
        med[c] = [statistics.median(float(r[i]) for r in rs) for i in list(range(2, 11)) + [11, 12]]
        med[c].insert(9, len(rs))
base = med.get("sqlite", [0])[0]
print("| configuration | rounds | answered 2xx/s (median) | ratio to SQLite | choose/s | feedback/s"
      " | errors (all rounds) | CPU % of one core: replicas / nginx / PostgreSQL / load client"
      " | machine busy (of 200 %) | writer commits/s (all replicas) | records per commit |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
names = {"sqlite": "SQLite, one process (direct)", "sqlite-nginx": "SQLite, one process behind nginx"}
for c in order:
    if c not in med:
        continue
    m = med[c]
    errs = sum(int(r[5]) for r in rows if r[0] == c)
    name = names.get(c, f"{c[3:]} replica(s) on {'PostgreSQL' if db == 'pg' else 'one SQLite file'}, nginx")
    ratio = f"{m[0] / base:.2f}" if base else "-"
    print(f"| {name} | {m[9]} | {m[0]:.0f} | {ratio} | {m[1]:.0f} | {m[2]:.0f} | {errs} "
          f"| {m[4]:.0f} / {m[5]:.0f} / {m[6]:.0f} / {m[7]:.0f} | {m[8]:.0f} | {m[10]:.0f} | {m[11]:.1f} |")
EOF
