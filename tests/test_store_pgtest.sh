#!/usr/bin/env bash
# test_store_pgtest.sh — the throwaway PostgreSQL server the tests use (tests/pgtest.sh): it
# starts on a free port as an unprivileged user and answers at the URL it prints; another
# database can be created on it; it is stopped and its folder removed when the process it
# watches dies (a crashed test leaves nothing behind); and a server that cannot start is a
# failure with the reason, never a skip, in shell and in C tests.
# shellcheck source=lib.sh
source "${PB_SOURCE_DIR:?PB_SOURCE_DIR must name the source tree}/tests/lib.sh"
# shellcheck source=pgtest.sh
source "$PB_SOURCE_DIR/tests/pgtest.sh"
PSQL=/usr/lib/postgresql/15/bin/psql

pg_test_start || {
  pb_fail "the test server starts"
  pb_done
  exit 1
}
pb_check "the URL names 127.0.0.1 and the database pbtest" \
  grep -q '^postgresql://pbtest@127\.0\.0\.1:[0-9]*/pbtest$' <<<"$PB_PG_URL"
answer=$("$PSQL" "$PB_PG_URL" -tAc 'SELECT 40 + 2' 2>&1)
pb_check_eq "$answer" 42 "the server answers at the URL"
pid=$(head -n 1 "$PB_PG_DIR/data/postmaster.pid")
owner=$(ps -o user= -p "$pid" | tr -d ' ')
if [ "$(id -u)" -eq 0 ]; then
  pb_check_eq "$owner" "${PB_PG_USER:-pbtest}" "as root, the server runs as the unprivileged user"
else
  pb_check_eq "$owner" "$(id -un)" "the server runs as the calling user"
fi
url2=$(bash "$PB_SOURCE_DIR/tests/pgtest.sh" createdb "$PB_PG_DIR" second)
answer=$("$PSQL" "$url2" -tAc 'SELECT current_database()' 2>&1)
pb_check_eq "$answer" second "createdb makes another database on the same server"

# A watched process that dies: the watcher stops the server and removes the folder.
sleep 30 &
victim=$!
dir=$(mktemp -d "${TMPDIR:-/tmp}/pbpg-XXXXXX")
url=$(bash "$PB_SOURCE_DIR/tests/pgtest.sh" start "$dir" "$victim")
pb_check_eq "$("$PSQL" "$url" -tAc 'SELECT 1' 2>&1)" 1 "a second server starts beside the first"
pid2=$(head -n 1 "$dir/data/postmaster.pid")
kill "$victim"
wait "$victim" 2>/dev/null
for _ in $(seq 100); do
  [ -d "$dir" ] || break
  sleep 0.1
done
pb_check "the folder is gone within 10 s of the watched process dying" test ! -d "$dir"
# (It may linger as a zombie where the machine's init does not reap orphans.)
state=$(ps -o stat= -p "$pid2" 2>/dev/null)
pb_check "the server process is gone (state '${state}')" test -z "${state%%Z*}"

# No PostgreSQL where it is looked for: a failure with the reason.
dir=$(mktemp -d "${TMPDIR:-/tmp}/pbpg-XXXXXX")
out=$(PB_PG_BIN=/nonexistent bash "$PB_SOURCE_DIR/tests/pgtest.sh" start "$dir" $$ 2>&1)
pb_check_eq "$?" 1 "start fails (exit 1) when PostgreSQL is missing"
pb_check "and says what to install: $out" grep -q "apt-get install postgresql-15" <<<"$out"
rm -rf "$dir"
pb_expect 2 "usage" -- bash "$PB_SOURCE_DIR/tests/pgtest.sh" bogus
# The C harness (tests/pg_harness.h) turns that into exit status 2 of the test, not a pass.
pb_expect 2 "this is a failure, not a skip" -- env PB_PG_BIN=/nonexistent \
  "${PB_BUILD_DIR:?PB_BUILD_DIR must name the build folder}/test_store_pgschema"

pb_done
