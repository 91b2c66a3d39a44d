"""fastinit.initializers' Keras classes inside Keras 3: 16-bit dtypes, keras.utils.set_random_seed, SeedGenerator
seeds, from_config, and VarianceScaling's distribution names as Keras reads them (backend: tests/conftest.py)."""
import math
import subprocess
import sys

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from fastinit import initializers as I  # noqa: E402

CLASSES = [I.GlorotNormal, I.GlorotUniform, I.HeNormal, I.HeUniform, I.LecunNormal, I.LecunUniform, I.RandomNormal,
           I.RandomUniform, I.TruncatedNormal, I.VarianceScaling, I.Orthogonal]
SEEDLESS = [I.Zeros, I.Ones, I.Constant, I.Identity]


def _numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("cls", CLASSES + SEEDLESS, ids=lambda c: c.__name__)
def test_every_initializer_takes_16_bit_dtypes(cls, dtype):
    init = cls(seed=3) if cls in CLASSES else cls()
    w = init((16, 16), dtype=dtype)
    assert w.dtype.name == dtype and w.shape == (16, 16)
    full = cls(seed=3)((16, 16), dtype="float32") if cls in CLASSES else cls()((16, 16))
    if cls is not I.Orthogonal:   # (orthogonal: computed in float32, then rounded)
        np.testing.assert_array_equal(w.astype(np.float32), full.astype(w.dtype).astype(np.float32))


def test_dense_layer_in_bfloat16():
    layer = keras.layers.Dense(8, kernel_initializer=I.HeNormal(seed=1), dtype="bfloat16")
    layer.build((None, 16))
    assert keras.backend.standardize_dtype(layer.kernel.dtype) == "bfloat16"
    np.testing.assert_array_equal(_numpy(layer.kernel).astype(np.float32),
                                  I.HeNormal(seed=1)((16, 8), "bfloat16").astype(np.float32))


def _build(seed):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((12,)), keras.layers.Dense(16, kernel_initializer=I.GlorotUniform()),
                              keras.layers.Dense(4, kernel_initializer=I.HeNormal(), bias_initializer=I.RandomNormal())])
    return [_numpy(w) for w in model.weights]


def test_unseeded_follow_set_random_seed():
    """As Keras's own: unseeded initializers draw their seed from the state set_random_seed sets."""
    a, b, c = _build(123), _build(123), _build(124)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])


def test_seed_generator():
    """seed=keras.random.SeedGenerator(s): new values at each call, the same sequence from the same s; the state
    (a, b) of a call is seed a << 32 | b."""
    init = I.HeNormal(seed=keras.random.SeedGenerator(42))
    first, second = init((8, 8)), init((8, 8))
    assert not np.array_equal(first, second)
    again = I.HeNormal(seed=keras.random.SeedGenerator(42))
    np.testing.assert_array_equal(again((8, 8)), first)
    np.testing.assert_array_equal(first, I.HeNormal(seed=42 << 32)((8, 8)))   # Keras's first state: (42, 0)
    restored = I.HeNormal.from_config(I.HeNormal(seed=keras.random.SeedGenerator(42)).get_config())
    np.testing.assert_array_equal(restored((8, 8)), first)   # the SeedGenerator's config travels as Keras's
    layer = keras.layers.Dense(4, kernel_initializer=I.GlorotUniform(seed=keras.random.SeedGenerator(7)))
    layer.build((None, 4))
    assert _numpy(layer.kernel).std() > 0


@pytest.mark.parametrize("cls", CLASSES + SEEDLESS, ids=lambda c: c.__name__)
def test_from_config(cls):
    init = cls(seed=5) if cls in CLASSES else cls()
    back = cls.from_config(init.get_config())
    assert type(back) is cls and back.get_config() == init.get_config()
    np.testing.assert_array_equal(back((6, 6)), init((6, 6)))
    via_keras = keras.initializers.deserialize(keras.initializers.serialize(init), custom_objects={cls.__name__: cls})
    np.testing.assert_array_equal(via_keras((6, 6)), init((6, 6)))


def test_variance_scaling_normal_means_truncated_as_in_keras():
    ours = I.VarianceScaling(1.0, "fan_in", "normal", seed=0)
    theirs = keras.initializers.VarianceScaling(1.0, "fan_in", "normal", seed=0)
    assert ours.get_config()["distribution"] == theirs.get_config()["distribution"] == "truncated_normal"
    w = ours((400, 400))
    sigma = math.sqrt(1 / 400)
    assert np.abs(w).max() <= 2 * sigma / I.TRUNCATED_NORMAL_STD_CORRECTION * (1 + 1e-6)
    assert w.std() == pytest.approx(_numpy(theirs((400, 400))).std(), rel=0.02)


def test_torch_backend_bfloat16_dense():
    """The other backend the README names: a bfloat16 Dense layer on Keras's torch backend (its own process: Keras
    reads the backend once)."""
    pytest.importorskip("torch")
    code = ("import numpy as np, keras; from fastinit import initializers as I\n"
            "d = keras.layers.Dense(8, kernel_initializer=I.HeNormal(seed=1), dtype='bfloat16'); d.build((None, 16))\n"
            "assert keras.backend.backend() == 'torch'\n"
            "k = keras.ops.convert_to_numpy(d.kernel).astype(np.float32)\n"
            "assert np.array_equal(k, I.HeNormal(seed=1)((16, 8), 'bfloat16').astype(np.float32))\n")
    env = {**__import__("os").environ, "KERAS_BACKEND": "torch"}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-2000:]
