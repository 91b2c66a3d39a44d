"""Files users keep name public homes only: a pickled Generator (and result) and a saved Keras model, both written
before the package's modules moved into sub-packages (tests/data, made by ``python tests/test_saved_homes.py``),
still load and carry on with the same numbers. A pickle stores the class's ``__module__``; Keras stores it too."""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import fastinit as fi

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
PICKLE = os.path.join(DATA, "generator_and_result.pkl")
KERAS = os.path.join(DATA, "dense_fastinit.keras")


def _objects():
    g = fi.Generator(seed=2024)
    g.normal(10)   # a used generator: the pickle keeps its position
    return g, fi.simulate(depth=2, width=8, batch=4, seed=0)


def _keras_model():
    import keras

    from fastinit import initializers as I

    return keras.Sequential([
        keras.Input((6,)),
        keras.layers.Dense(5, kernel_initializer=I.GlorotNormal(seed=1), bias_initializer=I.Constant(0.25)),
        keras.layers.Dense(3, kernel_initializer=I.VarianceScaling(2.0, "fan_out", "uniform", seed=3)),
    ])


def write(directory=DATA):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, os.path.basename(PICKLE)), "wb") as f:
        pickle.dump(_objects(), f, protocol=4)
    _keras_model().save(os.path.join(directory, os.path.basename(KERAS)))


def test_public_classes_report_public_homes():
    for cls in (fi.Generator, fi.SimulationResult, fi.SweepResult, fi.TrainResult, fi.ProbeResult, fi.ProbeResults):
        assert cls.__module__ == "fastinit", cls
    assert b"fastinit\n" in pickle.dumps(fi.Generator(1), protocol=0) or \
        b"\x8c\x08fastinit\x94" in pickle.dumps(fi.Generator(1))


def test_a_pickle_written_before_the_move_loads():
    with open(PICKLE, "rb") as f:
        raw = f.read()
    assert b"fastinit.generator" not in raw and b"fastinit.simulation" not in raw
    g, result = pickle.loads(raw)
    fresh_g, fresh_result = _objects()
    assert type(g) is fi.Generator and g.next_stream == fresh_g.next_stream == 1
    np.testing.assert_array_equal(g.normal(16), fresh_g.normal(16))
    assert type(result) is fi.SimulationResult
    np.testing.assert_array_equal(result.layers["h_std"], fresh_result.layers["h_std"])


def test_a_keras_model_saved_before_the_move_loads():
    keras = pytest.importorskip("keras")
    from fastinit import initializers as I

    loaded = keras.saving.load_model(KERAS)
    first, second = (layer for layer in loaded.layers if isinstance(layer, keras.layers.Dense))
    assert type(first.kernel_initializer) is I.GlorotNormal and type(first.bias_initializer) is I.Constant
    assert type(second.kernel_initializer) is I.VarianceScaling
    assert second.kernel_initializer.get_config()["mode"] == "fan_out"
    fresh = _keras_model()
    for a, b in zip(loaded.weights, fresh.weights):   # the saved weights are the seeds' draws
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))


@pytest.mark.parametrize("order", ["keras first", "fastinit first"])
def test_a_saved_model_loads_in_a_fresh_process(order):
    """Keras looks a saved fastinit>GlorotNormal up among registered classes only, and quietly built its own
    GlorotNormal where fastinit's was not made yet (a fresh process that imported fastinit.initializers and loaded)."""
    pytest.importorskip("keras")
    imports = ["import keras", "from fastinit import initializers as I"]
    code = "; ".join(imports if order == "keras first" else imports[::-1]) + (
        f"; m = keras.saving.load_model({KERAS!r}); k = m.layers[0].kernel_initializer"
        "; print(type(k).__module__, type(k).__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, KERAS_BACKEND=os.environ.get("KERAS_BACKEND", "jax")))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-2:] == ["fastinit.initializers", "GlorotNormal"]


if __name__ == "__main__":
    write(sys.argv[1] if len(sys.argv) > 1 else DATA)
