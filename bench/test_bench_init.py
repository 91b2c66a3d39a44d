"""Initializer benchmarks (issue: drop-in initializers): fastinit.init against torch.nn.init on 4096x4096 float32,
orthogonal_ on 1024x1024, and init_module against reset_parameters on a 1.07e9-parameter model (4.3 GB).

    python -m pytest bench/test_bench_init.py --benchmark-json=bench/init.json
    python bench/report.py bench/init.json
"""
import cases
import pytest


@pytest.mark.parametrize("case", list(cases.INIT_CASES))
def test_init(time_case, case):
    time_case(cases.INIT_CASES[case](), "init")


@pytest.mark.parametrize("case", list(cases.MODEL_CASES))
def test_init_module(time_case, case):
    time_case(cases.MODEL_CASES[case](), "init_module", rounds=3, warmup_rounds=0)
