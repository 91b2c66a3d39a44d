import pytest


def pytest_addoption(parser):
    parser.addoption("--fill-elements", type=int, default=1 << 26, help="elements per fill benchmark (2**26)")


@pytest.fixture(scope="session")
def fill_elements(request):
    return request.config.getoption("--fill-elements")


@pytest.fixture
def time_case(benchmark):
    """time_case(run, group, rounds=7, warmup_rounds=1): one untimed call first (page faults of the first touch
    and lazy set-up are not part of the work), then the timed rounds; run None (torch missing) skips."""
    def run_case(run, group, rounds=7, warmup_rounds=1):
        if run is None:
            pytest.skip("torch is not installed")
        run()
        benchmark.group = group
        benchmark.pedantic(run, rounds=rounds, iterations=1, warmup_rounds=warmup_rounds)
    return run_case
