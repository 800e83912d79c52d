#!/usr/bin/env bash
# test_tree_headers.sh — every header under src/ compiles on its own (twice, so its include
# guard holds) and includes base/pb.h when it names pb_status or a PB_* code; the checker
# (tools/check_tree.py headers) fails on a header that leans on an include it does not make.
# shellcheck source=lib.sh
source "${PB_SOURCE_DIR:?PB_SOURCE_DIR must name the source tree}/tests/lib.sh"
SRC=$PB_SOURCE_DIR
CHECK=("python3" "$SRC/tools/check_tree.py" headers)

out=$("${CHECK[@]}" --root "$SRC" 2>&1)
pb_check_eq $? 0 "every header stands alone: $out"

copy() { rm -rf "$PB_TMP/t" && mkdir -p "$PB_TMP/t" && cp -r "$SRC/src" "$PB_TMP/t/"; }
run_copy() { "${CHECK[@]}" --root "$PB_TMP/t" >"$PB_TMP/out" 2>&1; }

copy
sed -i 's|#include <stddef.h>||' "$PB_TMP/t/src/base/text.h"
run_copy
pb_check_eq $? 1 "a header using size_t without <stddef.h> is caught"
grep -q 'src/base/text.h: does not compile on its own' "$PB_TMP/out"
pb_check_eq $? 0 "the message names the header"

copy
sed -i 's|#include "base/pb.h"||' "$PB_TMP/t/src/base/jsonio.h"
run_copy
pb_check_eq $? 1 "a header that names PB_* codes without base/pb.h is caught"

copy
sed -i 's|#define PB_H||' "$PB_TMP/t/src/base/pb.h"
run_copy
pb_check_eq $? 1 "a header without a working include guard is caught"

pb_done
