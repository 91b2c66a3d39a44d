"""Argument checks shared by the public API. Every check raises TypeError (wrong kind of thing) or ValueError
(right kind, bad value) naming the argument, so that nothing invalid reaches the C core."""
import math
import numbers
import operator

import numpy as np

from . import _core

UINT64_LIMIT = 1 << 64
# Largest element count we accept: beyond it byte counts overflow an index on 64-bit platforms.
MAX_ELEMENTS = (1 << 62) // 8


def is_dtensor(x):
    """Whether x is a torch.distributed DTensor (by its type's name: no torch import where torch is absent)."""
    return type(x).__name__ == "DTensor" and type(x).__module__.startswith("torch.distributed")


def integer(value, name):
    """An int (Python or NumPy integer, not bool) as a Python int."""
    if type(value) is int:  # the common case, without the ABC check
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    return operator.index(value)


def uint64(value, name):
    """An integer in [0, 2**64)."""
    v = integer(value, name)
    if not 0 <= v < UINT64_LIMIT:
        raise ValueError(f"{name} must be in [0, 2**64), got {v}")
    return v


def positive_int(value, name):
    v = integer(value, name)
    if v < 1:
        raise ValueError(f"{name} must be >= 1, got {v}")
    return v


def real(value, name, finite=True):
    """A real number (int, float, NumPy scalar; not bool, not complex) as a Python float."""
    if type(value) is float:  # the common case, without the ABC check (per-call overhead of small fills)
        if math.isnan(value) or (finite and math.isinf(value)):
            raise ValueError(f"{name} must be a finite number, got {value}")
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    v = float(value)
    if math.isnan(v) or (finite and math.isinf(v)):
        raise ValueError(f"{name} must be a finite number, got {v}")
    return v


def shape(size, name="size"):
    """size as a tuple of non-negative ints (an int means a 1-D shape)."""
    if isinstance(size, (tuple, list)):
        dims = tuple(integer(d, f"{name}[{i}]") for i, d in enumerate(size))
    else:
        dims = (integer(size, name),)
    for d in dims:
        if d < 0:
            got = tuple(dims) if len(dims) > 1 else dims[0]
            raise ValueError(f"{name} must not have negative dimensions, got {got}")
    count = 1
    for d in dims:
        count *= d
    if count > MAX_ELEMENTS:
        raise ValueError(f"{name} {dims} has {count} elements, more than the {MAX_ELEMENTS} an array can index")
    return dims


def overlapping(a, name):
    """ValueError when elements of an array share memory (a zero stride: np.broadcast_to; strides that step by less
    than the elements they skip: as_strided): a fill would leave them holding its last draw."""
    if a.size > 1 and not _distinct_elements(a):
        raise ValueError(f"{name} has elements that share memory (shape {a.shape}, strides {a.strides}): pass an "
                         "array whose elements are distinct")


def _distinct_elements(a):
    """Whether no two elements of a overlap. Sufficient and O(ndim): with the dimensions sorted by |stride|, each
    stride steps past everything the smaller ones span (every ordinary layout, transposes and slices included);
    otherwise the elements' byte offsets are compared (exact; only odd as_strided views get there)."""
    dims = sorted((abs(st), d) for st, d in zip(a.strides, a.shape) if d > 1)
    span = a.itemsize
    for stride, extent in dims:
        if stride < span:
            break
        span = stride * (extent - 1) + span
    else:
        return True
    offsets = np.zeros((), np.int64)
    for st, d in zip(a.strides, a.shape):
        offsets = np.add.outer(offsets, np.arange(d, dtype=np.int64) * st)
    starts = np.sort(offsets.reshape(-1))
    return bool(np.all(np.diff(starts) >= a.itemsize))


def bins(value, name="bins"):
    """A histogram's bin count: an integer (not bool) in [1, the C kernels' most]."""
    v = positive_int(value, name)
    if v > _core.MAX_BINS:
        raise ValueError(f"{name} must be at most {_core.MAX_BINS}, got {v}")
    return v


def hist_range(value, name="hist_range"):
    """None, or a (low, high) pair of finite reals with low < high, wide enough to bin and not wider than the
    largest float, as a tuple of floats."""
    if value is None:
        return None
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name} must be a (low, high) pair, got {value!r}")
    lo, hi = real(value[0], f"{name}[0]"), real(value[1], f"{name}[1]")
    if not lo < hi:
        raise ValueError(f"{name} low must be < high, got {tuple(value)}")
    if not math.isfinite(hi - lo):
        raise ValueError(f"{name} is wider than the largest float, got {tuple(value)}")
    if not (hi - lo) * 2.0 ** -30 > 0 or not math.isfinite(max(abs(lo), abs(hi)) / (hi - lo)):
        raise ValueError(f"{name} is too narrow to bin (its width is near the smallest float), got {tuple(value)}")
    return (lo, hi)
