"""The stream format (README, "Stream format") in ``jax.numpy``: traceable, so the JAX initializers work under
``jax.jit`` and ``jax.vmap`` and on every JAX backend, with the numbers of the C core.

Philox4x32-10 runs on uint32 words only (the 32 x 32 -> 64-bit products as four 16 x 16-bit ones), so it needs no
64-bit types. float32, float16 and bfloat16 outputs are computed in float32 with the same formulas and order of
operations as the C core's portable path (Cephes logf / sinf / cosf for Box-Muller); truncated normals invert Phi
in float32. float64 outputs (``jax_enable_x64``) use uint64 words and float64 math. XLA compiles a * b + c into one
fused multiply-add where the C core rounds twice, so values agree with the C core to the stream format's tolerance
of each kind, uniforms to one rounding of (high - low) u (raw words: bit for bit).

A JAX PRNG key names a fastinit seed: key data (k0, k1) (raw uint32 keys, or ``jax.random.key_data`` of a typed
key) is seed ``k0 << 32 | k1``, stream 0, so ``jax.random.PRNGKey(s)`` and ``jax.random.key(s)`` draw what
``fastinit.Generator(s)``'s first fill draws; ``split`` / ``fold_in`` keys are other seeds.
"""
import functools
import math

import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["key_words", "words", "fill", "output_dtype"]

_M0, _M1 = 0xD2511F53, 0xCD9E8D57
_W0, _W1 = 0x9E3779B9, 0xBB67AE85
_U32 = jnp.uint32


def key_words(key, name="key"):
    """(k0, k1): the two uint32 words of a JAX PRNG key (raw or typed, concrete or traced)."""
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        impl = jax.random.key_impl(key)
        data = jax.random.key_data(key)
        if data.shape != (2,):
            raise ValueError(f"{name} must be a threefry2x32 key (2 words of key data), got a {impl} key "
                             f"of key data shape {data.shape}")
    else:
        if key.dtype != jnp.uint32 or key.shape != (2,):
            raise ValueError(f"{name} must be a JAX PRNG key: jax.random.key(s), or a raw uint32 key of shape (2,) "
                             f"such as jax.random.PRNGKey(s); got dtype {key.dtype}, shape {key.shape}")
        data = key
    data = jnp.asarray(data, _U32)
    return data[0], data[1]


def _mulhilo(m, x):
    """(hi, lo) of the 64-bit product m * x of a constant and a uint32 array, in 16-bit halves."""
    m_hi, m_lo = _U32(m >> 16), _U32(m & 0xFFFF)
    x_hi, x_lo = x >> 16, x & _U32(0xFFFF)
    ll, lh, hl = m_lo * x_lo, m_lo * x_hi, m_hi * x_lo
    mid = (ll >> 16) + (lh & _U32(0xFFFF)) + (hl & _U32(0xFFFF))
    hi = m_hi * x_hi + (lh >> 16) + (hl >> 16) + (mid >> 16)
    return hi, x * _U32(m)


def _philox(c0, c1, c2, c3, k0, k1):
    for r in range(10):
        if r:
            k0, k1 = k0 + _U32(_W0), k1 + _U32(_W1)
        hi0, lo0 = _mulhilo(_M0, c0)
        hi1, lo1 = _mulhilo(_M1, c2)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
    return c0, c1, c2, c3


def _block(b, k0, k1):
    """The four words of Philox block b (a uint32 array) of stream 0 under the key words of seed k0 << 32 | k1."""
    zero = jnp.zeros_like(b)
    return _philox(b, zero, zero, zero, zero + k1, zero + k0)


def _pick(j, choices):
    """choices[j] elementwise (j a uint32 array). Each element computes its own block and picks its word: XLA on
    CPU interleaves four arrays (stack + reshape) ten times slower than it runs the rounds four times over."""
    out = choices[-1]
    for i in range(len(choices) - 2, -1, -1):
        out = jnp.where(j == i, choices[i], out)
    return out


def _index(n):
    if n > 2 ** 32:
        raise ValueError(f"{n} values: the JAX path indexes at most 2**32 values of a stream")
    return jnp.arange(n, dtype=_U32)


def words(k0, k1, n):
    """The first n uint32 words of stream 0 under the key words of seed k0 << 32 | k1 (philox key (k1, k0))."""
    i = _index(n)
    return _pick(i & _U32(3), _block(i >> 2, k0, k1))


def _int_to_f32(x):
    """A uint32 below 2**31 as float32, rounded to nearest (through int32, as the C core converts)."""
    return lax.bitcast_convert_type(x, jnp.int32).astype(jnp.float32)


# ------------------------------------------------------------------------------ float32: Cephes logf, sinf, cosf

def _log1p_reduced_f(f, e):
    z = f * f
    p = f * 7.0376836292E-2 + -1.1514610310E-1
    for c in (1.1676998740E-1, -1.2420140846E-1, 1.4249322787E-1, -1.6668057665E-1, 2.0000714765E-1,
              -2.4999993993E-1, 3.3333331174E-1):
        p = p * f + c
    y = f * z * p
    y = y + e * -2.12194440e-4
    y = y - 0.5 * z
    return (f + y) + e * 0.693359375


def _neg2log_f(w):
    """-2 ln u1, u1 = w 2^-32 + 2^-33; the upper half as 1 - u1 formed exactly from ~w."""
    upper = (w >> 31) != 0
    m = jnp.where(upper, ~w, w)
    x = _int_to_f32(m) * jnp.float32(2.3283064365386963e-10) + jnp.float32(1.1641532182693481e-10)
    bits = lax.bitcast_convert_type(x, _U32)
    ex = (bits >> 23).astype(jnp.int32) - 126
    mant = lax.bitcast_convert_type((bits & _U32(0x007FFFFF)) | _U32(0x3F000000), jnp.float32)
    small = mant < jnp.float32(0.70710678118654752)
    mant = jnp.where(small, mant + mant, mant)
    ex = jnp.where(small, ex - 1, ex)
    near = x <= jnp.float32(0.29289321881345248)
    f = jnp.where(upper, jnp.where(near, -x, 1.0 - 2.0 * x), mant - 1.0)
    e = jnp.where(upper, jnp.where(near, 0.0, -1.0), ex.astype(jnp.float32)).astype(jnp.float32)
    return -2.0 * _log1p_reduced_f(f, e)


def _by_quadrant(s, c, quadrant):
    odd = (quadrant & 1) != 0
    so, co = jnp.where(odd, c, s), jnp.where(odd, s, c)
    return jnp.where((quadrant & 2) != 0, -so, so), jnp.where(((quadrant + 1) & 2) != 0, -co, co)


def _sincos_2pi_f(w):
    """sin and cos of 2 pi u2, u2 = w 2^-32 + 2^-33: quadrant from the word's top bits, residual from the rest."""
    quadrant = ((w + _U32(0x20000000)) >> 30) & _U32(3)
    r = (_int_to_f32(w << 2) + jnp.float32(2.0)) * jnp.float32(3.657295198167899e-10)
    z = r * r
    sp = z * jnp.float32(-1.9515295891E-4) + jnp.float32(8.3321608736E-3)
    sp = sp * z + jnp.float32(-1.6666654611E-1)
    s = r + r * z * sp
    cp = z * jnp.float32(2.443315711809948E-5) + jnp.float32(-1.388731625493765E-3)
    cp = cp * z + jnp.float32(4.166664568298827E-2)
    c = 1.0 - 0.5 * z + z * z * cp
    return _by_quadrant(s, c, quadrant)


def _ndtri_pq(p, q):
    """z with Phi(z) = p, from p and q = 1 - p (each accurate): the smaller one is inverted."""
    from jax.scipy.special import ndtri

    return jnp.where(p < q, ndtri(jnp.minimum(p, 0.5)), -ndtri(jnp.minimum(q, 0.5)))


# ------------------------------------------------------------------------------ the kinds

def _f32(x):
    return jnp.float32(x)


def _fill32(kind, p, n, k0, k1):
    i = _index(n)
    c = _block(i >> 2, k0, k1)
    if kind == "normal":   # pair k = i >> 1 uses words 2k, 2k + 1; value 2k its cosine, 2k + 1 its sine
        second = (i & _U32(2)) != 0
        r = jnp.sqrt(_neg2log_f(jnp.where(second, c[2], c[0])))
        s, co = _sincos_2pi_f(jnp.where(second, c[3], c[1]))
        z = r * jnp.where((i & _U32(1)) != 0, s, co)
        return _f32(p["mean"]) + _f32(p["std"]) * z
    w = _pick(i & _U32(3), c)
    if kind == "uniform":
        u = (w >> 8).astype(jnp.float32) * _f32(2.0 ** -24)
        return jnp.minimum(_f32(p["low"]) + _f32(p["scale"]) * u, _f32(p["upper"]))
    k = (w >> 8).astype(jnp.int32)
    u = (k.astype(jnp.float32) + 0.5) * _f32(2.0 ** -24)
    um = ((0xFFFFFF - k).astype(jnp.float32) + 0.5) * _f32(2.0 ** -24)
    z = _ndtri_pq(_f32(p["p_lo"]) + u * _f32(p["mass"]), _f32(p["q_hi"]) + um * _f32(p["mass"]))
    v = _f32(p["mean"]) + _f32(p["std"]) * z
    return jnp.clip(v, _f32(p["clamp_lo"]), _f32(p["clamp_hi"]))


def _k53(lo, hi):
    return ((hi.astype(jnp.uint64) << 32) | lo.astype(jnp.uint64)) >> 11


def _fill64(kind, p, n, k0, k1):
    i = _index(n)
    c = _block(i >> 1, k0, k1)
    if kind == "normal":   # pair k = i >> 1 is block k: u1 from words (4k, 4k + 1), u2 from (4k + 2, 4k + 3)
        k = _k53(c[0], c[1]).astype(jnp.float64)
        u1, v1 = (k + 0.5) * 2.0 ** -53, (2.0 ** 53 - k - 0.5) * 2.0 ** -53
        r = jnp.sqrt(jnp.where(u1 > 0.5, -2.0 * jnp.log1p(-v1), -2.0 * jnp.log(u1)))
        theta = 2.0 * math.pi * ((_k53(c[2], c[3]).astype(jnp.float64) + 0.5) * 2.0 ** -53)
        z = jnp.where((i & _U32(1)) != 0, r * jnp.sin(theta), r * jnp.cos(theta))
        return p["mean"] + p["std"] * z
    second = (i & _U32(1)) != 0   # value i: words 2i, 2i + 1
    k = _k53(jnp.where(second, c[2], c[0]), jnp.where(second, c[3], c[1])).astype(jnp.float64)
    if kind == "uniform":
        return jnp.minimum(p["low"] + p["scale"] * (k * 2.0 ** -53), p["upper"])
    u, um = (k + 0.5) * 2.0 ** -53, (2.0 ** 53 - k - 0.5) * 2.0 ** -53
    z = _ndtri_pq(p["p_lo"] + u * p["mass"], p["q_hi"] + um * p["mass"])
    return jnp.clip(p["mean"] + p["std"] * z, p["clamp_lo"], p["clamp_hi"])


def output_dtype(dtype):
    """The fillspec element type of a JAX dtype request (float64 only where JAX has it: ``jax_enable_x64``)."""
    dt = jax.dtypes.canonicalize_dtype(jnp.float32 if dtype is None else dtype)
    name = jnp.dtype(dt).name
    if name not in ("float32", "float64", "float16", "bfloat16"):
        raise TypeError(f"dtype must be float32, float64, float16 or bfloat16, got {name}")
    return name


def fill(draw, shape, dtype, k0, k1):
    """A new jax.Array of ``shape`` and element type ``dtype`` (``output_dtype``) holding ``draw`` = (kind, params)
    of ``fastinit.random._spec``, from stream 0 of the key words' seed. Traceable in the key words; compiled once per
    distribution, shape and dtype (inlined into an enclosing jit)."""
    kind, params = draw
    # the parameters as exact, hashable static arguments (float.hex keeps the sign of a zero bound)
    return _compiled(kind, tuple((k, float(v).hex()) for k, v in params.items()), tuple(shape), dtype, k0, k1)


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3))
def _compiled(kind, params, shape, dtype, k0, k1):
    p = {k: float.fromhex(v) for k, v in params}
    n = math.prod(shape)
    if dtype == "float64":
        v = _fill64(kind, p, n, k0, k1)
    else:
        v = _fill32(kind, p, n, k0, k1)
        if dtype != "float32":
            lo, hi = _f32(p["narrow_lo"]), _f32(p["narrow_hi"])   # (held exactly: a zero keeps its sign, as in C)
            v = jnp.where(v < lo, lo, jnp.where(v > hi, hi, v)).astype(dtype)   # round to nearest even
    return v.reshape(shape)
