"""Initializer benchmarks (issue: drop-in initializers): fastinit.init against torch.nn.init on 4096x4096 float32,
orthogonal_ on 1024x1024, and init_module against reset_parameters on a 1.07e9-parameter model (4.3 GB).

    python -m pytest bench/test_bench_init.py --benchmark-json=bench/init.json
    python bench/report.py bench/init.json
"""
import pytest

from fastinit import _bench


@pytest.mark.parametrize("case", list(_bench.INIT_CASES))
def test_init(benchmark, case):
    run = _bench.INIT_CASES[case]()
    if run is None:
        pytest.skip("torch is not installed")
    run()
    benchmark.group = "init"
    benchmark.pedantic(run, rounds=7, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("case", list(_bench.MODEL_CASES))
def test_init_module(benchmark, case):
    run = _bench.MODEL_CASES[case]()
    if run is None:
        pytest.skip("torch is not installed")
    run()
    benchmark.group = "init_module"
    benchmark.pedantic(run, rounds=3, iterations=1)
