#!/usr/bin/env bash
# e2e_cli_run_diary.sh — the seed's experiment shape as data: `bandit-run --task diary` writes
# diaries from a day's place, companions, activity and mood with the four diary prompts A-D,
# judges them against the diary rubric (LLM judge at the fake) for 200 iterations, and reports
# per-arm means with intervals, the verdict and the per-mood breakdown; the same task runs with
# --judge local on the reward model trained from the seed's ratings; tasks files are checked
# before any call; `chat` is a task file too.
source "${PB_SOURCE_DIR:?run through ctest}/tests/lib.sh"
# The databases (SQLite files, or PostgreSQL databases in the PostgreSQL pass: lib.sh pb_db).
db_d=$(pb_db d.db) || exit 2
db_local=$(pb_db local.db) || exit 2
BIN=${PB_BIN:?PB_BIN must name the promptbandit binary}
FAKE=${PB_FAKE_LLM:?PB_FAKE_LLM must name the fake-llm binary}
S=$PB_SOURCE_DIR
RUN=$PB_TMP/bandit-run
ln -s "$BIN" "$RUN"
# The installed layout: tasks/ beside prompts/ (the tasks folder follows the setting prompts.dir)
export PB_PROMPTS_DIR=$S/prompts

# Generation: each diary prompt writes its own kind of diary (markers for the judge); D writes
# a clumsy one when the mood is 피곤함. Judge (the diary rubric says "photo-diary"): C 1,
# B and D 0.5, tired D -0.5, A 0.
cat >"$PB_TMP/rules.json" <<'JSON'
[{"system_contains": "photo-diary", "user_contains": "MARK-C", "reply": "1"},
 {"system_contains": "photo-diary", "user_contains": "MARK-B", "reply": "0.5"},
 {"system_contains": "photo-diary", "user_contains": "MARK-DT", "reply": "-0.5"},
 {"system_contains": "photo-diary", "user_contains": "MARK-D", "reply": "0.5"},
 {"system_contains": "photo-diary", "reply": "0"},
 {"system_contains": "사용자가 알려 준", "reply": "MARK-A 보내주신 내용을 바탕으로 일기를 작성해 드릴게요! 원하시는 분위기가 있으면 말씀해 주세요."},
 {"system_contains": "감각 묘사", "reply": "MARK-B 오늘은 좋은 하루였다. 바람이 시원했다. 다음에도 또 가고 싶다."},
 {"system_contains": "사진 한 장처럼", "reply": "MARK-C 주말에 동생이랑 한강 공원에 가서 돗자리를 폈다. 바람이 선선해서 김밥이 더 맛있게 느껴졌다! 해 질 무렵 하늘이 분홍빛으로 물들어서 한참을 바라봤다. 다음에는 자전거도 빌려서 한 바퀴 돌아봐야겠다."},
 {"system_contains": "따뜻한 문체", "user_contains": "기분: 피곤함", "reply": "MARK-DT 피곤했다. 좀 했다."},
 {"system_contains": "따뜻한 문체", "reply": "MARK-D 친구랑 카페에 가서 한참 수다를 떨었다. 창밖으로 비가 내려서 마음이 차분해졌다."}]
JSON
pb_start fake "$FAKE" --port 0 --rules "$PB_TMP/rules.json"
URL=$(pb_listen_url "$PB_TMP/fake.out") || exit 1
export PB_LLM_BASE_URL=$URL/v1 OPENAI_API_KEY=
calls() { curl -s "$URL/_stats" | jq .chat_requests; }

# --- the dry run names the task and its source ---
"$RUN" --task diary --iterations 200 --dry-run >"$PB_TMP/dry.txt" 2>&1
pb_check_eq "$?" 0 "--task diary --dry-run exits 0"
pb_check "the dry run names the template's variables" \
  grep -q "template over place (20), companion (8), activity (20), mood (8)" "$PB_TMP/dry.txt"
pb_check "the dry run finds the four diary prompts" grep -q "4 (A, B, C, D)" "$PB_TMP/dry.txt"
pb_check_eq "$(calls)" 0 "the dry run called nobody"

# --- the seed's experiment: 200 iterations, UCB, four prompts, the LLM judge ---
"$RUN" --task diary --iterations 200 --seed 7 --db "$db_d" --out "$PB_TMP/diary" --quiet \
  >"$PB_TMP/diary.md" 2>"$PB_TMP/diary.err"
pb_check_eq "$?" 0 "bandit-run --task diary finishes"
pb_check_eq "$(calls)" 400 "200 diaries and 200 judgements"
J=$PB_TMP/diary/report.json
pb_check_eq "$(jq -r .task "$J")" diary "the report names the task"
pb_check_eq "$(jq -r '[.arms[].pulls] | add' "$J")" 200 "200 rewards over the four arms"
pb_check_eq "$(jq -r .verdict.leader "$J")" C "C leads, as in the seed"
pb_check_eq "$(jq -r '.arms[] | select(.arm == "C") | .mean' "$J")" 1 "C's mean reward is 1"
pb_check "every arm has an interval within the reward range" \
  jq -e '[.arms[] | select(.pulls > 0) | .interval[0] >= -1 and .interval[1] <= 1 and .interval[0] <= .mean and .mean <= .interval[1]] | all' "$J"
pb_check "the verdict says whether C is separated" \
  jq -e '.verdict | (.separated == true or .separated == false) and .rule == "glr"' "$J"
pb_check "report.md states the verdict first" \
  grep -Eq "^\*\*(Separated: C is the best arm|Not enough rewards yet|Not separated yet)" "$PB_TMP/diary.md"
pb_check "the breakdown is per mood" grep -q "^| mood | A | B | C | D |" "$PB_TMP/diary.md"
pb_check_eq "$(jq -r '.segments[] | select(.segment == "피곤함") | .arms.D.mean // "none"' "$J" | sed 's/^-0.5$/ok/;s/^none$/ok/')" ok \
  "D's tired diaries score -0.5 in the mood breakdown"
pb_check "the steps record the mood" \
  test "$(jq -r 'select(.context.emotion != null) | .context.emotion' "$PB_TMP/diary/steps.jsonl" | sort -u | wc -l)" -ge 6
pb_check "the judge saw the day's description as context" \
  grep -q '"scenario":"장소: .* / 함께한 사람: .* / 한 일: .* / 기분: ' "$PB_TMP/diary/steps.jsonl"
pb_check "the diary prompts are in the report" grep -q "사진 한 장처럼" "$PB_TMP/diary.md"
pb_check "verdict.svg is drawn" grep -q "<rect" "$PB_TMP/diary/verdict.svg"

# --- the same task with the local reward model as judge ---
# The model is trained here from the seed's ratings (../shared/data: no licence to ship them or
# a model made from them, so neither is in the repository).
ratings=${PB_DATA_DIR:-$S/../shared/data}/ratings-memozy/train.jsonl
[ -s "$ratings" ] || { echo "FAIL the seed's ratings are missing: $ratings (set PB_DATA_DIR)"; exit 1; }
"$PB_BIN" judge train --ratings "$ratings" --out "$PB_TMP/reward-diary.pbrm" >/dev/null 2>"$PB_TMP/train.err"
pb_check_eq "$?" 0 "judge train makes the diary reward model from the seed's ratings"
before=$(calls)
"$RUN" --task diary --judge local --local-model "$PB_TMP/reward-diary.pbrm" --iterations 40 \
  --batch 4 --policy thompson --seed 3 \
  --db "$db_local" --name local-judge --quiet >/dev/null 2>"$PB_TMP/local.err"
pb_check_eq "$?" 0 "--judge local runs the diary task"
pb_check_eq "$(($(calls) - before))" 40 "the local judge calls nobody"
"$RUN" report local-judge --db "$db_local" --json >"$PB_TMP/local.json"
pb_check "the reward model prefers C's diary to A's assistant talk" \
  jq -e '([.arms[] | select(.arm == "C") | .mean][0]) > ([.arms[] | select(.arm == "A") | .mean][0])' \
  "$PB_TMP/local.json"

# --- tasks are checked before any call ---
before=$(calls)
pb_expect 2 "task file .*nope.json: No such file" -- "$RUN" --task nope
cat >"$PB_TMP/bad.json" <<'JSON'
{"name": "bad", "variables": {"city": ["서울"]}, "user": "{city} {weather}"}
JSON
pb_expect 2 "unknown variable {weather}" -- "$RUN" --task "$PB_TMP/bad.json" --prompts "$S/prompts/diary"
printf '{"name": "x", "variables": {"a": ["1"]}, "user": "{a}", "judges": ["llm"]}\n' >"$PB_TMP/llm-only.json"
pb_expect 2 "task x takes --judge llm; got 'constant'" -- \
  "$RUN" --task "$PB_TMP/llm-only.json" --prompts "$S/prompts/diary" --judge constant
pb_check_eq "$(calls)" "$before" "no call was made for a bad task"

# --- chat is a task file ---
"$RUN" --task chat --dry-run --iterations 10 >"$PB_TMP/chat.txt" 2>&1
pb_check "the chat task reads its scenario lines" \
  grep -q "chat from .*tasks/chat.json: 50 scenario lines from" "$PB_TMP/chat.txt"

pb_done
