"""Simulation benchmarks (issue: simulation engine): fi.simulate against a straightforward NumPy loop and the same
loop in PyTorch (depth 10, width 500, batch 1000, tanh, Xavier, mean/std/50-bin histogram per layer), against the
bare matrix products (depth 10, width 2048, batch 1024), backward against forward-only, and peak memory.

    python -m pytest bench/test_bench_sim.py --benchmark-json=bench/sim.json
    python bench/report.py bench/sim.json
"""
import cases
import pytest


@pytest.mark.parametrize("case", list(cases.SIM_CASES))
def test_simulate(time_case, case):
    time_case(cases.SIM_CASES[case](), "simulate")


def test_peak_memory_independent_of_depth(benchmark):
    """Forward-only: weights are drawn layer by layer and dropped, so depth 100 peaks where depth 10 does."""
    peaks = benchmark.pedantic(lambda: {d: cases.peak_memory(d) for d in (10, 100)}, rounds=1, iterations=1)
    benchmark.extra_info.update({f"peak_bytes_depth_{d}": v for d, v in peaks.items()})
    assert peaks[100] <= 1.10 * peaks[10], peaks
