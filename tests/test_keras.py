"""fastinit.initializers' Keras classes inside Keras 3: 16-bit dtypes, keras.utils.set_random_seed, SeedGenerator
seeds, from_config, and VarianceScaling's distribution names as Keras reads them (backend: tests/conftest.py)."""
import math
import re
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
                              keras.layers.Dense(4, kernel_initializer=I.HeNormal(),
                                                 bias_initializer=I.RandomNormal())])
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


# ------------------------------------------------------------------- inside Keras's real layers and its saving

def _kernel(layer):
    return _numpy(layer.kernel)


def test_in_real_layers_save_and_load_keep_fastinit(tmp_path):
    """model.save + load_model, Sequential.from_config and serialize_keras_object keep fastinit's classes, configs
    and numbers (they were rebuilt as Keras's own HeNormal, whose numbers differ, or refused by name)."""
    model = keras.Sequential([
        keras.Input((8, 8, 3)),
        keras.layers.Conv2D(4, 3, kernel_initializer=I.GlorotNormal(seed=1), bias_initializer=I.Constant(0.5)),
        keras.layers.Reshape((36, 4)),
        keras.layers.EinsumDense("abc,cd->abd", output_shape=(36, 6), kernel_initializer=I.LecunUniform(seed=2)),
        keras.layers.Flatten(),
        keras.layers.Dense(5, kernel_initializer=I.HeNormal(seed=7), bias_initializer=I.RandomUniform(seed=4)),
    ])
    path = tmp_path / "m.keras"
    model.save(path)
    for again in (keras.saving.load_model(path), keras.Sequential.from_config(model.get_config())):
        for old, new in zip(model.layers, again.layers):
            for attr in ("kernel_initializer", "bias_initializer"):
                if type(getattr(old, attr, None)).__module__ == "fastinit.initializers":
                    a, b = getattr(old, attr), getattr(new, attr)
                    assert type(b) is type(a) and type(b).__module__ == "fastinit.initializers", (old.name, attr)
                    assert b.get_config() == a.get_config()
        for w_old, w_new in zip(model.weights, again.weights):   # (from_config re-draws: the same seeds)
            np.testing.assert_array_equal(_numpy(w_old), _numpy(w_new))
    config = keras.saving.serialize_keras_object(I.HeNormal(seed=5))
    assert config["registered_name"] == "fastinit>HeNormal" and config["module"] == "fastinit.initializers"
    back = keras.saving.deserialize_keras_object(config)
    assert type(back) is I.HeNormal
    np.testing.assert_array_equal(back((6, 6)), I.HeNormal(seed=5)((6, 6)))


def test_in_real_layers_mha_saved_and_loaded(tmp_path):
    """MultiHeadAttention clones its initializer per projection (from_config(get_config())): an unseeded fastinit
    initializer's config says seed None as Keras's does, so q, k and v differ (they were bitwise equal), each with
    Keras's std for an EinsumDense kernel (fan_in 32, not 32 * 8); saved and loaded they keep fastinit's class."""
    x = np.random.default_rng(0).normal(size=(2, 5, 32)).astype(np.float32)
    inputs = keras.Input((5, 32))
    mha = keras.layers.MultiHeadAttention(num_heads=8, key_dim=16, kernel_initializer=I.LecunNormal())
    model = keras.Model(inputs, mha(inputs, inputs))
    assert I.LecunNormal().get_config()["seed"] is None
    q, k, v = (_kernel(d) for d in (mha._query_dense, mha._key_dense, mha._value_dense))
    assert q.shape == (32, 8, 16)
    assert not np.array_equal(q, k) and not np.array_equal(k, v) and not np.array_equal(q, v)
    theirs = keras.layers.MultiHeadAttention(num_heads=8, key_dim=16, kernel_initializer="lecun_normal")
    theirs(x, x)
    want = math.sqrt(1 / 32)   # (4096 values a kernel: a std estimate within 1.1% one sigma)
    assert _kernel(theirs._query_dense).std() == pytest.approx(want, rel=0.04)
    for kernel in (q, k, v):
        assert kernel.std() == pytest.approx(want, rel=0.04)
    path = tmp_path / "mha.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    layer = [lay for lay in loaded.layers if isinstance(lay, keras.layers.MultiHeadAttention)][0]
    assert type(layer._kernel_initializer) is I.LecunNormal
    assert layer._kernel_initializer.get_config() == mha._kernel_initializer.get_config()
    np.testing.assert_allclose(_numpy(loaded(x)), _numpy(model(x)), rtol=1e-5, atol=1e-6)


def test_in_real_layers_einsum_dense_fans_as_keras():
    """EinsumDense hands a VarianceScaling its input and output axes: a (32, 8, 16) kernel of "ab,bcd->acd" has
    fan_in 32 and fan_out 128 (fastinit drew it with fan_in 256 when it was no Keras VarianceScaling)."""
    for cls, var in ((I.HeNormal, 2 / 32), (I.GlorotUniform, 2 / (32 + 128)), (I.LecunNormal, 1 / 32)):
        layer = keras.layers.EinsumDense("ab,bcd->acd", output_shape=(8, 16), kernel_initializer=cls(seed=3))
        layer.build((None, 32))
        assert isinstance(layer.kernel_initializer, keras.initializers.VarianceScaling)
        assert _kernel(layer).var() == pytest.approx(var, rel=0.05), cls.__name__
    assert I.compute_fans((32, 8, 16), input_axes=[0], output_axes=[1, 2]) == (32, 128)
    ours = I.VarianceScaling(2.0, "fan_in", "uniform", seed=1, input_axes=[0], output_axes=[1, 2])
    assert ours((32, 8, 16)).var() == pytest.approx(2 / 32, rel=0.05)
    assert ours.get_config()["input_axes"] == [0] and ours.get_config()["output_axes"] == [1, 2]


def test_constant_takes_arrays_as_keras():
    """Keras's Constant broadcasts an array value; its config survives Keras's serialization."""
    value = np.arange(3.0)
    ours, theirs = I.Constant(value), keras.initializers.Constant(value)
    np.testing.assert_array_equal(ours((2, 3)), _numpy(theirs((2, 3))))
    back = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(ours))
    np.testing.assert_array_equal(back((4, 3)), np.broadcast_to(value, (4, 3)))
    assert I.Constant(np.float32(2.5))((2,)).tolist() == [2.5, 2.5]
    with pytest.raises(ValueError, match="cannot be broadcast"):
        ours((2, 4))


def test_get_as_keras():
    """keras.initializers.get's forms: None, a config dict, a class, an array (its own shape only), the legacy
    names."""
    assert I.get(None) is None and keras.initializers.get(None) is None
    made = I.get({"class_name": "HeNormal", "config": {"seed": 3}})
    assert type(made) is I.HeNormal and made.seed == 3
    assert type(I.get(keras.saving.serialize_keras_object(I.GlorotUniform(seed=2)))) is I.GlorotUniform
    assert type(I.get(I.LecunUniform)) is I.LecunUniform
    table = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(I.get(table)((2, 3)), table)
    with pytest.raises(ValueError, match="Expected `shape` to be"):
        I.get(table)((3, 2))
    for legacy, cls in (("OrthogonalInitializer", I.Orthogonal), ("IdentityInitializer", I.Identity),
                        ("normal", I.RandomNormal), ("uniform", I.RandomUniform), ("one", I.Ones), ("zero", I.Zeros)):
        assert type(I.get(legacy)) is cls
        assert type(keras.initializers.get(legacy)).__name__ == cls.__name__


@pytest.mark.parametrize("make", [
    lambda m: m.VarianceScaling(scale=-1.0),
    lambda m: m.VarianceScaling(mode="fan_sum"),
    lambda m: m.VarianceScaling(distribution="cauchy"),
])
def test_errors_say_what_keras_says(make):
    with pytest.raises(ValueError) as theirs:
        make(keras.initializers)
    with pytest.raises(ValueError) as ours:
        make(I)
    # (Keras formats its allowed values as a set, in no fixed order: compare up to the list of them)
    assert str(ours.value).split("Please")[0].split(". Received")[0].strip() == \
        str(theirs.value).split("Please")[0].split(". Received")[0].strip()


def test_classes_are_keras_initializers():
    for name in ("HeNormal", "GlorotUniform", "VarianceScaling", "LecunNormal"):
        assert isinstance(getattr(I, name)(), keras.initializers.VarianceScaling)
    for name in ("RandomNormal", "Orthogonal", "Constant", "Zeros", "Identity"):
        assert isinstance(getattr(I, name)(), keras.initializers.Initializer)
    assert isinstance(I.HeNormal(), I.VarianceScaling) and isinstance(I.Zeros(), I.Constant)


def test_import_fastinit_does_not_import_keras():
    code = ("import sys, fastinit, fastinit.initializers as I; fastinit.simulate(depth=2, width=8, seed=0)\n"
            "I.he_normal()(1, (4, 4))\n"
            "assert 'keras' not in sys.modules, 'keras imported'\n"
            "assert I.HeNormal.__module__ == 'fastinit.initializers'\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-2000:]


def test_in_real_layers_on_the_torch_backend():
    """The layer and saving tests again on Keras's torch backend (its own process: Keras reads the backend once),
    and a bfloat16 Dense there."""
    pytest.importorskip("torch")
    if keras.backend.backend() == "torch":
        pytest.skip("this process is the torch backend already")
    code = ("import numpy as np, keras; from fastinit import initializers as I\n"
            "d = keras.layers.Dense(8, kernel_initializer=I.HeNormal(seed=1), dtype='bfloat16'); d.build((None, 16))\n"
            "assert keras.backend.backend() == 'torch'\n"
            "k = keras.ops.convert_to_numpy(d.kernel).astype(np.float32)\n"
            "assert np.array_equal(k, I.HeNormal(seed=1)((16, 8), 'bfloat16').astype(np.float32))\n")
    env = {**__import__("os").environ, "KERAS_BACKEND": "torch"}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-2000:]
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__, "-k",
                          "in_real_layers or as_keras or keras_says"], env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stdout[-3000:]
    summary = run.stdout.strip().splitlines()[-1]
    assert re.search(r"\b(\d+) passed", summary) and "failed" not in summary and "error" not in summary, summary


def test_aliases_name_the_public_classes():
    assert I.ALIASES["he_normal"] is I.HeNormal and I.ALIASES["OrthogonalInitializer"] is I.Orthogonal
    assert all(cls.__module__ == "fastinit.initializers" for cls in I.ALIASES.values())
