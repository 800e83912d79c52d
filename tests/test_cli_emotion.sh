#!/usr/bin/env bash
# test_cli_emotion.sh — `promptbandit emotion` as a user runs it on the tiny fixtures: help,
# train (csv, goemotions, aihub, and a bundle with a segment and a kote head), eval --json and
# the polarity / kote segment reports with their confusion matrix, predict (--text, --file,
# the segment, a missing model fails), labels, and the exit codes for usage errors (2) and
# failures (1).
set -u
BIN=${PB_BIN:?PB_BIN not set}
FIX=${PB_SOURCE_DIR:?PB_SOURCE_DIR not set}/tests/fixtures/emotion
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail=0
check() { # check NAME EXPECTED_RC ACTUAL_RC [OUTPUT PATTERN]
  if [ "$3" != "$2" ] || { [ $# -ge 5 ] && ! grep -q -- "$5" <<<"$4"; }; then
    echo "FAIL $1 (rc $3, expected $2)"; echo "$4" | head -20; fail=1
  else
    echo "ok   $1"
  fi
}

out=$("$BIN" emotion --help 2>&1); check help 0 $? "$out" "emotion train"
out=$("$BIN" emotion train --help 2>&1); check train_help 0 $? "$out" "--format"
out=$("$BIN" emotion 2>&1); check no_action_is_usage 2 $? "$out" "usage"
out=$("$BIN" emotion train --data x 2>&1); check train_without_out_is_usage 2 $? "$out" "required"
out=$("$BIN" emotion train --data "$FIX/plain.csv" --format xml --out "$TMP/m" 2>&1)
check unknown_format_is_usage 2 $? "$out" "unknown format"

out=$("$BIN" emotion train --data "$FIX/plain.csv" --format csv --names "$FIX/names.tsv" \
      --min-count 1 --bucket-bits 14 --out "$TMP/csv.pbem" 2>&1)
check train_csv 0 $? "$out" "wrote"
out=$("$BIN" emotion labels --model "$TMP/csv.pbem" 2>&1); check labels_have_names 0 $? "$out" "긍정적"
out=$("$BIN" emotion eval --model "$TMP/csv.pbem" --data "$FIX/plain.csv" --format csv --json 2>&1)
check eval_json 0 $? "$out" '"macro_f1"'
check eval_json_per_label 0 0 "$out" '"support"'
out=$("$BIN" emotion predict --model "$TMP/csv.pbem" --text "기분 최고야" -k 1 2>&1)
check predict_text 0 $? "$out" "긍정"

out=$("$BIN" emotion train --data "$FIX/goemotions_tiny.tsv" --labels "$FIX/labels.txt" \
      --format goemotions --min-count 1 --bucket-bits 14 --holdout 0 --out "$TMP/ge.pbem" 2>&1)
check train_goemotions 0 $? "$out" "4 labels"
out=$("$BIN" emotion train --data "$FIX/goemotions_tiny.tsv" --format goemotions --out "$TMP/x" 2>&1)
check goemotions_needs_labels 1 $? "$out" "--labels"
printf '오늘 행복해\n\n진짜 화나\n' > "$TMP/in.txt"
out=$("$BIN" emotion predict --model "$TMP/ge.pbem" --file "$TMP/in.txt" -k 2 2>&1)
check predict_file_one_line_per_line 0 $? "$out" ":"
[ "$(wc -l <<<"$out")" = 3 ] || { echo "FAIL predict_file line count"; fail=1; }
out=$("$BIN" emotion predict --model "$TMP/ge.pbem" --file "$TMP/in.txt" --json 2>&1)
check predict_file_json 0 $? "$out" '"display"'

out=$("$BIN" emotion train --data "$FIX/aihub_tiny.csv" --format aihub --min-count 1 \
      --bucket-bits 14 --out "$TMP/aihub.pbem" 2>&1)
check train_aihub 0 $? "$out" "3 labels"

out=$("$BIN" emotion predict --model "$TMP/missing.pbem" --text "안녕" 2>&1)
check predict_with_a_missing_model_fails 1 $? "$out" "cannot open emotion model"
out=$("$BIN" emotion predict --model /missing --text "안녕" 2>&1)
check predict_model_slash_missing_fails 1 $? "$out" "/missing"
out=$("$BIN" emotion eval --model "$FIX/plain.csv" --data "$FIX/plain.csv" --format csv 2>&1)
check eval_not_a_model 1 $? "$out" "not a promptbandit emotion model"
out=$("$BIN" emotion predict --model "$TMP/ge.pbem" --text "" 2>&1)
check predict_empty_text 1 $? "$out" "empty"

# A bundle: the tiny GoEmotions set, a polarity file and a KOTE file (segment and kote heads).
printf '정말 좋아요\tpositive\n최악이에요\tnegative\n너무 좋다\tpositive\n별로예요\tnegative\n그냥 그래\tneutral\n' > "$TMP/pol.tsv"
printf '짜증\n기쁨\n없음\n' > "$TMP/kl.txt"
printf '1\t아 짜증나\t0\n2\t너무 기뻐\t1\n3\t그렇구나\t2\n4\t진짜 짜증\t0\n5\t기쁜 날\t1\n' > "$TMP/k.tsv"
out=$("$BIN" emotion train --data "$FIX/goemotions_tiny.tsv" --labels "$FIX/labels.txt" \
      --format goemotions --polarity "$TMP/pol.tsv" --kote "$TMP/k.tsv" --kote-labels "$TMP/kl.txt" \
      --min-count 1 --segment-min-count 1 --bucket-bits 14 --holdout 0 --folds 0 --out "$TMP/b.pbem" 2>&1)
check train_bundle 0 $? "$out" "3 heads"
out=$("$BIN" emotion labels --model "$TMP/b.pbem" 2>&1); check labels_list_heads 0 $? "$out" "# head segment"
out=$("$BIN" emotion eval --model "$TMP/b.pbem" --data "$TMP/pol.tsv" --format polarity 2>&1)
check eval_polarity_confusion 0 $? "$out" "confusion (rows: truth"
check eval_polarity_accuracy 0 0 "$out" "accuracy"
out=$("$BIN" emotion eval --model "$TMP/b.pbem" --data "$TMP/pol.tsv" --format polarity --json 2>&1)
check eval_polarity_json 0 $? "$out" '"confusion"'
out=$("$BIN" emotion eval --model "$TMP/b.pbem" --data "$TMP/k.tsv" --format kote --json 2>&1)
check eval_kote_json_labels 0 $? "$out" '"macro_f1"'
check eval_kote_json_segment 0 0 "$out" '"segment"'
out=$("$BIN" emotion eval --model "$TMP/ge.pbem" --data "$TMP/k.tsv" --format kote 2>&1)
check eval_kote_without_head_needs_labels 2 $? "$out" "--labels"
out=$("$BIN" emotion predict --model "$TMP/b.pbem" --text "정말 좋아요" -k 1 2>&1)
check predict_prints_segment 0 $? "$out" "^segment	positive"
out=$("$BIN" emotion predict --model "$TMP/b.pbem" --text "정말 좋아요" --json 2>&1)
check predict_json_segment 0 $? "$out" '"segment": *"positive"'
out=$(printf '1\tx\tgreat\n' > "$TMP/badpol.tsv"; "$BIN" emotion eval --model "$TMP/b.pbem" --data "$TMP/badpol.tsv" --format polarity 2>&1)
check eval_polarity_bad_label 1 $? "$out" "line 1"

exit $fail
