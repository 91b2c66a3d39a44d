"""Where a fill runs: the one place that chooses a backend for the memory a ``FillSpec`` is written to.

- NumPy arrays (and CPU tensors, through their NumPy view): the C core (``fastinit._core.fill``), all cores,
  GIL released, interruptible.
- torch tensors on a CUDA device, when Triton can be imported: the Triton kernels of ``fastinit.random._triton``,
  in place, on the tensor's current stream (``device_path`` says which path a device gets and why).

A backend receives a validated ``fastinit.random._spec.FillSpec`` and an output of its element type, and checks only
that buffer; every backend computes the stream format's numbers (README, "Stream format").
"""
import sys

import numpy as np

from .. import _core

__all__ = ["fill", "serves", "device_path"]


# Tests only: Triton's interpreter (TRITON_INTERPRET=1) serves CPU tensors as if they were on a GPU, so that the
# routing of fastinit.init / fast_init / DTensor shards to the device kernels is tested without one. Not an API.
_INTERPRETER_SERVES_CPU = False


def serves(tensor):
    """Whether the device kernels fill this torch tensor (a CUDA tensor with Triton importable)."""
    if tensor.is_cuda:
        return _triton_ok()
    return _INTERPRETER_SERVES_CPU and tensor.device.type == "cpu" and _triton_ok()


def _triton_ok():
    from . import _triton

    return _triton.available()[0]


def device_path(device):
    """(path, why) for a torch device: "triton" (fills run on the device) or "host" (drawn by the C core and
    copied over), and the reason."""
    if device.type == "cpu":
        return "host", "CPU tensors are filled in place by the C core"
    from . import _triton

    ok, why = _triton.available()
    if device.type == "cuda" and ok:
        return "triton", "Triton kernels on the tensor's current CUDA stream, in place"
    if device.type == "cuda":
        return "host", why + "; drawn on the host and copied"
    return "host", f"Triton serves CUDA devices, not {device.type}; drawn on the host and copied"


def fill(spec, out):
    """Fill ``out`` (C-contiguous and aligned, of ``spec.dtype``'s storage: ``fillspec.storage_dtype``; a float16
    array is written through its uint16 view; or a C-contiguous torch tensor that ``serves`` accepts, of the spec's
    element type) with the draws ``spec`` names. Returns ``out``."""
    if not isinstance(out, np.ndarray):
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(out, torch.Tensor) and serves(out):
            from . import _triton

            if not out.is_contiguous():
                raise ValueError("out must be contiguous")
            return _triton.fill(spec, out)
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    flat = out.reshape(-1)
    if flat.dtype == np.float16:
        flat = flat.view(np.uint16)
    _core.fill(spec, flat)
    return out
