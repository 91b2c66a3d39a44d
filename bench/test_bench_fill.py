"""Fill benchmarks (issue: sampling core): fastinit against ndarray.fill, NumPy PCG64 and PyTorch, 2**26 float32.

    python -m pytest bench/test_bench_fill.py --benchmark-json=bench/fill.json
    python bench/report.py bench/fill.json

Targets are budgets stated as ratios in fastinit.cases.FILL_RATIOS; report.py prints them beside the measured
speedups. Timed work only: buffers are allocated (and first touched) before timing.
"""
import cases
import pytest


@pytest.mark.parametrize("case", list(cases.FILL_CASES))
def test_fill(benchmark, time_case, fill_elements, case):
    benchmark.extra_info["elements"] = fill_elements
    time_case(cases.FILL_CASES[case](fill_elements), "fill")
