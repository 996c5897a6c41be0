#!/usr/bin/env python3
"""No import cycle inside a crate: for every module, the graph of its child
modules (each with everything below it) built from `crate::` and `super::`
paths must be acyclic. A parent and its own children are one unit (a module
re-exporting its children's items is not a cycle); siblings are not.

Usage: check-module-cycles.py CRATE_SRC_DIR... ; exits 1 naming each cycle."""
import os
import re
import sys

IDENT = r"[a-z_][a-z0-9_]*"


def module_of(src, path):
    rel = os.path.relpath(path, src)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    return tuple(rel)


def check(src):
    files = []
    for root, _, names in os.walk(src):
        files += [os.path.join(root, n) for n in names if n.endswith(".rs")]
    mods = {module_of(src, f): f for f in files}
    # `#[cfg(test)] mod tests;` files are test code: a test may use anything.
    def known(path):
        for n in range(len(path), 0, -1):
            if path[:n] in mods:
                return path[:n]
        return ()

    edges = set()
    for m, f in mods.items():
        if m and m[-1] == "tests":
            continue
        text = open(f, encoding="utf-8").read()
        text = re.sub(r"#\[cfg\(test\)\]\s*mod tests \{.*", "", text, flags=re.S)
        text = re.sub(r"//[^\n]*", "", text)
        refs = []
        for p in re.findall(r"\bcrate((?:::" + IDENT + r")+)", text):
            refs.append(tuple(p.split("::")[1:]))
        # The module a `super::` path starts from: a mod.rs is its directory's module.
        for p in re.findall(r"\b((?:super::)+)((?:" + IDENT + r"::)*" + IDENT + r")", text):
            ups = p[0].count("super::")
            if len(m) < ups:
                continue
            refs.append(m[: len(m) - ups] + tuple(p[1].split("::")))
        # `use` groups: `use crate::{a::x, b}` and `use super::{...}`.
        for base, group in re.findall(r"use\s+(crate|(?:super::)+)\s*::\s*\{([^}]*)\}", text) + re.findall(
            r"use\s+(crate|(?:super::)+)::\{([^}]*)\}", text
        ):
            start = () if base == "crate" else m[: len(m) - base.count("super")]
            for item in group.split(","):
                item = item.strip().split(" as ")[0]
                if item and item != "self":
                    refs.append(start + tuple(item.split("::")))
        for r in refs:
            target = known(r)
            if target and target != m:
                edges.add((m, target))
    graphs = {}
    for a, b in edges:
        # Ancestors and descendants: one unit.
        if a[: len(b)] == b or b[: len(a)] == a:
            continue
        n = 0
        while a[n] == b[n]:
            n += 1
        parent = a[:n]
        graphs.setdefault(parent, set()).add((a[n], b[n]))
    bad = []
    for parent, g in graphs.items():
        nodes = {x for e in g for x in e}
        adj = {x: sorted(b for a, b in g if a == x) for x in nodes}
        state = {}
        stack = []

        def dfs(x):
            state[x] = 1
            stack.append(x)
            for y in adj[x]:
                if state.get(y) == 1:
                    cycle = stack[stack.index(y):] + [y]
                    bad.append(
                        "%s: modules %s import each other in a cycle: %s"
                        % (src, "::".join(parent) or "(crate root)", " -> ".join(cycle))
                    )
                elif y not in state:
                    dfs(y)
            stack.pop()
            state[x] = 2

        for x in sorted(nodes):
            if x not in state:
                dfs(x)
    return bad


problems = []
for src in sys.argv[1:]:
    problems += check(src)
for p in problems:
    print("check-shape: " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
