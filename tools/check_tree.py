#!/usr/bin/env python3
"""check_tree.py — checks the source tree's two structural rules.

  python3 tools/check_tree.py layers  [--root DIR]   every #include "folder/x.h" is allowed
  python3 tools/check_tree.py headers [--root DIR] [--cc CC] [--cflags "..."]
                                                      every header compiles on its own and
                                                      includes base/pb.h when it names its codes

The layering rule is read from DIR/src/README.md, between the lines
`<!-- layers:begin -->` and `<!-- layers:end -->`, as markdown table rows
`| folder | allowed, folders |` ('—' for none); a folder may always include itself.
A folder's README may allow one include against the rule with a line
`allow: path/of/includer.h -> folder/included.h: reason` (the reason is required).
Exit status: 0 clean, 1 a rule is broken (each breach on stderr), 2 usage or setup error.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
STATUS_NAMES = re.compile(r'\b(pb_status|PB_OK|PB_ERR_[A-Z_]+|pb_errf|pb_buf)\b')


def fail_setup(msg):
    print("check_tree: " + msg, file=sys.stderr)
    sys.exit(2)


def read_rule(src):
    path = os.path.join(src, "README.md")
    try:
        text = open(path, encoding="utf-8").read()
    except OSError as e:
        fail_setup(f"cannot read the layering rule: {e}")
    m = re.search(r"<!-- layers:begin -->(.*?)<!-- layers:end -->", text, re.S)
    if not m:
        fail_setup(f"{path} has no <!-- layers:begin --> ... <!-- layers:end --> block")
    rule = {}
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not re.fullmatch(r"[a-z_]+", cells[0]):
            continue
        allowed = {a.strip() for a in re.split(r"[,\s]+", cells[1]) if re.fullmatch(r"[a-z_]+", a.strip())}
        rule[cells[0]] = allowed
    if not rule:
        fail_setup(f"{path}: the layers block has no '| folder | may include |' rows")
    return rule


def read_exceptions(src, folders):
    allowed = set()
    for folder in folders:
        readme = os.path.join(src, folder, "README.md")
        if not os.path.exists(readme):
            continue
        for line in open(readme, encoding="utf-8"):
            m = re.match(r"\s*[-*]?\s*allow:\s*(\S+)\s*->\s*(\S+?):\s*(\S.*)$", line)
            if m:
                allowed.add((m.group(1), m.group(2)))
    return allowed


def sources(src):
    for dirpath, _, names in os.walk(src):
        for n in sorted(names):
            if n.endswith((".c", ".h")):
                full = os.path.join(dirpath, n)
                yield os.path.relpath(full, src).replace(os.sep, "/"), full


def check_layers(root):
    src = os.path.join(root, "src")
    rule = read_rule(src)
    exceptions = read_exceptions(src, rule)
    problems = []
    count = 0
    for rel, full in sources(src):
        parts = rel.split("/")
        if len(parts) == 1:
            problems.append(f"src/{rel}: a source file at the top of src/ (put it in a subsystem folder)")
            continue
        folder = parts[0]
        if folder not in rule:
            problems.append(f"src/{rel}: folder '{folder}' is not in the layering rule (src/README.md)")
            continue
        for inc in INCLUDE.findall(open(full, encoding="utf-8", errors="replace").read()):
            count += 1
            if "/" not in inc:
                # A file of the same folder named without its folder (cli's own headers,
                # generated files): only allowed when it sits beside the includer.
                if os.path.exists(os.path.join(os.path.dirname(full), inc)):
                    continue
                problems.append(f"src/{rel}: #include \"{inc}\" names no folder (write \"folder/{inc}\")")
                continue
            target = inc.split("/")[0]
            if not os.path.exists(os.path.join(src, inc)):
                problems.append(f"src/{rel}: #include \"{inc}\": no such file under src/")
                continue
            if target == folder or target in rule[folder] or (rel, inc) in exceptions:
                continue
            problems.append(f"src/{rel}: #include \"{inc}\": {folder}/ may not include {target}/ "
                            f"(src/README.md allows: {', '.join(sorted(rule[folder])) or 'nothing'})")
    for p in problems:
        print(p, file=sys.stderr)
    print(f"layers: {count} includes checked, {len(problems)} against the rule")
    return 1 if problems else 0


def check_headers(root, cc, cflags):
    src = os.path.join(root, "src")
    problems = []
    headers = [(rel, full) for rel, full in sources(src) if rel.endswith(".h")]
    with tempfile.TemporaryDirectory() as tmp:
        for rel, full in headers:
            text = open(full, encoding="utf-8", errors="replace").read()
            body = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
            body = re.sub(r"//[^\n]*", "", body)
            incs = INCLUDE.findall(body)
            if rel != "base/pb.h" and STATUS_NAMES.search(text) and "base/pb.h" not in incs:
                problems.append(f"src/{rel}: names pb_status/PB_* but does not include \"base/pb.h\"")
            unit = os.path.join(tmp, "one.c")
            with open(unit, "w") as f:
                # Twice: the include guard must hold.
                f.write(f'#include "{rel}"\n#include "{rel}"\n')
            cmd = [cc, "-std=c11", "-fsyntax-only", "-Wall", "-Wextra", "-Werror",
                   "-D_POSIX_C_SOURCE=200809L", "-D_DEFAULT_SOURCE", "-I", src,
                   "-I", os.path.dirname(full)] + cflags.split() + [unit]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                first = (r.stderr.strip().splitlines() or ["(no message)"])[0]
                problems.append(f"src/{rel}: does not compile on its own: {first}")
    for p in problems:
        print(p, file=sys.stderr)
    print(f"headers: {len(headers)} compiled alone, {len(problems)} problems")
    return 1 if problems else 0


def main():
    ap = argparse.ArgumentParser(description="Checks the layering rule and that headers stand alone.")
    ap.add_argument("what", choices=["layers", "headers"])
    ap.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."),
                    help="project root (default: this script's project)")
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"), help="C compiler (default $CC or cc)")
    ap.add_argument("--cflags", default=None,
                    help="extra flags (default: pkg-config --cflags of the dependencies)")
    a = ap.parse_args()
    if not os.path.isdir(os.path.join(a.root, "src")):
        fail_setup(f"{a.root} has no src/ folder")
    if a.what == "layers":
        sys.exit(check_layers(a.root))
    cflags = a.cflags
    if cflags is None:
        r = subprocess.run(["pkg-config", "--cflags", "libcurl", "jansson", "sqlite3", "gsl",
                            "libmicrohttpd"], capture_output=True, text=True)
        if r.returncode != 0:
            fail_setup("pkg-config cannot find the dependencies: " + r.stderr.strip())
        cflags = r.stdout.strip()
    sys.exit(check_headers(a.root, a.cc, cflags))


if __name__ == "__main__":
    main()
