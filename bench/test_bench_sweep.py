"""Sweep benchmark (issue: sweeps): a 1000-configuration grid (depth 2..98 step 4, widths 64..1024, 4 inits,
2 activations, batch 256) through fi.sweep on the local pool, against the NumPy loop of the simulation benchmark
over the same grid. One round each (minutes).

fi.sweep shares each depth series (the same width, activation, init and seed at 25 depths) as one simulation of
the deepest network, which gives the same rows bit for bit (tests/test_sweep.py); test_sweep_fastinit_per_config
runs one simulation per configuration instead, as the NumPy loop does.

    python -m pytest bench/test_bench_sweep.py --benchmark-json=bench/sweep.json
    python bench/report.py bench/sweep.json
"""
import cases

import fastinit as fi


def test_sweep_fastinit(benchmark):
    res = benchmark.pedantic(lambda: fi.sweep(**cases.SWEEP_GRID, progress=False), rounds=1, iterations=1)
    assert len(res) == 1000 and not res.failed
    benchmark.extra_info["configurations"] = len(res)
    benchmark.extra_info["configurations_per_s"] = len(res) / benchmark.stats.stats.min


def test_sweep_fastinit_per_config(benchmark):
    res = benchmark.pedantic(lambda: fi.sweep(**cases.SWEEP_GRID, progress=False, share_prefixes=False), rounds=1,
                             iterations=1)
    assert len(res) == 1000 and not res.failed
    benchmark.extra_info["configurations_per_s_one_simulation_each"] = len(res) / benchmark.stats.stats.min


def test_sweep_numpy_loop(benchmark):
    rows = benchmark.pedantic(lambda: cases.numpy_sweep(cases.SWEEP_GRID), rounds=1, iterations=1)
    assert len(rows) == 1000


def test_sweep_bare_matmuls(benchmark):
    benchmark.pedantic(lambda: cases.bare_matmul_sweep(cases.SWEEP_GRID), rounds=1, iterations=1)
