"""The import graph of the package, and the rules it must keep.

    python tools/import_graph.py            # prints each module's imports of the package; exits 1 on a violation

Modules are named by their dotted path inside the package (``random._generator``; ``__init__`` is ``import
fastinit``, a sub-package's ``__init__`` is the sub-package's name). Rules (every import counts, also one inside a
function):
1. no cycle between modules;
2. nothing but the tests imports ``fastinit.reference`` (the oracle): not the package, not bench/;
3. no module takes a private name (``_name``) of another module (``from .x import _y``, ``x._y``); private modules
   (``_core``, ``random._spec``) are used through their public names;
4. the layers, lowest first: ``_core`` / ``_validate`` / ``_optional`` < ``random`` < ``nn`` < the doors (``init``,
   ``initializers``, ``torch``) < ``experiment`` < ``fastinit/__init__`` and ``reference`` < ``cli``; a module
   imports from its own layer or below, never above.
"""
import ast
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.environ.get("FASTINIT_PACKAGE_DIR", os.path.join(ROOT, "src", "fastinit"))   # another tree: tests

LAYERS = [("_core", "_validate", "_optional"), ("random",), ("nn",), ("init", "initializers", "torch"), ("experiment",),
          ("__init__", "reference"), ("cli",)]


def layer(module):
    """The layer of a module: its first name's row of LAYERS (None: a module of no layer, e.g. a test tree's)."""
    top = module.split(".")[0]
    for rank, names in enumerate(LAYERS):
        if top in names:
            return rank
    return None


def _files():
    """{dotted module name: path} of every .py / .pyx under the package."""
    out = {}
    for dirpath, dirnames, files in os.walk(PACKAGE):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        prefix = os.path.relpath(dirpath, PACKAGE).replace(os.sep, ".")
        prefix = "" if prefix == "." else prefix
        for f in sorted(files):
            if not f.endswith((".py", ".pyx")):
                continue
            stem = f.rsplit(".", 1)[0]
            if stem == "__init__":
                name = prefix or "__init__"
            else:
                name = f"{prefix}.{stem}" if prefix else stem
            out[name] = os.path.join(dirpath, f)
    return out


def _package_of(module, path):
    """The dotted package a module's relative imports start from."""
    if os.path.basename(path).startswith("__init__."):
        return "" if module == "__init__" else module
    return module.rpartition(".")[0]


def _resolve(node, module, path, modules):
    """[(target module, alias bound or None, names taken or None)] of one import statement."""
    out = []
    if isinstance(node, ast.Import):
        for alias in node.names:
            parts = alias.name.split(".")
            if parts[0] == "fastinit":
                target = ".".join(parts[1:]) or "__init__"
                out.append((target if target in modules else "__init__", alias.asname or alias.name, None))
        return out
    if node.level == 0:
        parts = (node.module or "").split(".")
        if parts[0] != "fastinit":
            return []
        base = ".".join(parts[1:])
    else:
        package = _package_of(module, path).split(".") if _package_of(module, path) else []
        if node.level - 1 > len(package):
            return []
        package = package[:len(package) - (node.level - 1)]
        base = ".".join(package + ([node.module] if node.module else []))
    base_module = base or "__init__"
    for alias in node.names:
        sub = f"{base}.{alias.name}" if base else alias.name
        if sub in modules:   # from package import module
            out.append((sub, alias.asname or alias.name, None))
        else:
            out.append((base_module if base_module in modules else "__init__", None, [alias.name]))
    return out


def analyse(path, module, modules):
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
            for target, alias, names in _resolve(node, module, path, modules):
                if target == module:
                    continue
                imports.add(target)
                if alias is not None:
                    aliases[alias] = target
                for name in names or ():
                    if name.startswith("_") and not name.startswith("__"):
                        private.append(f"from {target} import {name} (line {node.lineno})")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            target = aliases[node.value.id]
            if node.attr.startswith("_") and not node.attr.startswith("__") and f"{target}.{node.attr}" not in modules:
                private.append(f"{target}.{node.attr} (line {node.lineno})")
    return imports, private


def graph():
    modules = _files()
    return {name: analyse(path, name, modules) for name, path in modules.items()}


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
    modules = _files()
    bad = [os.path.relpath(path, ROOT) for name, path in modules.items()
           if name != "reference" and "reference" in analyse(path, name, modules)[0]]
    for top in (os.path.join(ROOT, "bench"), os.path.join(ROOT, "tools")):
        for dirpath, _, files in os.walk(top):
            for f in files:
                if f.endswith(".py"):
                    path = os.path.join(dirpath, f)
                    if "reference" in analyse(path, "-", modules)[0]:
                        bad.append(os.path.relpath(path, ROOT))
    return bad


def upward(g):
    """Imports of a higher layer: (module, target) pairs."""
    return [(m, t) for m, (imports, _) in g.items() for t in sorted(imports)
            if layer(m) is not None and layer(t) is not None and layer(t) > layer(m)]


def violations():
    g = graph()
    edges = {m: imports for m, (imports, _) in g.items()}
    problems = [f"import cycle among: {', '.join(c)}" for c in cycles(edges)]
    problems += [f"{path} imports fastinit.reference (only tests may)" for path in reference_importers()]
    problems += [f"{m} takes a private name: {p}" for m, (_, private) in g.items() for p in private]
    problems += [f"{m} (layer {layer(m)}) imports {t} (layer {layer(t)}): layers import downwards only"
                 for m, t in upward(g)]
    return g, problems


def main():
    g, problems = violations()
    width = max(map(len, g)) + 1
    for m in sorted(g, key=lambda m: (layer(m) if layer(m) is not None else -1, m)):
        print(f"{m:<{width}} -> {', '.join(sorted(g[m][0])) or '-'}")
    for p in problems:
        print("VIOLATION:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
