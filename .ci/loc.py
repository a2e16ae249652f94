#!/usr/bin/env python3
"""Lines of code of a crate outside tests: not blank, not comments (// and /* */ lines),
without #[cfg(test)] items (modules, functions) and without files only tests include.

    python3 .ci/loc.py src            # the library
    python3 .ci/loc.py cli/src 4600   # the CLI, failing above a budget
"""
import os, re, sys

def test_only_files(root):
    """Files declared as `#[cfg(test)] mod x;` or `#[cfg(feature = "testing")] mod x;` (with an
    optional #[path])."""
    found = set()
    for d, _, names in os.walk(root):
        for n in names:
            if not n.endswith(".rs"):
                continue
            path = os.path.join(d, n)
            lines = open(path, encoding="utf-8").read().splitlines()
            here = d if n in ("mod.rs", "lib.rs", "main.rs") else os.path.join(d, n[:-3])
            for i, line in enumerate(lines):
                m = re.match(r"\s*(?:pub(?:\(\w+\))?\s+)?mod\s+(\w+)\s*;", line)
                if not m:
                    continue
                attrs = []
                j = i - 1
                while j >= 0 and lines[j].strip().startswith("#["):
                    attrs.append(lines[j].strip())
                    j -= 1
                # The `testing` feature's mock is test support, as the tests' own helpers are.
                if not {"#[cfg(test)]", '#[cfg(feature = "testing")]'} & set(attrs):
                    continue
                custom = [a for a in attrs if a.startswith("#[path")]
                if custom:
                    target = os.path.join(d, re.search(r'"(.+)"', custom[0]).group(1))
                else:
                    target = os.path.join(here, m.group(1) + ".rs")
                    if not os.path.exists(target):
                        target = os.path.join(here, m.group(1), "mod.rs")
                found.add(os.path.normpath(target))
    return found

def count(path):
    n, depth, skip_from, pending, in_block = 0, 0, None, False, False
    for line in open(path, encoding="utf-8"):
        s = line.strip()
        if in_block:
            in_block = "*/" not in s
            continue
        if s.startswith("/*"):
            in_block = "*/" not in s
            continue
        if not s or s.startswith("//"):
            continue
        if skip_from is None and s.startswith("#[cfg(test)]"):
            pending = True
            continue
        if pending and s.startswith("#["):
            continue
        if pending:
            pending = False
            if s.endswith(";"):  # `mod x;`: the file is counted out separately
                continue
            skip_from = depth
        depth += s.count("{") - s.count("}")
        if skip_from is not None:
            if depth <= skip_from:
                skip_from = None
            continue
        n += 1
    return n

def main():
    root = sys.argv[1]
    skip = test_only_files(root)
    total = 0
    for d, _, names in os.walk(root):
        for name in names:
            path = os.path.normpath(os.path.join(d, name))
            if name.endswith(".rs") and path not in skip:
                total += count(path)
    print(f"{root}: {total} lines of code outside tests")
    if len(sys.argv) > 2 and total > int(sys.argv[2]):
        print(f"{root} grew past its budget of {sys.argv[2]} lines of code")
        sys.exit(1)

main()
