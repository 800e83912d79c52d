#!/usr/bin/env bash
# e2e_web_browser.sh — the chat page and the dashboard in a real Chromium: starts fake-llm, one
# `promptbandit serve` using it and one without a provider (temporary databases, an admin
# token, free ports), then runs tests/browser/run.sh (node + playwright-core). Screenshots go
# to $PB_BUILD_DIR/artifacts/browser/. Missing node, npm, chromium or fake-llm fails the test.
source "${PB_SOURCE_DIR:-.}/tests/lib.sh"
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

pb_start fake "$PB_FAKE_LLM" --port 0
fake_url=$(pb_listen_url "$PB_TMP/fake.out") || fail "fake-llm did not start: $(cat "$PB_TMP/fake.err")"

token=admin-$RANDOM$RANDOM
# serve NAME [VAR=VALUE...]: one service on a free port with its own database and the shared
# settings; its URL is left in SERVE_URL.
serve() {
  local name=$1
  shift
  pb_start "$name" env PB_DB_PATH="$PB_TMP/$name.db" PB_SERVER_PORT=0 \
    PB_SERVER_ADMIN_TOKEN="$token" PB_PROMPTS_DIR="$src/prompts" PB_EMOTION_MODEL="$model" \
    PB_SERVER_THREADS=2 PB_SERVER_ACCESS_LOG="$PB_TMP/$name.access.log" \
    PB_LLM_BASE_URL= OPENAI_BASE_URL= OPENAI_API_KEY= "$@" "$PB_BIN" serve
  SERVE_URL=$(pb_listen_url "$PB_TMP/$name.err") && pb_wait_http "$SERVE_URL/healthz" 300 ||
    fail "$name did not answer /healthz: $(tail -5 "$PB_TMP/$name.err")"
}
serve llm PB_LLM_BASE_URL="$fake_url/v1" PB_LLM_API_KEY=test-key
url=$SERVE_URL
serve nollm
url_no_llm=$SERVE_URL

rm -rf "$artifacts"
mkdir -p "$artifacts"
PB_URL=$url PB_URL_NO_LLM=$url_no_llm \
  PB_ADMIN_TOKEN=$token PB_ARTIFACTS=$artifacts bash "$src/tests/browser/run.sh"
rc=$?
[ $rc -eq 0 ] || { echo "--- llm service stderr"; tail -20 "$PB_TMP/llm.err"; }
echo "screenshots: $artifacts"
exit $rc
