#!/usr/bin/env bash
# run.sh — runs the OpenAI SDK driver (openai_sdk.mjs) against a service that is already running:
#   PB_URL=http://127.0.0.1:8080 PB_TOKEN=user-token PB_ADMIN_TOKEN=T bash tests/sdk/run.sh
# Installs the pinned openai package from package-lock.json when missing (npm ci) and fails with
# a clear message when node or npm is missing: a missing tool is a failure, never a skip.
# tests/e2e_service_openai_sdk.sh starts fake-llm and the service and calls this.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

fail() {
  echo "sdk tests: $*" >&2
  exit 1
}
command -v node >/dev/null || fail "node is missing (apt-get install nodejs npm, see tools/bootstrap.sh)"
command -v npm >/dev/null || fail "npm is missing (apt-get install npm, see tools/bootstrap.sh)"

want=$(sed -n 's/.*"openai": "\([^"]*\)".*/\1/p' "$here/package.json")
have=$(sed -n 's/^  "version": "\([^"]*\)".*/\1/p' "$here/node_modules/openai/package.json" 2>/dev/null || true)
if [ "$have" != "$want" ]; then
  echo "sdk tests: installing openai $want (npm ci in $here)" >&2
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) ||
    fail "npm ci failed in $here (offline? run it once with network access)"
fi

exec node "$here/openai_sdk.mjs"
