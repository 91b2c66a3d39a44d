import os

import pytest

import fastinit as fi
from fastinit import _core


def _cuda_visible():
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


# Keras 3 reads its backend once, at import (its default, TensorFlow, is not a test dependency): JAX where installed
if "KERAS_BACKEND" not in os.environ:
    import importlib.util

    os.environ["KERAS_BACKEND"] = "jax" if importlib.util.find_spec("jax") else "torch"

# Triton's interpreter stands in for a GPU where there is none, so the device kernels (fastinit.random._triton) are
# tested on CPU tensors; it must be set before the kernels are defined (Triton reads it in triton.jit).
if "TRITON_INTERPRET" not in os.environ and not _cuda_visible():
    os.environ["TRITON_INTERPRET"] = "1"

# FASTINIT_TEST_DEVICE_KERNELS=1: the device kernels (in the interpreter) serve CPU tensors for the whole run, as
# they serve CUDA tensors on a GPU; tests/test_device_kernels.py reruns the fast_init tests this way. The C core
# then runs its portable path, whose operations the kernels repeat, so the tests' references match bit for bit.
_launches = None   # [count] when FASTINIT_TEST_DEVICE_KERNELS is set
if os.environ.get("FASTINIT_TEST_DEVICE_KERNELS"):
    from fastinit.random import _backends, _triton as _device_kernels

    _backends._INTERPRETER_SERVES_CPU = True
    _core.set_simd("baseline")
    _launches = [0]
    _kernel_fill = _device_kernels.fill

    def _counted_fill(spec, out):
        _launches[0] += 1
        return _kernel_fill(spec, out)

    _device_kernels.fill = _counted_fill


def pytest_terminal_summary(terminalreporter):
    """Test modules that did not run for a missing package, loud at the end (pytest's -ra lists them among the
    other skips, easy to miss): the README's test command installs everything they need."""
    if _launches is not None:   # the rerun's caller reads this line: it fails if the host path served every tensor
        terminalreporter.write_line(f"device kernel launches: {_launches[0]}")
    missing = {}
    for report in terminalreporter.stats.get("skipped", []):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if "could not import" in reason:
            name = reason.split("could not import ", 1)[1].split(":")[0].strip("'\" ")
            missing.setdefault(name, set()).add(report.nodeid.split("::")[0])
    if missing:
        terminalreporter.section("test modules that did not run", sep="!", red=True, bold=True)
        for name, modules in sorted(missing.items()):
            terminalreporter.write_line(f"{len(modules)} test module(s) skipped, {name} is not installed: "
                                        f"{', '.join(sorted(modules))} (pip install torch \".[test]\" installs "
                                        f"what the tests need)")


@pytest.fixture(params=_core.simd_available())
def simd(request):
    """Run the test on every SIMD path this build and CPU have (baseline always, AVX2 where present)."""
    before = _core.get_simd()
    _core.set_simd(request.param)
    yield request.param
    _core.set_simd(before)


@pytest.fixture
def kernel_launches(monkeypatch):
    """The specs the device kernels (fastinit.random._triton.fill) filled during the test: a test whose tensors
    took the host path sees an empty list."""
    pytest.importorskip("triton")
    from fastinit.random import _triton as device_kernels

    filled = []
    real = device_kernels.fill

    def counted(spec, out):
        filled.append(spec)
        return real(spec, out)

    monkeypatch.setattr(device_kernels, "fill", counted)
    return filled


@pytest.fixture
def threads():
    """Restore the thread count a test changes."""
    before = fi.get_num_threads()
    yield
    fi.set_num_threads(before)


@pytest.fixture
def cli_usage_error(capsys):
    """cli_usage_error(argv): run the CLI, expect argparse's usage error (exit status 2), return its stderr."""
    from fastinit.cli import _main as cli

    def run(argv):
        with pytest.raises(SystemExit) as exc:
            cli.main(argv)
        assert exc.value.code == 2
        return capsys.readouterr().err
    return run
