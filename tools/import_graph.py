"""The import graph of the package, and the rules it must keep.

    python tools/import_graph.py            # prints each module's imports of the package; exits 1 on a violation

Rules (every import counts, also one inside a function):
1. no cycle between modules of src/fastinit;
2. nothing but the tests imports ``fastinit.reference`` (the oracle): not the package, not bench/;
3. no module takes a private name (``_name``) of another module of the package (``from .x import _y``,
   ``x._y``); the private modules ``_core``, ``_validate`` and ``_bench`` are used through their public names.
"""
import ast
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.environ.get("FASTINIT_PACKAGE_DIR", os.path.join(ROOT, "src", "fastinit"))   # another tree: tests


def _modules():
    return sorted(f[:-4] if f.endswith(".pyx") else f[:-3] for f in os.listdir(PACKAGE)
                  if f.endswith((".py", ".pyx")) and f != "__init__.py")


def _resolve(node, current):
    """The package modules an import statement names (a `from . import a, b` names a and b)."""
    names = set(_modules()) | {"__init__"}
    if isinstance(node, ast.Import):
        out = []
        for alias in node.names:
            parts = alias.name.split(".")
            if parts[0] == "fastinit":
                out.append((parts[1] if len(parts) > 1 else "__init__", alias.asname or alias.name, None))
        return out
    if node.level == 0 and (node.module or "").split(".")[0] != "fastinit":
        return []
    if node.level > 1:
        return []
    module = (node.module or "").split(".")
    if node.level == 0:
        module = module[1:]
    if module and module[0]:
        target = module[0]
        return [(target if target in names else "__init__", None, [a.name for a in node.names])]
    out = []
    for alias in node.names:   # from . import x
        if alias.name in names:
            out.append((alias.name, alias.asname or alias.name, None))
        else:
            out.append(("__init__", None, [alias.name]))
    return out


def analyse(path, current):
    """(imported modules, private names taken) of one source file."""
    with open(path) as f:
        text = f.read()
    if path.endswith(".pyx"):   # Cython: only its Python import statements are parsed
        text = "\n".join(line.strip() for line in text.splitlines()
                         if line.strip().startswith(("import ", "from ")) and " cimport " not in line)
    tree = ast.parse(text, path)
    imports, private, aliases = set(), [], {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for target, alias, names in _resolve(node, current):
                if target == current:
                    continue
                imports.add(target)
                if alias is not None:
                    aliases[alias.split(".")[-1] if "." not in alias else alias] = target
                for name in names or ():
                    if name.startswith("_") and not name.startswith("__") and name not in _modules():
                        private.append(f"from {target} import {name} (line {node.lineno})")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            if node.attr.startswith("_") and not node.attr.startswith("__"):
                private.append(f"{aliases[node.value.id]}.{node.attr} (line {node.lineno})")
    return imports, private


def graph():
    out = {}
    for name in _modules() + ["__init__"]:
        for ext in (".py", ".pyx"):
            path = os.path.join(PACKAGE, name + ext)
            if os.path.exists(path):
                out[name] = analyse(path, name)
    return out


def cycles(edges):
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
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
                found.append(sorted(comp))

    for v in edges:
        if v not in index:
            visit(v)
    return found


def reference_importers():
    """Files outside tests/ (src/fastinit, bench/, tools/) that import fastinit.reference."""
    bad = []
    for top in (PACKAGE, os.path.join(ROOT, "bench"), os.path.join(ROOT, "tools")):
        for dirpath, _, files in os.walk(top):
            for f in files:
                if not f.endswith((".py", ".pyx")) or (top == PACKAGE and f == "reference.py"):
                    continue
                path = os.path.join(dirpath, f)
                current = f.rsplit(".", 1)[0] if top == PACKAGE else None
                imports, _ = analyse(path, current)
                if "reference" in imports:
                    bad.append(os.path.relpath(path, ROOT))
    return bad


def violations():
    g = graph()
    # __init__ stands for `import fastinit` (it imports the modules it exports)
    edges = {m: imports for m, (imports, _) in g.items()}
    problems = [f"import cycle among: {', '.join(c)}" for c in cycles(edges)]
    problems += [f"{path} imports fastinit.reference (only tests may)" for path in reference_importers()]
    problems += [f"{m} takes a private name: {p}" for m, (_, private) in g.items() for p in private]
    return g, problems


def main():
    g, problems = violations()
    for m in sorted(g):
        print(f"{m:<14} -> {', '.join(sorted(g[m][0])) or '-'}")
    for p in problems:
        print("VIOLATION:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
