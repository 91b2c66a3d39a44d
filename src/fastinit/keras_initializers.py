"""Keras 3's initializers: objects called as ``init(shape, dtype=None)`` that return a new NumPy array (the
classes of ``fastinit.initializers``, which adds JAX's functions on top of them).

Fans follow Keras's convention for a kernel of shape (..., in, out): fan_in = shape[-2] * receptive,
fan_out = shape[-1] * receptive, receptive = prod(shape[:-2]); a 1-D shape has fan_in = fan_out = shape[0] and a
0-D shape 1. ``VarianceScaling`` also takes JAX's ``in_axis``, ``out_axis`` and ``batch_axis``.

Seeds follow Keras 3: an initializer seeded with an int, or unseeded (``seed=None``: a seed drawn at construction
from Python's ``random`` module, as Keras's ``make_default_seed`` does, so ``keras.utils.set_random_seed`` makes
unseeded builds repeat), returns the same values at every call (stream 0 of ``Generator(seed)``). A
``keras.random.SeedGenerator`` as ``seed`` gives new values at each call (each call takes its next seed state,
words (a, b), and draws stream 0 of seed ``a << 32 | b``), and so does a :class:`fastinit.Generator` (its next
stream).

dtype: float32 (default), float64, float16 or bfloat16 (the float32 draws rounded to nearest even; a bfloat16
array is ``ml_dtypes.bfloat16``, which JAX and Keras install).
"""
import math
import random

import numpy as np

from . import _validate as V
from .generator import Generator
from . import fillspec as _F
from . import schemes as _schemes
from .orthogonal import orthogonal_matrix

__all__ = ["Initializer", "VarianceScaling", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "LecunNormal",
           "LecunUniform", "RandomNormal", "RandomUniform", "TruncatedNormal", "Zeros", "Ones", "Constant",
           "Identity", "Orthogonal", "compute_fans", "get", "shape_of", "ALIASES", "MODES", "DISTRIBUTIONS",
           "TRUNCATED_NORMAL_STD_CORRECTION"]

# Std of a standard normal truncated to [-2, 2] (its home is the scheme table)
TRUNCATED_NORMAL_STD_CORRECTION = _schemes.TRUNCATED_NORMAL_STD_CORRECTION

MODES = ("fan_in", "fan_out", "fan_avg")
DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "normal", "uniform")
FLOAT_TYPES = ("float32", "float64", "float16", "bfloat16")


def element_type(dtype, name="dtype"):
    """The output element type a dtype names: 'float32' (None), 'float64', 'float16' or 'bfloat16', from a string,
    a NumPy dtype or scalar type, ml_dtypes.bfloat16 / jnp.bfloat16, or a Keras dtype string."""
    if dtype is None:
        return "float32"
    try:
        key = dtype if isinstance(dtype, str) else np.dtype(dtype).name
    except TypeError:
        key = None
    if key not in FLOAT_TYPES:
        raise TypeError(f"{name} must be float32, float64, float16 or bfloat16, got {dtype!r}")
    return key


def numpy_dtype(element):
    """The NumPy dtype of an element type (bfloat16: ml_dtypes', the type JAX and Keras use)."""
    if element != "bfloat16":
        return np.dtype(element)
    try:
        import ml_dtypes
    except ImportError:
        raise TypeError("dtype='bfloat16' returns an ml_dtypes.bfloat16 array: pip install ml_dtypes (JAX and Keras "
                        "install it)") from None
    return np.dtype(ml_dtypes.bfloat16)


def _is_seed_generator(seed):
    """A keras.random.SeedGenerator (told by its type, without importing Keras)."""
    return any(c.__name__ == "SeedGenerator" and c.__module__.startswith("keras") for c in type(seed).__mro__)


def _seed_of_state(state):
    """fastinit seed of a Keras seed state (a, b): a << 32 | b (the words as uint32)."""
    a, b = (int(x) & 0xFFFFFFFF for x in np.asarray(state).reshape(-1)[:2])
    return a << 32 | b


def shape_of(shape):
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"shape must be a tuple of non-negative ints, got {type(shape).__name__} {shape!r}")
    return V.shape(tuple(shape), "shape")


def compute_fans(shape, in_axis=-2, out_axis=-1, batch_axis=()):
    """(fan_in, fan_out) of a kernel shape.

    With the default axes this is Keras's ``compute_fans``: () -> (1, 1), (n,) -> (n, n), (in, out) -> (in, out),
    (*receptive, in, out) -> (in * prod(receptive), out * prod(receptive)). Other axes give JAX's
    ``_compute_fans``: receptive = prod(shape) / (shape[in_axis] * shape[out_axis] * prod(shape[batch_axis])).
    """
    shape = shape_of(shape)
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
        if isinstance(seed, dict):   # a SeedGenerator in a saved config
            from keras.saving import deserialize_keras_object
            seed = deserialize_keras_object(seed)
        if isinstance(seed, Generator) or _is_seed_generator(seed):
            self.seed = seed
        else:
            # unseeded: Keras's make_default_seed, so that keras.utils.set_random_seed (which seeds random) holds
            self.seed = random.randint(1, int(1e9)) if seed is None else V.uint64(seed, "seed")

    def _generator(self):
        if isinstance(self.seed, Generator):
            return self.seed
        if _is_seed_generator(self.seed):
            from keras import ops
            return Generator(_seed_of_state(ops.convert_to_numpy(self.seed.next())))
        return Generator(self.seed)

    def __call__(self, shape, dtype=None):
        shape = shape_of(shape)
        element = element_type(dtype)
        out = self._fill(shape, element)
        return out.view(numpy_dtype(element)) if element == "bfloat16" else out

    def _fill(self, shape, element):
        """A NumPy array of shape of this initializer's draws (bfloat16: uint16 bit patterns)."""
        out = np.empty(shape, dtype=_F.storage_dtype(element))
        return self._generator().fill(self.draw(shape, element), element, out)

    def draw(self, shape, element):
        """(kind, params) of ``fastinit.fillspec``: the distribution of a draw of this shape."""
        raise NotImplementedError

    def get_config(self):
        if _is_seed_generator(self.seed):
            from keras.saving import serialize_keras_object
            return {"seed": serialize_keras_object(self.seed)}
        return {"seed": self.seed if not isinstance(self.seed, Generator) else None}

    @classmethod
    def from_config(cls, config):
        """The initializer of a ``get_config()`` dict, as Keras's ``from_config``."""
        return cls(**config)

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
        if distribution == "normal":   # Keras 3's meaning (JAX's variance_scaling passes untruncated_normal)
            distribution = "truncated_normal"
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

    def draw(self, shape, element):
        s = self.variance(shape)
        if self.distribution == "truncated_normal":
            std = math.sqrt(s) / TRUNCATED_NORMAL_STD_CORRECTION
            return _F.truncated_normal(0.0, std, -2.0 * std, 2.0 * std, element)
        if self.distribution == "untruncated_normal":
            return _F.normal(0.0, math.sqrt(s), element)
        limit = math.sqrt(3.0 * s)
        return _F.uniform(-limit, limit, element)

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

    def draw(self, shape, element):
        return _F.normal(self.mean, self.stddev, element)

    def weight_variance(self, fan_in, fan_out):
        return self.stddev ** 2 if self.mean == 0 else math.nan

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class TruncatedNormal(RandomNormal):
    """N(mean, stddev^2) truncated to [mean - 2 stddev, mean + 2 stddev] (not rescaled); Keras default stddev 0.05."""

    def draw(self, shape, element):
        return _F.truncated_normal(self.mean, self.stddev, None, None, element)

    def weight_variance(self, fan_in, fan_out):
        return self.stddev ** 2 * _schemes.TRUNCATED_NORMAL_VARIANCE if self.mean == 0 else math.nan


class RandomUniform(Initializer):
    """U(minval, maxval); Keras defaults -0.05, 0.05."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval = V.real(minval, "minval"), V.real(maxval, "maxval")
        if not self.minval < self.maxval:
            raise ValueError(f"minval must be < maxval, got {self.minval}, {self.maxval}")
        super().__init__(seed)

    def draw(self, shape, element):
        return _F.uniform(self.minval, self.maxval, element)

    def weight_variance(self, fan_in, fan_out):
        width = self.maxval - self.minval   # (width * width: inf past the float range, where ** would raise)
        return width * width / 12 if self.minval == -self.maxval else math.nan

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


class Constant(Initializer):
    """Every element equal to value (constant weights never break symmetry between units)."""

    def __init__(self, value=0.0):
        self.value = V.real(value, "value", finite=False)
        self.seed = None   # (no draws: nothing taken from random)

    def _fill(self, shape, element):
        return np.full(shape, self.value, dtype=numpy_dtype(element))

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
        self.seed = None

    def _fill(self, shape, element):
        if len(shape) != 2:
            raise ValueError(f"Identity needs a 2-D shape, got {shape}")
        return (self.gain * np.eye(*shape)).astype(numpy_dtype(element))

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

    def _fill(self, shape, element):
        if len(shape) < 2:
            raise ValueError(f"Orthogonal needs a shape of at least 2 dimensions, got {shape}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        dtype = numpy_dtype(element)
        if rows == 0 or cols == 0:
            return np.zeros(shape, dtype=dtype)
        q = orthogonal_matrix(rows, cols, np.float64 if element == "float64" else np.float32, self._generator())
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
