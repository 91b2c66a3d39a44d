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


# Triton's interpreter stands in for a GPU where there is none, so the device kernels (fastinit.device_kernels) are
# tested on CPU tensors; it must be set before the kernels are defined (Triton reads it in triton.jit).
if "TRITON_INTERPRET" not in os.environ and not _cuda_visible():
    os.environ["TRITON_INTERPRET"] = "1"


@pytest.fixture(params=_core.simd_available())
def simd(request):
    """Run the test on every SIMD path this build and CPU have (baseline always, AVX2 where present)."""
    before = _core.get_simd()
    _core.set_simd(request.param)
    yield request.param
    _core.set_simd(before)


@pytest.fixture
def threads():
    """Restore the thread count a test changes."""
    before = fi.get_num_threads()
    yield
    fi.set_num_threads(before)


@pytest.fixture
def cli_usage_error(capsys):
    """cli_usage_error(argv): run the CLI, expect argparse's usage error (exit status 2), return its stderr."""
    from fastinit import cli

    def run(argv):
        with pytest.raises(SystemExit) as exc:
            cli.main(argv)
        assert exc.value.code == 2
        return capsys.readouterr().err
    return run
