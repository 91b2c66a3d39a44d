"""The benchmark suite's cases and targets (bench/test_bench_*.py, bench/report.py): what ``fastinit bench``
runs (fastinit._bench), and the initializer, large-model, simulation and sweep cases on top, with the target of
every comparison.

A case is a name and a factory: factory(n) returns a zero-argument callable that does the timed work, or None
when torch is missing.
"""
import itertools

import numpy as np

import fastinit as fi
from fastinit.cli.bench import (
    FILL_CASES,
    FILL_RATIOS,
    SIM_CASES as _USER_SIM_CASES,
    SIM_RATIOS,
    bare_matmuls,
    numpy_network,
    ratio_table,
    sim_case,
    torch_or_none,
)
from fastinit.nn import schemes

__all__ = ["FILL_CASES", "INIT_CASES", "MODEL_CASES", "SIM_CASES", "RATIOS", "TARGETS", "SIM_SLOWDOWNS",
           "SWEEP_GRID", "ratio_table", "slowdown_table", "numpy_sweep", "bare_matmul_sweep", "peak_memory"]


# ------------------------------------------------------------------------------------------ initializers

def _fi_init(name, shape, **kw):
    def factory(n=None):
        from fastinit import init

        torch = torch_or_none()
        t = torch.empty(shape) if torch is not None else np.empty(shape, np.float32)
        fn = getattr(init, name)
        gen = fi.Generator(0)
        return lambda: fn(t, generator=gen, **kw)
    return factory


def _torch_init(name, shape, **kw):
    def factory(n=None):
        torch = torch_or_none()
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
        torch = torch_or_none()
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
        torch = torch_or_none()
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
    ("kaiming_normal_ 4096^2 vs torch", "fastinit_kaiming_normal_", "torch_kaiming_normal_"),
    ("xavier_uniform_ 4096^2 vs torch", "fastinit_xavier_uniform_", "torch_xavier_uniform_"),
    ("trunc_normal_ 4096^2 vs torch (defaults: std 1, [-2, 2])", "fastinit_trunc_normal_", "torch_trunc_normal_4096"),
    ("trunc_normal_ 4096^2 std=0.02 vs torch", "fastinit_trunc_normal_std002", "torch_trunc_normal_std002"),
    ("orthogonal_ 1024^2 vs torch", "fastinit_orthogonal_1024", "torch_orthogonal_1024"),
    ("1000 x uniform_ on a (256,) tensor vs torch", "fastinit_uniform_256_x1000", "torch_uniform_256_x1000"),
    ("1000 x xavier_uniform_ on 64x64 vs torch", "fastinit_xavier_uniform_64x64_x1000",
     "torch_xavier_uniform_64x64_x1000"),
    ("init_module 1.07e9 params vs reset_parameters", "fastinit_init_module_1e9", "torch_reset_parameters_1e9"),
]


SIM_CASES = {
    **_USER_SIM_CASES,
    "fastinit_simulate_d10_w2048": sim_case(10, 2048, 1024),
    "bare_matmuls_d10_w2048": bare_matmuls(10, 2048, 1024),
    "fastinit_simulate_d10_w2048_backward": sim_case(10, 2048, 1024, backward=True),
}
SWEEP_RATIOS = [("sweep 1000 configs vs the NumPy loop", "test_sweep_fastinit", "test_sweep_numpy_loop"),
                ("sweep, one simulation per configuration, vs the NumPy loop", "test_sweep_fastinit_per_config",
                 "test_sweep_numpy_loop"),
                ("bare matmuls of the grid vs the NumPy loop (ceiling)", "test_sweep_bare_matmuls",
                 "test_sweep_numpy_loop")]
RATIOS = FILL_RATIOS + INIT_RATIOS + SIM_RATIOS + SWEEP_RATIOS

# label -> the target speedup (the issues' budgets; comparisons without one are reported only)
TARGETS = {
    "normal vs torch normal_": 8.0,
    "normal vs NumPy PCG64 standard_normal": 20.0,
    "normal throughput / ndarray.fill": 0.55,
    "normal 1 thread vs torch normal_ 1 thread": 4.0,
    "uniform throughput / ndarray.fill": 0.80,
    "truncated normal vs torch trunc_normal_": 50.0,
    "float64 normal vs torch float64 normal_": 4.0,
    "kaiming_normal_ 4096^2 vs torch": 8.0,
    "xavier_uniform_ 4096^2 vs torch": 8.0,
    "trunc_normal_ 4096^2 vs torch (defaults: std 1, [-2, 2])": 50.0,
    "orthogonal_ 1024^2 vs torch": 1.0,
    "init_module 1.07e9 params vs reset_parameters": 6.0,
    "simulate d10 w500 b1000 vs NumPy loop": 5.0,
    "simulate d10 w500 b1000 vs PyTorch loop": 3.0,
    "sweep 1000 configs vs the NumPy loop": 5.0,
}

# time ratios whose targets are upper bounds are reported as slowdowns ("x the baseline", lower is better)
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


def _numpy_std(init, width):
    """The std of a square layer's weights under a scheme of the scheme table."""
    return schemes.SCHEMES[init].weight_variance(width, width) ** 0.5


def numpy_sweep(grid):
    """The same grid with the straightforward NumPy loop of the simulation benchmark (one config after another,
    NumPy's BLAS threads): weights drawn per layer, activation, mean / std / 50-bin histogram of H."""
    return [numpy_network(depth, width, grid["batch"], act, _numpy_std(init, width))[-1][1]
            for depth, width, act, init in itertools.product(grid["depth"], grid["width"], grid["activation"],
                                                             grid["init"])]


def bare_matmul_sweep(grid):
    """Only the matrix products of the grid (numpy.matmul into a preallocated output, one weight per config reused
    for every layer): the floor under any engine that computes the same products."""
    for depth, width, _, _ in itertools.product(grid["depth"], grid["width"], grid["activation"], grid["init"]):
        rng = np.random.default_rng(0)
        h = rng.standard_normal((grid["batch"], width), dtype=np.float32)
        w = rng.standard_normal((width, width), dtype=np.float32) * np.float32(width ** -0.5)
        out = [np.empty_like(h), np.empty_like(h)]
        for layer in range(depth):
            h = np.matmul(h, w.T, out=out[layer % 2])
