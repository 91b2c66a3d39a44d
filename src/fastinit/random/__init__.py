"""The random stream and where it runs: Philox4x32-10 fills (raw words, uniform, normal, truncated normal) in float32,
float64, float16 and bfloat16, the same numbers on every thread count, SIMD path, machine and world size, from the
C core, the Triton kernels on a GPU or ``jax.numpy`` (the stream format: docs/sampling.md).

    import fastinit.random as fr
    g = fr.Generator(seed=1234)
    w = g.normal((4096, 4096), std=0.02)       # float32, stream 0 of seed 1234
    fr.set_num_threads(8)                      # the same numbers on any count

Salmon, Moraes, Dror and Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC 2011 (Philox4x32-10).
"""
from ._generator import Generator, default_generator, manual_seed, normal, philox4x32, truncated_normal, uniform
from ._threads import get_num_threads, set_num_threads, single_threaded

__all__ = ["Generator", "default_generator", "manual_seed", "normal", "philox4x32", "truncated_normal", "uniform",
           "get_num_threads", "set_num_threads", "single_threaded"]
