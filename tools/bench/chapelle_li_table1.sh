#!/usr/bin/env bash
# chapelle_li_table1.sh — reproduces Chapelle & Li (2011), Table 1: 10 Bernoulli arms whose
# means are drawn from Beta(4,4), one arm of the set replaced with probability 1e-3 per play by
# a new one from the same prior, rewards delivered every delta plays, T = 10^6, 100 runs;
# Thompson sampling (Beta(1,1) prior) against the paper's Chernoff-bound UCB (ucb-chernoff).
# Prints one line per delay (mean regret and sd for both, the UCB/TS ratio) next to the paper's
# figures; the JSON of each run goes to OUT_DIR. Usage:
#   tools/bench/chapelle_li_table1.sh [BIN] [OUT_DIR]     (env: REPS=100 HORIZON=1000000
#                                                          DELAYS="1 3 10 32 100 316 1000" SEED=2011
#                                                          CHURN_SEEN=now|delivery)
# The full table is about 1.4e9 plays (≈ 10 min on one core); run it under `nice`.
set -euo pipefail
BIN=${1:-build/promptbandit}
OUT=${2:-/tmp/chapelle_li}
REPS=${REPS:-100}
HORIZON=${HORIZON:-1000000}
DELAYS=${DELAYS:-"1 3 10 32 100 316 1000"}
SEED=${SEED:-2011}
CHURN_SEEN=${CHURN_SEEN:-now}
mkdir -p "$OUT"
declare -A PAPER_TS=([1]=9105 [3]=9199 [10]=9049 [32]=9451 [100]=11550 [316]=21594 [1000]=59256)
declare -A PAPER_UCB=([1]=24145 [3]=24695 [10]=25662 [32]=28148 [100]=37141 [316]=77687 [1000]=226220)
printf '%6s %22s %9s %22s %9s %8s %8s\n' delay "TS regret (sd)" "paper" "UCB regret (sd)" "paper" \
  "UCB/TS" "paper"
for d in $DELAYS; do
  "$BIN" simulate --arms prior:10 --new-arm beta:4,4 --churn 0.001 --delay "$d" --churn-seen "$CHURN_SEEN" \
    --horizon "$HORIZON" --reps "$REPS" --seed "$SEED" --policy thompson-beta:prior=1,ucb-chernoff \
    --json >"$OUT/delay_$d.json"
  python3 - "$OUT/delay_$d.json" "$d" "${PAPER_TS[$d]:-0}" "${PAPER_UCB[$d]:-0}" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
d, pts, pucb = sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
ts, ucb = (p["regret"] for p in doc["policies"])
ratio = ucb["mean"] / ts["mean"]
pr = pucb / pts if pts else float("nan")
print(f'{d:>6} {ts["mean"]:>12.0f} ({ts["sd"]:>6.0f}) {pts:>9.0f} '
      f'{ucb["mean"]:>12.0f} ({ucb["sd"]:>6.0f}) {pucb:>9.0f} {ratio:>8.2f} {pr:>8.2f}')
PY
done
