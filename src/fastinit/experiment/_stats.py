"""One statistics record for every tensor the engine looks at: a layer's pre-activations, activations and
gradients in ``fastinit.simulate``, a module's output and gradient in ``fastinit.probe`` (and training's
per-layer records).

A ``Stats`` holds the count of finite values, exact zeros, saturated values (the activation table's rule) and
non-finite values, then the mean, population std, min and max of the finite values, and optionally a histogram
(``hist``, ``bins`` counts) with its ``edges`` (``bins + 1``). The C kernels compute them in one pass (mean and
M2 merged in chunk order, Chan et al.; the same numbers for every thread count); ``from_core`` makes the record of
what they return, ``of_tensor`` runs them on a tensor (CPU memory where it lies; other devices through torch ops
with the same rules).
"""
import dataclasses
import functools
import math

import numpy as np

from .. import _core
from ..random import _spec
from . import _activations as _act

__all__ = ["Stats", "from_core", "of_tensor", "edges"]


@dataclasses.dataclass(frozen=True)
class Stats:
    """Statistics of one tensor: ``count`` finite values, ``zeros`` exact zeros, ``saturated`` values past the
    activation's saturation threshold (0 without a rule), ``nonfinite`` inf/NaN values; ``mean``, ``std``
    (population), ``min``, ``max`` of the finite values (NaN without any); ``hist`` / ``edges`` or None."""

    count: int
    zeros: int
    saturated: int
    nonfinite: int
    mean: float
    std: float
    min: float
    max: float
    hist: np.ndarray = None
    edges: np.ndarray = None

    @property
    def size(self):
        """Every value looked at, finite or not."""
        return self.count + self.nonfinite

    def fraction(self, what):
        """zeros / saturated / nonfinite as a fraction of all values (0 for an empty tensor)."""
        return getattr(self, what) / max(self.size, 1)


def edges(rng, bins):
    """The bins + 1 edges of a histogram over rng = (low, high), also for a range wider than the largest float."""
    lo, hi = rng
    if math.isfinite(hi - lo):
        return np.linspace(lo, hi, bins + 1)
    return np.linspace(lo / 2, hi / 2, bins + 1) * 2


def _record(count, zeros, saturated, nonfinite, mean, m2, mn, mx, hist=None, rng=None, data=None):
    """The one constructor: moments (mean, M2) to the record, NaN where there are no finite values. Moments that
    overflowed although every value counted is finite (sums of squares beyond the dtype: values above ~1e154 in
    float64, ~1e19 in a float32 block) are taken again from ``data`` scaled by its largest magnitude; without
    data the std is reported as inf, never as the 0 that max(-inf, 0) would give."""
    count = int(count)
    empty = count == 0
    std = math.nan if empty else math.sqrt(max(m2, 0.0) / count)
    if not empty and not (math.isfinite(mean) and math.isfinite(m2)):
        mean, std = _rescaled_moments(data, max(abs(mn), abs(mx))) if data is not None else (mean, math.inf)
    return Stats(count=count, zeros=int(zeros), saturated=int(saturated), nonfinite=int(nonfinite),
                 mean=math.nan if empty else float(mean), std=std,
                 min=math.nan if empty else float(mn), max=math.nan if empty else float(mx), hist=hist,
                 edges=None if hist is None else edges(rng, hist.shape[0]))


def _rescaled_moments(data, scale):
    """(mean, std) of the finite values of data (a NumPy array or a torch tensor) computed as scale * moments of
    data / scale in float64, where nothing overflows (|data / scale| <= 1)."""
    if not isinstance(data, np.ndarray):
        data = data.detach().double().cpu().numpy()
    x = np.asarray(data, np.float64).reshape(-1)
    x = x[np.isfinite(x)] / scale
    return scale * float(x.mean()), scale * float(x.std())


def from_core(raw, hist=None, rng=None, data=None):
    """The record of a C ``fi_stats`` (a dict: count, zeros, saturated, nonfinite, shift, sum, sumsq, min, max: the
    sums are of x - shift) and, when given, its histogram and the range it was binned over; ``data``: the values
    themselves, read again only where the C sums overflowed."""
    n = raw["count"]
    s = raw["sum"]
    with np.errstate(over="ignore", invalid="ignore"):
        mean = raw["shift"] + (s / n if n else 0.0)
        m2 = raw["sumsq"] - (s * s / n if n else 0.0)
    return _record(n, raw["zeros"], raw["saturated"], raw["nonfinite"], mean, m2, raw["min"], raw["max"], hist, rng,
                   data)


_NAN2 = (math.nan, math.nan)


def of_tensor(t, saturation=_core.SAT_NONE, bins=0, hist_range=None):
    """The record of a torch tensor's values (``bins`` > 0: with a histogram over ``hist_range``, default the
    data's [min, max]). CPU float32/64 and float16/bfloat16 tensors go through the C kernels where they lie (one
    copy for a strided view); other devices and dtypes through torch ops, with the activation table's saturation
    rule and the C kernels' range rule."""
    import torch

    x = t.detach()
    c_dtypes = _c_dtypes(torch)
    if x.device.type == "cpu" and x.dtype in c_dtypes:
        if not x.is_contiguous():
            x = x.contiguous()   # (the kernels read contiguous memory)
        x = x.reshape(-1)
        buf = x.view(torch.int16).numpy().view(np.uint16) if x.dtype in (torch.float16, torch.bfloat16) else x.numpy()
        hist = np.zeros(bins, np.int64) if bins else None
        raw, used = _core.tensor_stats(buf, c_dtypes[x.dtype], saturation, bins, hist_range or _NAN2, hist)
        return from_core(raw, hist, used, data=x)
    x = x.reshape(-1)
    finite = torch.isfinite(x)
    v = x[finite].double()
    count = int(v.numel())
    mean = float(v.mean()) if count else 0.0
    sat = _act.saturated(v, saturation)
    record = dict(count=count, zeros=int((x == 0).sum()), saturated=0 if sat is None else int(sat.sum()),
                  nonfinite=int(x.numel() - count), mean=mean, m2=float(((v - mean) ** 2).sum()) if count else 0.0,
                  mn=float(v.min()) if count else math.inf, mx=float(v.max()) if count else -math.inf)
    record["data"] = v
    if not bins:
        return _record(**record)
    lo, hi = _core.hist_range(hist_range or _NAN2, count, record["mn"], record["mx"])
    hist = torch.histc(v, bins=bins, min=lo, max=hi).cpu().numpy().astype(np.int64) if count else np.zeros(bins,
                                                                                                          np.int64)
    return _record(**record, hist=hist, rng=(lo, hi))


@functools.lru_cache(maxsize=None)
def _c_dtypes(torch):
    """The torch dtypes the C kernels read, by the names tensor_stats takes (the fill layer's float types)."""
    return {getattr(torch, name): name for name in _spec.FLOAT_DTYPES}
