"""Where a fill runs: the one place that chooses a backend for the memory a ``FillSpec`` is written to.

- NumPy arrays (and CPU tensors, through their NumPy view): the C core (``fastinit._core.fill``), all cores,
  GIL released, interruptible.

A backend receives a validated ``fastinit.fillspec.FillSpec`` and an output of its element type, and checks only
that buffer; every backend computes the stream format's numbers (README, "Stream format").
"""
import numpy as np

from . import _core

__all__ = ["fill"]


def fill(spec, out):
    """Fill ``out`` (C-contiguous and aligned, of ``spec.dtype``'s storage: ``fillspec.storage_dtype``; a float16
    array is written through its uint16 view) with the draws ``spec`` names. Returns ``out``."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    flat = out.reshape(-1)
    if flat.dtype == np.float16:
        flat = flat.view(np.uint16)
    _core.fill(spec, flat)
    return out
