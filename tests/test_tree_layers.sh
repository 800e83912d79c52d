#!/usr/bin/env bash
# test_tree_layers.sh — the dependency rule of src/README.md holds for the real tree, and the
# checker (tools/check_tree.py layers) catches a breach: an include of a folder the rule does
# not allow, a folder the rule does not know, a source file at the top of src/, an include that
# names no folder; and honours an allow: line with a reason in a folder's README.
# shellcheck source=lib.sh
source "${PB_SOURCE_DIR:?PB_SOURCE_DIR must name the source tree}/tests/lib.sh"
SRC=$PB_SOURCE_DIR
CHECK=("python3" "$SRC/tools/check_tree.py" layers)

out=$("${CHECK[@]}" --root "$SRC" 2>&1)
pb_check_eq $? 0 "the real tree keeps the layering rule: $out"

# A copy of the tree to break on purpose.
copy() { rm -rf "$PB_TMP/t" && mkdir -p "$PB_TMP/t" && cp -r "$SRC/src" "$PB_TMP/t/"; }
run_copy() { "${CHECK[@]}" --root "$PB_TMP/t" >"$PB_TMP/out" 2>&1; }

copy
printf '#include "service/app.h"\n' >>"$PB_TMP/t/src/store/arms.c"
run_copy
pb_check_eq $? 1 "store/ including service/ is a breach"
grep -q 'src/store/arms.c: #include "service/app.h": store/ may not include service/' "$PB_TMP/out"
pb_check_eq $? 0 "the breach names the file, the include and the rule"

copy
printf '#include "store/store.h"\n' >>"$PB_TMP/t/src/base/text.c"
run_copy
pb_check_eq $? 1 "base/ including anything of the project is a breach"

copy
printf -- '- allow: store/arms.c -> service/app.h: a test of the checker\n' >>"$PB_TMP/t/src/store/README.md"
printf '#include "service/app.h"\n' >>"$PB_TMP/t/src/store/arms.c"
run_copy
pb_check_eq $? 0 "an allow: line with a reason lets one include through"

copy
printf -- '- allow: store/arms.c -> service/app.h:\n' >>"$PB_TMP/t/src/store/README.md"
printf '#include "service/app.h"\n' >>"$PB_TMP/t/src/store/arms.c"
run_copy
pb_check_eq $? 1 "an allow: line without a reason does not count"

copy
printf 'int x;\n' >"$PB_TMP/t/src/stray.c"
run_copy
pb_check_eq $? 1 "a .c file at the top of src/ is refused"

copy
mkdir -p "$PB_TMP/t/src/extra" && printf 'int y;\n' >"$PB_TMP/t/src/extra/y.c"
run_copy
pb_check_eq $? 1 "a folder the rule does not name is refused"

copy
printf '#include "pb.h"\n' >>"$PB_TMP/t/src/bandit/bandit.c"
run_copy
pb_check_eq $? 1 "an include without its folder is refused"

copy
sed -i '/layers:begin/,/layers:end/d' "$PB_TMP/t/src/README.md"
run_copy
pb_check_eq $? 2 "a README without the rule is a setup error, not a pass"

pb_done
