#!/usr/bin/env bash
# e2e_service_openai_sdk.sh — the official openai npm package (tests/sdk, pinned 4.104.0,
# installed by tests/sdk/run.sh with npm ci) drives POST /v1/chat/completions and GET /v1/models
# of a real `promptbandit serve` against fake-llm: completions and streams, their ids giving
# feedback, provider errors as the SDK's typed errors, a stream the client aborts storing
# nothing. The service runs without open chat, with one user token (the SDK's API key) and
# no provider retries (the SDK's maxRetries is 0 too). Missing node, npm or fake-llm fails.
source "${PB_SOURCE_DIR:-.}/tests/lib.sh"
# The databases (SQLite files, or PostgreSQL databases in the PostgreSQL pass: lib.sh pb_db).
db_sdk=$(pb_db sdk.db) || exit 2
src=${PB_SOURCE_DIR:-.}
model=$src/models/emotion-goemotions.pbem

fail() {
  echo "e2e_service_openai_sdk: $*" >&2
  exit 1
}
[ -x "${PB_BIN:-}" ] || fail "PB_BIN is not an executable promptbandit (run through ctest)"
[ -x "${PB_FAKE_LLM:-}" ] || fail "PB_FAKE_LLM is not set or not built (fake-llm target)"
[ -f "$model" ] || fail "missing emotion model $model"

pb_start fake "$PB_FAKE_LLM" --port 0
fake_url=$(pb_listen_url "$PB_TMP/fake.out") || fail "fake-llm did not start: $(cat "$PB_TMP/fake.err")"

admin=admin-$RANDOM$RANDOM
user=sdk-$RANDOM$RANDOM
pb_start serve env PB_DB_PATH="$db_sdk" PB_SERVER_PORT=0 PB_SERVER_ADMIN_TOKEN="$admin" \
  PB_SERVER_USER_TOKENS="sdk-user:$user" PB_SERVER_OPEN_CHAT=false PB_PROMPTS_DIR="$src/prompts" \
  PB_EMOTION_MODEL="$model" PB_SERVER_THREADS=2 PB_SERVER_ACCESS_LOG= PB_LLM_MAX_RETRIES=0 \
  PB_LLM_BASE_URL="$fake_url/v1" PB_LLM_API_KEY=test-key OPENAI_BASE_URL= OPENAI_API_KEY= \
  "$PB_BIN" serve
url=$(pb_listen_url "$PB_TMP/serve.err") && pb_wait_http "$url/healthz" 300 ||
  fail "the service did not answer /healthz: $(tail -5 "$PB_TMP/serve.err")"

PB_URL=$url PB_TOKEN=$user PB_ADMIN_TOKEN=$admin bash "$src/tests/sdk/run.sh"
rc=$?
[ $rc -eq 0 ] || { echo "--- service stderr"; tail -20 "$PB_TMP/serve.err"; }
exit $rc
