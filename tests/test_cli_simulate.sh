#!/usr/bin/env bash
# test_cli_simulate.sh — `promptbandit simulate` end to end: the documented example works and is
# reproducible, --help answers, and each kind of bad input gives a clear message and the
# right exit code (2 usage, 1 bad file).
# shellcheck source=lib.sh
source "${PB_SOURCE_DIR:?PB_SOURCE_DIR must name the source tree}/tests/lib.sh"
BIN=${PB_BIN:?PB_BIN must name the promptbandit binary}
TMP=$PB_TMP

# expect CODE NEEDLE -- ARGS...: `simulate ARGS` exit code and a word of its stderr
expect() { pb_expect "$1" "$2" -- "$BIN" simulate "${@:4}"; }

example=(--arms bernoulli:0.9,0.8 --horizon 10000 --reps 100 --policy ucb1,thompson --seed 1 --json)
"$BIN" simulate "${example[@]}" >"$TMP/a.json" 2>/dev/null || pb_fail "the documented example failed"
"$BIN" simulate "${example[@]}" >"$TMP/b.json" 2>/dev/null
cmp -s "$TMP/a.json" "$TMP/b.json" || pb_fail "same seed gave different output"
python3 - "$TMP/a.json" <<'PY' || pb_fail "example JSON lacks the promised fields"
import json, sys
d = json.load(open(sys.argv[1]))
assert abs(d["lai_robbins_c"] - 2.2521) < 1e-3
names = [p["policy"] for p in d["policies"]]
assert names[0] == "ucb1" and names[1].startswith("thompson"), names
for p in d["policies"]:
    r = p["regret"]
    assert r["q05"] <= r["mean"] <= r["q95"] and r["sd"] > 0
    assert 0.9 <= p["best_arm_share"] <= 1
PY

"$BIN" simulate --arms bernoulli:0.9,0.8 --horizon 1000 --reps 5 --seed 3 \
  --policy egreedy-decay:c=0.15,d=0.1,ucb1-tuned --checkpoints >"$TMP/t.txt" 2>&1 \
  || pb_fail "table output with checkpoints failed"
grep -q "egreedy-decay:c=0.15,d=0.1" "$TMP/t.txt" || pb_fail "policy with two parameters not parsed as one"
grep -qE "^ +100 " "$TMP/t.txt" || pb_fail "checkpoint T=100 missing"

"$BIN" simulate --help >"$TMP/h" 2>&1 && grep -q -- "--arms-file" "$TMP/h" || pb_fail "--help"

printf '{"arms":[{"kind":"gaussian","mean":0.2,"sd":0.5},{"kind":"gaussian","mean":0.1,"sd":0.5}]}' >"$TMP/ok.json"
"$BIN" simulate --arms-file "$TMP/ok.json" --horizon 500 --reps 3 >/dev/null 2>&1 || pb_fail "--arms-file"
printf '{"arms":[{"kind":"gaussian","mean":0.2,' >"$TMP/bad.json"

expect 2 "unknown policy"  -- --arms bernoulli:0.9,0.8 --policy ucb9
expect 2 "unknown parameter" -- --arms bernoulli:0.9,0.8 --policy egreedy:eps=0.1
expect 2 "outside"         -- --arms bernoulli:0.9,0.8 --policy egreedy:epsilon=2
expect 2 "finite"          -- --arms bernoulli:nan,0.8
expect 2 "[0, 1]"          -- --arms bernoulli:1.5,0.8
expect 2 "mean must be"    -- --arms gaussian:3/0.5
expect 2 "empty"           -- --arms bernoulli:
expect 2 "horizon"         -- --arms bernoulli:0.9,0.8 --horizon 0
expect 2 "reps"            -- --arms bernoulli:0.9,0.8 --reps -3
expect 2 "exactly one"     -- --horizon 10
expect 2 "unknown option"  -- --arms bernoulli:0.9 --bogus
expect 2 "needs a value"   -- --arms
expect 2 "checkpoints"     -- --arms bernoulli:0.9,0.8 --horizon 50 --checkpoints=100
expect 1 "line 1"          -- --arms-file "$TMP/bad.json"
expect 1 "no such file\|cannot\|open" -- --arms-file "$TMP/missing.json"

pb_done
