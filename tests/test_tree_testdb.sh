#!/usr/bin/env bash
# test_tree_testdb.sh — the PostgreSQL pass covers every test that uses a database: a unit or
# end-to-end test that opens one (store_open, a db.path setting, --db, PB_DB_PATH, sqlite3_open)
# takes it from tests/testdb.h or lib.sh's pb_db() (or a harness built on them) — which is what
# CMakeLists.txt looks for to register its <name>_pg twin — or is listed in tests/backend_specific.txt;
# every listed name is a test; docs/STORE.md prints the list exactly (name and reason); and a
# PostgreSQL pass whose database cannot be made fails the test (exit 2), never skips it.
source "${PB_SOURCE_DIR:?run through ctest}/tests/lib.sh"
cd "$PB_SOURCE_DIR" || exit 1

list=tests/backend_specific.txt
opens='store_open\(|"db\.path",|--db "|PB_DB_PATH=|sqlite3_open'
uses='testdb[_]make|pb[_]db |svc[_]harness\.h|dash[_]harness\.h|writer[_]harness\.h' # CMakeLists.txt's (written so that this file does not match it)

mapfile -t listed < <(grep -E '^[a-z]' "$list" | awk '{print $1}')
pb_check "$list names at least one test" test "${#listed[@]}" -gt 0
for name in "${listed[@]}"; do
  pb_check "$name (backend_specific.txt) is a test" \
    bash -c "ls tests/$name.c tests/$name.sh 2>/dev/null | grep -q ."
done

uncovered=()
for f in tests/test_*.c tests/test_*.sh tests/e2e_*.c tests/e2e_*.sh; do
  name=$(basename "${f%.*}")
  [ "$name" = test_tree_testdb ] && continue # names the patterns, opens nothing
  grep -qE -- "$opens" "$f" || continue
  grep -qE -- "$uses" "$f" && continue
  printf '%s\n' "${listed[@]}" | grep -qx "$name" && continue
  uncovered+=("$name")
done
pb_check_eq "${uncovered[*]}" "" \
  "every test that opens a database uses testdb.h / pb_db() or is in backend_specific.txt"

# The docs' table: one row `| \`name\` | reason |` per listed test, in the same order.
expected=$(grep -E '^[a-z]' "$list" | sed -E 's/^([a-z0-9_]+) +(.*)$/| `\1` | \2 |/')
actual=$(sed -n '/^<!-- backend_specific.txt -->$/,/^<!-- end -->$/p' docs/STORE.md | grep '^| `')
pb_check_eq "$actual" "$expected" "docs/STORE.md prints tests/backend_specific.txt"

# The detector itself: a file that opens a database without the helpers is reported.
mkdir -p "$PB_TMP/tests"
printf 'store_open(path, NULL, &s, err);\n' >"$PB_TMP/tests/test_x_plain.c"
pb_check "a store_open without testdb.h would be found" grep -qE -- "$opens" "$PB_TMP/tests/test_x_plain.c"
pb_check "and is not taken for a helper" bash -c "! grep -qE -- '$uses' '$PB_TMP/tests/test_x_plain.c'"

# The PostgreSQL pass fails, never skips, when it cannot make its database: a server that does
# not answer (a closed port) ends a C test and a shell test with status 2 and the reason.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dead=postgresql://pbtest@127.0.0.1:$port/pbtest
PB_TEST_DB=pg PB_TEST_PG_URL=$dead "${PB_BUILD_DIR:?}/test_store_lineage" >"$PB_TMP/c.out" 2>&1
pb_check_eq "$?" 2 "a C test whose database cannot be created exits 2"
pb_check "and says why" grep -q "cannot create the test database (a failure, not a skip)" "$PB_TMP/c.out"
# (The helper's name is in a variable: this file must not match CMake's pattern itself.)
helper=pb_db
printf 'source "%s/tests/lib.sh"\ndb=$(%s x.db) || exit 2\necho "ran on $db"\n' \
  "$PB_SOURCE_DIR" "$helper" >"$PB_TMP/sh_test.sh"
PB_TEST_DB=pg PB_TEST_PG_URL=$dead bash "$PB_TMP/sh_test.sh" >"$PB_TMP/sh.out" 2>&1
pb_check_eq "$?" 2 "a shell test whose database cannot be created exits 2"
pb_check "and says why" grep -q "cannot create the PostgreSQL database" "$PB_TMP/sh.out"
pb_check "without running on" bash -c "! grep -q 'ran on' '$PB_TMP/sh.out'"

pb_done
