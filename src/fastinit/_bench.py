"""Benchmark cases shared by ``fastinit bench`` and the pytest-benchmark suite in bench/.

A case is a name and a factory: factory(n) returns a zero-argument callable that does the timed work on
preallocated buffers (allocation is not timed), or None when a needed package (torch) is missing.
Ratios compare cases from the same run: a fastinit case against its baseline.
"""
import time

import numpy as np

import fastinit as fi


def _torch():
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
        torch = _torch()
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

# (label, fastinit case, baseline case, "speedup" = baseline time / fastinit time, target)
FILL_RATIOS = [
    ("normal vs torch normal_", "fastinit_normal", "torch_normal_", 8.0),
    ("normal vs NumPy PCG64 standard_normal", "fastinit_normal", "numpy_pcg64_standard_normal", 20.0),
    ("normal throughput / ndarray.fill", "fastinit_normal", "ndarray_fill", 0.55),
    ("normal 1 thread vs torch normal_ 1 thread", "fastinit_normal_1thread", "torch_normal_1thread", 4.0),
    ("uniform throughput / ndarray.fill", "fastinit_uniform", "ndarray_fill", 0.80),
    ("uniform vs torch uniform_", "fastinit_uniform", "torch_uniform_", None),
    ("truncated normal vs torch trunc_normal_", "fastinit_truncated_normal", "torch_trunc_normal_", 50.0),
    ("float64 normal vs torch float64 normal_", "fastinit_normal_f64", "torch_normal_f64", 4.0),
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
    """Rows (label, speedup or None, target) from a {case: seconds} mapping."""
    rows = []
    for label, fast, base, target in ratios:
        if fast in times and base in times:
            rows.append((label, times[base] / times[fast], target))
        else:
            rows.append((label, None, target))
    return rows


# ------------------------------------------------------------------------------------------ initializers

def _fi_init(name, shape, **kw):
    def factory(n=None):
        from fastinit import init

        torch = _torch()
        t = torch.empty(shape) if torch is not None else np.empty(shape, np.float32)
        fn = getattr(init, name)
        gen = fi.Generator(0)
        return lambda: fn(t, generator=gen, **kw)
    return factory


def _torch_init(name, shape, **kw):
    def factory(n=None):
        torch = _torch()
        if torch is None:
            return None
        t = torch.empty(shape)
        fn = getattr(torch.nn.init, name)
        return lambda: fn(t, **kw)
    return factory


def big_model(torch, layers=16, width=8192):
    """layers x Linear(width, width): 16 x 8192^2 = 1.07e9 float32 parameters, made on the meta device and
    given (uninitialized) CPU storage with to_empty, the way large models are materialized."""
    with torch.device("meta"):
        model = torch.nn.Sequential(*[torch.nn.Linear(width, width) for _ in range(layers)])
    return model.to_empty(device="cpu")


_BIG = {}


def _model_case(which):
    def factory(n=None):
        torch = _torch()
        if torch is None:
            return None
        if "model" not in _BIG:
            _BIG["model"] = big_model(torch)
        model = _BIG["model"]
        if which == "fastinit":
            from fastinit import init

            gen = fi.Generator(0)
            return lambda: init.init_module(model, generator=gen)

        def reset():
            with torch.no_grad():
                for m in model.modules():
                    if m is not model and hasattr(m, "reset_parameters"):
                        m.reset_parameters()
        return reset
    return factory


def _small_calls(which, name, shape, calls=1000):
    """calls x one initializer on a small tensor (a bias, a small layer): the per-call cost of the Python layers,
    which is what a model with many small parameters pays."""
    def factory(n=None):
        torch = _torch()
        if torch is None:
            return None
        t = torch.empty(shape)
        if which == "fastinit":
            from fastinit import init

            gen = fi.Generator(0)
            fn = getattr(init, name)

            def run():
                for _ in range(calls):
                    fn(t, generator=gen)
        else:
            fn = getattr(torch.nn.init, name)

            def run():
                for _ in range(calls):
                    fn(t)
        return run
    return factory


S4096 = (4096, 4096)
INIT_CASES = {
    "fastinit_kaiming_normal_": _fi_init("kaiming_normal_", S4096),
    "torch_kaiming_normal_": _torch_init("kaiming_normal_", S4096),
    "fastinit_xavier_uniform_": _fi_init("xavier_uniform_", S4096),
    "torch_xavier_uniform_": _torch_init("xavier_uniform_", S4096),
    "fastinit_trunc_normal_": _fi_init("trunc_normal_", S4096),
    "torch_trunc_normal_4096": _torch_init("trunc_normal_", S4096),
    "fastinit_trunc_normal_std002": _fi_init("trunc_normal_", S4096, std=0.02),
    "torch_trunc_normal_std002": _torch_init("trunc_normal_", S4096, std=0.02),
    "fastinit_orthogonal_1024": _fi_init("orthogonal_", (1024, 1024)),
    "torch_orthogonal_1024": _torch_init("orthogonal_", (1024, 1024)),
    "fastinit_uniform_256_x1000": _small_calls("fastinit", "uniform_", (256,)),
    "torch_uniform_256_x1000": _small_calls("torch", "uniform_", (256,)),
    "fastinit_xavier_uniform_64x64_x1000": _small_calls("fastinit", "xavier_uniform_", (64, 64)),
    "torch_xavier_uniform_64x64_x1000": _small_calls("torch", "xavier_uniform_", (64, 64)),
}
MODEL_CASES = {
    "fastinit_init_module_1e9": _model_case("fastinit"),
    "torch_reset_parameters_1e9": _model_case("torch"),
}
INIT_RATIOS = [
    ("kaiming_normal_ 4096^2 vs torch", "fastinit_kaiming_normal_", "torch_kaiming_normal_", 8.0),
    ("xavier_uniform_ 4096^2 vs torch", "fastinit_xavier_uniform_", "torch_xavier_uniform_", 8.0),
    ("trunc_normal_ 4096^2 vs torch (defaults: std 1, [-2, 2])", "fastinit_trunc_normal_", "torch_trunc_normal_4096", 50.0),
    ("trunc_normal_ 4096^2 std=0.02 vs torch", "fastinit_trunc_normal_std002", "torch_trunc_normal_std002", None),
    ("orthogonal_ 1024^2 vs torch", "fastinit_orthogonal_1024", "torch_orthogonal_1024", 1.0),
    ("1000 x uniform_ on a (256,) tensor vs torch", "fastinit_uniform_256_x1000", "torch_uniform_256_x1000", None),
    ("1000 x xavier_uniform_ on 64x64 vs torch", "fastinit_xavier_uniform_64x64_x1000",
     "torch_xavier_uniform_64x64_x1000", None),
    ("init_module 1.07e9 params vs reset_parameters", "fastinit_init_module_1e9", "torch_reset_parameters_1e9", 6.0),
]


# ------------------------------------------------------------------------------------------ simulation

def _sim_case(depth, width, batch, **kw):
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
        torch = _torch()
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


def _bare_matmuls(depth, width, batch):
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
    "fastinit_simulate_d10_w500": _sim_case(10, 500, 1000),
    "numpy_loop_d10_w500": _numpy_loop(10, 500, 1000),
    "torch_loop_d10_w500": _torch_loop(10, 500, 1000),
    "bare_matmuls_d10_w500": _bare_matmuls(10, 500, 1000),
    "fastinit_simulate_d10_w2048": _sim_case(10, 2048, 1024),
    "bare_matmuls_d10_w2048": _bare_matmuls(10, 2048, 1024),
    "fastinit_simulate_d10_w2048_backward": _sim_case(10, 2048, 1024, backward=True),
}
# time ratios whose targets are upper bounds are reported as slowdowns ("x the baseline", lower is better)
SIM_RATIOS = [
    ("simulate d10 w500 b1000 vs NumPy loop", "fastinit_simulate_d10_w500", "numpy_loop_d10_w500", 5.0),
    ("simulate d10 w500 b1000 vs PyTorch loop", "fastinit_simulate_d10_w500", "torch_loop_d10_w500", 3.0),
    # the ceiling: a loop that did nothing but the products would be this much faster than the NumPy loop
    ("bare matmuls d10 w500 b1000 vs NumPy loop (ceiling)", "bare_matmuls_d10_w500", "numpy_loop_d10_w500", None),
    ("bare matmuls d10 w500 b1000 vs PyTorch loop (ceiling)", "bare_matmuls_d10_w500", "torch_loop_d10_w500", None),
]
SWEEP_RATIOS = [("sweep 1000 configs vs the NumPy loop", "test_sweep_fastinit", "test_sweep_numpy_loop", 5.0),
                ("sweep, one simulation per configuration, vs the NumPy loop", "test_sweep_fastinit_per_config",
                 "test_sweep_numpy_loop", None),
                ("bare matmuls of the grid vs the NumPy loop (ceiling)", "test_sweep_bare_matmuls",
                 "test_sweep_numpy_loop", None)]
SIM_SLOWDOWNS = [
    ("simulate d10 w500 b1000 / bare matmuls", "fastinit_simulate_d10_w500", "bare_matmuls_d10_w500", None),
    ("simulate d10 w2048 b1024 / bare matmuls", "fastinit_simulate_d10_w2048", "bare_matmuls_d10_w2048", 1.15),
    ("backward / forward-only (d10 w2048 b1024)", "fastinit_simulate_d10_w2048_backward",
     "fastinit_simulate_d10_w2048", 3.3),
]


def slowdown_table(times, slowdowns=SIM_SLOWDOWNS):
    """Rows (label, time / baseline time or None, upper bound or None)."""
    return [(label, times[slow] / times[base] if slow in times and base in times else None, bound)
            for label, slow, base, bound in slowdowns]


def peak_memory(depth, width=500, batch=1000):
    """Peak bytes NumPy allocates during a forward-only simulate (tracemalloc sees NumPy's buffers)."""
    import tracemalloc

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fi.simulate(depth=depth, width=width, batch=batch)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# ------------------------------------------------------------------------------------------ sweeps

SWEEP_GRID = dict(depth=list(range(2, 101, 4)), width=[64, 128, 256, 512, 1024], activation=["tanh", "relu"],
                  init=["xavier_normal", "he_normal", "lecun_normal", "small_normal"], batch=256)   # 1000 configs
_NUMPY_STD = {"xavier_normal": lambda w: (2.0 / (2 * w)) ** 0.5, "he_normal": lambda w: (2.0 / w) ** 0.5,
              "lecun_normal": lambda w: (1.0 / w) ** 0.5, "small_normal": lambda w: 0.01}


def numpy_sweep(grid):
    """The same grid with the straightforward NumPy loop of the simulation benchmark (one config after another,
    NumPy's BLAS threads): weights drawn per layer, activation, mean / std / 50-bin histogram of H."""
    import itertools

    return [numpy_network(depth, width, grid["batch"], act, _NUMPY_STD[init](width))[-1][1]
            for depth, width, act, init in itertools.product(grid["depth"], grid["width"], grid["activation"],
                                                             grid["init"])]


def bare_matmul_sweep(grid):
    """Only the matrix products of the grid (numpy.matmul into a preallocated output, one weight per config reused
    for every layer): the floor under any engine that computes the same products."""
    import itertools

    for depth, width, _, _ in itertools.product(grid["depth"], grid["width"], grid["activation"], grid["init"]):
        rng = np.random.default_rng(0)
        h = rng.standard_normal((grid["batch"], width), dtype=np.float32)
        w = rng.standard_normal((width, width), dtype=np.float32) * np.float32(width ** -0.5)
        out = [np.empty_like(h), np.empty_like(h)]
        for layer in range(depth):
            h = np.matmul(h, w.T, out=out[layer % 2])
