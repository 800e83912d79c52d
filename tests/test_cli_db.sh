#!/usr/bin/env bash
# test_cli_db.sh — `promptbandit db` and `promptbandit prompts` as a user runs them: usage and
# exit codes, migrate/status/backup/purge, prompt sync from a folder (the project's A–D files
# load; judge_*/propose files do not), add/retire/restore, refusal of a corrupt database and of
# an empty prompt file.
source "${PB_SOURCE_DIR:?run through ctest}/tests/lib.sh"
bin=${PB_BIN:?PB_BIN must name the promptbandit binary}
src=$PB_SOURCE_DIR
tmp=$PB_TMP
fails=0
export PB_CONFIG=

# expect CODE PATTERN -- command...: exit code must be CODE and stdout+stderr must match PATTERN.
expect() {
  local code=$1 pattern=$2
  shift 3
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  if [ "$rc" != "$code" ] || ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL: $* -> exit $rc (want $code), output does not match /$pattern/:" >&2
    echo "$out" | head -20 >&2
    fails=$((fails + 1))
  else
    echo "ok   $*"
  fi
}

db=$(pb_db pb.db) || exit 2 # a file, or a PostgreSQL database in the PostgreSQL pass
expect 0 'backup FILE +online copy' -- "$bin" db --help
expect 2 'usage: promptbandit db' -- "$bin" db
expect 2 "unknown action 'bogus'" -- "$bin" db bogus
expect 2 'give the FILE' -- "$bin" db backup --db "$db"
expect 0 'schema version [1-9][0-9]* \([1-9][0-9]* migration' -- "$bin" db migrate --db "$db"
expect 0 '0 migration' -- "$bin" db migrate --db "$db"
expect 0 'integrity +ok' -- "$bin" db status --db "$db"

# The project's prompts: A is the seed prompt; judge and proposer prompts are not arms.
export PB_PROMPTS_DIR=$src/prompts
expect 0 'list \[--all\]' -- "$bin" prompts --help
expect 0 "^A +1 +[0-9a-f]{12} active +친구, 일상대화, 반말" -- "$bin" prompts list --db "$db"
expect 0 '^D +1 ' -- "$bin" prompts list --db "$db"
expect 0 'arms +4$' -- "$bin" db status --db "$db" # A-D; judge_* and propose are not arms

# A folder of our own to change files in.
mkdir "$tmp/prompts"
printf 'first text\n' >"$tmp/prompts/A.txt"
printf 'judge prompt\n' >"$tmp/prompts/judge_x.txt"
export PB_PROMPTS_DIR=$tmp/prompts
db2=$(pb_db two.db) || exit 2
expect 0 '^A +1 .*first text' -- "$bin" prompts list --db "$db2"
printf 'second text\n' >"$tmp/prompts/A.txt"
expect 0 '^A +2 .*active +second text' -- "$bin" prompts list --db "$db2"
expect 0 '^A +1 .*retired +first text' -- "$bin" prompts list --all --db "$db2"
printf 'hand written\n' >"$tmp/x.txt"
expect 0 'arm X v1: added' -- "$bin" prompts add X "$tmp/x.txt" --db "$db2"
expect 0 'unchanged' -- "$bin" prompts add X "$tmp/x.txt" --db "$db2"
expect 1 'same text is already arm X' -- "$bin" prompts add Y "$tmp/x.txt" --db "$db2"
expect 0 'arm X v1 retired' -- "$bin" prompts retire X --db "$db2"
expect 1 "no active arm named 'X'" -- "$bin" prompts retire X --db "$db2"
expect 0 'arm A v1 is active again' -- "$bin" prompts restore A 1 --db "$db2"
expect 0 '^A +1 .*active +first text' -- "$bin" prompts list --db "$db2"
expect 2 'expected 2 argument' -- "$bin" prompts add X --db "$db2"
: >"$tmp/prompts/B.txt"
expect 1 'B.txt: prompt is empty' -- "$bin" prompts list --db "$db2"
rm "$tmp/prompts/B.txt"
printf 'third text\n' >"$tmp/prompts/A.txt"
expect 0 '^A +3 ' -- "$bin" prompts list --db "$db2"

if pb_is_url "$db2"; then
  # PostgreSQL's online copy is pg_dump's: db backup says so, with the command, and writes nothing.
  expect 1 'on PostgreSQL: use pg_dump \(pg_dump -Fc -f ' -- "$bin" db backup "$tmp/copy.db" --db "$db2"
  expect 0 'no copy written' -- bash -c "test ! -e '$tmp/copy.db' && echo 'no copy written'"
else
  expect 0 'backup written' -- "$bin" db backup "$tmp/copy.db" --db "$db2"
  expect 1 'already exists' -- "$bin" db backup "$tmp/copy.db" --db "$db2"
  expect 0 'arms +4$' -- "$bin" db status --db "$tmp/copy.db"
fi
expect 0 'purged 0 message' -- "$bin" db purge --older-than 30 --db "$db2"
expect 2 'older-than' -- "$bin" db purge --older-than soon --db "$db2"

head -c 8192 /dev/urandom >"$tmp/garbage.db"
expect 1 'not a SQLite database' -- "$bin" db status --db "$tmp/garbage.db"
expect 1 'cannot open' -- "$bin" db migrate --db "$tmp/no/such/dir/x.db"

if [ "$fails" -ne 0 ]; then
  echo "FAILED: $fails check(s)"
  exit 1
fi
echo "PASSED"
