#!/usr/bin/env python3
"""Checks the layering of anyio's modules: no module imports one from a higher layer.

Every `.rs` file under anyio/src belongs to one top-level module (`run.rs` to `run`,
`cancel/tree.rs` to `cancel`). The script reads each file's code (comments and string
literals removed, so doc links do not count), collects every path that starts with
`crate::` — in `use crate::...` statements, braces expanded, and in paths written inline
(`crate::context::mark_blocked()`) — and maps it to the module it names; an item the crate
root re-exports (`crate::Error`, `crate::sleep`) counts as an import of the module that
defines it. An import from a module in a higher layer than the importer's fails the check.
Imports within one layer are allowed; `--report` lists the cycles they form.

The layer map below is the one `anyio/src/lib.rs` shows in its module list; a module of
lib.rs missing from the map, or a map entry lib.rs does not declare, fails the check too.

Usage: .ci/module-deps.py [--report] [--graph]   (python3, standard library only)
"""

import os
import re
import sys

# Bottom to top; a module may import modules of its own layer and of the layers below.
LAYERS = [
    ("foundation", ["cell", "error", "loom"]),
    ("backend", ["backend"]),
    ("core", ["cancel", "clock", "context", "detect", "lowlevel", "task", "task_group", "run", "watchdog", "time"]),
    ("library", ["sync", "streams", "to_thread", "from_thread", "concurrency", "net", "fs", "process", "signal"]),
    ("tools", ["testing"]),
    ("models", ["loom_models"]),
]

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "anyio", "src")


def strip_code(text):
    """The code of a Rust file with comments, string and char literals blanked out."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
            out.append(" ")
        elif m := re.compile(r'b?r(#*)"').match(text, i):
            if i and (text[i - 1].isalnum() or text[i - 1] == "_"):
                out.append(c)
                i += 1
                continue
            end = text.find('"' + m.group(1), m.end())
            i = n if end < 0 else end + 1 + len(m.group(1))
            out.append('""')
        elif c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
            out.append('""')
        elif c == "'":
            # A char literal ('a', '\n', '"'); otherwise a lifetime or label.
            m = re.compile(r"'(\\.[^']*|[^\\'])'").match(text, i)
            if m:
                out.append("' '")
                i = m.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def use_trees(code):
    """Every `use crate::...;` statement's paths, braces expanded, as lists of segments."""
    for m in re.finditer(r"\buse\s+crate\s*::\s*([^;]*);", code):
        yield from expand(re.sub(r"\s+", "", m.group(1)), [])


def expand(tree, prefix):
    if tree.startswith("{"):
        depth, start = 0, 1
        for k, ch in enumerate(tree):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            if (ch == "," and depth == 1) or depth == 0:
                part = tree[start:k]
                if part:
                    yield from expand(part, prefix)
                start = k + 1
            if depth == 0:
                break
        return
    head, sep, rest = tree.partition("::")
    if not sep:
        yield prefix + [head.split("as")[0]]
    else:
        yield from expand(rest, prefix + [head])


def inline_paths(code):
    """The first segment after every `crate::` outside `use` statements."""
    code = re.sub(r"\buse\s+crate\s*::[^;]*;", " ", code)
    for m in re.finditer(r"(?<![\w$])crate\s*::\s*(\w+)", code):
        yield m.group(1)


def module_of(path):
    rel = os.path.relpath(path, ROOT)
    first = rel.split(os.sep)[0]
    return first[:-3] if first.endswith(".rs") else first


def reexports(lib_code):
    """Names the crate root re-exports, mapped to the module that defines them."""
    names = {}
    for m in re.finditer(r"\bpub\s+use\s+([^;]*);", lib_code):
        for segs in expand(re.sub(r"\s+", "", m.group(1)), []):
            if len(segs) >= 2:
                names[segs[-1]] = segs[0]
    return names


def declared_modules(lib_code):
    return re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", lib_code, re.M)


def main(argv):
    layer_of = {}
    for level, (_, mods) in enumerate(LAYERS):
        for mod in mods:
            layer_of[mod] = level
    with open(os.path.join(ROOT, "lib.rs"), encoding="utf-8") as f:
        lib_code = strip_code(f.read())
    names = reexports(lib_code)
    problems = []
    declared = declared_modules(lib_code)
    for mod in declared:
        if mod not in layer_of:
            problems.append(f"module `{mod}` (declared in lib.rs) is in no layer of {__file__}")
    for mod in layer_of:
        if mod not in declared:
            problems.append(f"layer map names `{mod}`, which lib.rs does not declare")

    deps = {}  # (importer, imported) -> first place seen
    for dirpath, _, files in os.walk(ROOT):
        for name in sorted(files):
            if not name.endswith(".rs"):
                continue
            path = os.path.join(dirpath, name)
            src = module_of(path)
            if src == "lib":
                continue
            with open(path, encoding="utf-8") as f:
                code = strip_code(f.read())
            targets = [segs[0] for segs in use_trees(code)] + list(inline_paths(code))
            for t in targets:
                dst = t if t in layer_of else names.get(t)
                if dst is None or dst == src:
                    continue
                deps.setdefault((src, dst), os.path.relpath(path, os.path.join(ROOT, "..")))

    for (src, dst), where in sorted(deps.items()):
        if src in layer_of and dst in layer_of and layer_of[dst] > layer_of[src]:
            problems.append(
                f"{where}: `{src}` (layer {LAYERS[layer_of[src]][0]}) imports `{dst}` "
                f"(layer {LAYERS[layer_of[dst]][0]}, higher)"
            )

    if "--graph" in argv:
        for (src, dst), where in sorted(deps.items()):
            print(f"{src} -> {dst}    ({where})")
    if "--report" in argv:
        report_cycles(deps, layer_of)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"module layering: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"module layering: {len(deps)} imports between modules, none goes up a layer")
    return 0


def report_cycles(deps, layer_of):
    """Strongly connected components of the import graph (Tarjan), one line per cycle."""
    graph = {}
    for src, dst in deps:
        graph.setdefault(src, set()).add(dst)
        graph.setdefault(dst, set())
    index, low, stack, on, comps = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    if not comps:
        print("no import cycles between modules")
    for comp in comps:
        layers = sorted({LAYERS[layer_of[m]][0] for m in comp if m in layer_of})
        edges = sorted(f"{a}->{b}" for a, b in deps if a in comp and b in comp)
        print(f"cycle within layer {', '.join(layers)}: {', '.join(comp)}")
        print(f"    edges: {', '.join(edges)}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
