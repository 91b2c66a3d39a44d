"""Signal propagation through a deep random MLP: the experiment that shows which initialization keeps
activations and gradients alive (Glorot & Bengio 2010; He et al. 2015).

    res = fi.simulate(depth=10, width=500, activation="tanh", init="small_normal")
    print(res)                      # per-layer table: the std collapses by ~0.22 per layer
    res.plot("layers.png")          # per-layer activation histograms and std vs depth

Layer l computes P_l = H_{l-1} W_l^T + b, optionally batch-normalizes P_l per feature over the batch, and
H_l = act(P_l), in one C call per layer: the matrix product goes through the BLAS that SciPy ships, everything
after it (bias, batch norm, activation, statistics, histograms) is fused in one pass over row chunks. Weights
W_l (shape (out, in), torch's Linear layout, fans as in torch) are drawn inside the engine, layer by layer, and
are never all in memory in forward-only mode. The input, the weights of layer l and the top gradient come from
the children of ``Generator(seed).spawn(depth + 2)``: child 0 the input, child l layer l, child depth + 1 the
gradient fed to the backward pass.
"""
import dataclasses
import math
import time

import numpy as np

from .. import _core, _validate as V
from .._optional import require
from ..random import _spec
from ..random._generator import Generator
from . import _activations as _act, _init_arg, _stats, theory as _theory
from ._activations import ACTIVATIONS

__all__ = ["simulate", "SimulationResult", "normalize", "ACTIVATIONS"]

NORMALIZE_METHODS = ("max", "minmax", "center", "standardize")
LAYER_FIELDS = ("p_mean", "p_std", "p_min", "p_max", "p_zero_frac", "p_nonfinite", "h_mean", "h_std", "h_min",
                "h_max", "h_zero_frac", "h_saturated_frac", "h_nonfinite")
GRAD_FIELDS = ("grad_h_std", "grad_p_std", "grad_w_norm", "grad_nonfinite")


def normalize(X, method="standardize"):
    """Preprocess inputs the way the classic experiments do. Returns a new float array.

    - ``max``: X / max|X| (into [-1, 1]; pixel data into [0, 1])
    - ``minmax``: (X - min X) / (max X - min X), into [0, 1]
    - ``center``: X - mean over the batch, per feature
    - ``standardize``: (X - mean) / std over the batch, per feature (features with std 0 are only centred)
    """
    X = _real_2d(X)
    shift, scale = normalization(X, method)
    return normalized(X, shift, scale).astype(X.dtype)


def normalized(X, shift, scale):
    """(X - shift) / scale in float64 (float32 data spanning its whole range would overflow the difference)."""
    return (np.asarray(X, np.float64) - shift) / scale


def _real_2d(X):
    X = np.asarray(X)
    if X.dtype.kind not in "fiu" or X.ndim != 2:
        raise TypeError(f"X must be a 2-D real array (batch, features), got dtype {X.dtype}, shape {X.shape}")
    X = X.astype(np.float64 if X.dtype == np.float64 else np.float32)
    if not np.all(np.isfinite(X)):
        raise ValueError("X has non-finite values")
    return X


def normalization(X, method="standardize"):
    """(shift, scale) of ``normalize``'s method fitted on X: normalize(X) = (X - shift) / scale, and the same
    (shift, scale) carry the fit to other rows (held-out data). The moments are taken in float64 on X divided by
    each feature's largest |value|, so data near the dtype's largest values neither overflows nor loses digits."""
    if method not in NORMALIZE_METHODS:
        raise ValueError(f"unknown method {method!r}; valid methods: {', '.join(NORMALIZE_METHODS)}")
    X = _real_2d(X)
    if method == "max":
        m = float(np.abs(X).max(initial=0))
        return 0.0, m if m > 0 else 1.0
    if method == "minmax":
        lo, hi = (float(X.min()), float(X.max())) if X.size else (0.0, 0.0)
        return (lo, hi - lo) if hi > lo else (lo, 1.0)   # constant data: all zeros
    size = np.abs(X).max(axis=0, initial=0).astype(np.float64)
    size = np.where(size > 0, size, 1.0)
    unit = X / size
    mean = unit.mean(axis=0) * size
    if method == "center":
        return mean, 1.0
    sd = unit.std(axis=0) * size
    return mean, np.where(sd > 0, sd, 1)


@dataclasses.dataclass
class _Config:
    depth: int
    widths: tuple
    batch: int
    activation: str
    alpha: float
    init: object
    bias: float
    batchnorm: bool
    bn_eps: float
    backward: bool
    bins: int
    hist_range: tuple
    seed: int
    dtype: np.dtype
    weights: _init_arg.Weights   # what init means: the fill of each layer's W and its variance


def _config(depth, width, batch, activation, init, bias, batchnorm, backward, bins, hist_range, seed, dtype, widths,
            input, alpha, bn_eps):
    depth = V.positive_int(depth, "depth")
    alpha = _act.get(activation).alpha if alpha is None else V.real(alpha, "alpha")
    if activation == "elu" and alpha <= 0:
        raise ValueError(f"alpha of elu must be > 0, got {alpha}")
    dt = _spec.float_dtype(dtype)
    if widths is not None:
        widths = tuple(V.positive_int(w, f"widths[{i}]") for i, w in enumerate(widths))
        if len(widths) != depth + 1:
            raise ValueError(f"widths must list depth + 1 = {depth + 1} sizes (the input's, then each layer's), "
                             f"got {len(widths)}")
    else:
        widths = (V.positive_int(width, "width"),) * (depth + 1)
    batch = V.positive_int(batch, "batch")
    if input is not None:
        if not isinstance(input, np.ndarray) or input.ndim != 2 or input.dtype.kind not in "fiu":
            raise TypeError("input must be a 2-D real numpy array (batch, features)")
        if input.shape[1] != widths[0]:
            raise ValueError(f"input has {input.shape[1]} features but the network's input width is {widths[0]}")
        if input.shape[0] < 1:
            raise ValueError("input must have at least one row")
        if not np.all(np.isfinite(input)):
            raise ValueError("input has non-finite values")
        if dt == np.float32 and input.dtype.kind == "f" and np.abs(input).max(initial=0) > np.finfo(np.float32).max:
            raise ValueError("input has values beyond the float32 range; pass dtype='float64'")
        batch = input.shape[0]
    bins = V.bins(bins)
    hist_range = V.hist_range(hist_range)
    weights = _init_arg.resolve(init)   # validates the scheme now, before any work
    bn_eps = V.real(bn_eps, "bn_eps")
    if not bn_eps > 0:
        raise ValueError(f"bn_eps must be > 0 (batch norm divides by sqrt(var + bn_eps)), got {bn_eps}")
    return _Config(depth, widths, batch, activation, alpha, init, V.real(bias, "bias"), bool(batchnorm),
                   bn_eps, bool(backward), bins, hist_range, V.uint64(seed, "seed"), dt, weights)


class _Streams:
    """The generators of one simulation: child 0 the input, child l layer l, child depth + 1 the top gradient."""

    def __init__(self, cfg):
        self.children = Generator(cfg.seed).spawn(cfg.depth + 2)
        self.cfg = cfg
        self.fill = cfg.weights.fill

    def weights(self, layer, buffer=None):
        """W_layer, shape (widths[layer], widths[layer - 1]), layer = 1..depth; in the start of `buffer` (flat,
        of cfg.dtype) when given."""
        cfg = self.cfg
        shape = (cfg.widths[layer], cfg.widths[layer - 1])
        if buffer is None:
            W = np.empty(shape, dtype=cfg.dtype)
        else:
            W = buffer[:shape[0] * shape[1]].reshape(shape)
        # a fresh copy of the child: drawing the same layer twice (backward) gives the same weights
        self.fill(W, Generator(self.children[layer].seed))
        return W

    def input(self):
        cfg = self.cfg
        return Generator(self.children[0].seed).normal((cfg.batch, cfg.widths[0]), dtype=cfg.dtype)

    def top_gradient(self):
        cfg = self.cfg
        return Generator(self.children[-1].seed).normal((cfg.batch, cfg.widths[-1]), dtype=cfg.dtype)


def simulate(depth=10, width=500, batch=1000, activation="tanh", init="xavier_normal", bias=0.0, batchnorm=False,
             backward=False, bins=50, hist_range=None, seed=0, dtype="float32", widths=None, input=None, alpha=None,
             bn_eps=1e-5, *, stop=None):
    """Run a deep random MLP forward (and backward) and record per-layer statistics.

    Args:
        depth: number of layers (>= 1).
        width: units per layer (input width too), unless ``widths`` is given.
        batch: number of input rows (ignored when ``input`` is given).
        activation: one of ``ACTIVATIONS`` (linear, sigmoid, tanh, relu, leaky_relu, prelu, elu, selu, gelu, silu,
            softplus); ``alpha`` sets the slope of leaky_relu (0.01) / prelu (0.25) or the alpha of elu (1.0).
        init: a scheme name (``fastinit.init.SCHEMES``: small_normal, normal, xavier_normal, he_normal, lecun_normal,
            orthogonal, zeros, ... or a Keras alias of ``fastinit.initializers``), an ``initializers`` object, a
            callable ``f(W, generator=...)`` filling W (out, in) in place (e.g. ``fastinit.init.orthogonal_``),
            ``{"std": s}`` for N(0, s^2) or ``{"scale": s}`` for N(0, s^2 / fan_in).
        bias: a constant added to every pre-activation.
        batchnorm: normalize each pre-activation over the batch (mean 0, var 1, eps ``bn_eps``) before the
            activation (Ioffe & Szegedy 2015; no learned scale/shift).
        backward: also propagate dL/dH = N(0, 1) from the top and record the gradient statistics.
        bins, hist_range: histograms of P and H per layer; ``hist_range=None`` uses the activation's range for H
            (tanh [-1, 1], sigmoid [0, 1]) and each layer's [min, max] otherwise.
        seed: the generator seed (input, weights and top gradient derive from it).
        dtype: "float32" or "float64".
        widths: depth + 1 sizes, the input's then each layer's.
        input: a (batch, widths[0]) array; default N(0, 1) draws.
        stop: a ``threading.Event``; once it is set the simulation raises KeyboardInterrupt before its next layer
            (how a sweep's Ctrl-C stops the configurations running in its worker threads).
    Returns:
        SimulationResult. Non-finite values (exploding networks) are counted in ``p_nonfinite`` / ``h_nonfinite``
        and left out of the other statistics; they never raise.
    """
    start = time.perf_counter()
    cfg = _config(depth, width, batch, activation, init, bias, batchnorm, backward, bins, hist_range, seed, dtype,
                  widths, input, alpha, bn_eps)
    streams = _Streams(cfg)
    row = _act.get(cfg.activation)
    act, saturation, natural = row.code, row.saturation, row.range
    if input is not None:
        h = np.ascontiguousarray(input, dtype=cfg.dtype)
    else:
        h = streams.input()
    rows = {f: np.full(cfg.depth, np.nan) for f in LAYER_FIELDS}
    p_hist = np.zeros((cfg.depth, cfg.bins), np.int64)
    h_hist = np.zeros((cfg.depth, cfg.bins), np.int64)
    p_edges = np.zeros((cfg.depth, cfg.bins + 1))
    h_edges = np.zeros((cfg.depth, cfg.bins + 1))
    nan2 = (math.nan, math.nan)
    p_range = cfg.hist_range or nan2
    h_range = cfg.hist_range or natural or nan2
    saved = []   # (h_in, p, h_out, invstd) per layer, only for backward
    # seconds from the call until layer l's forward pass was done: what a sweep row cut from a deeper run cost
    layer_seconds = np.zeros(cfg.depth)
    if not cfg.backward:
        scratch = [np.empty(cfg.batch * max(cfg.widths[1:]), cfg.dtype) for _ in range(3)]
        w_buffer = np.empty(max(a * b for a, b in zip(cfg.widths[1:], cfg.widths[:-1])), cfg.dtype)
    for layer in range(1, cfg.depth + 1):
        if stop is not None and stop.is_set():
            raise KeyboardInterrupt("the simulation was stopped")
        W = streams.weights(layer, None if cfg.backward else w_buffer)
        n_out = cfg.widths[layer]
        b = np.full(n_out, cfg.bias, dtype=cfg.dtype) if cfg.bias != 0.0 else None
        if cfg.backward:   # every layer's P and H are kept for the backward pass
            p = np.empty((cfg.batch, n_out), cfg.dtype)
            h_out = np.empty((cfg.batch, n_out), cfg.dtype)
        else:              # forward only: one P buffer and two H buffers in turn, no page faults per layer
            p = scratch[0][:cfg.batch * n_out].reshape(cfg.batch, n_out)
            h_out = scratch[1 + layer % 2][:cfg.batch * n_out].reshape(cfg.batch, n_out)
        invstd = np.empty(n_out) if cfg.batchnorm else None
        ps, hs, pr, hr = _core.layer_forward(h, W, b, p, h_out, cfg.batchnorm, cfg.bn_eps, invstd, act, cfg.alpha,
                                             saturation, cfg.bins, tuple(p_range), tuple(h_range),
                                             p_hist[layer - 1], h_hist[layer - 1])
        i = layer - 1
        for side, raw, hist, rng, edges, data in (("p", ps, p_hist, pr, p_edges, p),
                                                  ("h", hs, h_hist, hr, h_edges, h_out)):
            st = _stats.from_core(raw, hist[i], rng, data)
            rows[f"{side}_mean"][i], rows[f"{side}_std"][i] = st.mean, st.std
            rows[f"{side}_min"][i], rows[f"{side}_max"][i] = st.min, st.max
            rows[f"{side}_zero_frac"][i] = st.fraction("zeros")
            rows[f"{side}_nonfinite"][i] = st.nonfinite
            edges[i] = st.edges
            if side == "h":
                rows["h_saturated_frac"][i] = st.fraction("saturated") if saturation else math.nan
        if cfg.backward:
            saved.append((h, p, h_out, invstd))
        h = h_out
        layer_seconds[i] = time.perf_counter() - start
    grads = None
    if cfg.backward:
        grads = {f: np.full(cfg.depth, np.nan) for f in GRAD_FIELDS}
        g = streams.top_gradient()
        for layer in range(cfg.depth, 0, -1):
            h_in, p, h_out, invstd = saved.pop()
            W = streams.weights(layer)
            g_in = np.empty_like(h_in) if layer > 1 else None
            g_w = np.empty_like(W)
            gh, gp, gw = _core.layer_backward(h_in, W, p, h_out, cfg.batchnorm, invstd, act, cfg.alpha, g, g_in, g_w)
            i = layer - 1
            gh, gp = _stats.from_core(gh), _stats.from_core(gp)
            grads["grad_h_std"][i] = gh.std
            grads["grad_p_std"][i] = gp.std
            grads["grad_w_norm"][i] = gw
            grads["grad_nonfinite"][i] = gh.nonfinite + gp.nonfinite
            g = g_in
    config = _public_config(cfg)
    with np.errstate(over="ignore"):
        config["input_mean_square"] = 1.0 if input is None else float(np.mean(np.square(input, dtype=np.float64)))
    return SimulationResult(config=config, layers=rows, p_hist=p_hist, h_hist=h_hist, p_edges=p_edges,
                            h_edges=h_edges, grads=grads, layer_seconds=layer_seconds, init=cfg.init)


def _public_config(cfg):
    d = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg) if f.name != "weights"}
    d["dtype"] = str(cfg.dtype)
    d["widths"] = list(cfg.widths)
    if isinstance(cfg.init, dict):
        d["init"] = dict(cfg.init)
    elif not isinstance(cfg.init, str):
        d["init"] = repr(cfg.init)
    return d


@dataclasses.dataclass
class SimulationResult:
    """Per-layer statistics of one simulation (index i = layer i + 1).

    ``layers[name]`` arrays (length depth): p_* are the activation inputs P (after batch norm when used), h_* the
    activations H: mean, std, min, max, zero_frac (exact zeros: dead ReLUs), h_saturated_frac (|tanh| > 0.99,
    sigmoid outside [0.01, 0.99]; NaN for other activations), *_nonfinite counts. ``p_hist`` / ``h_hist`` (depth x
    bins) with ``p_edges`` / ``h_edges`` (depth x bins + 1). ``grads`` (when backward): grad_h_std (dL/dH of each
    layer's output), grad_p_std (dL/dP), grad_w_norm (|dL/dW|_F), grad_nonfinite. ``layer_seconds[i]``: seconds
    from the call until layer i + 1's forward pass was done (what a sweep row cut from a deeper run cost);
    ``init``: the init object itself (``config["init"]`` is its name or repr), for the theory.
    """

    config: dict
    layers: dict
    p_hist: np.ndarray
    h_hist: np.ndarray
    p_edges: np.ndarray
    h_edges: np.ndarray
    grads: dict = None
    layer_seconds: np.ndarray = None
    init: object = None

    @property
    def depth(self):
        return self.config["depth"]

    @property
    def theory(self):
        """The mean-field prediction for this configuration (``fastinit.theory.predict``): per-layer p_std,
        h_mean, h_std, grad_h_std, chi, and the fixed point q_star, chi_star. NaN where the scheme has no
        variance formula (a callable) or the quantity has no theory here (gradients with batch norm)."""
        if self.__dict__.get("_theory") is None:
            c = self.config
            self.__dict__["_theory"] = _theory.predict(
                depth=c["depth"], activation=c["activation"], init=c["init"] if self.init is None else self.init,
                bias=c["bias"], batchnorm=c["batchnorm"], widths=c["widths"], alpha=c["alpha"],
                input_mean_square=c.get("input_mean_square", 1.0), bn_eps=c["bn_eps"])
        return self.__dict__["_theory"]

    def __getattr__(self, name):
        layers = self.__dict__.get("layers", {})
        grads = self.__dict__.get("grads") or {}
        if name in layers:
            return layers[name]
        if name in grads:
            return grads[name]
        raise AttributeError(name)

    def to_dict(self):
        """Plain Python types (JSON-ready); "theory" holds the mean-field prediction."""
        out = {"config": self.config, "layers": {k: v.tolist() for k, v in self.layers.items()},
               "theory": self.theory.to_dict(),
               "p_hist": self.p_hist.tolist(), "h_hist": self.h_hist.tolist(),
               "p_edges": self.p_edges.tolist(), "h_edges": self.h_edges.tolist()}
        if self.grads is not None:
            out["grads"] = {k: v.tolist() for k, v in self.grads.items()}
        return out

    def to_pandas(self):
        """One row per layer (pandas is optional)."""
        pd = require("pandas", "to_pandas")
        data = dict(self.layers)
        if self.grads is not None:
            data.update(self.grads)
        return pd.DataFrame(data, index=pd.RangeIndex(1, self.depth + 1, name="layer"))

    def table(self):
        cols = [("layer", None), ("h_mean", "{:+.4g}"), ("h_std", "{:.4g}"), ("theory", "{:.4g}"), ("h_min", "{:+.4g}"),
                ("h_max", "{:+.4g}"), ("sat", "{:.3f}"), ("zero", "{:.3f}"), ("p_std", "{:.4g}")]
        src = {"sat": self.layers["h_saturated_frac"], "zero": self.layers["h_zero_frac"], "theory": self.theory.h_std}
        if self.grads is not None:
            cols += [("grad_h_std", "{:.4g}"), ("grad_theory", "{:.4g}"), ("grad_w_norm", "{:.4g}")]
            src["grad_theory"] = self.theory.grad_h_std
        lines = ["  ".join(f"{name:>11}" for name, _ in cols)]
        for i in range(self.depth):
            cells = []
            for name, fmt in cols:
                if fmt is None:
                    cells.append(f"{i + 1:>11}")
                    continue
                arr = src.get(name)
                if arr is None:
                    arr = self.layers.get(name) if name in self.layers else self.grads[name]
                v = arr[i]
                cells.append(f"{'-' if math.isnan(v) else fmt.format(v):>11}")
            lines.append("  ".join(cells))
        bad = int(np.nansum(self.layers["h_nonfinite"]) + np.nansum(self.layers["p_nonfinite"]))
        if bad:
            lines.append(f"warning: {bad} non-finite values (the network overflowed); statistics use the finite ones")
        return "\n".join(lines)

    def __repr__(self):
        c = self.config
        head = (f"SimulationResult(depth={c['depth']}, widths={c['widths'][0]}..{c['widths'][-1]}, batch={c['batch']}, "
                f"activation={c['activation']!r}, init={c['init']!r}, batchnorm={c['batchnorm']}, dtype={c['dtype']})")
        return head + "\n" + self.table()

    def plot(self, path=None, max_layers=10):
        """Per-layer activation histograms and std vs depth (matplotlib, the ``fastinit-philox[plot]`` extra)."""
        from ._plotting import plot_results

        return plot_results([self], path, max_layers=max_layers)
