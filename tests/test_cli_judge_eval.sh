#!/usr/bin/env bash
# test_cli_judge_eval.sh — `judge eval --judge llm` through the real command against the fake
# LLM: few-shot examples are left out of the evaluated items, the LLM's levels are compared with
# the human ones, a judge failure is counted as a failure (exit 1, never a 0 score), and
# --record stores the figures where the dashboard reads them.
# shellcheck source=tests/lib.sh
source "$PB_SOURCE_DIR/tests/lib.sh"
# The databases (SQLite files, or PostgreSQL databases in the PostgreSQL pass: lib.sh pb_db).
db_pb=$(pb_db pb.db) || exit 2
: "${PB_BIN:?run through ctest}" "${PB_FAKE_LLM:?run through ctest}"

cat >"$PB_TMP/rules.json" <<'JSON'
[
  {"user_contains": "LONG-DIARY", "reply": "1"},
  {"user_contains": "SHORT-DIARY", "reply": "-0.5"},
  {"user_contains": "BROKEN-JUDGE", "reply": "I cannot rate this."}
]
JSON
cat >"$PB_TMP/ratings.jsonl" <<'JSON'
{"text": "LONG-DIARY 오늘은 친구들과 바다에 갔다. 파도가 시원했고 저녁노을이 정말 예뻤다.", "rate": 1}
{"text": "LONG-DIARY 주말에 가족과 산책을 하며 맛있는 빵을 먹었다.", "rate": 0.5}
{"text": "SHORT-DIARY 밥 먹음.", "rate": -0.5}
{"text": "SHORT-DIARY 잤다.", "rate": -1}
JSON
pb_start fake "$PB_FAKE_LLM" --port 0 --rules "$PB_TMP/rules.json"
fake_url=$(pb_listen_url "$PB_TMP/fake.out") || exit 1
export PB_LLM_BASE_URL="$fake_url/v1" PB_LLM_MAX_RETRIES=0
export PB_DB_PATH="$db_pb"
cd "$PB_SOURCE_DIR" # the rubric and few-shot examples are read from prompts/ and ratings/

"$PB_BIN" judge eval --ratings "$PB_TMP/ratings.jsonl" --judge llm --json --record \
  >"$PB_TMP/eval.json" 2>"$PB_TMP/eval.err"
pb_check_eq "$?" 0 "llm eval of four items succeeds"
pb_check "all four items are judged" grep -qE '"n": 4,' "$PB_TMP/eval.json"
pb_check "the judge agrees exactly on two of four" grep -qE '"exact": 0.5,' "$PB_TMP/eval.json"
pb_check "--record stored one judge evaluation" \
  bash -c "'$PB_BIN' db status --db '$PB_DB_PATH' | grep -qE '^judge_evals +1\$'"

echo '{"text": "BROKEN-JUDGE 아무 말", "rate": 0}' >>"$PB_TMP/ratings.jsonl"
"$PB_BIN" judge eval --ratings "$PB_TMP/ratings.jsonl" --judge llm --json \
  >"$PB_TMP/eval2.json" 2>"$PB_TMP/eval2.err"
pb_check_eq "$?" 1 "an unparsable judge answer makes the evaluation exit 1"
pb_check "the failure is reported with its reason" grep -q "not a level" "$PB_TMP/eval2.err"
pb_done
