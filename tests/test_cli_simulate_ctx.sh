#!/usr/bin/env bash
# test_cli_simulate_ctx.sh — `promptbandit simulate` in contextual mode end to end: a contextual
# world's regret table and JSON (reproducible, segmented/LinUCB below the global policies),
# log generation with its true values, offline evaluation of the log, --help, and each kind
# of bad input with a clear message and the right exit code (2 usage, 1 bad file).
# shellcheck source=lib.sh
source "${PB_SOURCE_DIR:?PB_SOURCE_DIR must name the source tree}/tests/lib.sh"
BIN=${PB_BIN:?PB_BIN must name the promptbandit binary}
TMP=$PB_TMP

# expect CODE NEEDLE -- ARGS...: `simulate ARGS` exit code and a word of its stderr
expect() { pb_expect "$1" "$2" -- "$BIN" simulate "${@:4}"; }

sim=(--world contextual:emotion4 --horizon 3000 --reps 4 --seed 2 --json
     --policy ucb1-tuned,segmented:ucb1-tuned,linucb)
"$BIN" simulate "${sim[@]}" >"$TMP/a.json" 2>/dev/null || pb_fail "contextual simulation failed"
"$BIN" simulate "${sim[@]}" >"$TMP/b.json" 2>/dev/null
cmp -s "$TMP/a.json" "$TMP/b.json" || pb_fail "same seed gave different output"
python3 - "$TMP/a.json" <<'PY' || pb_fail "contextual JSON lacks the promised fields or ordering"
import json, sys
d = json.load(open(sys.argv[1]))
w = d["world"]
assert w["dim"] == 8 and abs(w["oracle_value"] - 0.5025) < 1e-9 and w["best_fixed_arm"] == "B"
assert abs(d["fixed_arm_regret"] - 3000 * 0.2025) < 1e-6
p = {x["policy"]: x for x in d["policies"]}
assert d["best_global_policy"] == "ucb1-tuned"
g = p["ucb1-tuned"]["regret"]["mean"]
assert p["segmented:ucb1-tuned"]["regret"]["mean"] < 0.5 * g
assert p["linucb"]["regret"]["mean"] < 0.5 * g
assert p["linucb"]["kind"] == "linear" and p["segmented:ucb1-tuned"]["kind"] == "segmented"
PY

"$BIN" simulate --world contextual:emotion4 --horizon 1000 --reps 2 --checkpoints >"$TMP/t.txt" 2>&1 \
  || pb_fail "table with checkpoints failed"
grep -q "contextual oracle 0.5025" "$TMP/t.txt" || pb_fail "table lacks the oracle value"
grep -q "^lints" "$TMP/t.txt" || pb_fail "default policies lack lints"
grep -qE "^ +100 " "$TMP/t.txt" || pb_fail "checkpoint T=100 missing"

cat >"$TMP/world.json" <<'JSON'
{"segments":[{"name":"sad","freq":0.5,"means":[0.6,0.0]},{"name":"happy","freq":0.5,"means":[0.0,0.6]}],
 "arms":["empathic","cheerful"],"reward":"bernoulli","noise":0}
JSON
"$BIN" simulate --context-file "$TMP/world.json" --horizon 500 --reps 2 >"$TMP/f.txt" 2>&1 \
  || pb_fail "--context-file failed: $(head -c 300 "$TMP/f.txt")"
grep -q "empathic" "$TMP/f.txt" || pb_fail "--context-file arm names not shown"

"$BIN" simulate --world contextual:emotion4 --log-out "$TMP/log.jsonl" --events 4000 --seed 4 \
  --logging egreedy:epsilon=0.5,arm=B --json >"$TMP/g.json" 2>"$TMP/g.err" || pb_fail "log generation: $(cat "$TMP/g.err")"
[ "$(wc -l <"$TMP/log.jsonl")" = 4000 ] || pb_fail "log does not hold 4000 events"
"$BIN" simulate --replay-contextual "$TMP/log.jsonl" --policy fixed:B,segmented:ucb1,linucb --json \
  >"$TMP/r.json" 2>"$TMP/r.err" || pb_fail "replay-contextual: $(cat "$TMP/r.err")"
python3 - "$TMP/g.json" "$TMP/r.json" <<'PY' || pb_fail "estimates of fixed:B stray from the truth"
import json, sys
g = json.load(open(sys.argv[1])); r = json.load(open(sys.argv[2]))
truth = [a["value"] for a in g["world"]["arms"] if a["name"] == "B"][0]
est = r["policies"][0]
assert r["dim"] == 8 and est["policy"] == "fixed:B"
for k in ("ips", "snips", "dr"):
    assert abs(est[k] - truth) < 0.04, (k, est[k], truth)
assert r["policies"][2]["snips"] > truth + 0.05
PY

"$BIN" simulate --help >"$TMP/h" 2>&1 && grep -q -- "--replay-contextual" "$TMP/h" || pb_fail "--help"

head -1 "$TMP/log.jsonl" >"$TMP/bad.jsonl"
echo '{"features":[1,0,0],"arm":"A","reward":1,"propensity":0.25}' >>"$TMP/bad.jsonl"
echo '{"features":[1,0],"arm":"A","reward":1,"propensity":0}' >"$TMP/zero.jsonl"

expect 2 "unknown policy"    -- --world contextual:emotion4 --policy linucb,ucb9
expect 2 "unknown parameter" -- --world contextual:emotion4 --policy linucb:beta=2
expect 2 "emotion4 or means" -- --world contextual:emotion9
expect 2 "noise"             -- --world contextual:emotion4,noise=2
expect 2 "exactly one"       -- --world contextual:emotion4 --context-file "$TMP/world.json"
expect 2 "needs --policy"    -- --replay-contextual "$TMP/log.jsonl"
expect 2 "--logging"         -- --world contextual:emotion4 --log-out "$TMP/x.jsonl" --logging egreedy:epsilon=0.5,arm=Z
expect 2 "horizon"           -- --world contextual:emotion4 --horizon 0
expect 2 "unknown option"    -- --world contextual:emotion4 --arms bernoulli:0.5
expect 1 "line 2: 3 features, expected 8" -- --replay-contextual "$TMP/bad.jsonl" --policy linucb
expect 1 "propensity"        -- --replay-contextual "$TMP/zero.jsonl" --policy linucb
expect 1 "no such file\|cannot\|open" -- --replay-contextual "$TMP/missing.jsonl" --policy linucb
expect 1 "world file line"   -- --context-file "$TMP/bad.jsonl"

pb_done
