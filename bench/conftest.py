import pytest


def pytest_addoption(parser):
    parser.addoption("--fill-elements", type=int, default=1 << 26, help="elements per fill benchmark (2**26)")


@pytest.fixture(scope="session")
def fill_elements(request):
    return request.config.getoption("--fill-elements")
