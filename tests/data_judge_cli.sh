#!/usr/bin/env bash
# data_judge_cli.sh — `promptbandit judge train|score|eval` end to end on the shared ratings:
# a trained model file scores one line per input line, eval prints table and JSON with every
# figure, and bad ratings lines are refused with their line number (or skipped on request).
set -euo pipefail
: "${PB_BIN:?run through ctest}" "${PB_DATA_DIR:?run through ctest}"
data="$PB_DATA_DIR/ratings-memozy/train.jsonl"
[ -f "$data" ] || { echo "missing dataset $data" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$PB_BIN" judge train --ratings "$data" --out "$tmp/m.pbrm" > "$tmp/train.out"
grep -q "450 ratings" "$tmp/train.out" || fail "train did not report 450 ratings"
head -c 20 "$tmp/m.pbrm" | grep -q '"format"' || fail "model file is not JSON"

printf '오늘 친구랑 바다에 가서 사진을 많이 찍었다. 바람이 시원해서 정말 행복했다!\n사진을 바탕으로 일기를 작성해 드릴게요. 추가할 내용이 있으면 말씀해 주세요.\n' \
  | "$PB_BIN" judge score --model "$tmp/m.pbrm" --input - > "$tmp/scores"
[ "$(wc -l < "$tmp/scores")" = 2 ] || fail "score: expected 2 lines"
awk 'NR==1{a=$1} NR==2{b=$1} END{exit !(a > b + 0.5 && a <= 1 && b >= -1)}' "$tmp/scores" \
  || fail "score: diary should beat assistant talk: $(tr '\n' ' ' < "$tmp/scores")"

"$PB_BIN" judge eval --ratings "$data" --judge constant --folds 5 --seed 3 --json \
  --out "$tmp/eval.json" > "$tmp/eval.out" 2>/dev/null
for k in mse mae spearman kendall_tau_b exact qwk confusion folds seed; do
  grep -q "\"$k\"" "$tmp/eval.json" || fail "eval JSON lacks $k"
done
cmp -s "$tmp/eval.out" <(cat "$tmp/eval.json"; echo) || fail "--json output differs from --out file"
"$PB_BIN" judge eval --ratings "$data" --judge constant --folds 5 2>/dev/null | grep -q "weighted kappa" \
  || fail "table output lacks kappa"

printf '{"text":"좋다","rate":0}\n{"text":"나쁘다","rate":2}\n{"text":"\xff","rate":1}\nnot json\n' > "$tmp/bad.jsonl"
if "$PB_BIN" judge train --ratings "$tmp/bad.jsonl" --out "$tmp/x" 2> "$tmp/err"; then fail "bad ratings accepted"; fi
grep -q "line 2: rate must be one of" "$tmp/err" || fail "no line number: $(cat "$tmp/err")"
"$PB_BIN" judge eval --ratings "$tmp/bad.jsonl" --judge constant --folds 2 --skip-bad > /dev/null 2> "$tmp/err2" \
  && fail "one good line cannot make 2 folds"
grep -q "line 3: not valid UTF-8" "$tmp/err2" || fail "skip-bad did not list line 3"
grep -q "line 4: invalid JSON" "$tmp/err2" || fail "skip-bad did not list line 4"
"$PB_BIN" judge --help | grep -q "judge <action>" || fail "no help"
echo "data_judge_cli: ok"
