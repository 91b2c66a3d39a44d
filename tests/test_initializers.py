"""fastinit.initializers (Keras 3 / JAX semantics) against the formulas of reference.py."""
import math

import numpy as np
import pytest

import fastinit as fi
from fastinit import initializers as I, reference as R

SHAPES = [(3,), (5, 7), (64, 3, 3, 3), (16, 8, 5), (1, 1), (0, 4)]
MIN_SAMPLES = 10000


def pooled(initializer, shape, dtype=np.float32):
    reps = 1 if 0 in shape else -(-MIN_SAMPLES // math.prod(shape))
    out = []
    for _ in range(reps):
        a = initializer(shape, dtype=dtype)
        assert a.shape == shape and a.dtype == np.dtype(dtype)
        out.append(a.reshape(-1))
    return np.concatenate(out).astype(np.float64)


def check(x, kind, a, b):
    if x.size == 0:
        return
    if kind == "uniform":
        assert x.min() >= a and x.max() < b
    elif kind == "truncnorm":
        assert np.all(np.abs(x) <= b * (1 + 1e-6))
    std = R.expected_std(kind, a, b)
    assert abs(x.std() - std) <= 5 * std / math.sqrt(2 * x.size), (x.std(), std)
    mean = {"uniform": (a + b) / 2, "normal": a, "truncnorm": 0.0}[kind]
    assert abs(x.mean() - mean) <= 5 * std / math.sqrt(x.size)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", list(R.KERAS_PRESETS))
def test_presets(name, shape):
    init = getattr(I, name)(seed=fi.Generator(7))
    check(pooled(init, shape), *R.keras_variance_scaling(shape, *R.KERAS_PRESETS[name]))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg"])
@pytest.mark.parametrize("distribution", ["truncated_normal", "untruncated_normal", "uniform"])
def test_variance_scaling(shape, mode, distribution):
    init = I.VarianceScaling(0.7, mode, distribution, seed=fi.Generator(8))
    check(pooled(init, shape, np.float64), *R.keras_variance_scaling(shape, 0.7, mode, distribution))


def test_truncated_variance_is_the_target():
    """The 0.8796... correction makes the truncated draws' variance scale / fan (Keras, JAX)."""
    x = I.VarianceScaling(2.0, "fan_in", "truncated_normal", seed=1)((1000, 1000)).astype(np.float64)
    assert abs(x.var() - 2.0 / 1000) <= 5 * (2.0 / 1000) * math.sqrt(2 / x.size)
    assert np.abs(x).max() <= 2 * math.sqrt(2.0 / 1000) / I.TRUNCATED_NORMAL_STD_CORRECTION


@pytest.mark.parametrize("shape", SHAPES)
def test_simple_initializers(shape):
    check(pooled(I.RandomNormal(0.5, 0.2, seed=fi.Generator(1)), shape), "normal", 0.5, 0.2)
    check(pooled(I.RandomUniform(-0.3, 0.1, seed=fi.Generator(1)), shape), "uniform", -0.3, 0.1)
    x = pooled(I.TruncatedNormal(0.0, 0.2, seed=fi.Generator(1)), shape)
    check(x, "truncnorm", 0.2, 0.4)
    assert np.all(I.Zeros()(shape) == 0) and np.all(I.Ones()(shape, dtype=np.float64) == 1)
    assert np.all(I.Constant(3.5)(shape) == 3.5)


@pytest.mark.parametrize("shape", [s for s in SHAPES if len(s) >= 1] + [()])
def test_keras_fans(shape):
    assert I.compute_fans(shape) == R.keras_fans(shape)


def test_jax_axes():
    # JAX: receptive = prod(shape) / (shape[in] * shape[out] * prod(shape[batch]))
    assert I.compute_fans((10, 4, 6), batch_axis=0) == (4, 6)
    assert I.compute_fans((3, 3, 16, 32)) == (144, 288)
    assert I.compute_fans((32, 16, 3, 3), in_axis=1, out_axis=0) == (144, 288)
    vs = I.VarianceScaling(1.0, "fan_in", "uniform", seed=1, in_axis=1, out_axis=0)
    assert vs.variance((32, 16, 3, 3)) == pytest.approx(1 / 144)
    with pytest.raises(ValueError, match="in_axis"):
        I.compute_fans((4, 4), in_axis=5)
    with pytest.raises(ValueError, match="different axes"):
        I.compute_fans((4, 4), in_axis=0, out_axis=0)


def test_seed_semantics():
    a, b = I.HeNormal(seed=3), I.HeNormal(seed=3)
    np.testing.assert_array_equal(a((20, 30)), b((20, 30)))
    np.testing.assert_array_equal(a((20, 30)), a((20, 30)))          # Keras 3: same values at every call
    unseeded = I.GlorotUniform()
    np.testing.assert_array_equal(unseeded((4, 4)), unseeded((4, 4)))
    assert not np.array_equal(I.GlorotUniform()((4, 4)), I.GlorotUniform()((4, 4)))
    g = I.GlorotUniform(seed=fi.Generator(1))
    assert not np.array_equal(g((4, 4)), g((4, 4)))                  # a Generator seed advances


@pytest.mark.parametrize("shape", [(8, 8), (20, 5), (5, 20), (3, 3, 16, 8), (16, 8, 5)])
def test_orthogonal(shape):
    w = I.Orthogonal(gain=1.0, seed=4)(shape).astype(np.float64)
    m = w.reshape(-1, shape[-1])
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    assert np.max(np.abs(gram - np.eye(gram.shape[0]))) <= 1e-5
    np.testing.assert_allclose(I.Orthogonal(gain=3.0, seed=4)(shape), 3 * w, rtol=1e-5, atol=1e-7)


def test_identity():
    np.testing.assert_array_equal(I.Identity(2.0)((3, 4)), 2 * np.eye(3, 4))
    with pytest.raises(ValueError, match="2D matrices"):
        I.Identity()((3, 3, 3))


@pytest.mark.parametrize("alias,cls", [("glorot_uniform", I.GlorotUniform), ("glorot_normal", I.GlorotNormal),
                                       ("he_normal", I.HeNormal), ("he_uniform", I.HeUniform),
                                       ("lecun_uniform", I.LecunUniform), ("lecun_normal", I.LecunNormal),
                                       ("random_normal", I.RandomNormal), ("truncated_normal", I.TruncatedNormal),
                                       ("zeros", I.Zeros), ("ones", I.Ones), ("orthogonal", I.Orthogonal),
                                       ("identity", I.Identity), ("GlorotUniform", I.GlorotUniform),
                                       ("variance_scaling", I.VarianceScaling)])
def test_get(alias, cls):
    assert type(I.get(alias)) is cls
    inst = I.HeNormal(seed=1)
    assert I.get(inst) is inst


@pytest.mark.parametrize("call,exc,word", [
    (lambda: I.get("glorot"), ValueError, "valid names"),
    (lambda: I.get(3), ValueError, "Could not interpret initializer identifier: 3"),
    (lambda: I.VarianceScaling(mode="fan_sum"), ValueError,
     r"Invalid `mode` argument: fan_sum. Please use one of \['fan_in', 'fan_out', 'fan_avg'\]"),
    (lambda: I.VarianceScaling(distribution="cauchy"), ValueError, "Invalid `distribution` argument: cauchy"),
    (lambda: I.VarianceScaling(scale=0.0), ValueError, "Argument `scale` must be positive float. Received: scale=0.0"),
    (lambda: I.VarianceScaling(scale=np.inf), ValueError, "scale"),
    (lambda: I.Orthogonal(gain=0.0), ValueError, "gain"),
    (lambda: I.Orthogonal(gain=np.nan), ValueError, "gain"),
    (lambda: I.Orthogonal()((5,)), ValueError, "at least two-dimensional"),
    (lambda: I.HeNormal()([3, -1]), ValueError, "shape"),
    (lambda: I.HeNormal()((3, 2.5)), TypeError, "shape"),
    (lambda: I.HeNormal()(7), TypeError, "shape"),
    (lambda: I.HeNormal()((3, 3), dtype=np.int32), TypeError, "dtype"),
    (lambda: I.HeNormal(seed=-1), ValueError, "seed"),
    (lambda: I.RandomUniform(1.0, 0.0), ValueError, "minval"),
    (lambda: I.RandomNormal(stddev=-1.0), ValueError, "stddev"),
    (lambda: I.VarianceScaling(batch_axis=1.5), TypeError, "batch_axis must be an int or a sequence of ints"),
])
def test_bad_input(call, exc, word):
    with pytest.raises(exc, match=word):
        call()


def test_jax_functions_are_importable_with_jax_conventions():
    """The JAX names of the README's table: a function of the hyperparameters returning init(key, shape, dtype);
    an int key gives the same values each time, a fastinit.Generator its next stream."""
    from fastinit.initializers import (
        constant,
        delta_orthogonal,
        glorot_normal,
        glorot_uniform,
        he_normal,
        he_uniform,
        kaiming_normal,
        lecun_normal,
        lecun_uniform,
        normal,
        ones,
        orthogonal,
        truncated_normal,
        uniform,
        variance_scaling,
        xavier_uniform,
        zeros,
    )
    shape = (3, 3, 32, 64)   # JAX's fans: in_axis -2, out_axis -1, receptive field 9
    fan_in, fan_out = 9 * 32, 9 * 64
    for make, var in ((glorot_uniform, 2 / (fan_in + fan_out)), (xavier_uniform, 2 / (fan_in + fan_out)),
                      (glorot_normal, 2 / (fan_in + fan_out)), (he_normal, 2 / fan_in), (kaiming_normal, 2 / fan_in),
                      (he_uniform, 2 / fan_in), (lecun_normal, 1 / fan_in), (lecun_uniform, 1 / fan_in)):
        init = make()
        w = init(7, shape)
        assert w.shape == shape and w.dtype == np.float32
        assert np.array_equal(w, init(7, shape)) and not np.array_equal(w, init(8, shape))
        assert w.var() == pytest.approx(var, rel=0.05), make.__name__
    g = fi.Generator(1)
    assert not np.array_equal(he_normal()(g, shape), he_normal()(g, shape))   # a Generator: its next stream
    assert he_normal(dtype=np.float64)(1, (4, 4)).dtype == np.float64
    vs = variance_scaling(2.0, "fan_in", "truncated_normal", in_axis=0, out_axis=1)(3, (100, 50, 4))
    assert vs.var() == pytest.approx(2 / (100 * 4), rel=0.05)
    assert normal(0.5)(1, (10000,)).std() == pytest.approx(0.5, rel=0.03)
    u = uniform(2.0)(1, (10000,))
    assert u.min() >= 0 and u.max() < 2 and u.mean() == pytest.approx(1.0, rel=0.03)   # JAX: U[0, scale)
    t = truncated_normal(0.1, lower=-1.0, upper=1.5)(1, (10000,))
    assert t.min() >= -0.1 and t.max() <= 0.15
    assert np.all(zeros(1, (2, 3)) == 0) and np.all(ones(1, (2, 3)) == 1) and np.all(constant(3.0)(1, (2,)) == 3)
    q = orthogonal(scale=2.0)(1, (6, 4))
    np.testing.assert_allclose(q.T @ q, 4 * np.eye(4), atol=1e-5)
    k = delta_orthogonal()(1, (3, 3, 4, 8))
    np.testing.assert_allclose(k[1, 1] @ k[1, 1].T, np.eye(4), atol=1e-5)
    assert np.count_nonzero(k) == np.count_nonzero(k[1, 1])
    with pytest.raises(ValueError, match="`fan_in` must be less or equal than `fan_out`"):
        delta_orthogonal()(1, (3, 3, 8, 4))
    with pytest.raises(ValueError, match="key must be in"):
        he_normal()(-1, (2, 2))
