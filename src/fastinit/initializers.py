"""Keras 3 / JAX initializers: objects called as ``init(shape, dtype=None)`` that return a new NumPy array.

Fans follow Keras's convention for a kernel of shape (..., in, out): fan_in = shape[-2] * receptive,
fan_out = shape[-1] * receptive, receptive = prod(shape[:-2]); a 1-D shape has fan_in = fan_out = shape[0] and a
0-D shape 1. ``VarianceScaling`` also takes JAX's ``in_axis``, ``out_axis`` and ``batch_axis``.

Seeds follow Keras 3: an initializer seeded with an int, or unseeded (``seed=None``: a seed drawn from OS entropy at
construction), returns the same values at every call (stream 0 of ``Generator(seed)``); to get new values at
each call pass a :class:`fastinit.Generator` as ``seed`` (the role of Keras's ``SeedGenerator``).
"""
import math
import secrets

import numpy as np

from . import _validate as V
from .generator import Generator
from . import schemes as _schemes
from .init import orthogonal_matrix

__all__ = ["Initializer", "VarianceScaling", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "LecunNormal",
           "LecunUniform", "RandomNormal", "RandomUniform", "TruncatedNormal", "Zeros", "Ones", "Constant",
           "Identity", "Orthogonal", "compute_fans", "get", "TRUNCATED_NORMAL_STD_CORRECTION",
           # JAX's functions
           "variance_scaling", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform",
           "lecun_normal", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "normal", "uniform",
           "truncated_normal", "constant", "zeros", "ones", "orthogonal", "delta_orthogonal"]

# Std of a standard normal truncated to [-2, 2] (its home is the scheme table)
TRUNCATED_NORMAL_STD_CORRECTION = _schemes.TRUNCATED_NORMAL_STD_CORRECTION

MODES = ("fan_in", "fan_out", "fan_avg")
DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "normal", "uniform")


def _shape(shape):
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"shape must be a tuple of non-negative ints, got {type(shape).__name__} {shape!r}")
    return V.shape(tuple(shape), "shape")


def compute_fans(shape, in_axis=-2, out_axis=-1, batch_axis=()):
    """(fan_in, fan_out) of a kernel shape.

    With the default axes this is Keras's ``compute_fans``: () -> (1, 1), (n,) -> (n, n), (in, out) -> (in, out),
    (*receptive, in, out) -> (in * prod(receptive), out * prod(receptive)). Other axes give JAX's
    ``_compute_fans``: receptive = prod(shape) / (shape[in_axis] * shape[out_axis] * prod(shape[batch_axis])).
    """
    shape = _shape(shape)
    in_axis, out_axis = V.integer(in_axis, "in_axis"), V.integer(out_axis, "out_axis")
    if isinstance(batch_axis, (int, np.integer)) and not isinstance(batch_axis, bool):
        batch_axis = (batch_axis,)
    if not isinstance(batch_axis, (tuple, list)):
        raise TypeError(f"batch_axis must be an int or a tuple of ints, got {type(batch_axis).__name__} {batch_axis!r}")
    batch_axis = tuple(V.integer(a, f"batch_axis[{i}]") for i, a in enumerate(batch_axis))
    default_axes = (in_axis, out_axis, tuple(batch_axis)) == (-2, -1, ())
    if default_axes and len(shape) < 2:
        return (1, 1) if len(shape) == 0 else (shape[0], shape[0])
    n = len(shape)
    try:
        axes = [range(n)[a] for a in (in_axis, out_axis, *batch_axis)]
    except (IndexError, TypeError):
        raise ValueError(f"in_axis={in_axis}, out_axis={out_axis}, batch_axis={batch_axis} do not fit shape {shape}") from None
    if len(set(axes)) != len(axes):
        raise ValueError(f"in_axis, out_axis and batch_axis must be different axes of shape {shape}")
    receptive = math.prod(d for i, d in enumerate(shape) if i not in axes)
    return shape[axes[0]] * receptive, shape[axes[1]] * receptive


class Initializer:
    """Base class: ``init(shape, dtype=None)`` returns a new array of that shape (float32 by default)."""

    def __init__(self, seed=None):
        if isinstance(seed, Generator):
            self.seed = seed
        else:
            self.seed = secrets.randbits(64) if seed is None else V.uint64(seed, "seed")

    def _generator(self):
        return self.seed if isinstance(self.seed, Generator) else Generator(self.seed)

    def __call__(self, shape, dtype=None):
        shape = _shape(shape)
        dt = V.float_dtype(np.float32 if dtype is None else dtype)
        return self._fill(shape, dt)

    def get_config(self):
        return {"seed": self.seed if not isinstance(self.seed, Generator) else None}

    def weight_variance(self, fan_in, fan_out):
        """Var[W_ij] of a zero-mean iid draw for a layer with these fans (the mean-field theory's sigma_w^2 /
        fan_in); NaN when the initializer is not one (constants, identity, a non-zero mean)."""
        return math.nan

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class VarianceScaling(Initializer):
    r"""Draws with variance :math:`s = \text{scale} / \max(1, n)`, n = fan_in, fan_out or (fan_in + fan_out) / 2.

    - ``truncated_normal``: :math:`\mathcal{N}(0, \sigma^2)` truncated to :math:`[-2\sigma, 2\sigma]` with
      :math:`\sigma = \sqrt{s} / 0.87962566103423978` (the std of a unit normal truncated to [-2, 2]), so that the
      draws have variance s.
    - ``untruncated_normal`` (JAX: ``normal``): :math:`\mathcal{N}(0, s)`.
    - ``uniform``: :math:`\mathcal{U}(-\sqrt{3 s}, \sqrt{3 s})`.

    The family of LeCun et al. (1998), Glorot & Bengio (2010) and He et al. (2015). Keras ``VarianceScaling``;
    JAX ``jax.nn.initializers.variance_scaling`` (``in_axis``, ``out_axis``, ``batch_axis``).
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None, in_axis=-2,
                 out_axis=-1, batch_axis=()):
        scale = V.real(scale, "scale")
        if scale <= 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; valid modes: {', '.join(MODES)}")
        if distribution not in DISTRIBUTIONS:
            raise ValueError(f"unknown distribution {distribution!r}; valid distributions: {', '.join(DISTRIBUTIONS)}")
        super().__init__(seed)
        self.scale, self.mode, self.distribution = scale, mode, distribution
        self.in_axis, self.out_axis = V.integer(in_axis, "in_axis"), V.integer(out_axis, "out_axis")
        if isinstance(batch_axis, (int, np.integer)) and not isinstance(batch_axis, bool):
            batch_axis = (batch_axis,)
        if not isinstance(batch_axis, (tuple, list)):
            raise TypeError(f"batch_axis must be an int or a tuple of ints, got {type(batch_axis).__name__} "
                            f"{batch_axis!r}")
        self.batch_axis = tuple(V.integer(a, f"batch_axis[{i}]") for i, a in enumerate(batch_axis))

    def variance(self, shape):
        fan_in, fan_out = compute_fans(shape, self.in_axis, self.out_axis, self.batch_axis)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        return self.scale / max(1.0, n)

    def _fill(self, shape, dtype):
        s = self.variance(shape)
        gen = self._generator()
        if self.distribution == "truncated_normal":
            std = math.sqrt(s) / TRUNCATED_NORMAL_STD_CORRECTION
            return gen.truncated_normal(shape, 0.0, std, -2.0 * std, 2.0 * std, dtype=dtype)
        if self.distribution in ("untruncated_normal", "normal"):
            return gen.normal(shape, 0.0, math.sqrt(s), dtype=dtype)
        limit = math.sqrt(3.0 * s)
        return gen.uniform(shape, -limit, limit, dtype=dtype)

    def weight_variance(self, fan_in, fan_out):
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        return self.scale / fan   # truncated_normal is corrected to this variance

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, **super().get_config()}


def _preset(name, scale, mode, distribution, doc):
    def __init__(self, seed=None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    def get_config(self):
        return Initializer.get_config(self)

    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config, "__doc__": doc})


GlorotNormal = _preset("GlorotNormal", 1.0, "fan_avg", "truncated_normal",
                       "Glorot & Bengio (2010): truncated normal with variance 2 / (fan_in + fan_out).")
GlorotUniform = _preset("GlorotUniform", 1.0, "fan_avg", "uniform",
                        "Glorot & Bengio (2010): U(-l, l), l = sqrt(6 / (fan_in + fan_out)).")
HeNormal = _preset("HeNormal", 2.0, "fan_in", "truncated_normal",
                   "He et al. (2015): truncated normal with variance 2 / fan_in.")
HeUniform = _preset("HeUniform", 2.0, "fan_in", "uniform", "He et al. (2015): U(-l, l), l = sqrt(6 / fan_in).")
LecunNormal = _preset("LecunNormal", 1.0, "fan_in", "truncated_normal",
                      "LeCun et al. (1998): truncated normal with variance 1 / fan_in.")
LecunUniform = _preset("LecunUniform", 1.0, "fan_in", "uniform", "LeCun et al. (1998): U(-l, l), l = sqrt(3 / fan_in).")


class RandomNormal(Initializer):
    """N(mean, stddev^2); Keras default stddev 0.05."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev = V.real(mean, "mean"), V.real(stddev, "stddev")
        if self.stddev < 0:
            raise ValueError(f"stddev must be >= 0, got {self.stddev}")
        super().__init__(seed)

    def _fill(self, shape, dtype):
        return self._generator().normal(shape, self.mean, self.stddev, dtype=dtype)

    def weight_variance(self, fan_in, fan_out):
        return self.stddev ** 2 if self.mean == 0 else math.nan

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class TruncatedNormal(RandomNormal):
    """N(mean, stddev^2) truncated to [mean - 2 stddev, mean + 2 stddev] (not rescaled); Keras default stddev 0.05."""

    def _fill(self, shape, dtype):
        return self._generator().truncated_normal(shape, self.mean, self.stddev, dtype=dtype)

    def weight_variance(self, fan_in, fan_out):
        return self.stddev ** 2 * _schemes.TRUNCATED_NORMAL_VARIANCE if self.mean == 0 else math.nan


class RandomUniform(Initializer):
    """U(minval, maxval); Keras defaults -0.05, 0.05."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval = V.real(minval, "minval"), V.real(maxval, "maxval")
        if not self.minval < self.maxval:
            raise ValueError(f"minval must be < maxval, got {self.minval}, {self.maxval}")
        super().__init__(seed)

    def _fill(self, shape, dtype):
        return self._generator().uniform(shape, self.minval, self.maxval, dtype=dtype)

    def weight_variance(self, fan_in, fan_out):
        width = self.maxval - self.minval   # (width * width: inf past the float range, where ** would raise)
        return width * width / 12 if self.minval == -self.maxval else math.nan

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


class Constant(Initializer):
    """Every element equal to value (constant weights never break symmetry between units)."""

    def __init__(self, value=0.0):
        self.value = V.real(value, "value", finite=False)
        super().__init__(None)

    def _fill(self, shape, dtype):
        return np.full(shape, self.value, dtype=dtype)

    def get_config(self):
        return {"value": self.value}


class Zeros(Constant):
    """All zeros (no symmetry breaking; in a deep network nothing propagates)."""

    def __init__(self):
        super().__init__(0.0)

    def get_config(self):
        return {}


class Ones(Constant):
    """All ones (no symmetry breaking)."""

    def __init__(self):
        super().__init__(1.0)

    def get_config(self):
        return {}


class Identity(Initializer):
    """gain * the identity matrix (2-D shapes only, rectangular allowed)."""

    def __init__(self, gain=1.0):
        self.gain = V.real(gain, "gain")
        super().__init__(None)

    def _fill(self, shape, dtype):
        if len(shape) != 2:
            raise ValueError(f"Identity needs a 2-D shape, got {shape}")
        return self.gain * np.eye(*shape, dtype=dtype)

    def get_config(self):
        return {"gain": self.gain}


class Orthogonal(Initializer):
    """Saxe et al. (2013): gain times a (semi-)orthogonal matrix, the shape viewed as (prod(shape[:-1]), shape[-1])
    as in Keras (rows orthonormal when there are fewer rows than columns, else columns)."""

    def __init__(self, gain=1.0, seed=None):
        self.gain = V.real(gain, "gain")
        if self.gain <= 0:
            raise ValueError(f"gain must be > 0, got {self.gain}")
        super().__init__(seed)

    def _fill(self, shape, dtype):
        if len(shape) < 2:
            raise ValueError(f"Orthogonal needs a shape of at least 2 dimensions, got {shape}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        if rows == 0 or cols == 0:
            return np.zeros(shape, dtype=dtype)
        q = orthogonal_matrix(rows, cols, dtype, self._generator())
        return (self.gain * q).astype(dtype, copy=False).reshape(shape)

    def weight_variance(self, fan_in, fan_out):
        return self.gain ** 2 / max(fan_in, fan_out)

    def get_config(self):
        return {"gain": self.gain, **super().get_config()}


_CLASSES = {c.__name__: c for c in (VarianceScaling, GlorotNormal, GlorotUniform, HeNormal, HeUniform, LecunNormal,
                                      LecunUniform, RandomNormal, RandomUniform, TruncatedNormal, Zeros, Ones,
                                      Constant, Identity, Orthogonal)}
# Keras / JAX names -> class (the table of names is the scheme table's)
ALIASES = {name: _CLASSES[cls] for name, cls in _schemes.KERAS_ALIASES.items()}


def get(identifier):
    """An initializer from a Keras name ('glorot_uniform', 'he_normal', 'GlorotUniform', ...), an Initializer
    (returned as is) or a callable (returned as is)."""
    if isinstance(identifier, Initializer) or (callable(identifier) and not isinstance(identifier, type)):
        return identifier
    if isinstance(identifier, str):
        cls = ALIASES.get(identifier) or _CLASSES.get(identifier)
        if cls is not None:
            return cls()
    raise ValueError(f"unknown initializer {identifier!r}; valid names: {', '.join(sorted(ALIASES) + sorted(_CLASSES))}")


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
        return _key_generator(key).truncated_normal(_shape(shape), 0.0, stddev, lower * stddev, upper * stddev,
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
        shape = _shape(shape)
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
        shape = _shape(shape)
        if len(shape) not in (3, 4, 5):
            raise ValueError(f"delta_orthogonal needs a 3-, 4- or 5-D kernel shape, got {shape}")
        if shape[-2] > shape[-1]:
            raise ValueError(f"delta_orthogonal needs in <= out (shape[-2] <= shape[-1]), got {shape}")
        dt = V.float_dtype(np.float32 if dtype_ is None else dtype_)
        out = np.zeros(shape, dtype=dt)
        out[tuple(k // 2 for k in shape[:-2])] = ortho(key, shape[-2:], dt)
        return out
    return _with_dtype(init, dtype)
