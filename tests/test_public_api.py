"""The public surface: the public modules are the ones the API reference (docs/api) documents, every public name
of theirs is documented there, and nothing else is public (a name without ``_`` that is not in ``__all__``, or a
module path without ``_`` that is not listed, fails here)."""
import importlib
import os
import pkgutil
import re
import subprocess
import sys
import types

import pytest

import fastinit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
API = os.path.join(ROOT, "docs", "api")
TOOL = os.path.join(ROOT, "tools", "api_pages.py")

PUBLIC_MODULES = {"fastinit", "fastinit.init", "fastinit.initializers", "fastinit.torch", "fastinit.random",
                  "fastinit.experiment", "fastinit.experiment.theory", "fastinit.nn", "fastinit.nn.schemes",
                  "fastinit.reference", "fastinit.cli", "fastinit.cli.bench"}


def _module(name):
    if name == "fastinit.torch":
        pytest.importorskip("torch")
    return importlib.import_module(name)


def test_no_other_public_module():
    found = {"fastinit"}
    for info in pkgutil.walk_packages(fastinit.__path__, "fastinit."):
        parts = info.name.split(".")
        if not any(p.startswith("_") for p in parts[1:]):
            found.add(info.name)
    assert found == PUBLIC_MODULES


@pytest.mark.parametrize("name", sorted(PUBLIC_MODULES))
def test_nothing_public_outside_all(name):
    mod = _module(name)
    public = {n for n in dir(mod) if not n.startswith("_") and not isinstance(getattr(mod, n), types.ModuleType)}
    assert public - set(mod.__all__) == set(), "public names missing from __all__ (make them private or export them)"
    assert [n for n in mod.__all__ if not hasattr(mod, n)] == []
    assert len(mod.__all__) == len(set(mod.__all__))


def _documented():
    """{module: [names]} from the API pages: a directive's heading or a module's bullet."""
    out = {}
    for f in sorted(os.listdir(API)):
        page = open(os.path.join(API, f), encoding="utf-8").read()
        title = re.match(r"# (\S+)", page).group(1)
        if title in PUBLIC_MODULES:
            names = re.findall(r"(?m)^      heading: (\S+)$", page) + re.findall(r"(?m)^- \[`(\w+)`\]", page)
            out[title] = names
    return out


@pytest.mark.skipif(not os.path.isdir(API), reason="docs/ is not beside these tests")
def test_every_public_name_is_documented_in_the_api_reference():
    documented = _documented()
    assert set(documented) == PUBLIC_MODULES
    for name in sorted(PUBLIC_MODULES):
        if name == "fastinit.torch" and importlib.util.find_spec("torch") is None:
            continue
        mod = _module(name)
        assert sorted(documented[name]) == sorted(mod.__all__), name
    # each directive names an object of the package (mkdocs build --strict resolves them in CI)
    for f in os.listdir(API):
        for target in re.findall(r"(?m)^::: (\S+)$", open(os.path.join(API, f), encoding="utf-8").read()):
            assert target.startswith("fastinit"), target


@pytest.mark.skipif(not os.path.exists(TOOL), reason="tools/ is not beside these tests")
def test_api_pages_are_what_the_all_lists_give():
    out = subprocess.run([sys.executable, TOOL, "--check"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
