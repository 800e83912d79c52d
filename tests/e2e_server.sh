#!/usr/bin/env bash
# e2e_server.sh — the HTTP core as a real process (tools/bench/bench_http.c): built-in
# routes, error shapes, the library's own 414/431 limits, the access log file, and a clean
# exit on SIGTERM.
source "${PB_SOURCE_DIR:-.}/tests/lib.sh"
bin=${PB_BUILD_DIR:-build}/bench-http
[ -x "$bin" ] || {
  echo "missing $bin (build the bench-http target)" >&2
  exit 1
}

export PB_SERVER_ACCESS_LOG=$PB_TMP/access.log PB_SERVER_THREADS=2
pb_start server "$bin"
pb_wait_line "$PB_TMP/server.out" '^raw ' || exit 1
url=http://127.0.0.1:$(awk '$1 == "core" {print $2}' "$PB_TMP/server.out")
pb_wait_http "$url/healthz" || exit 1

pb_http GET "$url/healthz"
pb_check_eq "$PB_STATUS" 200 "healthz answers 200"
pb_check "healthz says ok" grep -q '"status":"ok"' "$PB_TMP/body"

pb_http GET "$url/no/such/thing"
pb_check_eq "$PB_STATUS" 404 "unknown path is 404"
pb_check "404 has the error shape" grep -q '{"error":{"code":"not_found"' "$PB_TMP/body"

pb_http POST "$url/bench" '{}'
pb_check_eq "$PB_STATUS" 405 "wrong method is 405"
pb_check "405 names the allowed methods" grep -qi '^allow: GET' "$PB_HEADERS"

pb_http GET "$url/bench"
pb_check_eq "$PB_BODY" '{"ok":true}' "the test route answers"
pb_check "API answers are not cached" grep -qi '^cache-control: no-store' "$PB_HEADERS"

pb_http GET "$url/$(head -c 40000 /dev/zero | tr '\0' a)"
pb_check_eq "$PB_STATUS" 414 "an oversized URI is refused by the library (414)"
pb_http GET "$url/healthz" "" -H "X-Big: $(head -c 40000 /dev/zero | tr '\0' b)"
pb_check_eq "$PB_STATUS" 431 "oversized headers are refused by the library (431)"

pb_http GET "$url/metrics"
pb_check "metrics count the test route" grep -q \
  '^pb_http_requests_total{route="/bench",method="GET",status="200"} 1$' "$PB_TMP/body"

kill -TERM "$PB_LAST_PID"
wait "$PB_LAST_PID"
pb_check_eq "$?" 0 "SIGTERM stops the server with exit code 0"
pb_check "the access log has a JSON line per request" \
  grep -q '"route":"/bench","status":200' "$PB_TMP/access.log"
pb_done
