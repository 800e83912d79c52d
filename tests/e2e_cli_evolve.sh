#!/usr/bin/env bash
# e2e_cli_evolve.sh — `bandit-run evolve` end to end against the fake LLM, whose rules plant
# the proposals: each proposal answers a better prompt (PROMPT-GOOD, answers judged 1), a
# worse one (PROMPT-BAD, -1) and an equal one (PROMPT-MEH, 0, like the seed). The loop admits
# the better one, retires the worse one, records the lineage (parent, generation, rewards,
# mean, GLR) and stays within its budget of provider calls (counted at the fake); an
# interrupted evolve resumes to the same lineage as an uninterrupted one with the same seed.
source "${PB_SOURCE_DIR:?run through ctest}/tests/lib.sh"
# The databases (SQLite files, or PostgreSQL databases in the PostgreSQL pass: lib.sh pb_db).
db_x=$(pb_db x.db) || exit 2
db_e=$(pb_db e.db) || exit 2
db_w=$(pb_db w.db) || exit 2
db_p=$(pb_db p.db) || exit 2
db_f=$(pb_db f.db) || exit 2
BIN=${PB_BIN:?PB_BIN must name the promptbandit binary}
FAKE=${PB_FAKE_LLM:?PB_FAKE_LLM must name the fake-llm binary}
RUN=$PB_TMP/bandit-run
ln -s "$BIN" "$RUN"

mkdir -p "$PB_TMP/seeds"
printf 'PROMPT-SEED 친구처럼 답해.\n' >"$PB_TMP/seeds/S.txt"
cat >"$PB_TMP/rules.json" <<'JSON'
[{"any_contains": "You improve system prompts",
  "reply": "[\"PROMPT-GOOD-{n} 공감하며 답해.\", \"PROMPT-BAD-{n} 짧게 답해.\", \"PROMPT-MEH-{n} 답해.\"]"},
 {"system_contains": "Rubric", "user_contains": "GOOD", "reply": "1"},
 {"system_contains": "Rubric", "user_contains": "BAD", "reply": "-1"},
 {"system_contains": "Rubric", "reply": "0"},
 {"system_contains": "PROMPT-GOOD", "reply": "GOOD {sentence}"},
 {"system_contains": "PROMPT-BAD", "reply": "BAD {sentence}"},
 {"any_contains": "PROMPT-", "reply": "meh {sentence}"}]
JSON
pb_start fake "$FAKE" --port 0 --rules "$PB_TMP/rules.json"
URL=$(pb_listen_url "$PB_TMP/fake.out") || exit 1
export PB_LLM_BASE_URL=$URL/v1 OPENAI_API_KEY=
calls() { curl -s "$URL/_stats" | jq .chat_requests; }
common=(--prompts "$PB_TMP/seeds" --scenarios "$PB_SOURCE_DIR/prompts/scenarios_chat.txt"
  --rubric "$PB_SOURCE_DIR/prompts/judge_chat.txt"
  --examples "$PB_SOURCE_DIR/ratings/examples_chat.jsonl"
  --meta "$PB_SOURCE_DIR/prompts/propose.txt" --seed 3 --batch 2 --quiet)

# --- usage ---
"$RUN" evolve --help >"$PB_TMP/help"
pb_check_eq "$?" 0 "evolve --help exits 0"
pb_check "evolve --help is its own help" grep -q "^usage: bandit-run evolve" "$PB_TMP/help"
PB_LLM_BASE_URL= pb_expect 2 "--generations G, --propose N and --out DIR are required" -- \
  "$RUN" evolve --propose 3 --out "$PB_TMP/x"
PB_LLM_BASE_URL= pb_expect 2 "--generations takes 1..1000 and --propose 1..20" -- \
  "$RUN" evolve "${common[@]}" --generations 1 --propose 50 --out "$PB_TMP/x" --db "$db_x"

# --- one generation: the planted better prompt is admitted, the worse one retired ---
"$RUN" evolve "${common[@]}" --db "$db_e" --generations 1 --propose 3 \
  --budget calls=400 --iterations 200 --out "$PB_TMP/e" >"$PB_TMP/e.md" 2>"$PB_TMP/e.err"
pb_check_eq "$?" 0 "an evolve exits 0"
spent=$(calls)
pb_check "it stayed within its budget ($spent of 400 calls)" test "$spent" -le 400
pb_check "it says it completed" grep -q "evolve 2 stopped (completed) after 1 generations" "$PB_TMP/e.err"
good=$(grep -o '| 1 | P[0-9a-f]* | S | admitted |' "$PB_TMP/e.md" | head -1)
pb_check "a candidate of generation 1, parent S, is admitted" test -n "$good"
good_name=$(echo "$good" | awk -F'|' '{gsub(/ /, "", $3); print $3}')
pb_check "the admitted prompt is the planted better one" \
  grep -q "PROMPT-GOOD" "$PB_TMP/e/pool/$good_name.txt"
pb_check_eq "$(cat "$PB_TMP/e/best.txt")" "$(cat "$PB_TMP/e/pool/$good_name.txt")" \
  "best.txt holds the admitted prompt"
bad_row=$(grep -E '^\| 1 \| P[0-9a-f]+ \| S \| retired \|' "$PB_TMP/e.md" | awk -F'|' '{gsub(/ /, "", $3); print $3}' |
  while read -r n; do grep -l "PROMPT-BAD" "$PB_TMP/e/pool/$n.txt"; done)
pb_check "the planted worse prompt is retired" test -n "$bad_row"
pb_check "the seed is superseded" grep -q '^| 1 | S | - | superseded |' "$PB_TMP/e.md"
pb_check "the generation is identified" grep -Eq '^\| 1 \| S \| [0-9]+ \| 1 \| decided \| yes \|' "$PB_TMP/e.md"
pb_check_eq "$(cat "$PB_TMP/e/report.md")" "$(cat "$PB_TMP/e.md")" "report.md holds the lineage"
"$RUN" report 2 --db "$db_e" >"$PB_TMP/r.md"
pb_check_eq "$?" 0 "report of an evolve exits 0"
pb_check "report shows the lineage with GLR evidence" grep -q "GLR vs leader" "$PB_TMP/r.md"
"$RUN" list --db "$db_e" >"$PB_TMP/list"
pb_check "list shows the evolve, completed, with its incumbent" \
  grep -Eq "evolve .*finished .*completed .*$good_name" "$PB_TMP/list"

# the dashboard's admin API serves the same lineage as JSON
printf '{"server": {"admin_token": "tok", "port": 0}, "emotion": {"backend": "none"}}\n' \
  >"$PB_TMP/serve.json"
pb_start serve "$BIN" serve --db "$db_e" --config "$PB_TMP/serve.json" --prompts "$PB_TMP/seeds"
SERVE=$(pb_listen_url "$PB_TMP/serve.err") || exit 1
pb_http GET "$SERVE/v1/runs/2/lineage" "" -H "Authorization: Bearer tok"
pb_check_eq "$PB_STATUS" 200 "GET /v1/runs/2/lineage answers 200"
pb_check_eq "$(echo "$PB_BODY" | jq -r --arg n "$good_name" '.prompts[] | select(.name == $n) | .verdict')" \
  admitted "the lineage JSON has the admitted prompt"
pb_check_eq "$(echo "$PB_BODY" | jq -r '.generations[1].identified')" true "and the identified generation"
pb_http GET "$SERVE/v1/runs/1/lineage" "" -H "Authorization: Bearer tok"
pb_check_eq "$PB_STATUS" 400 "a screen run has no lineage of its own (400)"
kill "$PB_LAST_PID"

# --- two generations under a small budget, interrupted and resumed ---
curl -s -X POST "$URL/_reset" >/dev/null
"$RUN" evolve "${common[@]}" --db "$db_w" --generations 2 --propose 3 \
  --budget calls=300 --iterations 200 --out "$PB_TMP/w" >"$PB_TMP/w.md" 2>"$PB_TMP/w.err"
pb_check_eq "$?" 0 "a two-generation evolve exits 0"
whole=$(calls)
pb_check "it stayed within its budget ($whole of 300 calls)" test "$whole" -le 300
pb_check "a planted better prompt is admitted" grep -Eq '^\| 1 \| P[0-9a-f]+ \| S \| admitted \|' "$PB_TMP/w.md"
curl -s -X POST "$URL/_reset" >/dev/null
"$RUN" evolve "${common[@]}" --db "$db_p" --generations 2 --propose 3 \
  --budget calls=300 --iterations 200 --out "$PB_TMP/p" >/dev/null 2>"$PB_TMP/p1.err" &
pid=$!
for _ in $(seq 1 400); do # stop it after the first proposal
  [ "$(curl -s "$URL/_requests" | grep -c "You improve system prompts")" -ge 1 ] && break
  sleep 0.02
done
kill -INT "$pid"
wait "$pid"
rc=$?
pb_check "SIGINT stops the evolve (130) or it had already finished (0): $rc" test "$rc" = 130 -o "$rc" = 0
"$RUN" resume 2 --db "$db_p" --quiet >"$PB_TMP/p.md" 2>"$PB_TMP/p2.err"
pb_check_eq "$?" 0 "resume finishes the evolve"
lineage() { sed -n '/^## Lineage/,/^## Prompts/p' "$1" | sed 's/-[0-9]* /- /g'; }
pb_check_eq "$(grep -c '^| [0-9]' <(lineage "$PB_TMP/p.md"))" "$(grep -c '^| [0-9]' <(lineage "$PB_TMP/w.md"))" \
  "the resumed evolve has as many lineage rows as the uninterrupted one"
pb_check_eq "$(lineage "$PB_TMP/p.md" | awk -F'|' '{print $2 $5 $6 $7}')" \
  "$(lineage "$PB_TMP/w.md" | awk -F'|' '{print $2 $5 $6 $7}')" \
  "the resumed evolve reached the same verdicts, rewards and means"
# --- a failing proposal stops the evolve saying why; resume asks again ---
{ cat "$PB_SOURCE_DIR/prompts/propose.txt"; echo '[[fake:400]]'; } >"$PB_TMP/meta.txt"
"$RUN" evolve "${common[@]}" --meta "$PB_TMP/meta.txt" --db "$db_f" --generations 1 \
  --propose 3 --budget calls=400 --iterations 200 --out "$PB_TMP/f" >/dev/null 2>"$PB_TMP/f1.err"
pb_check_eq "$?" 1 "an evolve stopped by a failing proposal exits 1"
pb_check "it names the failure kind" grep -q "evolve 2 stopped (provider)" "$PB_TMP/f1.err"
"$RUN" list --db "$db_f" >"$PB_TMP/f.list"
pb_check "list shows the evolve failed by the provider" grep -Eq "evolve .*failed .*provider" "$PB_TMP/f.list"
cp "$PB_SOURCE_DIR/prompts/propose.txt" "$PB_TMP/meta.txt"
"$RUN" resume 2 --db "$db_f" --quiet >"$PB_TMP/f.md" 2>"$PB_TMP/f2.err"
pb_check_eq "$?" 0 "resume after the provider recovered finishes the evolve"
pb_check "and admits the planted better prompt" grep -Eq '^\| 1 \| P[0-9a-f]+ \| S \| admitted \|' "$PB_TMP/f.md"

pb_done
