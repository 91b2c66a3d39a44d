"""The call graph of the C core between its source files, and the rule it keeps: no cycle.

    python tools/c_call_graph.py            # prints each file's calls into the others; exits 1 on a cycle

A file calls another when one of its function bodies names a function that the other defines (fi_* and the rest,
static ones excepted). Header-only inline functions (scalar_math.h, philox.h, layer_math.h) belong to no file.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CSRC = os.environ.get("FASTINIT_CSRC_DIR", os.path.join(ROOT, "csrc"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from import_graph import cycles  # noqa: E402

DEFINITION = re.compile(r"^(?!static\b)[A-Za-z_][\w \t\*]*?\b([A-Za-z_]\w*)\s*\(([^;{}]*)\)\s*\{", re.M | re.S)
CALL = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)


def sources():
    """{file name: text without comments} of the .c files, with the _impl.h files they include (their bodies
    are the including file's)."""
    out = {}
    for name in sorted(os.listdir(CSRC)):
        if name.endswith(".c"):
            with open(os.path.join(CSRC, name)) as f:
                text = f.read()
            for inc in re.findall(r'#include "(\w+_impl\.h)"', text):
                with open(os.path.join(CSRC, inc)) as f:
                    text += "\n" + f.read()
            out[name] = COMMENT.sub(" ", text)
    return out


def graph():
    files = sources()
    defined = {}
    for name, text in files.items():
        for m in DEFINITION.finditer(text):
            if m.group(1) not in ("if", "for", "while", "switch", "return", "sizeof"):
                defined.setdefault(m.group(1), name)
    edges = {}
    for name, text in files.items():
        edges[name] = {defined[c] for c in CALL.findall(text) if c in defined and defined[c] != name}
    return edges


def main():
    edges = graph()
    for name in sorted(edges):
        print(f"{name:<22} -> {', '.join(sorted(edges[name])) or '-'}")
    found = cycles(edges)
    for c in found:
        print("VIOLATION: C call cycle among:", ", ".join(c))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
