"""The seeds' claims on real torch models trained under fi.monitor (bench/seeds_torch.py, whose full run makes the
figure and table of docs/training.md): on digits, N(0, 0.01^2) collapses a 10-layer tanh MLP's signal and leaves it
at chance, N(0, 1) saturates it, Xavier trains it, and LSUV or batch norm rescue the small init; with ReLU, N(0, 1)
explodes and He trains."""
import importlib.util
import os

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench", "seeds_torch.py")
pytestmark = pytest.mark.skipif(not os.path.exists(SCRIPT), reason="bench/ is not beside these tests")


@pytest.fixture(scope="module")
def results():
    spec = importlib.util.spec_from_file_location("seeds_torch", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    data = bench.digits()
    return {(a, i): bench.run(a, i, data, steps=150) for a in bench.NETS for i in bench.INITS}


def last_layer_at_start(res):
    return [r for r in res.rows if r["step"] == 0][-1]


def test_tanh(results):
    small, large, xavier, lsuv, bn = (results[("tanh", i)] for i in (
        "N(0, 0.01^2)", "N(0, 1)", "Xavier / He", "LSUV", "N(0, 0.01^2) + BN"))
    assert last_layer_at_start(small[1])["std"] < 1e-6            # the collapse: ~0.1x a layer
    assert last_layer_at_start(large[1])["saturated_frac"] > 0.6  # the saturation
    assert last_layer_at_start(xavier[1])["saturated_frac"] < 0.05 and 0.05 < last_layer_at_start(xavier[1])["std"]
    assert small[0] < 0.2                                         # chance is 0.1: it does not learn
    assert xavier[0] > 0.85 and lsuv[0] > 0.85 and bn[0] > 0.85   # the healthy init and the two rescues
    assert large[0] < xavier[0] - 0.2


def test_relu(results):
    small, large, he = (results[("relu", i)] for i in ("N(0, 0.01^2)", "N(0, 1)", "Xavier / He"))
    assert last_layer_at_start(large[1])["std"] > 1e3 and last_layer_at_start(small[1])["std"] < 1e-4
    assert he[0] > 0.85 and small[0] < 0.2 and results[("relu", "LSUV")][0] > 0.85
