"""Keras 3 and JAX initializers. The classes (``GlorotUniform``, ``HeNormal``, ``VarianceScaling``...) are Keras
3's (``fastinit.keras_initializers``): objects called as ``init(shape, dtype=None)`` that return a new NumPy
array, fans of a kernel (..., in, out). The functions (``glorot_uniform``, ``he_normal``, ``variance_scaling``...)
are ``jax.nn.initializers``': a function of the hyperparameters returns ``init(key, shape, dtype)``.
"""
import numpy as np

from . import _validate as V
from .generator import Generator
from .keras_initializers import (ALIASES, DISTRIBUTIONS, MODES, TRUNCATED_NORMAL_STD_CORRECTION, Constant,
                                 GlorotNormal, GlorotUniform, HeNormal, HeUniform, Identity, Initializer, LecunNormal,
                                 LecunUniform, Ones, Orthogonal, RandomNormal, RandomUniform, TruncatedNormal,
                                 VarianceScaling, Zeros, compute_fans, get, shape_of)

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
# which are init functions themselves. key: a fastinit.Generator (each call draws its next stream, the way a JAX
# user splits keys) or an int (the same int gives the same values, as the same JAX key does). Results are NumPy
# arrays; the fans are JAX's (in_axis, out_axis, batch_axis).

def _key_generator(key):
    if isinstance(key, Generator):
        return key
    return Generator(V.uint64(key, "key"))


def _jax_init(make):
    """init(key, shape, dtype=None) from make(generator) -> a Keras-style initializer object."""
    def init(key, shape, dtype=None):
        return make(_key_generator(key))(shape, dtype=dtype)
    return init


def variance_scaling(scale, mode, distribution, in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
    """JAX's ``variance_scaling``: see :class:`VarianceScaling` (truncated normals are corrected to the variance
    scale / n by 0.87962566103423978; "normal" is "untruncated_normal")."""
    VarianceScaling(scale, mode, distribution, 0, in_axis, out_axis, batch_axis)   # checks the arguments now
    init = _jax_init(lambda g: VarianceScaling(scale, mode, distribution, g, in_axis, out_axis, batch_axis))
    return _with_dtype(init, dtype)


def _with_dtype(init, default):
    def with_default(key, shape, dtype=None):
        return init(key, shape, dtype if dtype is not None else default)
    return with_default


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
    return _with_dtype(_jax_init(lambda g: RandomNormal(0.0, stddev, g)), dtype)


def uniform(scale=1e-2, dtype=None):
    """U[0, scale) (JAX's convention: not centred). ``jax.nn.initializers.uniform``."""
    scale = V.real(scale, "scale")
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    return _with_dtype(_jax_init(lambda g: RandomUniform(0.0, scale, g)), dtype)


def truncated_normal(stddev=1e-2, lower=-2.0, upper=2.0, dtype=None):
    """stddev times a standard normal truncated to [lower, upper] (not rescaled). ``jax.nn.initializers.
    truncated_normal``."""
    stddev, lower, upper = V.real(stddev, "stddev"), V.real(lower, "lower"), V.real(upper, "upper")
    if not stddev >= 0 or not lower < upper:
        raise ValueError(f"need stddev >= 0 and lower < upper, got {stddev}, {lower}, {upper}")

    def init(key, shape, dtype_=None):
        dt = V.float_dtype(np.float32 if dtype_ is None else dtype_)
        return _key_generator(key).truncated_normal(shape_of(shape), 0.0, stddev, lower * stddev, upper * stddev,
                                                    dtype=dt)
    return _with_dtype(init, dtype)


def constant(value, dtype=None):
    """Every element equal to value. ``jax.nn.initializers.constant``."""
    Constant(value)
    return _with_dtype(lambda key, shape, dtype_=None: Constant(value)(shape, dtype=dtype_), dtype)


def zeros(key, shape, dtype=None):
    """All zeros: an init function itself, as ``jax.nn.initializers.zeros``."""
    return Zeros()(shape, dtype=dtype)


def ones(key, shape, dtype=None):
    """All ones: an init function itself, as ``jax.nn.initializers.ones``."""
    return Ones()(shape, dtype=dtype)


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
        flat = Orthogonal(gain=scale, seed=_key_generator(key))(moved, dtype=dtype_)
        return np.moveaxis(flat, -1, axis)
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
        dt = V.float_dtype(np.float32 if dtype_ is None else dtype_)
        out = np.zeros(shape, dtype=dt)
        out[tuple(k // 2 for k in shape[:-2])] = ortho(key, shape[-2:], dt)
        return out
    return _with_dtype(init, dtype)
