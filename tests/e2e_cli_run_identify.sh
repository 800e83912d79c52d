#!/usr/bin/env bash
# e2e_cli_run_identify.sh — `bandit-run --stop identified:C` end to end against the fake LLM:
# with a planted better prompt the run stops early, names it identified by the GLR rule and
# spends less than its budget, under every identification rule (--policy tts|lucb|se|uniform)
# and under a bandit policy; with no better prompt it stops at the budget and says it is not
# identified; the same seed gives the same steps; bad --stop values are usage errors.
source "${PB_SOURCE_DIR:?run through ctest}/tests/lib.sh"
# The databases (SQLite files, or PostgreSQL databases in the PostgreSQL pass: lib.sh pb_db).
db_u=$(pb_db u.db) || exit 2
db_tts2=$(pb_db tts2.db) || exit 2
db_flat=$(pb_db flat.db) || exit 2
db_res=$(pb_db res.db) || exit 2
declare -A db_of # one per identification rule
for policy in tts lucb se uniform thompson; do
  db_of[$policy]=$(pb_db "$policy.db") || exit 2
done
db_tts=${db_of[tts]} db_lucb=${db_of[lucb]}
BIN=${PB_BIN:?PB_BIN must name the promptbandit binary}
FAKE=${PB_FAKE_LLM:?PB_FAKE_LLM must name the fake-llm binary}
RUN=$PB_TMP/bandit-run
ln -s "$BIN" "$RUN"

mkdir -p "$PB_TMP/prompts" "$PB_TMP/flat"
printf 'PROMPT-A 친구처럼 답해.\n' >"$PB_TMP/prompts/A.txt"
printf 'PROMPT-B 반말로 답해.\n' >"$PB_TMP/prompts/B.txt"
printf 'PROMPT-C 공감하며 답해.\n' >"$PB_TMP/prompts/C.txt"
printf 'PROMPT-A 친구처럼 답해.\n' >"$PB_TMP/flat/A.txt"
printf 'PROMPT-B 반말로 답해.\n' >"$PB_TMP/flat/B.txt"
# C's answers are GOOD and judged 1, every other answer is judged 0
cat >"$PB_TMP/rules.json" <<'JSON'
[{"system_contains": "Rubric", "user_contains": "GOOD", "reply": "1"},
 {"system_contains": "Rubric", "reply": "0"},
 {"system_contains": "PROMPT-C", "reply": "GOOD {sentence}"},
 {"any_contains": "PROMPT-", "reply": "meh {sentence}"}]
JSON
pb_start fake "$FAKE" --port 0 --rules "$PB_TMP/rules.json"
URL=$(pb_listen_url "$PB_TMP/fake.out") || exit 1
export PB_LLM_BASE_URL=$URL/v1 OPENAI_API_KEY=
calls() { curl -s "$URL/_stats" | jq .chat_requests; }
common=(--scenarios "$PB_SOURCE_DIR/prompts/scenarios_chat.txt"
  --rubric "$PB_SOURCE_DIR/prompts/judge_chat.txt"
  --examples "$PB_SOURCE_DIR/ratings/examples_chat.jsonl" --seed 7 --batch 2 --quiet)

# --- usage ---
"$RUN" --help >"$PB_TMP/help"
pb_check "--help documents --stop identified" grep -q -- "--stop identified" "$PB_TMP/help"
PB_LLM_BASE_URL= pb_expect 2 "--stop takes identified or identified:C" -- \
  "$RUN" --prompts "$PB_TMP/prompts" --stop identified:1.5
PB_LLM_BASE_URL= pb_expect 2 "--stop takes identified or identified:C" -- \
  "$RUN" --prompts "$PB_TMP/prompts" --stop best
PB_LLM_BASE_URL= pb_expect 2 "policy tts is a best-arm identification rule; it needs --stop" -- \
  "$RUN" "${common[@]}" --prompts "$PB_TMP/prompts" --policy tts --db "$db_u"
pb_check "a usage error creates no database" pb_db_untouched "$db_u"

# --- a planted better arm is identified before the budget, by every rule ---
for policy in tts lucb se uniform thompson; do
  curl -s -X POST "$URL/_reset" >/dev/null
  "$RUN" "${common[@]}" --prompts "$PB_TMP/prompts" --db "${db_of[$policy]}" \
    --policy "$policy" --stop identified:0.95 --iterations 500 --budget calls=1000 \
    --out "$PB_TMP/$policy" >"$PB_TMP/$policy.md" 2>"$PB_TMP/$policy.err"
  pb_check_eq "$?" 0 "$policy: an identified run exits 0"
  pb_check "$policy: the stop reason is identified" \
    grep -q "run 1 stopped (identified)" "$PB_TMP/$policy.err"
  pb_check "$policy: it names C identified at 95 %" \
    grep -q "C identified as the best arm at 95 % confidence: GLR" "$PB_TMP/$policy.err"
  n=$(calls) limit=300
  [ "$policy" = thompson ] && limit=600 # a regret minimiser samples the leader more
  pb_check "$policy: stopped well before the budget ($n of 1000 calls)" test "$n" -lt "$limit"
  "$RUN" list --db "${db_of[$policy]}" >"$PB_TMP/$policy.list"
  pb_check "$policy: list shows the identified stop and winner C" \
    grep -Eq "identified .* C *$" "$PB_TMP/$policy.list"
  pb_check_eq "$(jq -r .verdict.leader "$PB_TMP/$policy/report.json")" C \
    "$policy: the report's verdict names C"
  pb_check_eq "$(jq -r .verdict.separated "$PB_TMP/$policy/report.json")" true \
    "$policy: the report's verdict (the same GLR rule) says separated"
done

# --- the same seed gives the same steps ---
"$RUN" "${common[@]}" --prompts "$PB_TMP/prompts" --db "$db_tts2" \
  --policy tts --stop identified:0.95 --iterations 500 --budget calls=1000 >/dev/null 2>&1
strip() { "$RUN" export 1 --db "$1" | jq -c '{iteration, arm, status, reward}'; }
pb_check "a second tts run with the same seed makes the same steps" \
  cmp -s <(strip "$db_tts") <(strip "$db_tts2")

# --- no separation: stops at the budget and says so ---
curl -s -X POST "$URL/_reset" >/dev/null
"$RUN" "${common[@]}" --prompts "$PB_TMP/flat" --db "$db_flat" --policy tts \
  --stop identified:0.95 --iterations 500 --budget calls=60 >/dev/null 2>"$PB_TMP/flat.err"
pb_check_eq "$?" 0 "a run stopped by its budget exits 0"
pb_check "the stop reason is the budget" grep -q "run 1 stopped (budget)" "$PB_TMP/flat.err"
pb_check "it says the leader is not identified" \
  grep -q "NOT identified at 95 % confidence (stopped: budget)" "$PB_TMP/flat.err"
pb_check_eq "$(calls)" 60 "it spent exactly its budget"
"$RUN" list --db "$db_flat" >"$PB_TMP/flat.list"
pb_check "list shows the budget stop" grep -q "budget" "$PB_TMP/flat.list"

# --- resume of a run stopped by its budget continues to identification ---
"$RUN" "${common[@]}" --prompts "$PB_TMP/prompts" --db "$db_res" --policy lucb \
  --stop identified:0.95 --iterations 500 --budget calls=10 >/dev/null 2>"$PB_TMP/res1.err"
pb_check "a small budget stops before identification" \
  grep -q "NOT identified" "$PB_TMP/res1.err"
"$RUN" resume 1 --db "$db_res" --budget calls=1000 --quiet >/dev/null 2>"$PB_TMP/res2.err"
pb_check_eq "$?" 0 "resume exits 0"
pb_check "the resumed run is identified" grep -q "run 1 stopped (identified)" "$PB_TMP/res2.err"
pb_check "resumed lucb makes the steps of an uninterrupted lucb run" \
  cmp -s <(strip "$db_lucb") <(strip "$db_res")

pb_done
