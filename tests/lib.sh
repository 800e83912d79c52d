# lib.sh — helpers for the shell end-to-end tests (source it): a private temporary folder,
# background processes started on free ports and stopped by a cleanup trap (only the ones
# started here, by pid), waiting for /healthz, curl wrappers, and pass/fail counting that
# ends with a non-zero exit when any check failed.
#   source "$PB_SOURCE_DIR/tests/lib.sh"
#   pb_start fake "$PB_FAKE_LLM" --port 0; url=$(pb_listen_url "$PB_TMP/fake.out")
#   pb_http GET "$url/healthz"; pb_check_eq "$PB_STATUS" 200 "healthz answers 200"
#   pb_expect 2 "unknown option" -- "$PB_BIN" simulate --bogus
#   pb_done
# The database a test runs on comes from pb_db (a SQLite file, or under PB_TEST_DB=pg a fresh
# PostgreSQL database on the server at PB_TEST_PG_URL); pb_sql queries either:
#   db=$(pb_db run.db); "$PB_BIN" list --db "$db"; pb_sql "$db" "SELECT count(*) FROM runs"
# shellcheck shell=bash
# shellcheck disable=SC2034  # PB_STATUS, PB_BODY, PB_HEADERS are read by the sourcing test
set -uo pipefail

PB_TMP=$(mktemp -d "${TMPDIR:-/tmp}/pbe2e-XXXXXX")
PB_PIDS=()
PB_FAILED=0
PB_PASSED=0
PB_STATUS=
PB_BODY=

# The backend of this run: `sqlite` (default) or `pg`, the PostgreSQL pass that CMake's
# `<name>_pg` tests set. Its server is PB_TEST_PG_URL (started once by `tools/bootstrap.sh test`);
# without one, this test starts its own through pgtest.sh, and failing to is a failure.
PB_TEST_DB=${PB_TEST_DB:-sqlite}
PB_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PB_PG_PSQL=psql
[ -x "${PB_PG_BIN:-/usr/lib/postgresql/15/bin}/psql" ] && PB_PG_PSQL=${PB_PG_BIN:-/usr/lib/postgresql/15/bin}/psql
PB_OWN_PG_DIR=

pb_cleanup() {
  local pid name
  for pid in "${PB_PIDS[@]}"; do
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  if [ -f "$PB_TMP/.pb_pg_dbs" ] && [ -n "${PB_TEST_PG_URL:-}" ]; then
    while read -r name; do
      "$PB_PG_PSQL" -X -q -v ON_ERROR_STOP=1 "$PB_TEST_PG_URL" \
        -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null 2>&1
    done <"$PB_TMP/.pb_pg_dbs"
  fi
  [ -n "$PB_OWN_PG_DIR" ] && bash "$PB_LIB_DIR/pgtest.sh" stop "$PB_OWN_PG_DIR"
  rm -rf "$PB_TMP"
}
trap pb_cleanup EXIT

if [ "$PB_TEST_DB" = pg ] && [ -z "${PB_TEST_PG_URL:-}" ]; then
  PB_OWN_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pbpg-XXXXXX")
  if ! PB_TEST_PG_URL=$(bash "$PB_LIB_DIR/pgtest.sh" start "$PB_OWN_PG_DIR" $$); then
    echo "FAIL PB_TEST_DB=pg: the PostgreSQL test server did not start (a failure, not a skip)"
    exit 2
  fi
  export PB_TEST_PG_URL
fi

pb_is_url() { [[ $1 == postgresql://* || $1 == postgres://* ]]; }

# pb_db NAME: prints the database for this test to use under NAME: the file $PB_TMP/NAME, or in
# the PostgreSQL pass the URL of a new, empty database pb_t_<pid>_<n>_<name> (dropped at exit).
# Exits the test with status 2 when the database cannot be created.
pb_db() {
  local name=$1 n db
  if [ "$PB_TEST_DB" != pg ]; then
    echo "$PB_TMP/$name"
    return 0
  fi
  n=$(cat "$PB_TMP/.pb_pg_dbs" 2>/dev/null | wc -l)
  name=${name%.db}
  name=$(tr -c 'a-z0-9\n' '_' <<<"${name,,}")
  db=pb_t_$$_${n}_${name:0:30}
  echo "$db" >>"$PB_TMP/.pb_pg_dbs"
  if ! "$PB_PG_PSQL" -X -q -v ON_ERROR_STOP=1 "$PB_TEST_PG_URL" -c "CREATE DATABASE $db" >&2; then
    echo "FAIL pb_db: cannot create the PostgreSQL database $db (a failure, not a skip)" >&2
    exit 2
  fi
  echo "${PB_TEST_PG_URL%/*}/$db"
}

# pb_sql DB SQL: runs SQL on a test database (file or URL) and prints rows as SQLite's CLI
# does by default: no header, columns joined by '|', one row a line.
pb_sql() {
  if pb_is_url "$1"; then
    "$PB_PG_PSQL" -X -q -At -F '|' -v ON_ERROR_STOP=1 "$1" -c "$2"
  else
    sqlite3 -batch "$1" "$2"
  fi
}

# pb_db_untouched DB: true when nothing created the database: no file, or in the PostgreSQL
# pass a database without one table (pb_db creates it empty).
pb_db_untouched() {
  if pb_is_url "$1"; then
    [ "$(pb_sql "$1" "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" = 0 ]
  else
    [ ! -e "$1" ]
  fi
}

# pb_start NAME CMD ARGS...: runs CMD in the background, stdout in $PB_TMP/NAME.out, stderr
# in $PB_TMP/NAME.err; the pid is in PB_LAST_PID and is stopped at exit.
pb_start() {
  local name=$1
  shift
  "$@" >"$PB_TMP/$name.out" 2>"$PB_TMP/$name.err" &
  PB_LAST_PID=$!
  PB_PIDS+=("$PB_LAST_PID")
}

# pb_wait_http URL [TRIES]: polls until URL answers 200 (0.1 s apart, 100 tries by default).
pb_wait_http() {
  local url=$1 tries=${2:-100} i
  local code=
  for ((i = 0; i < tries; i++)); do
    code=$(curl -s -m 5 -o "$PB_TMP/wait_http.body" -w '%{http_code}' "$url")
    [ "$code" = 200 ] && return 0
    sleep 0.1
  done
  echo "not answering: $url (last status ${code:-none}: $(head -c 300 "$PB_TMP/wait_http.body" 2>/dev/null))" >&2
  return 1
}

# pb_listen_url FILE: waits for the "listening on http://HOST:PORT" line that fake-llm (stdout)
# and `promptbandit serve` (stderr) print once bound, and echoes http://HOST:PORT. Start them
# with port 0 and read the port here: a port picked in advance can be taken in between.
pb_listen_url() {
  pb_wait_line "$1" 'listening on http://' 300 || return 1
  sed -n 's|.*listening on \(http://[^ /]*\).*|\1|p' "$1" | head -1
}

# pb_wait_line FILE PATTERN [TRIES]: waits until FILE has a line matching PATTERN.
pb_wait_line() {
  local file=$1 pattern=$2 tries=${3:-100} i
  for ((i = 0; i < tries; i++)); do
    grep -q -- "$pattern" "$file" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "no line matching '$pattern' in $file" >&2
  return 1
}

# pb_http METHOD URL [BODY] [CURL ARGS...]: sets PB_STATUS, PB_BODY, and PB_HEADERS (a file).
# A JSON body is sent as application/json.
pb_http() {
  local method=$1 url=$2 body=${3-}
  shift 2
  [ $# -gt 0 ] && shift
  local args=(-s -X "$method" -o "$PB_TMP/body" -D "$PB_TMP/headers" -w '%{http_code}')
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  PB_STATUS=$(curl "${args[@]}" "$@" "$url")
  PB_BODY=$(cat "$PB_TMP/body" 2>/dev/null)
  PB_HEADERS=$PB_TMP/headers
}

pb_check() { # pb_check DESCRIPTION COMMAND...: passes when COMMAND succeeds
  local what=$1
  shift
  if "$@"; then
    PB_PASSED=$((PB_PASSED + 1))
    echo "ok   $what"
  else
    PB_FAILED=$((PB_FAILED + 1))
    echo "FAIL $what"
  fi
}

pb_check_eq() { # pb_check_eq ACTUAL EXPECTED DESCRIPTION
  if [ "$1" = "$2" ]; then
    PB_PASSED=$((PB_PASSED + 1))
    echo "ok   $3"
  else
    PB_FAILED=$((PB_FAILED + 1))
    echo "FAIL $3: got '$1', expected '$2'"
  fi
}

pb_fail() { # pb_fail DESCRIPTION: records a failed check, for `COMMAND || pb_fail "what"`
  PB_FAILED=$((PB_FAILED + 1))
  echo "FAIL $*"
}

# pb_expect CODE NEEDLE -- COMMAND...: one check that COMMAND exits with CODE and that its
# stderr contains NEEDLE (grep -i, basic regex). Output is left in $PB_TMP/out and $PB_TMP/err.
pb_expect() {
  local code=$1 needle=$2 got
  shift 3
  "$@" >"$PB_TMP/out" 2>"$PB_TMP/err"
  got=$?
  if [ "$got" = "$code" ] && grep -qi -- "$needle" "$PB_TMP/err"; then
    PB_PASSED=$((PB_PASSED + 1))
    echo "ok   $* exits $code saying '$needle'"
  else
    pb_fail "$* exited $got (expected $code; stderr should have '$needle'): $(head -c 300 "$PB_TMP/err")"
  fi
}

pb_done() {
  echo "$([ "$PB_FAILED" -eq 0 ] && echo PASSED || echo FAILED): $PB_PASSED passed, $PB_FAILED failed"
  [ "$PB_FAILED" -eq 0 ]
}
