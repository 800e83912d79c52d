#!/usr/bin/env bash
# bench_chat_load.sh — many chats waiting on a slow provider at once, with probes: the service
# with default settings against fake-llm answering each chat after DELAY_MS (or streaming it for
# STREAM_MS), N concurrent POST /v1/chat from tools/bench/loadgen.c, and /healthz, /v1/choose,
# /v1/feedback timed while they wait. Prints loadgen's JSON report plus the service's peak
# resident memory (VmHWM) and its /metrics lines about waiting work. Loopback only; bounded.
#   bash tools/bench/bench_chat_load.sh [BUILD_DIR]
#   env: N (64 chats), DELAY_MS (2000), STREAM (0|1), STREAM_MS (5000, per stream when STREAM=1),
#        TIMEOUT_S (60), EXTRA_ENV ("PB_X=1 PB_Y=2": settings for the service, e.g. to raise limits),
#        EMOTION_DELAY_MS (unset: no emotion classifier; set: the http emotion backend, served by
#        fake-llm's POST /classify answering after that many milliseconds),
#        API (chat | openai: POST /v1/chat/completions with the OpenAI body instead of /v1/chat)
set -euo pipefail
build=${1:-build}
n=${N:-64} delay=${DELAY_MS:-2000} stream=${STREAM:-0} stream_ms=${STREAM_MS:-5000}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  [ -n "${KEEP_TMP:-}" ] && echo "bench_chat_load: kept $tmp" >&2 || rm -rf "$tmp"
}
trap cleanup EXIT
wait_line() { for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }

fault=(--fault "slow=$delay")
if [ "$stream" = 1 ]; then
  # The fake streams each answer over about STREAM_MS: its answers here come in about 15
  # chunks, each after the per-token delay.
  fault=(--stream-delay-ms "$((stream_ms / 15))")
fi
"$build/fake-llm" --port 0 "${fault[@]}" >"$tmp/fake.out" 2>"$tmp/fake.err" &
pids+=($!)
wait_line "$tmp/fake.out" 'listening on' || { echo "bench_chat_load: fake-llm did not start" >&2; cat "$tmp/fake.err" >&2; exit 1; }
fake=$(sed -n 's/.*\(http:[^ ]*\).*/\1/p' "$tmp/fake.out" | head -1)
# shellcheck disable=SC2086  # EXTRA_ENV is a list of NAME=VALUE words
emotion=(PB_EMOTION_BACKEND=none)
if [ -n "${EMOTION_DELAY_MS:-}" ]; then
  emotion=(PB_EMOTION_BACKEND=http "PB_EMOTION_URL=$fake/classify?delay_ms=$EMOTION_DELAY_MS")
fi
env PB_LLM_BASE_URL="$fake/v1" PB_SERVER_ACCESS_LOG= "${emotion[@]}" ${EXTRA_ENV:-} \
  "$build/promptbandit" serve --port 0 --db "$tmp/bench.db" --prompts "$src/prompts" \
  2>"$tmp/serve.err" &
spid=$!
pids+=("$spid")
wait_line "$tmp/serve.err" 'listening on' || { echo "bench_chat_load: serve did not start" >&2; cat "$tmp/serve.err" >&2; exit 1; }
url=$(sed -n 's/.*\(http:[^ ]*\).*/\1/p' "$tmp/serve.err" | head -1)
url=${url%/}
args=(--url "$url" --concurrency "$n" --requests "$n" --timeout-s "${TIMEOUT_S:-60}")
[ "$stream" = 1 ] && args+=(--stream)
[ "${API:-chat}" = openai ] && args+=(--openai)
"$build/loadgen" "${args[@]}" >"$tmp/report.json"
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$spid/status")
jq --arg hwm "$hwm" '. + {service_vmhwm_kb: ($hwm | tonumber)}' "$tmp/report.json"
curl -s "$url/metrics" | grep -E '^pb_(http_suspended|llm_(in_flight|queued|refused)|writer_)' || true
