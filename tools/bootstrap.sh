#!/usr/bin/env bash
# bootstrap.sh — sets up a fresh Debian 12 machine for promptbandit and runs it.
#   bash tools/bootstrap.sh serve   install what is missing, build, start the service
#   bash tools/bootstrap.sh test    install what is missing, build, run every test
# Runs as root (apt-get); as another user it only reports what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
case "$mode" in
serve | test) ;;
*)
  echo "usage: bash tools/bootstrap.sh serve|test" >&2
  exit 2
  ;;
esac

build_pkgs=(build-essential cmake pkg-config python3 libssl-dev libcurl4-openssl-dev libjansson-dev
  libsqlite3-dev libgsl-dev libmicrohttpd-dev libpq-dev)
# libclang-rt-14-dev holds libFuzzer; clang only recommends it, which --no-install-recommends skips.
test_pkgs=(clang libclang-rt-14-dev clang-format sqlite3 curl jq wrk chromium fonts-nanum
  fonts-noto-color-emoji nodejs npm systemd postgresql-15 nginx)
pkgs=("${build_pkgs[@]}")
[ "$mode" = test ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm run the browser tests (tests/browser: playwright-core) and the OpenAI SDK
# tests (tests/sdk: the openai package); each test's run.sh installs its pinned packages with
# npm ci from the committed package-lock.json when they are missing.
# The machine image may ship Node.js outside Debian's packages; it serves as well.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs/}")
  missing=("${missing[@]/npm/}")
fi
read -r -a missing <<<"${missing[*]}"
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "bootstrap: run as root, or install these Debian packages first: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"

if [ "$mode" = serve ]; then
  exec ./build/promptbandit serve
fi

echo "== format check"
bash tools/format.sh --check

# The PostgreSQL pass: every unit and end-to-end test that uses a database also runs as
# <name>_pg (label pg) on a fresh database of this one server (tests/testdb.h, lib.sh's pb_db;
# docs/STORE.md "The suite on both backends"). initdb + pg_ctl as the unprivileged user pbtest
# on a free port (tests/pgtest.sh); stopped at exit, and by pgtest.sh's watcher if this shell
# dies. A server that does not start fails the test command. fsync=off: this throwaway server
# never outlives a crash of its own, and the pass then takes 2.6 times less time (docs/STORE.md);
# synchronous_commit stays on, and the tests that start their own server keep fsync.
echo "== a PostgreSQL 15 server for the tests' PostgreSQL pass"
PB_TEST_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pbpg-suite-XXXXXX")
trap 'bash tests/pgtest.sh stop "$PB_TEST_PG_DIR"' EXIT
if ! PB_TEST_PG_URL=$(PB_PG_SERVER_OPTS="-c fsync=off" bash tests/pgtest.sh start "$PB_TEST_PG_DIR" $$); then
  echo "bootstrap: the PostgreSQL test server did not start (see above)" >&2
  exit 1
fi
export PB_TEST_PG_URL
echo "$PB_TEST_PG_URL"

echo "== unit and end-to-end tests under AddressSanitizer and UndefinedBehaviorSanitizer (SQLite and PostgreSQL)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DPB_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --output-on-failure -LE data -j"$jobs")

if compgen -G "tests/fuzz/fuzz_*.c" >/dev/null; then
  echo "== fuzz targets (libFuzzer, ${PB_FUZZ_RUNS:-20000} runs each over the seed corpora)"
  bash tools/fuzz.sh --runs "${PB_FUZZ_RUNS:-20000}"
fi

echo "== all tests, release build (including those that read ../shared/data; SQLite and PostgreSQL)"
(cd build && ctest --output-on-failure -j"$jobs")
