"""fastinit: fast, reproducible weight initialization from a counter-based generator (Philox4x32-10).

    import fastinit as fi
    w = fi.normal((4096, 4096), std=0.02, seed=0)          # float32, identical for every thread count
    g = fi.Generator(seed=1234); x = g.truncated_normal(10**6, low=-2, high=2)
"""
from importlib.metadata import PackageNotFoundError, version as _version

from .generator import (
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

try:
    __version__ = _version("fastinit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["Generator", "default_generator", "get_num_threads", "manual_seed", "normal", "philox4x32",
           "set_num_threads", "truncated_normal", "uniform", "__version__"]
