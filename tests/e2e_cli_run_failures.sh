#!/usr/bin/env bash
# e2e_cli_run_failures.sh — bandit-run fails loudly: an unreachable provider, a judge whose
# answers are not levels and a flaky provider each show their reason on stderr as it happens,
# stop with the exact reason (unreachable, judge_parse), list it in report.md and report.json,
# exit 1 when every step failed or the failed share passes --max-failure-share, and print the
# dry-run estimate next to the calls actually made.
source "${PB_SOURCE_DIR:?run through ctest}/tests/lib.sh"
# The databases (SQLite files, or PostgreSQL databases in the PostgreSQL pass: lib.sh pb_db).
db_down=$(pb_db down.db) || exit 2
db_words=$(pb_db words.db) || exit 2
db_f1=$(pb_db f1.db) || exit 2
db_f2=$(pb_db f2.db) || exit 2
BIN=${PB_BIN:?PB_BIN must name the promptbandit binary}
FAKE=${PB_FAKE_LLM:?PB_FAKE_LLM must name the fake-llm binary}
RUN=$PB_TMP/bandit-run
ln -s "$BIN" "$RUN"
S=$PB_SOURCE_DIR
common=(--prompts "$S/prompts" --scenarios "$S/prompts/scenarios_chat.txt"
  --rubric "$S/prompts/judge_chat.txt" --examples "$S/ratings/examples_chat.jsonl" --seed 3
  --quiet)

# --- nobody listens: every step fails, the run says so and exits 1 ---
PB_LLM_BASE_URL=http://127.0.0.1:9/v1 PB_LLM_MAX_RETRIES=0 \
  "$RUN" "${common[@]}" --db "$db_down" --iterations 16 --out "$PB_TMP/down" \
  >"$PB_TMP/down.md" 2>"$PB_TMP/down.err"
pb_check_eq "$?" 1 "a run whose every step failed exits 1"
pb_check "each failure's reason is on stderr as it happens" \
  grep -q "step 0 (arm .*) generation failed \[unreachable\]: cannot reach the LLM provider" \
  "$PB_TMP/down.err"
pb_check "the stop reason is exact" grep -q "stopped (unreachable)" "$PB_TMP/down.err"
pb_check "failure lines are rate-limited" grep -q "more failed attempts not shown" "$PB_TMP/down.err"
pb_check "at most 4 failure lines per window" \
  test "$(grep -c 'failed \[unreachable\]' "$PB_TMP/down.err")" -le 4
pb_check "report.md lists the failures by kind" \
  grep -q "| unreachable | 16 | unreachable: generation: cannot reach" "$PB_TMP/down/report.md"
pb_check_eq "$(jq -r '.failures[0].kind' "$PB_TMP/down/report.json")" unreachable \
  "report.json lists the failures"
pb_check_eq "$(jq -r '.stop_reason' "$PB_TMP/down/report.json")" unreachable \
  "report.json has the exact stop reason"
"$RUN" list --db "$db_down" >"$PB_TMP/list"
pb_check "list shows the run failed for unreachable" grep -q "failed .*unreachable" "$PB_TMP/list"

# --- a judge that answers words: judge_parse, and the extra calls explained ---
cat >"$PB_TMP/rules.json" <<'JSON'
[{"system_contains": "Rubric", "reply": "좋은 답변이네요"},
 {"any_contains": "", "reply": "응 {sentence}"}]
JSON
pb_start fake "$FAKE" --port 0 --rules "$PB_TMP/rules.json"
URL=$(pb_listen_url "$PB_TMP/fake.out") || exit 1
export PB_LLM_BASE_URL=$URL/v1 OPENAI_API_KEY=
"$RUN" "${common[@]}" --db "$db_words" --iterations 40 --batch 8 --out "$PB_TMP/words" \
  >/dev/null 2>"$PB_TMP/words.err"
pb_check_eq "$?" 1 "a run stopped by judge parse failures exits 1"
pb_check "the stop reason names the judge, not the provider" \
  grep -q "stopped (judge_parse)" "$PB_TMP/words.err"
pb_check "the failure shows the judge's answer" \
  grep -q 'judge failed \[judge_parse\]: judge answer is not a level after 3 attempt(s): "좋은 답변이네요"' \
  "$PB_TMP/words.err"
pb_check "the estimate and the calls made are side by side" \
  grep -Eq "calls +48 +168 \(this session: 24 generation \+ 144 judge\)" "$PB_TMP/words.err"
pb_check "the extra calls are explained" grep -q "120 calls more than estimated" "$PB_TMP/words.err"
pb_check "report.md has the judge's answer" grep -q "judge_parse | 24 |.*좋은 답변이네요" \
  "$PB_TMP/words/report.md"

# --- a flaky provider: the failure share decides the exit status ---
pb_start flaky "$FAKE" --port 0 --fail-rate 0.3 --seed 7
FLAKY=$(pb_listen_url "$PB_TMP/flaky.out") || exit 1
flaky=(env PB_LLM_BASE_URL="$FLAKY/v1" PB_LLM_MAX_RETRIES=0 "$RUN" "${common[@]}" --judge constant
  --iterations 40 --attempts 1)
"${flaky[@]}" --db "$db_f1" >/dev/null 2>"$PB_TMP/f1.err"
pb_check_eq "$?" 1 "30 % failed steps pass the default --max-failure-share 0.2: exit 1"
pb_check "the message names the share and the option" \
  grep -q "of its steps failed, more than --max-failure-share 0.2" "$PB_TMP/f1.err"
"${flaky[@]}" --db "$db_f2" --max-failure-share 0.6 >/dev/null 2>"$PB_TMP/f2.err"
pb_check_eq "$?" 0 "the same run with --max-failure-share 0.6 exits 0"
pb_check "its failures were still shown" grep -q "generation failed \[provider\]" "$PB_TMP/f2.err"
pb_expect 2 "between 0 and 1" -- "$RUN" --max-failure-share 2

pb_done
