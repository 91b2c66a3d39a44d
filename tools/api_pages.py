"""The API reference pages (docs/api/), written from the public modules' ``__all__`` lists: one mkdocstrings
directive a public name, so that the site documents every public name and nothing the package does not export.

    python tools/api_pages.py            # rewrites docs/api/*.md
    python tools/api_pages.py --check    # exits 1 when a page is not what the __all__ lists give
"""
import importlib
import os
import sys
import types

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
API = os.path.join(ROOT, "docs", "api")

# (page, module, what it is): the public modules, each on its page
PAGES = [
    ("fastinit", "fastinit", "`import fastinit as fi`: sampling, the experiment, and the doors below"),
    ("random", "fastinit.random", "the random stream: `Generator`, the module-level fills, threads"),
    ("init", "fastinit.init", "the torch door: `torch.nn.init`'s functions on arrays and tensors"),
    ("initializers", "fastinit.initializers", "the Keras 3 and JAX door"),
    ("torch", "fastinit.torch", "`fast_init()`: unchanged model code draws from fastinit"),
    ("experiment", "fastinit.experiment", "simulate, probe, sweep, train"),
    ("theory", "fastinit.experiment.theory", "the mean-field theory (`fi.theory`)"),
    ("nn", "fastinit.nn", "what the doors share"),
    ("schemes", "fastinit.nn.schemes", "the scheme table (`fi.schemes`)"),
    ("reference", "fastinit.reference", "the NumPy reference of every kernel (the tests' oracle)"),
    ("cli", "fastinit.cli", "the `fastinit` command"),
    ("bench", "fastinit.cli.bench", "the cases `fastinit bench` times"),
]
# names made on first use (module __getattr__), documented where they are defined
LAZY = {"fastinit.fast_init": "fastinit.torch.fast_init",
        "fastinit.initializers.ALIASES": "fastinit.nn._keras.ALIASES"}


def public_modules():
    return [module for _, module, _ in PAGES]


def _target(module, name):
    path = f"{module}.{name}"
    if path in LAZY:
        return LAZY[path]
    if module == "fastinit.initializers" and name[:1].isupper() and name not in vars(importlib.import_module(module)):
        return f"fastinit.nn._keras.{name}"   # the Keras classes, made on first use from these bases
    return path


def page(module):
    """The markdown of one module's page."""
    mod = importlib.import_module(module)
    pages = {m: p for p, m, _ in PAGES}
    lines = [f"# {module}", "", f"::: {module}", "    options:", "      members: false",
             "      show_root_heading: false", ""]
    for name in mod.__all__:
        obj = getattr(mod, name)
        if isinstance(obj, types.ModuleType):
            lines += [f"- [`{name}`]({pages[obj.__name__]}.md): the module `{obj.__name__}`", ""]
        else:
            lines += [f"::: {_target(module, name)}", "    options:", f"      heading: {name}", ""]
    return "\n".join(lines).rstrip() + "\n"


def index():
    lines = ["# API reference", "", "The public modules; a name not listed here (and every module whose name starts",
             "with `_`) is private and may change in any release.", "", "| module | what it is |", "|---|---|"]
    lines += [f"| [`{module}`]({p}.md) | {what} |" for p, module, what in PAGES]
    return "\n".join(lines) + "\n"


def pages():
    out = {"index.md": index()}
    out.update({f"{p}.md": page(module) for p, module, _ in PAGES})
    return out


def main(argv):
    check = "--check" in argv
    stale = []
    os.makedirs(API, exist_ok=True)
    for name, text in pages().items():
        path = os.path.join(API, name)
        old = open(path).read() if os.path.exists(path) else None
        if old != text:
            stale.append(name)
            if not check:
                with open(path, "w") as f:
                    f.write(text)
    if check and stale:
        print(f"docs/api is not what the __all__ lists give ({', '.join(stale)}): run python tools/api_pages.py")
        return 1
    print("docs/api: " + ("up to date" if not stale else f"wrote {', '.join(stale)}"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
