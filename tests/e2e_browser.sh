#!/usr/bin/env bash
# e2e_browser.sh — the chat page and the dashboard in a real Chromium: starts fake-llm, one
# `promptbandit serve` using it and one without a provider (temporary databases, an admin
# token, free ports), then runs tests/browser/run.sh (node + playwright-core). Screenshots go
# to $PB_BUILD_DIR/artifacts/browser/. Missing node, npm, chromium or fake-llm fails the test.
source "${PB_SOURCE_DIR:-.}/tests/lib.sh"
src=${PB_SOURCE_DIR:-.}
artifacts=${PB_BUILD_DIR:-build}/artifacts/browser
model=$src/models/emotion-goemotions.pbem

fail() {
  echo "e2e_browser: $*" >&2
  exit 1
}
[ -x "${PB_BIN:-}" ] || fail "PB_BIN is not an executable promptbandit (run through ctest)"
[ -x "${PB_FAKE_LLM:-}" ] || fail "PB_FAKE_LLM is not set or not built (fake-llm target)"
[ -f "$model" ] || fail "missing emotion model $model (the chat shows emotions from it)"

fake_port=$(pb_free_port)
pb_start fake "$PB_FAKE_LLM" --port "$fake_port"
pb_wait_line "$PB_TMP/fake.out" '^listening on' || fail "fake-llm did not start: $(cat "$PB_TMP/fake.err")"

token=admin-$RANDOM$RANDOM
# serve NAME PORT [VAR=VALUE...]: one service with its own database and the shared settings.
serve() {
  local name=$1 port=$2
  shift 2
  pb_start "$name" env PB_DB_PATH="$PB_TMP/$name.db" PB_SERVER_PORT="$port" \
    PB_SERVER_ADMIN_TOKEN="$token" PB_PROMPTS_DIR="$src/prompts" PB_EMOTION_MODEL="$model" \
    PB_SERVER_THREADS=2 PB_SERVER_ACCESS_LOG="$PB_TMP/$name.access.log" \
    PB_LLM_BASE_URL= OPENAI_BASE_URL= OPENAI_API_KEY= "$@" "$PB_BIN" serve
  pb_wait_http "http://127.0.0.1:$port/healthz" 300 ||
    fail "$name did not answer /healthz: $(tail -5 "$PB_TMP/$name.err")"
}
port=$(pb_free_port)
serve llm "$port" PB_LLM_BASE_URL="http://127.0.0.1:$fake_port/v1" PB_LLM_API_KEY=test-key
port_no_llm=$(pb_free_port)
serve nollm "$port_no_llm"

rm -rf "$artifacts"
mkdir -p "$artifacts"
PB_URL=http://127.0.0.1:$port PB_URL_NO_LLM=http://127.0.0.1:$port_no_llm \
  PB_ADMIN_TOKEN=$token PB_ARTIFACTS=$artifacts bash "$src/tests/browser/run.sh"
rc=$?
[ $rc -eq 0 ] || { echo "--- llm service stderr"; tail -20 "$PB_TMP/llm.err"; }
echo "screenshots: $artifacts"
exit $rc
