"""The package's structure: one home per concept (the activation and scheme tables), imports that run one way."""
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import fastinit as fi
from fastinit import _core, initializers
from fastinit.experiment import _activations as activations, theory as theory
from fastinit.nn import schemes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(ROOT, "tools", "import_graph.py")


def run_tool(package_dir=None):
    env = dict(os.environ)
    if package_dir is not None:
        env["FASTINIT_PACKAGE_DIR"] = str(package_dir)
    return subprocess.run([sys.executable, TOOL], capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.skipif(not os.path.exists(TOOL), reason="tools/ is not shipped in the wheel")
def test_no_import_cycle_no_reference_no_private_names():
    out = run_tool()
    assert out.returncode == 0, out.stdout + out.stderr
    assert "VIOLATION" not in out.stdout
    assert "experiment._simulation" in out.stdout and "random._generator" in out.stdout   # it walked the folders


@pytest.mark.skipif(not os.path.exists(TOOL), reason="tools/ is not shipped in the wheel")
def test_the_tool_finds_each_kind_of_violation(tmp_path):
    (tmp_path / "__init__.py").write_text("from . import a\n")
    (tmp_path / "a.py").write_text("from . import b\n")
    (tmp_path / "b.py").write_text("def f():\n    from . import a\n    from .a import _hidden\n    return a._x\n")
    (tmp_path / "c.py").write_text("from . import reference\n")
    (tmp_path / "reference.py").write_text("")
    for part in ("random", "nn", "experiment"):
        (tmp_path / part).mkdir()
        (tmp_path / part / "__init__.py").write_text("")
    (tmp_path / "random" / "_spec.py").write_text("from ..nn import _fans\n")   # a layer below imports above
    (tmp_path / "nn" / "_fans.py").write_text("from ..random import _spec\nfrom ..random._spec import TABLE\n")
    (tmp_path / "experiment" / "_sim.py").write_text("from ..random import _spec\nimport fastinit.nn._fans\n")
    out = run_tool(tmp_path)
    assert out.returncode == 1
    assert "import cycle among: a, b" in out.stdout
    assert "c.py imports fastinit.reference" in out.stdout
    assert "from a import _hidden" in out.stdout and "a._x" in out.stdout
    assert "random._spec (layer 1) imports nn._fans (layer 2): layers import downwards only" in out.stdout
    assert "import cycle among: nn._fans, random._spec" in out.stdout
    # importing a private module of a lower part, or a public name of it, is no violation
    assert "experiment._sim" not in out.stdout.split("VIOLATION", 1)[1]
    assert "TABLE" not in out.stdout.split("VIOLATION", 1)[1]


C_TOOL = os.path.join(ROOT, "tools", "c_call_graph.py")


@pytest.mark.skipif(not os.path.exists(C_TOOL), reason="tools/ is not shipped in the wheel")
def test_no_call_cycle_between_the_c_files(tmp_path):
    out = subprocess.run([sys.executable, C_TOOL], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "kernels_avx2.c" in out.stdout and "tensor_stats.c" in out.stdout   # it read the C files
    # the cycle the widening helper made (kernels_avx2.c -> tensor_stats.c -> layer.c -> runtime.c -> kernels_avx2.c)
    (tmp_path / "a.c").write_text("/* b_f() in a comment is no call */\nvoid a_f(void)\n{\n    b_f();\n}\n")
    (tmp_path / "b.c").write_text("static void helper(void) { }\nint b_f(void)\n{\n    helper();\n    a_f();\n"
                                  "    return 0;\n}\n")
    (tmp_path / "c.c").write_text("void c_f(int n)\n{\n    if (n) a_f();\n}\n")
    out = subprocess.run([sys.executable, C_TOOL], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, FASTINIT_CSRC_DIR=str(tmp_path)))
    assert out.returncode == 1
    assert "C call cycle among: a.c, b.c" in out.stdout and "c.c" not in out.stdout.split("VIOLATION")[1]


def test_activation_rows_carry_the_c_codes():
    """Each row's code is the C enum's (exported by _core by name), and the C kernel computes the row's phi."""
    x = np.linspace(-4, 4, 257)
    for name, row in activations.ACTIVATIONS.items():
        y = np.empty_like(x)
        _core.activation(row.code, row.alpha, x, y)
        np.testing.assert_allclose(y, row.phi(x), rtol=1e-12, atol=1e-15, err_msg=name)
    assert activations.ACTIVATIONS["tanh"].code == _core.ACT_CODES["tanh"]
    assert activations.ACTIVATIONS["tanh"].saturates and not activations.ACTIVATIONS["relu"].saturates
    with pytest.raises(ValueError, match="unknown activation 'nope'; valid names: linear, sigmoid"):
        activations.get("nope")


def test_truncation_constants_agree():
    from scipy import stats

    assert schemes.TRUNCATED_NORMAL_STD_CORRECTION == pytest.approx(stats.truncnorm.std(-2, 2), rel=1e-15)
    assert schemes.TRUNCATED_NORMAL_VARIANCE == stats.truncnorm.var(-2, 2)
    assert math.isclose(schemes.TRUNCATED_NORMAL_STD_CORRECTION ** 2, schemes.TRUNCATED_NORMAL_VARIANCE,
                        rel_tol=3e-16)
    assert initializers.TRUNCATED_NORMAL_STD_CORRECTION is schemes.TRUNCATED_NORMAL_STD_CORRECTION


@pytest.fixture
def new_scheme(monkeypatch):
    """A scheme added as one row of the table, nothing else: N(0, 1) truncated to [-2, 2], variance 0.774."""
    row = schemes.Scheme("unit_trunc_test", "trunc_normal_", {"mean": 0.0, "std": 1.0, "a": -2.0, "b": 2.0},
                         variance=lambda fan_in, fan_out: schemes.TRUNCATED_NORMAL_VARIANCE, doc="a test row")
    monkeypatch.setitem(schemes.SCHEMES, row.name, row)
    return row


def test_a_new_scheme_is_one_row(new_scheme):
    """With only the row added: init's lookup, the simulation, the theory and a sweep take the name, and the
    simulation's weights are the row's function's draws."""
    name = new_scheme.name
    w = fi.init.get_scheme(name)(np.empty((64, 32), np.float32), generator=fi.Generator(3))
    want = fi.init.trunc_normal_(np.empty((64, 32), np.float32), 0.0, 1.0, -2.0, 2.0, generator=fi.Generator(3))
    assert np.array_equal(w, want)
    res = fi.simulate(depth=2, width=32, batch=16, activation="linear", init=name, seed=1)
    expected = fi.simulate(depth=2, width=32, batch=16, activation="linear", seed=1,
                           init=lambda W, generator: fi.init.trunc_normal_(W, 0.0, 1.0, -2.0, 2.0, generator=generator))
    assert np.array_equal(res.layers["h_std"], expected.layers["h_std"])
    assert theory.weight_variance(name, 64, 64) == schemes.TRUNCATED_NORMAL_VARIANCE
    assert name in schemes.names()
    assert fi.sweep(depth=2, width=16, init=name, batch=8, progress=False).rows[0]["status"] == "ok"


def test_the_core_stub_names_what_the_core_exports():
    # _core.pyi is the boundary as an IDE sees it: a name added to (or dropped from) _core.pyx without the stub
    # fails here; the stub ships beside the module
    import ast
    stub_path = os.path.join(os.path.dirname(_core.__file__), "_core.pyi")
    tree = ast.parse(open(stub_path).read())
    stub = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    stub |= {n.target.id for n in tree.body if isinstance(n, ast.AnnAssign)}
    stub |= {n.targets[0].id for n in tree.body if isinstance(n, ast.Assign)}
    exported = {n for n in dir(_core) if not n.startswith("_")}
    assert exported - stub == set()
    assert stub - exported == {"CoreStats", "Range"}   # the stub's own type names
    assert "FillSpec" in open(stub_path).read()


def test_fill_parameters_are_the_c_structs_fields():
    """A distribution parameter is a field of fi_dist (csrc/fastinit.h, mirrored in _core.pyx, whose names
    _core.DIST_FIELDS reads) with its default in fillspec.PARAMS: a field added on one side only fails here."""
    from fastinit.random import _spec as fillspec

    assert set(fillspec.PARAMS) == set(_core.DIST_FIELDS)   # (by name: Cython fills the struct from the dict)
    assert {"low", "mean", "std", "narrow_lo"} <= set(_core.DIST_FIELDS)
    built = [fillspec.uniform(0.0, 1.0, "float32"), fillspec.normal(0.0, 1.0, "float32"),
             fillspec.truncated_normal(0.0, 1.0, -1.0, 2.0, "float32")]
    assert [kind for kind, _ in built] == ["uniform", "normal", "truncated_normal"]
    assert all(set(params) == set(_core.DIST_FIELDS) for _, params in built)


def test_a_module_skipped_for_a_missing_package_is_named_at_the_end(tmp_path):
    # the README's test command must not pass quietly with whole modules skipped (tests/conftest.py)
    (tmp_path / "test_needs_it.py").write_text('import pytest\n\npytest.importorskip("no_such_package_fi")\n\n\n'
                                               'def test_x():\n    pass\n')
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "tests") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider",
                          str(tmp_path / "test_needs_it.py")], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=120)
    assert "test modules that did not run" in run.stdout, run.stdout[-2000:]
    assert "1 test module(s) skipped, no_such_package_fi is not installed: test_needs_it.py" in run.stdout


def test_one_element_type_table(monkeypatch):
    """The fill layer's table (random._spec) is the one the C core's enum, the Triton kernels, torch's door and the
    Keras / JAX door read: a type taken out of it is refused by the doors."""
    from fastinit.random import _spec, _triton

    assert set(_spec.DTYPES) == set(_core.DTYPE_CODES) and _triton.OUT_CODES == dict(_core.DTYPE_CODES)
    assert set(_spec.TORCH_ELEMENT.values()) == set(_spec.FLOAT_DTYPES) == set(_spec.DTYPES) - {"uint32"}
    assert [_spec.float_element(d) for d in (None, np.float64, "float16", np.dtype("float32"))] == \
        ["float32", "float64", "float16", "float32"]
    np.testing.assert_array_equal(initializers.lecun_normal()(3, (8, 8), "float16").astype(np.float32),
                                  initializers.lecun_normal()(3, (8, 8), "float32").astype(np.float16))
    monkeypatch.setattr(_spec, "FLOAT_DTYPES", ("float32", "float64", "bfloat16"))
    with pytest.raises(TypeError, match="dtype must be float32, float64, float16 or bfloat16, got 'float16'"):
        initializers.lecun_normal()(3, (8, 8), "float16")


def test_an_optional_package_is_named_with_what_installs_it():
    from fastinit import _optional

    assert _optional.require("math", "anything") is math
    with pytest.raises(ImportError, match=r"^plotting needs no_such_pkg_fi: pip install no_such_pkg_fi$"):
        _optional.require("no_such_pkg_fi.sub", "plotting")
    with pytest.raises(ValueError, match=r"--scheduler needs dask.distributed: pip install 'dask\[distributed\]'"):
        _optional.require("dask.no_such_module_fi", "--scheduler", ValueError)
