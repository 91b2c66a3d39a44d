"""fastinit: fast, reproducible weight initialization from a counter-based generator (Philox4x32-10).

    import fastinit as fi
    w = fi.normal((4096, 4096), std=0.02, seed=0)          # float32, identical for every thread count
    g = fi.Generator(seed=1234); x = g.truncated_normal(10**6, low=-2, high=2)
"""
import os as _os
from importlib.metadata import PackageNotFoundError as _PackageNotFoundError, version as _version

# The OpenMP runtime reads OMP_WAIT_POLICY once, when the C core loads it. Passive: our fill threads sleep between
# parallel regions instead of spinning, so the BLAS threads of the simulation's matrix products get the cores
# (spinning cost 30% there). Set only for that load and only if the user has not chosen: other OpenMP libraries
# loaded later (PyTorch's) keep their defaults.
_wait_policy_unset = "OMP_WAIT_POLICY" not in _os.environ
if _wait_policy_unset:
    _os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
try:
    from . import _core  # noqa: E402,F401
finally:
    if _wait_policy_unset:
        del _os.environ["OMP_WAIT_POLICY"]

# The four parts (docs/contributing.md): the random stream, what the initializer doors share, the experiment, the
# command line; the doors fastinit.init (torch), fastinit.initializers (Keras, JAX), fastinit.torch (fast_init).
from . import init, random  # noqa: E402
from .experiment import (  # noqa: E402
    CoordCheckResult,
    Monitor,
    MonitorResult,
    ProbeResult,
    ProbeResults,
    SimulationResult,
    SweepResult,
    TrainResult,
    coord_check,
    monitor,
    normalize,
    plot_training,
    probe,
    simulate,
    sweep,
    theory,
    train,
)
from .nn import schemes  # noqa: E402
from .random import (  # noqa: E402
    Generator,
    default_generator,
    get_num_threads,
    manual_seed,
    normal,
    philox4x32,
    set_num_threads,
    truncated_normal,
    uniform,
)

# Public classes report the package as their home: a pickle names the class by module and name, so one written
# today must load after the modules inside the package move (numpy pins numpy.random.Generator the same way).
for _cls in (Generator, CoordCheckResult, Monitor, MonitorResult, ProbeResult, ProbeResults, SimulationResult,
             SweepResult, TrainResult):
    _cls.__module__ = __name__
del _cls


def __getattr__(name):
    # fast_init needs torch, which fastinit does not: imported on first use (fastinit.torch)
    if name == "fast_init":
        from .torch import fast_init

        return fast_init
    if name == "initializers":   # the Keras / JAX door: imported on first use (it imports neither)
        import importlib

        return importlib.import_module(".initializers", __name__)
    raise AttributeError(f"module 'fastinit' has no attribute {name!r}")


def __dir__():
    # the lazy names too (fast_init, and the submodule torch that holds it), so dir() and help() list them
    return sorted(set(globals()) | {"fast_init", "torch", "initializers"})


DISTRIBUTION = "fastinit-philox"   # what pip installs (the import name is fastinit)

try:
    __version__ = _version(DISTRIBUTION)
except _PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["Generator", "default_generator", "get_num_threads", "manual_seed", "normal", "philox4x32",
           "set_num_threads", "truncated_normal", "uniform", "simulate", "normalize", "SimulationResult", "sweep",
           "SweepResult", "train", "TrainResult", "plot_training", "theory", "fast_init", "probe", "ProbeResult",
           "ProbeResults", "monitor", "Monitor", "MonitorResult", "coord_check", "CoordCheckResult", "schemes", "init",
           "random", "DISTRIBUTION", "__version__"]
