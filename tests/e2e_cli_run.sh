#!/usr/bin/env bash
# e2e_cli_run.sh — bandit-run end to end as a real process against the fake LLM: a run finds the
# known best prompt and writes its report folder; SIGINT mid-run exits 130 and `resume` ends
# with exactly the steps and the provider calls of an uninterrupted run (counted at the fake);
# --dry-run makes no call; list, report --json, export and replay work on the result; --help
# and bad input answer as documented.
source "${PB_SOURCE_DIR:?run through ctest}/tests/lib.sh"
# The databases (SQLite files, or PostgreSQL databases in the PostgreSQL pass: lib.sh pb_db).
db_x=$(pb_db x.db) || exit 2
db_dry=$(pb_db dry.db) || exit 2
db_whole=$(pb_db whole.db) || exit 2
db_parts=$(pb_db parts.db) || exit 2
db_budget=$(pb_db budget.db) || exit 2
BIN=${PB_BIN:?PB_BIN must name the promptbandit binary}
FAKE=${PB_FAKE_LLM:?PB_FAKE_LLM must name the fake-llm binary}
RUN=$PB_TMP/bandit-run
ln -s "$BIN" "$RUN"

mkdir -p "$PB_TMP/prompts"
printf 'PROMPT-A 친구처럼 답해.\n' >"$PB_TMP/prompts/A.txt"
printf 'PROMPT-B 반말로 답해.\n' >"$PB_TMP/prompts/B.txt"
printf 'PROMPT-C 공감하며 답해.\n' >"$PB_TMP/prompts/C.txt"
printf 'PROMPT-D 짧게 답해.\n' >"$PB_TMP/prompts/D.txt"
cat >"$PB_TMP/rules.json" <<'JSON'
[{"system_contains": "Rubric", "user_contains": "GOOD", "reply": "{\"score\": 1, \"reason\": \"warm: {judged}\"}"},
 {"system_contains": "Rubric", "reply": "-0.5"},
 {"system_contains": "PROMPT-C", "reply": "GOOD {sentence} ({emotion})"},
 {"any_contains": "PROMPT-", "reply": "meh {sentence}"}]
JSON
# slow=40: every answer takes 40 ms, so a run of 48 iterations lasts long enough to interrupt.
pb_start fake "$FAKE" --port 0 --rules "$PB_TMP/rules.json" --fault slow=40
pb_wait_line "$PB_TMP/fake.out" listening || exit 1
URL=$(sed -n 's/^listening on //p' "$PB_TMP/fake.out")
export PB_LLM_BASE_URL=$URL/v1 OPENAI_API_KEY=
calls() { curl -s "$URL/_stats" | jq .chat_requests; }
common=(--prompts "$PB_TMP/prompts" --scenarios "$PB_SOURCE_DIR/prompts/scenarios_chat.txt"
  --rubric "$PB_SOURCE_DIR/prompts/judge_chat.txt"
  --examples "$PB_SOURCE_DIR/ratings/examples_chat.jsonl" --seed 5 --batch 4 --quiet)

# --- help and usage ---
"$RUN" --help >"$PB_TMP/help" 2>&1
pb_check_eq "$?" 0 "--help exits 0"
pb_check "--help documents resume, replay and --dry-run" \
  grep -q -e "resume RUN" -e "replay --events" "$PB_TMP/help"
"$BIN" run report >/dev/null 2>"$PB_TMP/err"
pb_check_eq "$?" 2 "report without a run id is a usage error"
"$RUN" --iterations x >/dev/null 2>"$PB_TMP/err"
pb_check_eq "$?" 2 "a bad number is a usage error"
pb_check "the message names the option" grep -q -- "--iterations" "$PB_TMP/err"

# every action answers its own --help, and takes only its own options
for action in resume report export list replay; do
  "$RUN" "$action" --help >"$PB_TMP/help.$action" 2>&1
  pb_check_eq "$?" 0 "$action --help exits 0"
  pb_check "$action --help is its own help" grep -q "^usage: bandit-run $action" "$PB_TMP/help.$action"
done
pb_expect 2 "this action takes: --db, --config" -- "$RUN" list --iterations 3
pb_expect 2 "unknown action 'frob'; the actions are resume, report" -- "$RUN" frob
# usage errors exit 2, list the valid values and come before the provider check
PB_LLM_BASE_URL= pb_expect 2 "--judge must be one of llm, local, constant; got 'gpt'" -- "$RUN" --judge gpt
PB_LLM_BASE_URL= pb_expect 2 "known: ucb1, ucb1-tuned" -- "$RUN" --policy ucb9
PB_LLM_BASE_URL= pb_expect 2 "prompts folder $PB_TMP/nodir: No such file" -- \
  "$RUN" --prompts "$PB_TMP/nodir" --db "$db_x"
pb_check "a usage error creates no database" pb_db_untouched "$db_x"
PB_LLM_BASE_URL= pb_expect 2 "scenarios file $PB_TMP/none.txt" -- \
  "$RUN" --prompts "$PB_TMP/prompts" --scenarios "$PB_TMP/none.txt"

# --- dry run makes no calls ---
before=$(calls)
"$RUN" "${common[@]}" --db "$db_dry" --iterations 100 --dry-run --budget usd=1 \
  >"$PB_TMP/dry.txt" 2>"$PB_TMP/dry.err"
pb_check_eq "$?" 0 "--dry-run exits 0"
pb_check_eq "$(calls)" "$before" "--dry-run made no call to the provider"
pb_check "--dry-run lists the arms and the calls" \
  grep -q "4 (A, B, C, D)" "$PB_TMP/dry.txt"
pb_check "--dry-run counts 100 + 100 calls" grep -q "100 generation + 100 judge = 200" "$PB_TMP/dry.txt"
pb_check "--dry-run stores nothing" pb_db_untouched "$db_dry"

# --- an uninterrupted run ---
curl -s -X POST "$URL/_reset" >/dev/null
"$RUN" "${common[@]}" --db "$db_whole" --iterations 48 --out "$PB_TMP/whole" \
  >"$PB_TMP/whole.md" 2>"$PB_TMP/whole.err"
pb_check_eq "$?" 0 "a whole run exits 0"
whole_calls=$(calls)
pb_check_eq "$whole_calls" 96 "48 iterations cost 48 generations and 48 judgements"
pb_check "the report names C the leader" grep -q "^| C (leader) |" "$PB_TMP/whole.md"
pb_check "the verdict is the GLR rule with its small-sample guard" \
  grep -Eq "^\*\*(Separated: C is the best arm|Not enough rewards yet:\*\* C leads)" "$PB_TMP/whole.md"
for f in steps.jsonl report.md report.json verdict.svg means.svg rewards.svg; do
  pb_check "--out wrote $f" test -s "$PB_TMP/whole/$f"
done
pb_check_eq "$(wc -l <"$PB_TMP/whole/steps.jsonl")" 48 "steps.jsonl has one line per iteration"

# --- SIGINT, then resume ---
curl -s -X POST "$URL/_reset" >/dev/null
"$RUN" "${common[@]}" --db "$db_parts" --iterations 48 >"$PB_TMP/p1.md" \
  2>"$PB_TMP/p1.err" &
pid=$!
for _ in $(seq 1 200); do # wait until the provider has answered some requests
  [ "$(calls)" -ge 20 ] && break
  sleep 0.05
done
kill -INT "$pid"
wait "$pid"
pb_check_eq "$?" 130 "SIGINT stops the run with exit status 130"
pb_check "the interrupted run says how to resume" grep -q "bandit-run resume 1" "$PB_TMP/p1.err"
"$RUN" list --db "$db_parts" >"$PB_TMP/list1"
pb_check "list shows the run as interrupted" grep -q "interrupted" "$PB_TMP/list1"
mid_calls=$(calls)
pb_check "it was stopped before the end" test "$mid_calls" -lt 96
"$RUN" resume 1 --db "$db_parts" --quiet >"$PB_TMP/p2.md" 2>"$PB_TMP/p2.err"
pb_check_eq "$?" 0 "resume finishes the run"
pb_check_eq "$(calls)" "$whole_calls" "interrupted + resumed made exactly the calls of one run"
"$RUN" export 1 --db "$db_parts" >"$PB_TMP/parts.jsonl"
"$RUN" export 1 --db "$db_whole" >"$PB_TMP/whole.jsonl"
strip() { jq -c '{iteration, arm, status, reward, propensity, output, tokens}' "$1"; }
pb_check "resumed run has the same steps as the uninterrupted one" \
  cmp -s <(strip "$PB_TMP/parts.jsonl") <(strip "$PB_TMP/whole.jsonl")
# a run is named by its id or by the name `list` shows, in every action
"$RUN" "${common[@]}" --db "$db_parts" --iterations 8 --name "night run 2" \
  >/dev/null 2>&1
"$RUN" list --db "$db_parts" >"$PB_TMP/list3"
pb_check "list shows names in full" grep -q "night run 2" "$PB_TMP/list3"
"$RUN" report "night run 2" --db "$db_parts" --json >"$PB_TMP/named.json"
pb_check_eq "$?" 0 "report accepts the name list shows"
pb_check_eq "$(jq -r .run "$PB_TMP/named.json")" 2 "the name finds its run"
pb_check_eq "$("$RUN" export "night run 2" --db "$db_parts" | wc -l)" 8 "export accepts the name"
pb_expect 2 "no run named 'nope'" -- "$RUN" report nope --db "$db_parts"
pb_check "the error lists the runs there are" grep -q "1 night run 2\|2 night run 2" "$PB_TMP/err"
"$RUN" report 1 --db "$db_parts" --json >"$PB_TMP/r.json"
pb_check_eq "$(jq -r '.arms[] | select(.arm == "C") | .pulls' "$PB_TMP/r.json")" \
  "$(jq -r '.arms[] | select(.arm == "C") | .pulls' <("$RUN" report 1 --db "$db_whole" --json))" \
  "report --json gives the same pulls after resume"
pb_check_eq "$(jq -r '.verdict.leader' "$PB_TMP/r.json")" C "report --json names C leader"
pb_check_eq "$(jq -r '.arms[] | select(.arm == "C") | .prompt' "$PB_TMP/r.json")" \
  "PROMPT-C 공감하며 답해." "report --json carries the prompt texts"
pb_check "report --json carries examples" \
  test "$(jq -r '.arms[] | select(.arm == "C") | .examples.best.output' "$PB_TMP/r.json" | cut -c1-4)" = GOOD
pb_check "report --json carries the judge's reason of an example" \
  test "$(jq -r '.arms[] | select(.arm == "C") | .examples.best.reason' "$PB_TMP/r.json" | cut -c1-11)" = "warm: GOOD "
pb_check "an answer judged with a bare level has a null reason" \
  test "$(jq -r '[.arms[] | select(.arm != "C" and .pulls > 0) | .examples.worst.reason] | unique | join(",")' "$PB_TMP/r.json")" = ""
pb_check "report.md shows the judge's reason under an example" grep -q "judge's reason: warm: GOOD" "$PB_TMP/whole/report.md"
pb_check "export keeps the reason with its step" \
  test "$(jq -r 'select(.reason != null) | .reason' "$PB_TMP/whole.jsonl" | head -1 | cut -c1-5)" = "warm:"

# --- budget ---
"$RUN" "${common[@]}" --db "$db_budget" --iterations 100 --budget calls=20 \
  >/dev/null 2>"$PB_TMP/b.err"
pb_check_eq "$?" 0 "a run stopped by its budget exits 0"
"$RUN" list --db "$db_budget" >"$PB_TMP/list2"
pb_check "list shows the budget stop" grep -q "budget" "$PB_TMP/list2"

# --- replay over the export ---
"$RUN" replay --events "$PB_TMP/whole.jsonl" --policy ucb1,thompson,egreedy:epsilon=0.1,burnin=1 \
  --json >"$PB_TMP/replay.json" 2>"$PB_TMP/replay.err"
pb_check_eq "$?" 0 "replay over an export exits 0"
pb_check_eq "$(jq length "$PB_TMP/replay.json")" 3 "replay reports one row per policy"
pb_check_eq "$(jq -r '.[2].policy' "$PB_TMP/replay.json")" "egreedy:epsilon=0.1,burnin=1" \
  "a policy with two parameters stays one policy"
"$RUN" replay --events "$PB_TMP/nope.jsonl" --policy ucb1 >/dev/null 2>"$PB_TMP/err"
pb_check_eq "$?" 1 "replay of a missing file fails"

pb_done
