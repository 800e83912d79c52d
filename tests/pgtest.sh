#!/usr/bin/env bash
# pgtest.sh — a throwaway PostgreSQL 15 server for tests: initdb into a private temporary
# folder, pg_ctl start on a free 127.0.0.1 port with the socket in that folder, a database,
# and the stop plus removal of the folder afterwards — also when the test crashes, because a
# detached watcher stops the server once the process it watches has gone. Tests run as root
# and PostgreSQL refuses root, so the server runs as the system user `pbtest` (created here
# when absent; PB_PG_USER names another). Failing to start is an error, never a skip.
# PB_PG_SERVER_OPTS adds server settings (`-c name=value ...`) to the start.
#
# As a command (tests/pg_harness.h calls it this way):
#   bash tests/pgtest.sh start DIR WATCH_PID   server in DIR (an empty folder); prints the URL
#   bash tests/pgtest.sh createdb DIR NAME     another database; prints its URL
#   bash tests/pgtest.sh stop DIR              stops the server and removes DIR
# Sourced by a shell test (after lib.sh, whose cleanup it keeps):
#   source "$PB_SOURCE_DIR/tests/pgtest.sh"; pg_test_start || exit 1   # sets PB_PG_URL
# shellcheck shell=bash

PG_TEST_BIN=${PB_PG_BIN:-/usr/lib/postgresql/15/bin}

# Runs a PostgreSQL program as the server's user (directly when not root).
pg_test_as_user() {
  if [ "$(id -u)" -eq 0 ]; then
    setpriv --reuid="$PG_TEST_USER" --regid="$PG_TEST_USER" --clear-groups -- "$@"
  else
    "$@"
  fi
}

# Picks the unprivileged user, creating `pbtest` once (under a lock: tests run in parallel).
pg_test_user() {
  if [ "$(id -u)" -ne 0 ]; then
    PG_TEST_USER=$(id -un)
    return 0
  fi
  PG_TEST_USER=${PB_PG_USER:-pbtest}
  id -u "$PG_TEST_USER" >/dev/null 2>&1 && return 0
  (
    flock -w 30 9 || exit 1
    id -u "$PG_TEST_USER" >/dev/null 2>&1 ||
      useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$PG_TEST_USER"
  ) 9>/tmp/pbtest-useradd.lock || {
    echo "pgtest: cannot create the system user $PG_TEST_USER for PostgreSQL (useradd failed)" >&2
    return 1
  }
}

pg_test_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# pg_test_server_start DIR WATCH_PID: initdb, start, create database "pbtest"; prints the URL.
pg_test_server_start() {
  local dir=$1 watch=$2 port attempt
  if [ ! -x "$PG_TEST_BIN/initdb" ] || [ ! -x "$PG_TEST_BIN/pg_ctl" ]; then
    echo "pgtest: no PostgreSQL 15 under $PG_TEST_BIN (Debian: apt-get install postgresql-15;" \
      "tools/bootstrap.sh test installs it)" >&2
    return 1
  fi
  pg_test_user || return 1
  mkdir -p "$dir" && chown "$PG_TEST_USER:" "$dir" && chmod 700 "$dir" || return 1
  # The watcher is detached (setsid -f) so that killing the test's process tree leaves it.
  setsid -f bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 0.5; done; exec bash "$2" stop "$3"' \
    pgtest-watch "$watch" "${BASH_SOURCE[0]}" "$dir" </dev/null >/dev/null 2>&1
  if ! (cd "$dir" && pg_test_as_user "$PG_TEST_BIN/initdb" -D "$dir/data" -U pbtest \
    --auth=trust --encoding=UTF8 --locale=C -N >"$dir/initdb.log" 2>&1); then
    echo "pgtest: initdb failed:" >&2
    tail -n 20 "$dir/initdb.log" >&2
    return 1
  fi
  for attempt in 1 2 3 4 5; do
    port=$(pg_test_free_port) || return 1
    if (cd "$dir" && pg_test_as_user "$PG_TEST_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" \
      -w -t 30 -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir \
      -c shared_buffers=16MB -c max_connections=100 ${PB_PG_SERVER_OPTS:-}" start >"$dir/pg_ctl.log" 2>&1); then
      echo "$port" >"$dir/port"
      pg_test_createdb "$dir" pbtest
      return $?
    fi
    # Another process may have taken the port between the pick and the bind: pick again.
    grep -q "already in use" "$dir/server.log" 2>/dev/null || break
  done
  echo "pgtest: the server did not start within 30 s (attempt $attempt):" >&2
  tail -n 20 "$dir/pg_ctl.log" "$dir/server.log" >&2 2>/dev/null
  return 1
}

# pg_test_createdb DIR NAME: creates database NAME on the server in DIR; prints its URL.
pg_test_createdb() {
  local dir=$1 name=$2 port
  port=$(cat "$dir/port") || return 1
  if ! "$PG_TEST_BIN/createdb" -h "$dir" -p "$port" -U pbtest "$name" >"$dir/createdb.log" 2>&1; then
    echo "pgtest: createdb $name failed: $(cat "$dir/createdb.log")" >&2
    return 1
  fi
  echo "postgresql://pbtest@127.0.0.1:$port/$name"
}

# pg_test_server_stop DIR: immediate shutdown (bounded; nothing in a throwaway server needs a
# checkpoint), then the folder goes.
pg_test_server_stop() {
  local dir=$1
  [ -d "$dir" ] || return 0
  if [ -f "$dir/data/postmaster.pid" ]; then
    PG_TEST_USER=$(stat -c %U "$dir/data")
    (cd "$dir" && pg_test_as_user "$PG_TEST_BIN/pg_ctl" -D "$dir/data" -m immediate -w -t 20 stop \
      >/dev/null 2>&1) || {
      local pid
      pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null)
      [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    }
  fi
  rm -rf "$dir"
}

# For shell tests: starts a server for this shell, sets PB_PG_URL and PB_PG_DIR, and stops it at
# exit next to lib.sh's cleanup.
pg_test_start() {
  PB_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pbpg-XXXXXX") || return 1
  PB_PG_URL=$(pg_test_server_start "$PB_PG_DIR" $$) || return 1
  if declare -F pb_cleanup >/dev/null; then
    trap 'pg_test_server_stop "$PB_PG_DIR"; pb_cleanup' EXIT
  else
    trap 'pg_test_server_stop "$PB_PG_DIR"' EXIT
  fi
  export PB_PG_URL PB_PG_DIR
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -uo pipefail
  case "${1:-}" in
  start)
    [ $# -eq 3 ] || {
      echo "usage: pgtest.sh start DIR WATCH_PID" >&2
      exit 2
    }
    pg_test_server_start "$2" "$3"
    ;;
  createdb)
    [ $# -eq 3 ] || {
      echo "usage: pgtest.sh createdb DIR NAME" >&2
      exit 2
    }
    pg_test_createdb "$2" "$3"
    ;;
  stop)
    [ $# -eq 2 ] || {
      echo "usage: pgtest.sh stop DIR" >&2
      exit 2
    }
    pg_test_server_stop "$2"
    ;;
  *)
    echo "usage: pgtest.sh start DIR WATCH_PID | createdb DIR NAME | stop DIR" >&2
    exit 2
    ;;
  esac
fi
