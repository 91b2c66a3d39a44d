"""Fill benchmarks (issue: sampling core): fastinit against ndarray.fill, NumPy PCG64 and PyTorch, 2**26 float32.

    python -m pytest bench/test_bench_fill.py --benchmark-json=bench/fill.json
    python bench/report.py bench/fill.json

Targets are budgets stated as ratios in fastinit._bench.FILL_RATIOS; report.py prints them beside the measured
speedups. Timed work only: buffers are allocated (and first touched) before timing.
"""
import pytest

from fastinit import _bench


@pytest.mark.parametrize("case", list(_bench.FILL_CASES))
def test_fill(benchmark, time_case, fill_elements, case):
    benchmark.extra_info["elements"] = fill_elements
    time_case(_bench.FILL_CASES[case](fill_elements), "fill")
