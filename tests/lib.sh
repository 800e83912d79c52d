# lib.sh — helpers for the shell end-to-end tests (source it): a private temporary folder,
# background processes started on free ports and stopped by a cleanup trap (only the ones
# started here, by pid), waiting for /healthz, curl wrappers, and pass/fail counting that
# ends with a non-zero exit when any check failed.
#   source "$PB_SOURCE_DIR/tests/lib.sh"
#   pb_start fake "$PB_FAKE_LLM" --port 0; url=$(pb_listen_url "$PB_TMP/fake.out")
#   pb_http GET "$url/healthz"; pb_check_eq "$PB_STATUS" 200 "healthz answers 200"
#   pb_expect 2 "unknown option" -- "$PB_BIN" simulate --bogus
#   pb_done
# shellcheck shell=bash
# shellcheck disable=SC2034  # PB_STATUS, PB_BODY, PB_HEADERS are read by the sourcing test
set -uo pipefail

PB_TMP=$(mktemp -d "${TMPDIR:-/tmp}/pbe2e-XXXXXX")
PB_PIDS=()
PB_FAILED=0
PB_PASSED=0
PB_STATUS=
PB_BODY=

pb_cleanup() {
  local pid
  for pid in "${PB_PIDS[@]}"; do
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  rm -rf "$PB_TMP"
}
trap pb_cleanup EXIT

# pb_start NAME CMD ARGS...: runs CMD in the background, stdout in $PB_TMP/NAME.out, stderr
# in $PB_TMP/NAME.err; the pid is in PB_LAST_PID and is stopped at exit.
pb_start() {
  local name=$1
  shift
  "$@" >"$PB_TMP/$name.out" 2>"$PB_TMP/$name.err" &
  PB_LAST_PID=$!
  PB_PIDS+=("$PB_LAST_PID")
}

# pb_wait_http URL [TRIES]: polls until URL answers 200 (0.1 s apart, 100 tries by default).
pb_wait_http() {
  local url=$1 tries=${2:-100} i
  local code=
  for ((i = 0; i < tries; i++)); do
    code=$(curl -s -m 5 -o "$PB_TMP/wait_http.body" -w '%{http_code}' "$url")
    [ "$code" = 200 ] && return 0
    sleep 0.1
  done
  echo "not answering: $url (last status ${code:-none}: $(head -c 300 "$PB_TMP/wait_http.body" 2>/dev/null))" >&2
  return 1
}

# pb_listen_url FILE: waits for the "listening on http://HOST:PORT" line that fake-llm (stdout)
# and `promptbandit serve` (stderr) print once bound, and echoes http://HOST:PORT. Start them
# with port 0 and read the port here: a port picked in advance can be taken in between.
pb_listen_url() {
  pb_wait_line "$1" 'listening on http://' 300 || return 1
  sed -n 's|.*listening on \(http://[^ /]*\).*|\1|p' "$1" | head -1
}

# pb_wait_line FILE PATTERN [TRIES]: waits until FILE has a line matching PATTERN.
pb_wait_line() {
  local file=$1 pattern=$2 tries=${3:-100} i
  for ((i = 0; i < tries; i++)); do
    grep -q -- "$pattern" "$file" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "no line matching '$pattern' in $file" >&2
  return 1
}

# pb_http METHOD URL [BODY] [CURL ARGS...]: sets PB_STATUS, PB_BODY, and PB_HEADERS (a file).
# A JSON body is sent as application/json.
pb_http() {
  local method=$1 url=$2 body=${3-}
  shift 2
  [ $# -gt 0 ] && shift
  local args=(-s -X "$method" -o "$PB_TMP/body" -D "$PB_TMP/headers" -w '%{http_code}')
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  PB_STATUS=$(curl "${args[@]}" "$@" "$url")
  PB_BODY=$(cat "$PB_TMP/body" 2>/dev/null)
  PB_HEADERS=$PB_TMP/headers
}

pb_check() { # pb_check DESCRIPTION COMMAND...: passes when COMMAND succeeds
  local what=$1
  shift
  if "$@"; then
    PB_PASSED=$((PB_PASSED + 1))
    echo "ok   $what"
  else
    PB_FAILED=$((PB_FAILED + 1))
    echo "FAIL $what"
  fi
}

pb_check_eq() { # pb_check_eq ACTUAL EXPECTED DESCRIPTION
  if [ "$1" = "$2" ]; then
    PB_PASSED=$((PB_PASSED + 1))
    echo "ok   $3"
  else
    PB_FAILED=$((PB_FAILED + 1))
    echo "FAIL $3: got '$1', expected '$2'"
  fi
}

pb_fail() { # pb_fail DESCRIPTION: records a failed check, for `COMMAND || pb_fail "what"`
  PB_FAILED=$((PB_FAILED + 1))
  echo "FAIL $*"
}

# pb_expect CODE NEEDLE -- COMMAND...: one check that COMMAND exits with CODE and that its
# stderr contains NEEDLE (grep -i, basic regex). Output is left in $PB_TMP/out and $PB_TMP/err.
pb_expect() {
  local code=$1 needle=$2 got
  shift 3
  "$@" >"$PB_TMP/out" 2>"$PB_TMP/err"
  got=$?
  if [ "$got" = "$code" ] && grep -qi -- "$needle" "$PB_TMP/err"; then
    PB_PASSED=$((PB_PASSED + 1))
    echo "ok   $* exits $code saying '$needle'"
  else
    pb_fail "$* exited $got (expected $code; stderr should have '$needle'): $(head -c 300 "$PB_TMP/err")"
  fi
}

pb_done() {
  echo "$([ "$PB_FAILED" -eq 0 ] && echo PASSED || echo FAILED): $PB_PASSED passed, $PB_FAILED failed"
  [ "$PB_FAILED" -eq 0 ]
}
