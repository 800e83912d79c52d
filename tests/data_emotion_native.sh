#!/usr/bin/env bash
# data_emotion_native.sh — the emotion model on native Korean (docs/EMOTION.md, "Native Korean"):
# 5-fold cross-validation on KOTE val.tsv (each fold's model is trained by the documented
# command on GoEmotions-Korean train, NSMC train and the other four KOTE folds, then scored on
# the held-out fold): KOTE 44-label macro-F1 and the segment accuracy on the held-out sentences
# whose labels are all negative or all positive (the native-polarity check), each above its
# floor; and the committed model's NSMC dev.tsv accuracy (never trained on) above 0.87.
# PB_EMOTION_TRAIN_OPTS adds training options (for measuring alternatives, not for the test).
set -euo pipefail
: "${PB_BIN:?run through ctest}" "${PB_DATA_DIR:?run through ctest}" "${PB_SOURCE_DIR:?}"
D=$PB_DATA_DIR
for f in goemotions-ko/train.tsv goemotions-ko/labels.txt nsmc-polarity/train.tsv \
         nsmc-polarity/dev.tsv kote/val.tsv kote/labels.txt; do
  [ -f "$D/$f" ] || { echo "missing dataset $D/$f (put ../shared/data beside the project or set PB_DATA_DIR)" >&2; exit 1; }
done
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
FOLDS=${PB_EMOTION_FOLDS:-5}
# Floors: measured figures (docs/EMOTION.md) less a margin for seeds and compilers.
KOTE_MACRO_F1_FLOOR=${KOTE_MACRO_F1_FLOOR:-0.40}
POLAR_ACCURACY_FLOOR=${POLAR_ACCURACY_FLOOR:-0.83}
NSMC_ACCURACY_FLOOR=0.87

for k in $(seq 0 $((FOLDS - 1))); do
  awk -v k="$k" -v n="$FOLDS" 'NR % n == k' "$D/kote/val.tsv" > "$tmp/test$k.tsv"
  awk -v k="$k" -v n="$FOLDS" 'NR % n != k' "$D/kote/val.tsv" > "$tmp/train$k.tsv"
  # shellcheck disable=SC2086
  "$PB_BIN" emotion train --data "$D/goemotions-ko/train.tsv" --format goemotions \
    --labels "$D/goemotions-ko/labels.txt" --polarity "$D/nsmc-polarity/train.tsv" \
    --kote "$tmp/train$k.tsv" --kote-labels "$D/kote/labels.txt" ${PB_EMOTION_TRAIN_OPTS:-} \
    --out "$tmp/m$k.pbem" 2> "$tmp/train$k.log" || { cat "$tmp/train$k.log"; fail "training fold $k"; }
  "$PB_BIN" emotion eval --model "$tmp/m$k.pbem" --data "$tmp/test$k.tsv" --format kote --json \
    > "$tmp/eval$k.json" || fail "eval fold $k"
  jq -r '"fold '"$k"': KOTE macro-F1 \(.macro_f1 * 10000 | round / 10000), polar sentences \(.segment.examples), segment accuracy \(.segment.accuracy * 10000 | round / 10000)"' "$tmp/eval$k.json"
done

# Pooled over folds: the mean of the folds' macro-F1; the polar confusion matrices summed.
jq -s '{macro_f1: (map(.macro_f1) | add / length),
        confusion: (map(.segment.confusion) | transpose | map(transpose | map(add)))}' \
  "$tmp"/eval*.json > "$tmp/pooled.json"
read -r f1 neg_n neg_ok pos_n pos_ok neg_neutral pos_neutral < <(jq -r '
  [.macro_f1, (.confusion[0] | add), .confusion[0][0], (.confusion[2] | add), .confusion[2][2],
   .confusion[0][1], .confusion[2][1]] | @tsv' "$tmp/pooled.json")
acc=$(awk -v a="$neg_ok" -v b="$pos_ok" -v n="$neg_n" -v p="$pos_n" 'BEGIN{printf "%.4f", (a+b)/(n+p)}')
echo "KOTE ${FOLDS}-fold CV: macro-F1 $(printf %.4f "$f1") (floor $KOTE_MACRO_F1_FLOOR)"
echo "polar sentences: $((neg_n + pos_n)) ($neg_n negative, $pos_n positive); segment accuracy $acc (floor $POLAR_ACCURACY_FLOOR)"
echo "  negative recall $(awk -v a="$neg_ok" -v n="$neg_n" 'BEGIN{printf "%.4f", a/n}') (neutral $neg_neutral), positive recall $(awk -v a="$pos_ok" -v n="$pos_n" 'BEGIN{printf "%.4f", a/n}') (neutral $pos_neutral)"
awk -v x="$f1" -v f="$KOTE_MACRO_F1_FLOOR" 'BEGIN{exit !(x >= f)}' || fail "KOTE macro-F1 $f1 under $KOTE_MACRO_F1_FLOOR"
awk -v x="$acc" -v f="$POLAR_ACCURACY_FLOOR" 'BEGIN{exit !(x >= f)}' || fail "polar segment accuracy $acc under $POLAR_ACCURACY_FLOOR"

model="$PB_SOURCE_DIR/models/emotion-goemotions.pbem"
"$PB_BIN" emotion eval --model "$model" --data "$D/nsmc-polarity/dev.tsv" --format polarity --json \
  > "$tmp/nsmc.json" || fail "eval on NSMC dev"
nsmc=$(jq -r '.segment.accuracy' "$tmp/nsmc.json")
echo "committed model: NSMC dev accuracy $(printf %.4f "$nsmc") (floor $NSMC_ACCURACY_FLOOR)"
awk -v x="$nsmc" -v f="$NSMC_ACCURACY_FLOOR" 'BEGIN{exit !(x >= f)}' || fail "NSMC dev accuracy $nsmc under $NSMC_ACCURACY_FLOOR"
echo ok
