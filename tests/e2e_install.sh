#!/usr/bin/env bash
# e2e_install.sh — `cmake --install` into a DESTDIR: the binary (and bandit-run), prompts, tasks,
# ratings, models, docs and the systemd unit land where they should; the unit passes
# `systemd-analyze verify --root` on that tree (and fails it when its binary is missing) with a
# low exposure score; the installed binary, run from a folder far from the source tree, finds its
# prompts, tasks and models, serves /healthz and stops on SIGTERM with status 0.
source "${PB_SOURCE_DIR:?run through ctest}/tests/lib.sh"
BUILD=${PB_BUILD_DIR:?PB_BUILD_DIR must name the build folder}
ROOT=$PB_TMP/root
command -v systemd-analyze >/dev/null || {
  pb_fail "systemd-analyze is missing: install Debian's systemd package (tools/bootstrap.sh test)"
  pb_done
  exit 1
}

DESTDIR=$ROOT cmake --install "$BUILD" --prefix /usr >"$PB_TMP/install.log" 2>&1
pb_check_eq "$?" 0 "cmake --install into a DESTDIR succeeds"
for f in usr/bin/promptbandit usr/share/promptbandit/prompts/A.txt \
  usr/share/promptbandit/prompts/judge_diary.txt usr/share/promptbandit/prompts/diary/C.txt \
  usr/share/promptbandit/tasks/chat.json usr/share/promptbandit/tasks/diary.json \
  usr/share/promptbandit/tasks/diary/places.txt usr/share/promptbandit/ratings/examples_diary.jsonl \
  usr/share/promptbandit/models/emotion-goemotions.pbem \
  usr/share/doc/promptbandit/RUN.md usr/share/doc/promptbandit/README.md \
  usr/lib/systemd/system/promptbandit.service; do
  pb_check "installed $f" test -s "$ROOT/$f"
done
pb_check "bandit-run is the same binary" test "$(readlink "$ROOT/usr/bin/bandit-run")" = promptbandit
pb_check "the fake LLM is not installed" test ! -e "$ROOT/usr/bin/fake-llm"

# --- the unit, verified on the installed tree ---
UNIT=/usr/lib/systemd/system/promptbandit.service
# systemd's own targets, which every service depends on, are not ours to install: borrow them
for t in sysinit.target basic.target shutdown.target network-online.target multi-user.target; do
  cp "/usr/lib/systemd/system/$t" "$ROOT/usr/lib/systemd/system/"
done
systemd-analyze verify --root="$ROOT" "$UNIT" >"$PB_TMP/verify.out" 2>&1
pb_check_eq "$?" 0 "systemd-analyze verify --root accepts the unit"
pb_check "verify has nothing to say (no ignored line)" test ! -s "$PB_TMP/verify.out"
grep -E '^(User|DynamicUser|StateDirectory|Restart|KillSignal|ExecStart|ProtectSystem|NoNewPrivileges)=' \
  "$ROOT$UNIT" >"$PB_TMP/keys"
for k in User=promptbandit DynamicUser=yes StateDirectory=promptbandit Restart=on-failure \
  KillSignal=SIGTERM "ExecStart=/usr/bin/promptbandit serve" ProtectSystem=strict NoNewPrivileges=yes; do
  pb_check "the unit sets $k" grep -qx "$k" "$PB_TMP/keys"
done
systemd-analyze security --offline=yes --root="$ROOT" "$UNIT" >"$PB_TMP/security.out" 2>&1
score=$(sed -n 's/.*Overall exposure level for promptbandit.service: \([0-9.]*\).*/\1/p' "$PB_TMP/security.out")
pb_check "exposure score $score is at most 2.0 (systemd-analyze security)" \
  awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.0) }'
mv "$ROOT/usr/bin/promptbandit" "$ROOT/usr/bin/pb.moved"
systemd-analyze verify --root="$ROOT" "$UNIT" >"$PB_TMP/verify2.out" 2>&1
pb_check "verify fails when the unit's binary is missing" \
  grep -q "promptbandit is not executable" "$PB_TMP/verify2.out"
mv "$ROOT/usr/bin/pb.moved" "$ROOT/usr/bin/promptbandit"

# --- the installed binary, far from the source tree ---
mkdir -p "$PB_TMP/elsewhere" "$PB_TMP/state"
cd "$PB_TMP/elsewhere" || exit 1
unset PB_PROMPTS_DIR PB_EMOTION_MODEL PB_RUN_SCENARIOS PB_CONFIG
db_state=$(pb_db state/pb.db) || exit 2
export PB_DB_PATH=$db_state PB_SERVER_ADMIN_TOKEN=adm PB_LLM_BASE_URL=
pb_start serve "$ROOT/usr/bin/promptbandit" serve --port 0
serve_pid=$PB_LAST_PID
url=$(pb_listen_url "$PB_TMP/serve.err") && pb_wait_http "$url/healthz" || exit 1
pb_http GET "$url/healthz"
pb_check_eq "$PB_STATUS" 200 "the installed serve answers /healthz"
pb_check "it loaded the installed emotion model" grep -q '"emotion_backend": *"embedded"' <<<"$PB_BODY"
pb_http GET "$url/v1/arms" "" -H "Authorization: Bearer adm"
pb_check_eq "$PB_STATUS" 200 "the arms answer"
pb_check "its arms are the installed prompts A-D" \
  test "$(jq -r '[.arms[].name] | sort | join(",")' <<<"$PB_BODY")" = "A,B,C,D"
kill -TERM "$serve_pid"
wait "$serve_pid"
pb_check_eq "$?" 0 "SIGTERM stops the installed serve with status 0"

"$ROOT/usr/bin/bandit-run" --task diary --dry-run >"$PB_TMP/dry.txt" 2>&1
pb_check_eq "$?" 0 "the installed bandit-run finds the diary task"
pb_check "with its prompts" grep -q "4 (A, B, C, D) from $ROOT/usr/share/promptbandit/tasks/../prompts/diary" \
  "$PB_TMP/dry.txt"
"$ROOT/usr/bin/bandit-run" --task diary --judge local --dry-run >/dev/null 2>"$PB_TMP/local.err"
pb_check_eq "$?" 2 "--judge local without a trained reward model is a usage error"
pb_check "that names the model to train" grep -q "reward-diary.pbrm" "$PB_TMP/local.err"
pb_check "nothing was written into the source tree's folders" test ! -e "$PB_TMP/elsewhere/db"

pb_done
