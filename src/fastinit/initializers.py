"""Keras 3 and JAX initializers. The classes (``GlorotUniform``, ``HeNormal``, ``VarianceScaling``...) are Keras
3's (``fastinit.keras_initializers``): objects called as ``init(shape, dtype=None)`` that return a new NumPy
array, fans of a kernel (..., in, out). The functions (``glorot_uniform``, ``he_normal``, ``variance_scaling``...)
are ``jax.nn.initializers``': a function of the hyperparameters returns ``init(key, shape, dtype)``.

JAX keys (``jax.random.key(s)``, ``jax.random.PRNGKey(s)``, split or folded-in keys, concrete or traced under ``jit``
and ``vmap``) give ``jax.Array`` results drawn by ``fastinit.jax_stream`` (the stream format in ``jax.numpy``): key
data (k0, k1) is the fastinit seed ``k0 << 32 | k1``, stream 0, so ``PRNGKey(s)`` draws what ``Generator(s)``'s first
fill draws. An int key or a ``fastinit.Generator`` gives a NumPy array from the C core (an int: stream 0 of
``Generator(key)``; a Generator: its next stream).
"""
import math

import numpy as np

from . import _validate as V
from .generator import Generator
from . import fillspec as _F
from .keras_initializers import (ALIASES, DISTRIBUTIONS, MODES, TRUNCATED_NORMAL_STD_CORRECTION, Constant,
                                 GlorotNormal, GlorotUniform, HeNormal, HeUniform, Identity, Initializer, LecunNormal,
                                 LecunUniform, Ones, Orthogonal, RandomNormal, RandomUniform, TruncatedNormal,
                                 VarianceScaling, Zeros, compute_fans, element_type, get, numpy_dtype,
                                 shape_of)

__all__ = ["Initializer", "VarianceScaling", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "LecunNormal",
           "LecunUniform", "RandomNormal", "RandomUniform", "TruncatedNormal", "Zeros", "Ones", "Constant",
           "Identity", "Orthogonal", "compute_fans", "get", "ALIASES", "MODES", "DISTRIBUTIONS",
           "TRUNCATED_NORMAL_STD_CORRECTION",
           # JAX's functions
           "variance_scaling", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform",
           "lecun_normal", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "normal", "uniform",
           "truncated_normal", "constant", "zeros", "ones", "orthogonal", "delta_orthogonal"]


# ------------------------------------------------------------------------------------------ JAX's functions
# jax.nn.initializers: a function of the hyperparameters returns init(key, shape, dtype), except zeros and ones,
# which are init functions themselves. The fans are JAX's (in_axis, out_axis, batch_axis).

def _host_key(key):
    """The Generator of an int key or a Generator; None for anything else (a JAX key)."""
    if isinstance(key, Generator):
        return key
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        return Generator(V.uint64(key, "key"))
    return None


def _jax_key(key):
    """(jax_stream, k0, k1) of a JAX PRNG key."""
    try:
        import jax.numpy as jnp
        from . import jax_stream
    except ImportError:
        raise TypeError(f"key must be an int, a fastinit.Generator or a JAX PRNG key, got {type(key).__name__} "
                        "(JAX keys need jax installed)") from None
    if not hasattr(key, "dtype") or not hasattr(key, "shape"):
        raise TypeError(f"key must be an int, a fastinit.Generator or a JAX PRNG key, got {type(key).__name__}")
    return (jax_stream, *jax_stream.key_words(jnp.asarray(key)))


def _draws(make):
    """init(key, shape, dtype=None) from make(seed) -> a Keras-style initializer object with ``draw``."""
    def init(key, shape, dtype=None):
        gen = _host_key(key)
        if gen is not None:
            return make(gen)(shape, dtype=dtype)
        js, k0, k1 = _jax_key(key)
        shape, element = shape_of(shape), js.output_dtype(dtype)
        return js.fill(make(0).draw(shape, element), shape, element, k0, k1)
    return init


def _with_dtype(init, default):
    def with_default(key, shape, dtype=None):
        return init(key, shape, dtype if dtype is not None else default)
    return with_default


def variance_scaling(scale, mode, distribution, in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
    """JAX's ``variance_scaling``: see :class:`VarianceScaling` (truncated normals are corrected to the variance
    scale / n by 0.87962566103423978). ``distribution="normal"`` keeps JAX's meaning, an untruncated normal (the
    Keras class reads it as Keras 3 does, truncated)."""
    if distribution == "normal":
        distribution = "untruncated_normal"
    VarianceScaling(scale, mode, distribution, 0, in_axis, out_axis, batch_axis)   # checks the arguments now
    init = _draws(lambda g: VarianceScaling(scale, mode, distribution, g, in_axis, out_axis, batch_axis))
    return _with_dtype(init, dtype)


def glorot_uniform(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
    """Glorot & Bengio (2010): U(-l, l), l = sqrt(6 / (fan_in + fan_out)). ``jax.nn.initializers.glorot_uniform``."""
    return variance_scaling(1.0, "fan_avg", "uniform", in_axis, out_axis, batch_axis, dtype)


def glorot_normal(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
    """Glorot & Bengio (2010): truncated normal with variance 2 / (fan_in + fan_out)."""
    return variance_scaling(1.0, "fan_avg", "truncated_normal", in_axis, out_axis, batch_axis, dtype)


def he_uniform(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
    """He et al. (2015): U(-l, l), l = sqrt(6 / fan_in). ``jax.nn.initializers.he_uniform``."""
    return variance_scaling(2.0, "fan_in", "uniform", in_axis, out_axis, batch_axis, dtype)


def he_normal(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
    """He et al. (2015): truncated normal with variance 2 / fan_in. ``jax.nn.initializers.he_normal``."""
    return variance_scaling(2.0, "fan_in", "truncated_normal", in_axis, out_axis, batch_axis, dtype)


def lecun_uniform(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
    """LeCun et al. (1998): U(-l, l), l = sqrt(3 / fan_in). ``jax.nn.initializers.lecun_uniform``."""
    return variance_scaling(1.0, "fan_in", "uniform", in_axis, out_axis, batch_axis, dtype)


def lecun_normal(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
    """LeCun et al. (1998): truncated normal with variance 1 / fan_in. ``jax.nn.initializers.lecun_normal``."""
    return variance_scaling(1.0, "fan_in", "truncated_normal", in_axis, out_axis, batch_axis, dtype)


xavier_uniform, xavier_normal = glorot_uniform, glorot_normal
kaiming_uniform, kaiming_normal = he_uniform, he_normal


def normal(stddev=1e-2, dtype=None):
    """N(0, stddev^2). ``jax.nn.initializers.normal``."""
    RandomNormal(0.0, stddev, 0)
    return _with_dtype(_draws(lambda g: RandomNormal(0.0, stddev, g)), dtype)


def uniform(scale=1e-2, dtype=None):
    """U[0, scale) (JAX's convention: not centred). ``jax.nn.initializers.uniform``."""
    scale = V.real(scale, "scale")
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    return _with_dtype(_draws(lambda g: RandomUniform(0.0, scale, g)), dtype)


class _Truncated(Initializer):
    """stddev times a unit normal truncated to [lower, upper]: JAX's truncated_normal as an initializer object."""

    def __init__(self, stddev, lower, upper, seed):
        self.stddev, self.lower, self.upper = stddev, lower, upper
        super().__init__(seed)

    def draw(self, shape, element):
        return _F.truncated_normal(0.0, self.stddev, self.lower * self.stddev, self.upper * self.stddev, element)


def truncated_normal(stddev=1e-2, lower=-2.0, upper=2.0, dtype=None):
    """stddev times a standard normal truncated to [lower, upper] (not rescaled). ``jax.nn.initializers.
    truncated_normal``."""
    stddev, lower, upper = V.real(stddev, "stddev"), V.real(lower, "lower"), V.real(upper, "upper")
    if not stddev >= 0 or not lower < upper:
        raise ValueError(f"need stddev >= 0 and lower < upper, got {stddev}, {lower}, {upper}")
    return _with_dtype(_draws(lambda g: _Truncated(stddev, lower, upper, g)), dtype)


def _full(value, key, shape, dtype):
    """value everywhere: a jax.Array for a JAX key, else a NumPy array."""
    if _host_key(key) is not None:
        return Constant(value)(shape, dtype=dtype)
    js, _, _ = _jax_key(key)
    import jax.numpy as jnp
    return jnp.full(shape_of(shape), value, js.output_dtype(dtype))


def constant(value, dtype=None):
    """Every element equal to value. ``jax.nn.initializers.constant``."""
    Constant(value)
    return _with_dtype(lambda key, shape, dtype_=None: _full(value, key, shape, dtype_), dtype)


def zeros(key, shape, dtype=None):
    """All zeros: an init function itself, as ``jax.nn.initializers.zeros``."""
    return _full(0.0, key, shape, dtype)


def ones(key, shape, dtype=None):
    """All ones: an init function itself, as ``jax.nn.initializers.ones``."""
    return _full(1.0, key, shape, dtype)


def _haar_jax(key, rows, cols, dtype):
    """JAX key: a Haar (rows, cols) matrix as jax.nn.initializers.orthogonal forms it (QR of a normal matrix in
    jax.numpy, R's diagonal signs moved into Q), from fastinit's normal draws."""
    import jax.numpy as jnp
    js, k0, k1 = _jax_key(key)
    element = js.output_dtype(dtype)
    work = "float64" if element == "float64" else "float32"
    a = js.fill(_F.normal(0.0, 1.0, work), (max(rows, cols), min(rows, cols)), work, k0, k1)
    q, r = jnp.linalg.qr(a)
    q = q * jnp.sign(jnp.diagonal(r))
    return (q.T if rows < cols else q).astype(element)


def orthogonal(scale=1.0, column_axis=-1, dtype=None):
    """Saxe et al. (2013): scale times a (semi-)orthogonal matrix, the other axes flattened against
    ``column_axis``. ``jax.nn.initializers.orthogonal``."""
    scale = V.real(scale, "scale")
    column_axis = V.integer(column_axis, "column_axis")

    def init(key, shape, dtype_=None):
        shape = shape_of(shape)
        if len(shape) < 2:
            raise ValueError(f"orthogonal needs a shape of at least 2 dimensions, got {shape}")
        axis = range(len(shape))[column_axis]
        moved = shape[:axis] + shape[axis + 1:] + (shape[axis],)
        if _host_key(key) is not None:
            return np.moveaxis(Orthogonal(gain=scale, seed=_host_key(key))(moved, dtype=dtype_), -1, axis)
        import jax.numpy as jnp
        rows, cols = math.prod(moved[:-1]), moved[-1]
        if rows and cols:
            q = scale * _haar_jax(key, rows, cols, dtype_)
        else:
            q = jnp.zeros((rows, cols), _jax_key(key)[0].output_dtype(dtype_))
        return jnp.moveaxis(q.reshape(moved), -1, axis)
    return _with_dtype(init, dtype)


def delta_orthogonal(scale=1.0, column_axis=-1, dtype=None):
    """Xiao et al. (2018), "Dynamical isometry and a mean field theory of CNNs": a convolution kernel (*spatial,
    in, out), in <= out, that is an orthogonal matrix at the spatial centre and zero elsewhere.
    ``jax.nn.initializers.delta_orthogonal``."""
    ortho = orthogonal(scale, column_axis)

    def init(key, shape, dtype_=None):
        shape = shape_of(shape)
        if len(shape) not in (3, 4, 5):
            raise ValueError(f"delta_orthogonal needs a 3-, 4- or 5-D kernel shape, got {shape}")
        if shape[-2] > shape[-1]:
            raise ValueError(f"delta_orthogonal needs in <= out (shape[-2] <= shape[-1]), got {shape}")
        centre = tuple(k // 2 for k in shape[:-2])
        if _host_key(key) is not None:
            out = np.zeros(shape, dtype=numpy_dtype(element_type(dtype_)))
            out[centre] = ortho(key, shape[-2:], dtype_)
            return out
        import jax.numpy as jnp
        q = ortho(key, shape[-2:], dtype_)
        return jnp.zeros(shape, q.dtype).at[centre].set(q)
    return _with_dtype(init, dtype)
