#!/usr/bin/env bash
# test_cli_help.sh — every command listed by `promptbandit --help`, and every action listed by a
# command's own help (its "actions: a, b, c" line), answers --help on stdout with exit 0 and a
# usage line naming it (an action's help is its own, not the command's); an unknown action exits
# 2 naming every valid one; an unknown option exits 2; and the options that take one of a few
# values refuse another with exit 2, listing the valid ones. Nothing here opens a database or
# calls a provider.
source "${PB_SOURCE_DIR:?run through ctest}/tests/lib.sh"
# The databases (SQLite files, or PostgreSQL databases in the PostgreSQL pass: lib.sh pb_db).
db_never=$(pb_db never.db) || exit 2
BIN=${PB_BIN:?PB_BIN must name the promptbandit binary}
export PB_CONFIG= PB_LLM_BASE_URL= OPENAI_BASE_URL= OPENAI_API_KEY= PB_DB_PATH="$db_never"

# The usage line of `run` (= bandit-run, the same binary under its second name) says bandit-run.
differs() { ! cmp -s "$1" "$2"; }
usage_re() { # usage_re COMMAND [ACTION]
  if [ "$1" = run ]; then
    echo "^usage: (promptbandit run|bandit-run)${2:+ $2}( |\$)"
  else
    echo "^usage: promptbandit $1${2:+ $2}( |\$)"
  fi
}

"$BIN" --help >"$PB_TMP/main" 2>&1
pb_check_eq "$?" 0 "promptbandit --help exits 0"
mapfile -t commands < <(sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p' "$PB_TMP/main")
pb_check "promptbandit --help lists the commands" test "${#commands[@]}" -ge 9
"$BIN" no-such-command >/dev/null 2>"$PB_TMP/err"
pb_check_eq "$?" 2 "an unknown command exits 2"
pb_check "an unknown command's message lists the commands" \
  grep -q "serve .*run" <(tr '\n' ' ' <"$PB_TMP/err")

n_actions=0
for cmd in "${commands[@]}"; do
  "$BIN" "$cmd" --help >"$PB_TMP/help.$cmd" 2>"$PB_TMP/err"
  pb_check_eq "$?" 0 "$cmd --help exits 0"
  pb_check "$cmd --help prints its usage on stdout" \
    grep -qE "$(usage_re "$cmd")" <(head -1 "$PB_TMP/help.$cmd")
  pb_check "$cmd --help writes nothing on stderr" test ! -s "$PB_TMP/err"
  "$BIN" "$cmd" --no-such-option >/dev/null 2>"$PB_TMP/err"
  pb_check_eq "$?" 2 "$cmd --no-such-option exits 2"
  line=$(sed -n 's/^actions: //p' "$PB_TMP/help.$cmd")
  [ -n "$line" ] || continue
  IFS=', ' read -r -a actions <<<"$line"
  for act in "${actions[@]}"; do
    n_actions=$((n_actions + 1))
    for flag in --help -h; do
      "$BIN" "$cmd" "$act" "$flag" >"$PB_TMP/help.$cmd.$act" 2>"$PB_TMP/err"
      pb_check_eq "$?" 0 "$cmd $act $flag exits 0"
    done
    pb_check "$cmd $act --help prints its own usage" \
      grep -qE "$(usage_re "$cmd" "$act")" <(head -1 "$PB_TMP/help.$cmd.$act")
    pb_check "$cmd $act --help is not the command's help" \
      differs "$PB_TMP/help.$cmd.$act" "$PB_TMP/help.$cmd"
    # --help wins wherever it stands after the action
    "$BIN" "$cmd" "$act" x --help >"$PB_TMP/late" 2>/dev/null
    pb_check "$cmd $act x --help still prints the action's help" \
      cmp -s "$PB_TMP/late" "$PB_TMP/help.$cmd.$act"
    "$BIN" "$cmd" "$act" --no-such-option >/dev/null 2>"$PB_TMP/err"
    pb_check_eq "$?" 2 "$cmd $act --no-such-option exits 2"
  done
  "$BIN" "$cmd" no-such-action >/dev/null 2>"$PB_TMP/err"
  pb_check_eq "$?" 2 "$cmd no-such-action exits 2"
  for act in "${actions[@]}"; do
    pb_check "$cmd no-such-action names the valid action $act" \
      grep -qw -- "$act" "$PB_TMP/err"
  done
done
pb_check "the commands' helps list actions (judge, emotion, prompts, db, config, run)" \
  test "$n_actions" -ge 22

# Options with a few valid values list them when given another (usage error, exit 2).
pb_expect 2 "llm, local, constant" -- "$BIN" judge eval --judge gpt
pb_expect 2 "diary, chat" -- "$BIN" judge eval --judge local --rubric poems
pb_expect 2 "goemotions, kote, polarity" -- \
  "$BIN" emotion train --format nope --data "$PB_TMP/x" --out "$PB_TMP/y"
pb_expect 2 "llm, local, constant" -- "$BIN" run --judge gpt
pb_expect 2 "known: ucb1" -- "$BIN" run --policy ucb9
pb_expect 2 "known: ucb1" -- "$BIN" simulate --policy ucb9 --arms bernoulli:0.5,0.6
pb_expect 2 "regret or identify" -- "$BIN" simulate --goal nope --arms bernoulli:0.5,0.6
pb_expect 2 "expected a whole number" -- "$BIN" serve --port x
pb_check "no usage error created a database" pb_db_untouched "$db_never"
pb_done
