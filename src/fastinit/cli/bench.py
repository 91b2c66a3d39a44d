"""What ``fastinit bench`` runs to show the speed on the user's machine: fills against NumPy and PyTorch, and one
simulation against the NumPy and PyTorch loops (the benchmark suite in bench/ adds the rest, and the targets).

A case is a name and a factory: factory(n) returns a zero-argument callable that does the timed work on
preallocated buffers (allocation is not timed), or None when a needed package (torch) is missing.
Ratios compare cases from the same run: a fastinit case against its baseline.
"""
import time

import numpy as np

import fastinit as fi

__all__ = ["FILL_CASES", "FILL_RATIOS", "SIM_CASES", "SIM_RATIOS", "bare_matmuls", "best_time", "numpy_network",
           "plot_bench", "ratio_table", "sim_case", "torch_or_none"]


def torch_or_none():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _fi(method, dtype=np.float32, **kw):
    def factory(n):
        out = np.empty(n, dtype=dtype)
        gen = fi.Generator(0)
        fill = getattr(gen, method)
        return lambda: fill(out=out, **kw)
    return factory


def _fi_single_thread(method, **kw):
    inner = _fi(method, **kw)

    def factory(n):
        run = inner(n)

        def single():
            before = fi.get_num_threads()
            fi.set_num_threads(1)
            try:
                run()
            finally:
                fi.set_num_threads(before)
        return single
    return factory


def _ndarray_fill(n):
    out = np.empty(n, dtype=np.float32)
    return lambda: out.fill(1.0)


def _numpy_normal(n):
    out = np.empty(n, dtype=np.float32)
    rng = np.random.Generator(np.random.PCG64(0))
    return lambda: rng.standard_normal(dtype=np.float32, out=out)


def _torch_case(method, dtype="float32", threads=None, **kw):
    def factory(n):
        torch = torch_or_none()
        if torch is None:
            return None
        t = torch.empty(n, dtype=getattr(torch, dtype))
        torch.manual_seed(0)
        if method == "trunc_normal_":
            return lambda: torch.nn.init.trunc_normal_(t, **kw)
        fill = getattr(t, method)
        if threads is None:
            return lambda: fill(**kw)

        def limited():
            before = torch.get_num_threads()
            torch.set_num_threads(threads)
            try:
                fill(**kw)
            finally:
                torch.set_num_threads(before)
        return limited
    return factory


# name -> factory
FILL_CASES = {
    "fastinit_normal": _fi("normal"),
    "fastinit_normal_1thread": _fi_single_thread("normal"),
    "fastinit_uniform": _fi("uniform"),
    "fastinit_truncated_normal": _fi("truncated_normal"),
    "fastinit_normal_f64": _fi("normal", dtype=np.float64),
    "ndarray_fill": _ndarray_fill,
    "numpy_pcg64_standard_normal": _numpy_normal,
    "torch_normal_": _torch_case("normal_"),
    "torch_normal_1thread": _torch_case("normal_", threads=1),
    "torch_uniform_": _torch_case("uniform_"),
    "torch_trunc_normal_": _torch_case("trunc_normal_"),
    "torch_normal_f64": _torch_case("normal_", dtype="float64"),
}

# (label, fastinit case, baseline case): "speedup" = baseline time / fastinit time
FILL_RATIOS = [
    ("normal vs torch normal_", "fastinit_normal", "torch_normal_"),
    ("normal vs NumPy PCG64 standard_normal", "fastinit_normal", "numpy_pcg64_standard_normal"),
    ("normal throughput / ndarray.fill", "fastinit_normal", "ndarray_fill"),
    ("normal 1 thread vs torch normal_ 1 thread", "fastinit_normal_1thread", "torch_normal_1thread"),
    ("uniform throughput / ndarray.fill", "fastinit_uniform", "ndarray_fill"),
    ("uniform vs torch uniform_", "fastinit_uniform", "torch_uniform_"),
    ("truncated normal vs torch trunc_normal_", "fastinit_truncated_normal", "torch_trunc_normal_"),
    ("float64 normal vs torch float64 normal_", "fastinit_normal_f64", "torch_normal_f64"),
]


def best_time(run, repeat):
    """Minimum wall time of `repeat` calls after one warm-up call (first-touch page faults excluded)."""
    run()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return best


def ratio_table(times, ratios=FILL_RATIOS):
    """Rows (label, speedup or None) from a {case: seconds} mapping."""
    return [(label, times[base] / times[fast] if fast in times and base in times else None)
            for label, fast, base in ratios]


# ------------------------------------------------------------------------------------------ simulation

def sim_case(depth, width, batch, **kw):
    def factory(n=None):
        return lambda: fi.simulate(depth=depth, width=width, batch=batch, activation="tanh", init="xavier_normal",
                                   bins=50, **kw)
    return factory


_NUMPY_ACTS = {"tanh": np.tanh, "relu": lambda x: np.maximum(x, 0)}


def numpy_network(depth, width, batch, activation="tanh", std=None):
    """The straightforward NumPy experiment: per layer draw W ~ N(0, std^2) (default Xavier's 2 / (fan_in +
    fan_out)), H = act(H W^T), record mean, std and a 50-bin histogram of H ([-1, 1] for tanh, else the layer's
    [min, max]). Returns the per-layer (mean, std, counts)."""
    act = _NUMPY_ACTS[activation]
    std = np.float32(np.sqrt(2.0 / (2 * width)) if std is None else std)
    rng = np.random.default_rng(0)
    h = rng.standard_normal((batch, width), dtype=np.float32)
    stats = []
    for _ in range(depth):
        w = rng.standard_normal((width, width), dtype=np.float32) * std
        h = act(h @ w.T)
        lo, hi = (-1.0, 1.0) if activation == "tanh" else (float(h.min()), float(h.max()))
        if not hi - lo > 1e-30 * max(1.0, abs(hi)):   # np.histogram refuses ranges of subnormal width
            lo, hi = lo - 0.5, hi + 0.5
        stats.append((h.mean(), h.std(), np.histogram(h, bins=50, range=(lo, hi))[0]))
    return stats


def _numpy_loop(depth, width, batch):
    def factory(n=None):
        return lambda: numpy_network(depth, width, batch)
    return factory


def _torch_loop(depth, width, batch):
    """The same loop in PyTorch (CPU, all threads): xavier_normal_, tanh, mean, std, histc."""
    def factory(n=None):
        torch = torch_or_none()
        if torch is None:
            return None

        def run():
            torch.manual_seed(0)
            with torch.no_grad():
                h = torch.randn(batch, width)
                stats = []
                for _ in range(depth):
                    w = torch.nn.init.xavier_normal_(torch.empty(width, width))
                    h = torch.tanh(h @ w.T)
                    stats.append((h.mean().item(), h.std().item(), torch.histc(h, bins=50, min=-1, max=1)))
            return stats
        return run
    return factory


def bare_matmuls(depth, width, batch):
    """Only the matrix products of the simulation: numpy.matmul into preallocated outputs, weights made ahead."""
    def factory(n=None):
        rng = np.random.default_rng(0)
        x = rng.standard_normal((batch, width), dtype=np.float32)
        ws = [rng.standard_normal((width, width), dtype=np.float32) * np.float32(width ** -0.5) for _ in range(depth)]
        outs = [np.empty((batch, width), np.float32) for _ in range(depth)]

        def run():
            h = x
            for w, out in zip(ws, outs):
                h = np.matmul(h, w.T, out=out)
        return run
    return factory


SIM_CASES = {
    "fastinit_simulate_d10_w500": sim_case(10, 500, 1000),
    "numpy_loop_d10_w500": _numpy_loop(10, 500, 1000),
    "torch_loop_d10_w500": _torch_loop(10, 500, 1000),
    "bare_matmuls_d10_w500": bare_matmuls(10, 500, 1000),
}
SIM_RATIOS = [
    ("simulate d10 w500 b1000 vs NumPy loop", "fastinit_simulate_d10_w500", "numpy_loop_d10_w500"),
    ("simulate d10 w500 b1000 vs PyTorch loop", "fastinit_simulate_d10_w500", "torch_loop_d10_w500"),
    # the ceiling: a loop that did nothing but the products would be this much faster than the NumPy loop
    ("bare matmuls d10 w500 b1000 vs NumPy loop (ceiling)", "bare_matmuls_d10_w500", "numpy_loop_d10_w500"),
    ("bare matmuls d10 w500 b1000 vs PyTorch loop (ceiling)", "bare_matmuls_d10_w500", "torch_loop_d10_w500"),
]


def _bar_kind(label):
    """'ceiling' (the bare matrix products: not fastinit), 'floor' (a fill's throughput as a fraction of
    ndarray.fill's, the memory-write floor: at most about 1x by nature, not a slowdown) or 'measured'."""
    return "ceiling" if "ceiling" in label else "floor" if "/ ndarray.fill" in label else "measured"


def _ceilings_below(rows):
    """Labels of ceiling rows under the measured speedup against the same baseline: a noisy run (a quick one)
    can time the bare products slower than the whole simulation, which cannot be."""
    measured = {label.split(" vs ")[-1]: v for label, v in rows if _bar_kind(label) == "measured" and " vs " in label}
    return {label for label, v in rows if _bar_kind(label) == "ceiling"
            and v < measured.get(label.split(" vs ")[-1].replace(" (ceiling)", ""), 0)}


def plot_bench(rows, path=None, title=""):
    """Horizontal bars of the speedups of ``fastinit bench`` (rows: (label, speedup or None)), on a log scale with
    1x (as fast as the baseline) marked. Throughput rows against ndarray.fill (the speed of writing memory: 1x is
    the floor, so they sit under it by nature) are green and say "of the floor"; the ceiling rows (what the bare
    matrix products alone would give) are grey and hatched, apart from the measurements, and marked when a noisy
    run timed one under its measurement. Saves to path when given; returns the figure."""
    from matplotlib.patches import Patch

    from ..experiment._plotting import FONT, finish, pyplot

    plt = pyplot()
    rows = [r for r in rows if r[1] is not None]
    fig, ax = plt.subplots(figsize=(8.5, 0.42 * len(rows) + 1.6))
    y = np.arange(len(rows))[::-1]
    kinds = [_bar_kind(label) for label, _ in rows]
    colours = {"measured": "C0", "floor": "C2", "ceiling": "0.75"}
    ax.barh(y, [r[1] for r in rows], color=[colours[k] for k in kinds], hatch=None, edgecolor="none")
    noisy = _ceilings_below(rows)
    for yi, (label, speedup), kind in zip(y, rows, kinds):
        if kind == "ceiling":
            ax.barh([yi], [speedup], color="none", edgecolor="0.45", hatch="///", lw=0)
        note = {"floor": " of the floor", "ceiling": " (under the measured: a noisy run)" if label in noisy else ""}
        ax.text(speedup * 1.03, yi, f"{speedup:.2f}x{note.get(kind, '')}", va="center", fontsize=FONT)
    ax.set_yticks(y, [r[0] for r in rows], fontsize=FONT)
    ax.set_xscale("log")
    ax.axvline(1.0, color="k", lw=0.9, ls=":")
    ax.set_xlim(right=max(r[1] for r in rows) * 2.2)
    ax.set_xlabel("speedup = baseline time / fastinit time (log scale; dotted: 1x, as fast as the baseline)",
                  fontsize=FONT)
    ax.tick_params(which="both", labelsize=FONT - 1)
    handles = [Patch(color="C0", label="fastinit, measured")]
    if "floor" in kinds:
        handles.append(Patch(color="C2", label="throughput as a fraction of ndarray.fill (writing memory: the floor)"))
    handles.append(Patch(facecolor="0.75", edgecolor="0.45", hatch="///",
                         label="ceiling: the matrix products alone, not fastinit"))
    ax.legend(handles=handles, fontsize=FONT, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2,
              frameon=False)
    ax.set_title(title, fontsize=FONT + 1)
    return finish(plt, fig, path)
