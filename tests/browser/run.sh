#!/usr/bin/env bash
# run.sh — runs the browser driver (drive.mjs) against services that are already running:
#   PB_URL=http://127.0.0.1:8080 PB_URL_NO_LLM=http://127.0.0.1:8081 PB_ADMIN_TOKEN=T \
#   PB_ARTIFACTS=out/browser bash tests/browser/run.sh
# Installs playwright-core from package-lock.json when missing (never a browser download) and
# fails with a clear message when node, npm or chromium is missing: a missing tool is a
# failure, never a skip. tests/e2e_web_browser.sh starts the services and calls this.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
chromium=${PB_CHROMIUM:-/usr/bin/chromium}

fail() {
  echo "browser tests: $*" >&2
  exit 1
}
command -v node >/dev/null || fail "node is missing (apt-get install nodejs npm, see tools/bootstrap.sh)"
command -v npm >/dev/null || fail "npm is missing (apt-get install npm, see tools/bootstrap.sh)"
[ -x "$chromium" ] || fail "chromium is missing at $chromium (apt-get install chromium, or set PB_CHROMIUM)"

if [ ! -f "$here/node_modules/playwright-core/package.json" ]; then
  echo "browser tests: installing playwright-core (npm ci in $here)" >&2
  (cd "$here" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error) ||
    fail "npm ci failed in $here (offline? run it once with network access)"
fi

export PB_CHROMIUM=$chromium
exec node "$here/drive.mjs"
