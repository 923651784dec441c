#!/usr/bin/env python3
"""Sizes of the static binaries: the size gate (`make size-check`) and `make size`.

  size.py check BUDGET BIN... [-- BUDGET BIN...]
      Fails (exit 1) when a binary is larger than its budget, printing its size, the budget
      and its largest symbols.
  size.py report BIN...
      Prints each binary's size, then the bytes of each collector module (the symbols under
      proctap::collector::NAME) and of the rest, one column per binary.

The Makefile keeps every stripped binary's symbols in BIN.unstripped; the symbols are read with
readelf (any ELF architecture) and demangled by it. A symbol is counted under the first
proctap::collector::NAME, else proctap::MODULE, its name contains, so generic std code
instantiated for a collector's types counts as that collector's; code LTO inlined into a caller
counts as the caller's. Strings and anonymous constants have no symbol: "unnamed" is the file
size minus every symbol.
"""
import collections
import os
import re
import subprocess
import sys

COLLECTOR = re.compile(r"proctap(?:\[[0-9a-f]+\])?::collector::([a-z0-9_]+)::")
MODULE = re.compile(r"proctap(?:\[[0-9a-f]+\])?::([a-z0-9_]+)")


def symbols(binary):
    """(size, name) of each function and object, one per address (identical code folding
    gives several names to one body)."""
    path = binary + ".unstripped"
    if not os.path.exists(path):
        path = binary
    sections = subprocess.run(["readelf", "-SW", path], capture_output=True, text=True,
                              check=True).stdout
    # Symbols in sections that take no file bytes (.bss, .tbss) are left out.
    nobits = set(re.findall(r"^\s*\[\s*(\d+)\]\s+\S+\s+NOBITS", sections, re.M))
    out = subprocess.run(["readelf", "-sW", "-C", path], capture_output=True, text=True,
                         check=True).stdout
    seen = set()
    result = []
    for line in out.splitlines():
        f = line.split(None, 7)
        if len(f) < 8 or f[3] not in ("FUNC", "OBJECT", "TLS") or not f[0].endswith(":"):
            continue
        if f[6] in nobits:
            continue
        size = int(f[2], 16) if f[2].startswith("0x") else int(f[2])
        if size == 0 or (f[1], size) in seen:
            continue
        seen.add((f[1], size))
        result.append((size, f[7]))
    return result


def kind(name):
    m = COLLECTOR.search(name)
    if m:
        return "collector " + m.group(1)
    m = MODULE.search(name)
    if m:
        return "proctap " + m.group(1)
    if "regex_lite" in name:
        return "crate regex_lite"
    if "lexopt" in name:
        return "crate lexopt"
    if re.search(r"\b(std|core|alloc|hashbrown|compiler_builtins)(\[[0-9a-f]+\])?::", name):
        return "Rust std, core, alloc"
    return "C: musl, compiler-rt"


def label(binary):
    """x86_64-unknown-linux-musl/release/proctap -> x86_64 release"""
    parts = os.path.normpath(binary).split(os.sep)
    target, profile = (parts[-3], parts[-2]) if len(parts) >= 3 else (binary, "")
    return "%s %s" % (target.split("-")[0], profile)


def check(args):
    groups, budget = [], None
    for a in args:
        if a == "--":
            budget = None
        elif budget is None:
            budget = int(a)
        else:
            groups.append((budget, a))
    failed = 0
    for budget, binary in groups:
        if not os.path.exists(binary):
            print("size-check: %s is missing" % binary)
            failed += 1
            continue
        size = os.path.getsize(binary)
        over = size > budget
        print("%-4s %9d bytes of %9d (%+8d)  %s" % ("OVER" if over else "ok", size, budget,
                                                   budget - size, binary))
        if over:
            failed += 1
            print("     largest symbols of %s:" % label(binary))
            for sz, name in sorted(symbols(binary), reverse=True)[:25]:
                print("     %8d  %s" % (sz, name[:150]))
    if failed:
        print("size-check: %d binaries over budget or missing; `make size` shows what each "
              "collector costs" % failed)
        sys.exit(1)


def report(binaries):
    binaries = [b for b in binaries if os.path.exists(b)]
    labels = [label(b) for b in binaries]
    width = max([9] + [len(l) for l in labels])
    print("%-30s" % "binary, bytes" + "".join(" %*s" % (width, l) for l in labels))
    sizes = [os.path.getsize(b) for b in binaries]
    print("%-30s" % "file" + "".join(" %*d" % (width, s) for s in sizes))
    table = []
    for b, size in zip(binaries, sizes):
        per = collections.Counter()
        for sz, name in symbols(b):
            per[kind(name)] += sz
        per["unnamed: strings, tables"] = size - sum(per.values())
        table.append(per)
    keys = sorted({k for per in table for k in per},
                  key=lambda k: (not k.startswith("collector"), k.startswith("unnamed"), k))
    for k in keys:
        print("%-30s" % k[:30] + "".join(" %*d" % (width, per.get(k, 0)) for per in table))


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("check", "report"):
        sys.exit(__doc__)
    if sys.argv[1] == "check":
        check(sys.argv[2:])
    else:
        report(sys.argv[2:])


if __name__ == "__main__":
    main()
