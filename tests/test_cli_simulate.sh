#!/usr/bin/env bash
# test_cli_simulate.sh — `promptbandit simulate` end to end: the documented example works and is
# reproducible, best-arm identification and delayed/churning arms report their fields, --help
# answers, and each kind of bad input gives a clear message and the
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

"$BIN" simulate --help >"$TMP/h" 2>&1 && grep -q -- "--arms-file" "$TMP/h" && grep -q -- "--goal identify" "$TMP/h" \
  && grep -q -- "--churn" "$TMP/h" || pb_fail "--help"

printf '{"arms":[{"kind":"gaussian","mean":0.2,"sd":0.5},{"kind":"gaussian","mean":0.1,"sd":0.5}]}' >"$TMP/ok.json"
"$BIN" simulate --arms-file "$TMP/ok.json" --horizon 500 --reps 3 >/dev/null 2>&1 || pb_fail "--arms-file"
printf '{"arms":[{"kind":"gaussian","mean":0.2,' >"$TMP/bad.json"

# --goal identify: the four rules, their samples, error rate and the lower bound
"$BIN" simulate --goal identify --delta 0.05 --policy tts,lucb,se,uniform \
  --arms bernoulli:0.8,0.5,0.3 --reps 20 --seed 2 --json >"$TMP/id.json" 2>/dev/null \
  || pb_fail "--goal identify failed"
python3 - "$TMP/id.json" <<'PY' || pb_fail "identify JSON lacks the promised fields"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["goal"] == "identify" and d["delta"] == 0.05
assert [p["policy"] for p in d["policies"]] == ["tts", "lucb", "se", "uniform"]
assert d["lower_bound"] > 0 and d["t_star"] > 0
for p in d["policies"]:
    s = p["samples"]
    assert s["q05"] <= s["median"] <= s["q95"], s
    assert p["error_rate"] <= 0.05 and p["unstopped"] == 0
    assert abs(p["ratio_to_bound"] - s["mean"] / d["lower_bound"]) < 1e-6
PY
"$BIN" simulate --goal identify --arms bernoulli:0.8,0.5 --reps 5 >"$TMP/id.txt" 2>&1 \
  && grep -q "lower bound" "$TMP/id.txt" || pb_fail "identify table"

# delayed feedback and churn (Chapelle & Li): arms from the prior, the dynamics in the report
"$BIN" simulate --arms prior:5 --new-arm beta:4,4 --churn 0.01 --delay 10 --churn-seen delivery --horizon 2000 \
  --reps 3 --seed 1 --policy thompson-beta:prior=1,ucb-chernoff --json >"$TMP/dyn.json" 2>/dev/null \
  || pb_fail "--delay/--churn failed"
python3 - "$TMP/dyn.json" <<'PY' || pb_fail "dynamics JSON"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["dynamics"] == {"delay": 10, "churn": 0.01, "new_arm_beta": [4.0, 4.0],
                         "arms_from_prior": True, "churn_seen": "delivery"}, d["dynamics"]
assert d["lai_robbins_c"] is None
assert [p["policy"] for p in d["policies"]] == ["thompson-beta:draws=1000,prior=1", "ucb-chernoff"]
PY

expect 2 "goal"            -- --arms bernoulli:0.9,0.8 --goal best
expect 2 "delta"           -- --arms bernoulli:0.9,0.8 --goal identify --delta 1
expect 2 "unknown identification rule" -- --arms bernoulli:0.9,0.8 --goal identify --policy ucb1
expect 2 "identify takes"  -- --arms bernoulli:0.9,0.8 --goal identify --delay 5
expect 2 "two arms"        -- --arms bernoulli:0.9 --goal identify
expect 2 "delay"           -- --arms bernoulli:0.9,0.8 --delay 0
expect 2 "churn"           -- --arms bernoulli:0.9,0.8 --churn 2
expect 2 "new-arm"         -- --arms bernoulli:0.9,0.8 --new-arm beta:0,1
expect 2 "prior:K"         -- --arms prior:1
expect 2 "bernoulli"       -- --arms gaussian:0.2/0.5,0.1/0.5 --churn 0.1
expect 2 "ducb"            -- --arms bernoulli:0.9,0.8 --churn 0.1 --policy ducb
expect 2 "churn-seen"      -- --arms bernoulli:0.9,0.8 --churn 0.1 --churn-seen later
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
