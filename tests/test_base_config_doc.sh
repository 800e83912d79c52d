#!/usr/bin/env bash
# docs/CONFIG.md must be exactly what the binary says its settings are.
set -euo pipefail
: "${PB_BIN:?PB_BIN not set}" "${PB_SOURCE_DIR:?PB_SOURCE_DIR not set}"
if ! diff -u "$PB_SOURCE_DIR/docs/CONFIG.md" <("$PB_BIN" config show --markdown); then
  echo "docs/CONFIG.md is stale: run  promptbandit config show --markdown > docs/CONFIG.md" >&2
  exit 1
fi
echo "1 passed, 0 failed"
