"""fastinit.initializers' JAX functions with JAX keys: the stream format in jax.numpy (fastinit.random._jax) against
the C core, under jit and vmap, the key -> seed rule, and a flax.linen model initialized through them."""
import math

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

import fastinit as fi  # noqa: E402
from fastinit import _core, initializers as I
from fastinit.random import (
    _jax as J,  # noqa: E402
    _spec as F,
)

SEED = 0x0123456789ABCDEF   # both key words non-zero
N = 4099                    # odd, and not a multiple of 4


def _key(seed):
    return jnp.array([seed >> 32, seed & 0xFFFFFFFF], jnp.uint32)


def _words(seed):
    return J.key_words(_key(seed))


def _ulps(a, b):
    """|a - b| in units of the last place of b's dtype."""
    a, b = np.asarray(a, np.float64), np.asarray(b)
    return np.abs(a - b.astype(np.float64)) / np.spacing(np.abs(b)).astype(np.float64)


@pytest.fixture(params=["called", "inside_jit"])
def run(request):
    """fill(draw, shape, dtype, k0, k1) called, or traced inside a caller's jax.jit."""
    if request.param == "called":
        return J.fill
    return jax.jit(J.fill, static_argnums=(0, 1, 2))


class _Draw(tuple):
    """(kind, params) hashable by identity, for jit's static arguments."""
    __hash__ = object.__hash__
    __eq__ = object.__eq__


def draw(d):
    return _Draw(d)


@pytest.mark.parametrize("seed", [0, 7, SEED, 2 ** 64 - 1])
@pytest.mark.parametrize("n", [1, 5, N])
def test_words_bit_for_bit(seed, n):
    k0, k1 = _words(seed)
    expect = fi.Generator(seed).random_raw(n, stream=0)
    np.testing.assert_array_equal(np.asarray(J.words(k0, k1, n)), expect)
    np.testing.assert_array_equal(np.asarray(jax.jit(J.words, static_argnums=2)(k0, k1, n)), expect)


def test_uniform_float32(run):
    """XLA fuses low + scale * u into one rounding (an FMA) where the C core rounds the product first: within that
    rounding, an ulp of the scale; every value in [low, high)."""
    d = draw(F.uniform(-0.5, 2.0, "float32"))
    got = np.asarray(run(d, (N,), "float32", *_words(SEED)))
    expect = fi.Generator(SEED).uniform(N, -0.5, 2.0, stream=0)
    assert got.min() >= -0.5 and got.max() < 2.0
    assert np.abs(got - expect).max() <= np.spacing(np.float32(2.5))
    assert np.mean(got == expect) > 0.5


@pytest.mark.parametrize("simd", ["baseline", "best"])
def test_normal_float32(run, simd):
    """Within the stream format's float32 tolerance (2e-6 absolute in z) of both C paths."""
    previous = _core.get_simd()
    _core.set_simd("baseline" if simd == "baseline" else _core.simd_available()[-1])
    try:
        expect = fi.Generator(SEED).normal(N, 0.25, 2.0, stream=0)
    finally:
        _core.set_simd(previous)
    got = np.asarray(run(draw(F.normal(0.25, 2.0, "float32")), (N,), "float32", *_words(SEED)))
    assert np.abs(got.astype(np.float64) - expect).max() <= 2e-6 * 2.0 + 1e-6


@pytest.mark.parametrize("bounds", [(-2.0, 2.0), (3.0, 8.0), (-8.0, -3.0), (-1.0, math.inf)])
def test_truncated_normal_float32(run, bounds):
    lo, hi = bounds
    d = draw(F.truncated_normal(0.5, 1.5, 0.5 + 1.5 * lo, 0.5 + 1.5 * hi, "float32"))
    got = np.asarray(run(d, (N,), "float32", *_words(SEED)))
    expect = fi.Generator(SEED).truncated_normal(N, 0.5, 1.5, 0.5 + 1.5 * lo, 0.5 + 1.5 * hi, stream=0)
    assert got.min() >= 0.5 + 1.5 * lo and got.max() <= 0.5 + 1.5 * hi
    assert np.abs(got.astype(np.float64) - expect).max() <= 2e-6 * 1.5 * max(1.0, abs(lo), min(abs(hi), 8.0))


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_sixteen_bit(run, dtype):
    """The float32 draws rounded to nearest even: at most one 16-bit step from the C core's values (mostly none),
    every uniform below high."""
    k0, k1 = _words(SEED)
    g = fi.Generator(SEED)
    for d, expect in ((F.uniform(-1.0, 3.0, dtype), g.uniform(N, -1.0, 3.0, dtype=dtype, stream=0)),
                      (F.normal(0.0, 0.5, dtype), g.normal(N, 0.0, 0.5, dtype=dtype, stream=0))):
        got = run(draw(d), (N,), dtype, k0, k1)
        assert got.dtype == jnp.dtype(dtype)
        ref = expect.view(got.dtype) if dtype == "bfloat16" else expect
        steps = _ulps(np.asarray(got), ref)
        if d[0] == "uniform":
            assert np.asarray(got, np.float32).max() < 3.0
        assert steps.max() <= 1 and np.mean(steps == 0) > 0.99


def test_float64_with_x64():
    with jax.enable_x64(True):
        k0, k1 = _words(SEED)
        g = fi.Generator(SEED)
        u = np.asarray(J.fill(F.uniform(-1.0, 1.0, "float64"), (N,), "float64", k0, k1))
        assert np.abs(u - g.uniform(N, -1.0, 1.0, dtype=np.float64, stream=0)).max() <= np.spacing(2.0)
        z = np.asarray(J.fill(F.normal(0.0, 1.0, "float64"), (N,), "float64", k0, k1))
        assert z.dtype == np.float64
        assert np.abs(z - g.normal(N, dtype=np.float64, stream=0)).max() <= 1e-12
        t = np.asarray(J.fill(F.truncated_normal(0.0, 1.0, 3.0, 8.0, "float64"), (N,), "float64", k0, k1))
        assert np.abs(t - g.truncated_normal(N, 0.0, 1.0, 3.0, 8.0, dtype=np.float64, stream=0)).max() <= 1e-12
        assert I.he_normal(dtype=jnp.float64)(jax.random.key(1), (8, 8)).dtype == jnp.float64


def test_key_rule():
    """Key data (k0, k1) is seed k0 << 32 | k1, stream 0: PRNGKey(s) and key(s) draw Generator(s)'s first fill;
    split and fold_in keys are the seeds of their data."""
    init = I.glorot_uniform()
    shape = (64, 32)
    for s in (0, 1, 2 ** 32 - 1):   # (JAX keeps 32 bits of an int seed unless jax_enable_x64)
        raw = init(jax.random.PRNGKey(s), shape)
        assert isinstance(raw, jax.Array) and raw.dtype == jnp.float32
        np.testing.assert_array_equal(np.asarray(init(jax.random.key(s), shape)), np.asarray(raw))
        np.testing.assert_array_equal(np.asarray(raw), init(s, shape))   # the C core, from an int key
    child = jax.random.fold_in(jax.random.key(3), 5)
    a, b = jax.random.key_data(child)
    np.testing.assert_array_equal(np.asarray(init(child, shape)), init(int(a) << 32 | int(b), shape))
    k1, k2 = jax.random.split(jax.random.key(3))
    assert not np.array_equal(np.asarray(init(k1, shape)), np.asarray(init(k2, shape)))


def test_jit_and_vmap_over_split_keys():
    init = I.he_normal()
    keys = jax.random.split(jax.random.key(11), 4)
    batched = jax.jit(jax.vmap(lambda k: init(k, (32, 16))))(keys)
    assert batched.shape == (4, 32, 16)
    for i in range(4):   # the same key, the same numbers: called, under jit, batched by vmap
        one = init(keys[i], (32, 16))
        np.testing.assert_array_equal(np.asarray(batched[i]), np.asarray(one))
        np.testing.assert_array_equal(np.asarray(jax.jit(lambda k: 2 * init(k, (32, 16)))(keys[i])) / 2,
                                      np.asarray(one))
    raw = jax.random.split(jax.random.PRNGKey(11), 4)   # raw keys batch along their first axis as well
    np.testing.assert_array_equal(np.asarray(jax.vmap(lambda k: init(k, (32, 16)))(raw)), np.asarray(batched))


@pytest.mark.parametrize("name", ["glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform",
                                  "lecun_normal"])
def test_distributions_are_jax_s(name):
    """The same family as jax.nn.initializers' function of that name: variance 1 or 2 over JAX's fan, and the
    same support (truncated normals at 2 sigma)."""
    shape = (3, 3, 64, 128)
    ours = np.asarray(getattr(I, name)()(jax.random.key(0), shape), np.float64)
    theirs = np.asarray(getattr(jax.nn.initializers, name)()(jax.random.key(0), shape), np.float64)
    assert ours.std() == pytest.approx(theirs.std(), rel=0.02)
    assert np.abs(ours).max() <= np.abs(theirs).max() * 1.01 and np.abs(ours).max() >= np.abs(theirs).max() * 0.9


def test_variance_scaling_normal_keeps_jax_meaning():
    """JAX: distribution="normal" is untruncated (values past 2 sigma); the Keras class reads it as truncated."""
    w = np.asarray(I.variance_scaling(1.0, "fan_in", "normal")(jax.random.key(0), (400, 400)))
    sigma = math.sqrt(1 / 400)
    assert np.abs(w).max() > 3 * sigma and w.std() == pytest.approx(sigma, rel=0.02)
    k = I.VarianceScaling(1.0, "fan_in", "normal", seed=0)((400, 400))
    assert np.abs(k).max() <= 2 * sigma / I.TRUNCATED_NORMAL_STD_CORRECTION * (1 + 1e-6)


def test_other_functions_take_jax_keys():
    key = jax.random.key(5)
    q = I.orthogonal(scale=2.0)(key, (6, 4))
    assert isinstance(q, jax.Array)
    np.testing.assert_allclose(np.asarray(q.T @ q), 4 * np.eye(4), atol=1e-5)
    wide = I.orthogonal()(key, (3, 2, 8), jnp.bfloat16)
    assert wide.dtype == jnp.bfloat16 and wide.shape == (3, 2, 8)
    traced = jax.jit(lambda k: I.orthogonal()(k, (3, 2, 8)))(key)   # QR traces too
    np.testing.assert_allclose(np.asarray(traced), np.asarray(I.orthogonal()(key, (3, 2, 8))), atol=1e-6)
    assert I.orthogonal()(key, (0, 4), jnp.bfloat16).dtype == jnp.bfloat16
    k = I.delta_orthogonal()(key, (3, 3, 4, 8))
    np.testing.assert_allclose(np.asarray(k[1, 1] @ k[1, 1].T), np.eye(4), atol=1e-5)
    assert int(jnp.count_nonzero(k)) == int(jnp.count_nonzero(k[1, 1]))
    assert isinstance(I.zeros(key, (2, 3)), jax.Array) and float(I.ones(key, (2,)).sum()) == 2
    assert float(I.constant(3.0)(key, (2,), jnp.float16)[0]) == 3.0
    t = np.asarray(I.truncated_normal(0.1, lower=-1.0, upper=1.5)(key, (10000,)))
    assert t.min() >= -0.1 and t.max() <= 0.15
    u = np.asarray(I.uniform(2.0)(key, (10000,), jnp.bfloat16), np.float32)
    assert u.min() >= 0 and u.max() < 2


def test_bad_keys():
    with pytest.raises(ValueError, match="threefry2x32"):
        I.he_normal()(jax.random.key(0, impl="rbg"), (2, 2))
    with pytest.raises(ValueError, match="raw uint32 key of shape"):
        I.he_normal()(jnp.zeros(3, jnp.uint32), (2, 2))
    with pytest.raises(TypeError, match="JAX PRNG key"):
        I.he_normal()("seed", (2, 2))
    with pytest.raises(TypeError, match="dtype must be"):
        I.he_normal()(jax.random.key(0), (2, 2), jnp.int32)


def test_flax_model_init_under_jit():
    """flax.linen Dense and Conv layers given fastinit's initializers, initialized by jax.jit(model.init): the
    kernels have JAX's distributions, bf16 parameters come out bf16, and the same key gives the same numbers."""
    nn = pytest.importorskip("flax.linen")

    class Net(nn.Module):
        dtype: object = jnp.float32

        @nn.compact
        def __call__(self, x):
            x = nn.Conv(16, (3, 3), kernel_init=I.he_normal(), param_dtype=self.dtype)(x)
            x = x.reshape(x.shape[0], -1)
            return nn.Dense(256, kernel_init=I.glorot_uniform(), bias_init=I.zeros, param_dtype=self.dtype)(x)

    x = jnp.ones((2, 8, 8, 3))
    params = jax.jit(Net().init)(jax.random.key(0), x)["params"]
    again = jax.jit(Net().init)(jax.random.key(0), x)["params"]
    conv, dense = np.asarray(params["Conv_0"]["kernel"]), np.asarray(params["Dense_0"]["kernel"])
    np.testing.assert_array_equal(conv, np.asarray(again["Conv_0"]["kernel"]))
    assert conv.std() == pytest.approx(math.sqrt(2 / (3 * 3 * 3)), rel=0.1)
    fan_in, fan_out = 8 * 8 * 16, 256
    assert dense.std() == pytest.approx(math.sqrt(2 / (fan_in + fan_out)), rel=0.02)
    assert np.abs(dense).max() < math.sqrt(6 / (fan_in + fan_out))
    assert not np.asarray(params["Dense_0"]["bias"]).any()
    half = jax.jit(Net(dtype=jnp.bfloat16).init)(jax.random.key(0), x)["params"]
    assert half["Dense_0"]["kernel"].dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(half["Dense_0"]["kernel"], np.float32), dense, rtol=2 ** -8, atol=1e-30)


# ------------------------------------------------------------------ jax.nn.initializers' argument forms (issue J1-J6)

@pytest.fixture(params=[False, True], ids=["x32", "x64"])
def x64(request):
    with jax.enable_x64(request.param):
        yield request.param


@pytest.fixture
def strict_ranks():
    """JAX's own tests run with implicit rank promotion refused."""
    with jax.numpy_rank_promotion("raise"):
        yield


COMPLEX_CASES = [
    ("normal", lambda: I.normal(0.5), lambda: jax.nn.initializers.normal(0.5)),
    ("he_normal", I.he_normal, jax.nn.initializers.he_normal),
    ("glorot_uniform", I.glorot_uniform, jax.nn.initializers.glorot_uniform),
    ("lecun_normal", I.lecun_normal, jax.nn.initializers.lecun_normal),
    ("vs_normal", lambda: I.variance_scaling(2.0, "fan_out", "normal"),
     lambda: jax.nn.initializers.variance_scaling(2.0, "fan_out", "normal")),
    ("vs_uniform", lambda: I.variance_scaling(2.0, "fan_in", "uniform"),
     lambda: jax.nn.initializers.variance_scaling(2.0, "fan_in", "uniform")),
    ("vs_truncated", lambda: I.variance_scaling(2.0, "fan_in", "truncated_normal"),
     lambda: jax.nn.initializers.variance_scaling(2.0, "fan_in", "truncated_normal")),
]


@pytest.mark.parametrize("name,ours,theirs", COMPLEX_CASES, ids=[c[0] for c in COMPLEX_CASES])
def test_complex_dtypes_as_jax(name, ours, theirs, x64, strict_ranks):
    """complex64 / complex128 as jax.nn.initializers draws them: E|z|^2, the parts' shares and the largest modulus
    of JAX's own draws (400 x 300 = 120,000 values: 5 sigma is about 2%)."""
    for dtype in (jnp.complex64, jnp.complex128):
        shape = (400, 300)
        w = ours()(jax.random.key(3), shape, dtype)
        ref = theirs()(jax.random.key(3), shape, dtype)
        assert w.dtype == ref.dtype and w.shape == shape   # (complex128 is complex64 without x64, as JAX's)
        a, b = np.asarray(w), np.asarray(ref)
        power, want = np.mean(np.abs(a) ** 2), np.mean(np.abs(b) ** 2)
        assert power == pytest.approx(want, rel=0.03), (power, want)
        assert np.mean(a.real ** 2) == pytest.approx(power / 2, rel=0.03)
        assert abs(a.mean()) < 5 * math.sqrt(want / a.size)
        assert np.abs(a).max() <= np.abs(b).max() * 1.05 or name in ("normal", "vs_normal")
        host = np.asarray(ours()(3, shape, dtype))   # an int key: the C core, the same distribution
        assert host.dtype == np.dtype(dtype) and np.mean(np.abs(host) ** 2) == pytest.approx(want, rel=0.03)


def test_complex_orthogonal_is_unitary(x64, strict_ranks):
    for key in (jax.random.key(1), 1):
        q = np.asarray(I.orthogonal(scale=2.0)(key, (6, 4), jnp.complex64))
        assert np.iscomplexobj(q) and np.abs(q.imag).max() > 0
        np.testing.assert_allclose(q.conj().T @ q, 4 * np.eye(4), atol=1e-5)
    assert np.asarray(I.zeros(jax.random.key(1), (2, 2), jnp.complex64)).dtype == np.complex64
    assert np.asarray(I.constant(1 + 2j)(1, (2,), np.complex64)).tolist() == [1 + 2j, 1 + 2j]


def test_complex_flax_dense():
    nn = pytest.importorskip("flax.linen")
    layer = nn.Dense(16, param_dtype=jnp.complex64, kernel_init=I.lecun_normal())
    params = layer.init(jax.random.key(0), jnp.ones((1, 32), jnp.complex64))
    kernel = params["params"]["kernel"]
    assert kernel.dtype == jnp.complex64 and float(jnp.mean(jnp.abs(kernel) ** 2)) == pytest.approx(1 / 32, rel=0.15)
    with pytest.raises(TypeError, match="real floating dtype"):
        I.uniform()(jax.random.key(0), (2,), jnp.complex64)


def _fan_probe(init, shape):
    """The variance of a uniform variance-scaling draw, from which the fans show."""
    return float(jnp.var(init(jax.random.key(0), shape).astype(jnp.float32)))


@pytest.mark.parametrize("axes", [dict(in_axis=(0, 1), out_axis=[2, 3]), dict(in_axis=0, out_axis=[1, 2],
                                                                              batch_axis=[]),
                                  dict(in_axis=[1], out_axis=(2,), batch_axis=(0,)), dict(batch_axis=[0])])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg", "fan_geo_avg"])
def test_axes_sequences_and_fan_geo_avg(axes, mode, strict_ranks):
    """in_axis / out_axis / batch_axis as sequences, and mode fan_geo_avg (JAX >= 0.5.1): the bound of the uniform
    draw is JAX's exactly (its max), so the fans are."""
    shape = (4, 6, 5, 7)
    ours = I.variance_scaling(1.5, mode, "uniform", **axes)(jax.random.key(0), shape)
    theirs = jax.nn.initializers.variance_scaling(1.5, mode, "uniform", **axes)(jax.random.key(0), shape)
    bound = float(jnp.max(jnp.abs(theirs)))
    assert float(jnp.max(jnp.abs(ours))) == pytest.approx(bound, rel=0.01)
    assert float(jnp.var(ours)) == pytest.approx(float(jnp.var(theirs)), rel=0.2)


def test_array_scale_keeps_dtype():
    for make in (lambda: I.uniform(jnp.array(1.0), jnp.bfloat16), lambda: I.normal(np.float32(0.5), jnp.bfloat16),
                 lambda: I.variance_scaling(jnp.array(2.0), "fan_in", "normal", dtype=jnp.bfloat16),
                 lambda: I.orthogonal(jnp.array(1.0), dtype=jnp.bfloat16)):
        assert make()(jax.random.key(0), (8, 8)).dtype == jnp.bfloat16
    assert float(jnp.max(I.uniform(jnp.array(3.0))(jax.random.key(0), (1000,)))) > 2.5
    with pytest.raises(TypeError, match="scale must be a real number or a 0-d real array"):
        I.uniform(jnp.ones(3))


def test_one_dimensional_shape_refused_as_jax():
    """JAX raises for a 1-D shape with the default in_axis (fastinit returned values)."""
    with pytest.raises(ValueError) as theirs:
        jax.nn.initializers.variance_scaling(1., "fan_avg", "truncated_normal")(jax.random.key(0), (5,))
    for key in (jax.random.key(0), 0):
        with pytest.raises(ValueError) as ours:
            I.variance_scaling(1., "fan_avg", "truncated_normal")(key, (5,))
        assert str(ours.value) == str(theirs.value)
    explicit = dict(in_axis=0, out_axis=0)   # JAX's way for a 1-D shape: fan_in = fan_out = 5 * 5 / 25 = 1
    ours = I.variance_scaling(1., "fan_in", "uniform", **explicit)(jax.random.key(0), (5000,))
    theirs = jax.nn.initializers.variance_scaling(1., "fan_in", "uniform", **explicit)(jax.random.key(0), (5000,))
    assert float(jnp.max(jnp.abs(ours))) == pytest.approx(float(jnp.max(jnp.abs(theirs))), rel=0.01)


def test_errors_say_what_jax_says():
    for bad in (dict(mode="fan_sum"), dict(distribution="cauchy")):
        args = {"scale": 1.0, "mode": "fan_in", "distribution": "normal", **bad}
        with pytest.raises(ValueError) as theirs:
            jax.nn.initializers.variance_scaling(**args)(jax.random.key(0), (3, 3))
        with pytest.raises(ValueError) as ours:
            I.variance_scaling(**args)
        assert str(ours.value) == str(theirs.value)


def test_rank_promotion_raise(strict_ranks, x64):
    key = jax.random.key(2)
    for init in (I.orthogonal(), I.he_normal(), I.glorot_uniform(), I.normal(), I.truncated_normal()):
        assert init(key, (6, 4)).shape == (6, 4)
    q = I.orthogonal()(key, (4, 6))
    np.testing.assert_allclose(np.asarray(q @ q.T), np.eye(4), atol=1e-5)
    assert I.delta_orthogonal()(key, (3, 4, 8)).shape == (3, 4, 8)


@pytest.mark.parametrize("shape", [(4, 4, 8), (2, 4, 3, 5), (3, 2, 2, 2, 4)])
def test_delta_orthogonal_centre_as_jax(shape):
    """The orthogonal matrix sits at (k - 1) // 2 of each spatial axis, as JAX puts it (fastinit used k // 2)."""
    ours = np.asarray(I.delta_orthogonal()(jax.random.key(0), shape))
    theirs = np.asarray(jax.nn.initializers.delta_orthogonal()(jax.random.key(0), shape))
    assert np.array_equal(np.nonzero(np.abs(ours).sum(axis=(-1, -2)))[0] if ours.ndim == 3 else
                          np.argwhere(np.abs(ours).sum(axis=(-1, -2))), np.nonzero(np.abs(theirs).sum(axis=(-1, -2)))[0]
                          if ours.ndim == 3 else np.argwhere(np.abs(theirs).sum(axis=(-1, -2))))
    host = I.delta_orthogonal()(0, shape)
    assert np.array_equal(np.argwhere(np.abs(host).sum(axis=(-1, -2))), np.argwhere(np.abs(theirs).sum(axis=(-1, -2))))


@pytest.mark.parametrize("dtype, bound", [("float16", 1e-9)])
def test_values_that_round_to_zero_keep_their_sign(dtype, bound):
    """A uniform held in [-0, 0] gives -0 for a negative float32 draw on every path (jnp.clip gave +0 where the C
    core's portable path gave -0). Not bfloat16: its zeros come from float32 subnormals, which XLA on CPU flushes
    to zero (the README says so)."""
    draw = F.uniform(-bound, bound, dtype)
    want = np.empty(N, F.storage_dtype(dtype))
    fi.Generator(SEED).fill(draw, dtype, want, stream=0)
    got = np.asarray(J.fill(draw, (N,), dtype, *_words(SEED))).view(np.uint16)
    assert 0 < np.count_nonzero(want.view(np.uint16) == 0x8000) < N
    np.testing.assert_array_equal(got, want.view(np.uint16))
