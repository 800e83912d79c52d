#!/usr/bin/env bash
# e2e_web_browser.sh — the chat page and the dashboard in a real Chromium: starts fake-llm (with
# rules that make prompt B and the offline arm Warm give the "best" answers, and a judge that
# rates them), records a finished offline run with bandit-run, starts one `promptbandit serve`
# on that database using the fake and one without a provider and without an admin token
# (temporary databases, free ports), then runs tests/browser/run.sh (node + playwright-core).
# Screenshots go to $PB_BUILD_DIR/artifacts/browser/. Missing node, npm, chromium or fake-llm
# fails the test.
source "${PB_SOURCE_DIR:-.}/tests/lib.sh"
# The databases (SQLite files, or PostgreSQL databases in the PostgreSQL pass: lib.sh pb_db).
db_llm=$(pb_db llm.db) || exit 2
src=${PB_SOURCE_DIR:-.}
artifacts=${PB_BUILD_DIR:-build}/artifacts/browser
model=$src/models/emotion-goemotions.pbem

fail() {
  echo "e2e_web_browser: $*" >&2
  exit 1
}
[ -x "${PB_BIN:-}" ] || fail "PB_BIN is not an executable promptbandit (run through ctest)"
[ -x "${PB_FAKE_LLM:-}" ] || fail "PB_FAKE_LLM is not set or not built (fake-llm target)"
[ -f "$model" ] || fail "missing emotion model $model (the chat shows emotions from it)"

# The judge rates an answer holding BEST 1 and any other -0.5; prompt B of prompts/ ("오랜
# 친구") and the offline arm Warm answer with BEST, the others with the fake's default reply.
cat >"$PB_TMP/rules.json" <<'JSON'
[{"system_contains": "Rubric", "user_contains": "BEST", "reply": "{\"score\": 1, \"reason\": \"따뜻함: {judged}\"}"},
 {"system_contains": "Rubric", "reply": "-0.5"},
 {"system_contains": "WARM-MARK", "reply": "BEST 따뜻한 답: {sentence}"},
 {"system_contains": "오랜 친구", "reply": "BEST-B 많이 속상했겠다. {sentence}"}]
JSON
pb_start fake "$PB_FAKE_LLM" --port 0 --rules "$PB_TMP/rules.json"
fake_url=$(pb_listen_url "$PB_TMP/fake.out") || fail "fake-llm did not start: $(cat "$PB_TMP/fake.err")"

# A finished offline run over three arms whose winner (Warm) is known.
mkdir -p "$PB_TMP/run-prompts"
printf 'WARM-MARK 너는 다정한 친구야. 반말로 따뜻하게 답해.\n' >"$PB_TMP/run-prompts/Warm.txt"
printf 'SHORT-MARK 한 문장으로만 답해.\n' >"$PB_TMP/run-prompts/Short.txt"
printf 'CHEER-MARK 무조건 힘내라고 말해.\n' >"$PB_TMP/run-prompts/Cheer.txt"
PB_LLM_BASE_URL="$fake_url/v1" OPENAI_BASE_URL= OPENAI_API_KEY= "$PB_BIN" run \
  --db "$db_llm" --prompts "$PB_TMP/run-prompts" \
  --scenarios "$src/prompts/scenarios_chat.txt" --rubric "$src/prompts/judge_chat.txt" \
  --examples "$src/ratings/examples_chat.jsonl" --iterations 60 --batch 4 --seed 3 --quiet \
  >"$PB_TMP/run.md" 2>"$PB_TMP/run.err" || fail "bandit-run failed: $(tail -5 "$PB_TMP/run.err")"

token=admin-$RANDOM$RANDOM
# serve NAME [VAR=VALUE...]: one service on a free port with its own database and the shared
# settings (a later VAR=VALUE overrides them); its URL is left in SERVE_URL.
serve() {
  local name=$1 db
  shift
  if [ "$name" = llm ]; then
    db=$db_llm # the database the bandit-run above filled
  else
    db=$(pb_db "$name.db") || exit 2
  fi
  pb_start "$name" env PB_DB_PATH="$db" PB_SERVER_PORT=0 \
    PB_SERVER_ADMIN_TOKEN="$token" PB_PROMPTS_DIR="$src/prompts" PB_EMOTION_MODEL="$model" \
    PB_SERVER_THREADS=2 PB_SERVER_ACCESS_LOG="$PB_TMP/$name.access.log" \
    PB_LLM_BASE_URL= OPENAI_BASE_URL= OPENAI_API_KEY= "$@" "$PB_BIN" serve
  SERVE_URL=$(pb_listen_url "$PB_TMP/$name.err") && pb_wait_http "$SERVE_URL/healthz" 300 ||
    fail "$name did not answer /healthz: $(tail -5 "$PB_TMP/$name.err")"
}
serve llm PB_LLM_BASE_URL="$fake_url/v1" PB_LLM_API_KEY=test-key
url=$SERVE_URL
serve nollm PB_SERVER_ADMIN_TOKEN=
url_no_llm=$SERVE_URL

rm -rf "$artifacts"
mkdir -p "$artifacts"
PB_URL=$url PB_URL_NO_LLM=$url_no_llm \
  PB_ADMIN_TOKEN=$token PB_ARTIFACTS=$artifacts bash "$src/tests/browser/run.sh"
rc=$?
[ $rc -eq 0 ] || { echo "--- llm service stderr"; tail -20 "$PB_TMP/llm.err"; }
echo "screenshots: $artifacts"
exit $rc
