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

from .. import _validate as V
from .._optional import require
from ..random import _spec as _F
from ..random._generator import Generator
from . import schemes as _schemes
from ._orthogonal import orthogonal_matrix

__all__ = ["Initializer", "VarianceScaling", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "LecunNormal",
           "LecunUniform", "RandomNormal", "RandomUniform", "TruncatedNormal", "Zeros", "Ones", "Constant",
           "Identity", "Orthogonal", "compute_fans", "get", "shape_tuple", "ALIASES", "MODES", "DISTRIBUTIONS",
           "TRUNCATED_NORMAL_STD_CORRECTION"]

# Std of a standard normal truncated to [-2, 2] (its home is the scheme table)
TRUNCATED_NORMAL_STD_CORRECTION = _schemes.TRUNCATED_NORMAL_STD_CORRECTION

MODES = ("fan_in", "fan_out", "fan_avg")
DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "normal", "uniform")


def numpy_dtype(element):
    """The NumPy dtype of an element type (bfloat16: ml_dtypes', the type JAX and Keras use)."""
    if element != "bfloat16":
        return np.dtype(element)
    ml_dtypes = require("ml_dtypes", "dtype='bfloat16' (an ml_dtypes.bfloat16 array; JAX and Keras install it)",
                        TypeError)
    return np.dtype(ml_dtypes.bfloat16)


def _is_seed_generator(seed):
    """A keras.random.SeedGenerator (told by its type, without importing Keras)."""
    return any(c.__name__ == "SeedGenerator" and c.__module__.startswith("keras") for c in type(seed).__mro__)


def _seed_of_state(state):
    """fastinit seed of a Keras seed state (a, b): a << 32 | b (the words as uint32)."""
    a, b = (int(x) & 0xFFFFFFFF for x in np.asarray(state).reshape(-1)[:2])
    return a << 32 | b


def shape_tuple(shape):
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"shape must be a tuple of non-negative ints, got {type(shape).__name__} {shape!r}")
    return V.shape(tuple(shape), "shape")


def axes_of(value, name):
    """An axis argument as a tuple of ints: JAX takes ``int | Sequence[int]`` for in_axis, out_axis and batch_axis,
    Keras a list of ints (or None) for input_axes and output_axes."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return (int(value),)
    if not isinstance(value, (tuple, list)):
        raise TypeError(f"{name} must be an int or a sequence of ints, got {type(value).__name__} {value!r}")
    return tuple(V.integer(a, f"{name}[{i}]") for i, a in enumerate(value))


def _axes_sizes(shape, groups, names):
    """The product of the sizes of each group of axes; ValueError naming the arguments when an axis is outside the
    shape or two groups share one."""
    n = len(shape)
    try:
        resolved = [[range(n)[a] for a in group] for group in groups]
    except IndexError:
        given = ", ".join(f"{k}={list(g)}" for k, g in zip(names, groups))
        raise ValueError(f"{given} do not fit shape {shape}") from None
    flat = [a for group in resolved for a in group]
    if len(set(flat)) != len(flat):
        raise ValueError(f"{', '.join(names)} must name different axes of shape {shape}")
    return [math.prod(shape[a] for a in group) for group in resolved], set(flat)


def compute_fans(shape, input_axes=None, output_axes=None, *, in_axis=-2, out_axis=-1, batch_axis=()):
    """(fan_in, fan_out) of a kernel shape, as Keras 3's ``compute_fans`` (with JAX's axes as keywords).

    Keras: () -> (1, 1), (n,) -> (n, n), (in, out) -> (in, out), (*receptive, in, out) -> (in * prod(receptive),
    out * prod(receptive)); with ``input_axes`` and ``output_axes`` (Keras >= 3.15, what ``EinsumDense`` passes)
    fan_in = prod(shape[input_axes]) and fan_out = prod(shape[output_axes]). JAX's ``in_axis``, ``out_axis``,
    ``batch_axis`` (ints or sequences of ints): receptive = prod(shape) / (in * out * batch), fan_in = in * receptive,
    fan_out = out * receptive.
    """
    shape = shape_tuple(shape)
    if input_axes is not None and output_axes is not None:
        (fan_in, fan_out), _ = _axes_sizes(shape, (axes_of(input_axes, "input_axes"),
                                                    axes_of(output_axes, "output_axes")),
                                           ("input_axes", "output_axes"))
        return fan_in, fan_out
    groups = (axes_of(in_axis, "in_axis"), axes_of(out_axis, "out_axis"), axes_of(batch_axis, "batch_axis"))
    if groups == ((-2,), (-1,), ()) and len(shape) < 2:
        return (1, 1) if len(shape) == 0 else (shape[0], shape[0])
    (size_in, size_out, _), used = _axes_sizes(shape, groups, ("in_axis", "out_axis", "batch_axis"))
    receptive = math.prod(d for i, d in enumerate(shape) if i not in used)
    return size_in * receptive, size_out * receptive


def _keras_serialize(obj):
    from keras.saving import serialize_keras_object

    return serialize_keras_object(obj)


class Initializer:
    """Base class: ``init(shape, dtype=None)`` returns a new array of that shape (float32 by default).

    ``seed``: an int, None (a seed drawn now from Python's ``random``, as Keras's ``make_default_seed``; the config
    says None, so a clone draws its own, as Keras's do), a ``keras.random.SeedGenerator`` (or its saved config) or a
    :class:`fastinit.Generator`."""

    def __init__(self, seed=None):
        self._init_seed = seed   # what get_config reports: the argument, as Keras's RandomInitializer keeps it
        if isinstance(seed, dict):   # a SeedGenerator in a saved config
            from keras.saving import deserialize_keras_object
            seed = deserialize_keras_object(seed)
            self._init_seed = seed
        if isinstance(seed, Generator) or _is_seed_generator(seed):
            self.seed = seed
        elif seed is None:
            # Keras's make_default_seed, so that keras.utils.set_random_seed (which seeds random) holds
            self.seed = random.randint(1, int(1e9))
        elif isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)):
            self.seed = V.uint64(seed, "seed")
        else:
            raise ValueError("`seed` argument should be an instance of `keras.random.SeedGenerator()`, a "
                             f"fastinit.Generator or an integer. Received: seed={seed!r}")

    def _generator(self):
        if isinstance(self.seed, Generator):
            return self.seed
        if _is_seed_generator(self.seed):
            from keras import ops
            return Generator(_seed_of_state(ops.convert_to_numpy(self.seed.next())))
        return Generator(self.seed)

    def __call__(self, shape, dtype=None):
        shape = shape_tuple(shape)
        element = _F.float_element(dtype)
        out = self._fill(shape, element)
        return out.view(numpy_dtype(element)) if element == "bfloat16" else out

    def _fill(self, shape, element):
        """A NumPy array of shape of this initializer's draws (bfloat16: uint16 bit patterns)."""
        out = np.empty(shape, dtype=_F.storage_dtype(element))
        return self._generator().fill(self.draw(shape, element), element, out)

    def draw(self, shape, element):
        """(kind, params) of ``fastinit.random._spec``: the distribution of a draw of this shape."""
        raise NotImplementedError

    def get_config(self):
        seed = self._init_seed
        if isinstance(seed, Generator):
            return {"seed": None}   # (a Generator is not serializable: a restored one draws a seed of its own)
        return {"seed": _keras_serialize(seed) if _is_seed_generator(seed) else seed}

    @classmethod
    def from_config(cls, config):
        """The initializer of a ``get_config()`` dict, as Keras's ``from_config``."""
        return cls(**config)

    def clone(self):
        """A new initializer of the same config (unseeded: with a seed of its own), as Keras's ``clone``."""
        return type(self).from_config(self.get_config())

    def weight_variance(self, fan_in, fan_out):
        """Var[W_ij] of a zero-mean iid draw for a layer with these fans (the mean-field theory's sigma_w^2 /
        fan_in); NaN when the initializer is not one (constants, identity, a non-zero mean)."""
        return math.nan

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


# n of each mode (fan_in, fan_out) -> n: the variance is scale / n
FAN_MODES = {"fan_in": lambda i, o: i, "fan_out": lambda i, o: o, "fan_avg": lambda i, o: (i + o) / 2.0}


class VarianceScaling(Initializer):
    r"""Draws with variance :math:`s = \text{scale} / \max(1, n)`, n = fan_in, fan_out or (fan_in + fan_out) / 2.

    - ``truncated_normal`` (Keras 3: also ``normal``): :math:`\mathcal{N}(0, \sigma^2)` truncated to
      :math:`[-2\sigma, 2\sigma]` with :math:`\sigma = \sqrt{s} / 0.87962566103423978` (the std of a unit normal
      truncated to [-2, 2]), so that the draws have variance s.
    - ``untruncated_normal``: :math:`\mathcal{N}(0, s)`.
    - ``uniform``: :math:`\mathcal{U}(-\sqrt{3 s}, \sqrt{3 s})`.

    The family of LeCun et al. (1998), Glorot & Bengio (2010) and He et al. (2015). Keras ``VarianceScaling``, fans
    by :func:`compute_fans`: Keras's ``input_axes`` / ``output_axes`` (which ``EinsumDense`` fills in), or JAX's
    ``in_axis``, ``out_axis``, ``batch_axis`` (keywords).
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None, input_axes=None,
                 output_axes=None, *, in_axis=-2, out_axis=-1, batch_axis=()):
        scale = V.real(scale, "scale", finite=False)
        if not scale > 0 or math.isinf(scale):   # Keras's words
            raise ValueError(f"Argument `scale` must be positive float. Received: scale={scale}")
        if not isinstance(mode, str) or mode not in MODES:
            raise ValueError(f"Invalid `mode` argument: {mode}. Please use one of {list(MODES)}")
        distribution = distribution.lower() if isinstance(distribution, str) else distribution
        if distribution == "normal":   # Keras 3's meaning (JAX's variance_scaling passes untruncated_normal)
            distribution = "truncated_normal"
        if distribution not in DISTRIBUTIONS:
            raise ValueError(f"Invalid `distribution` argument: {distribution}. Please use one of "
                             "['truncated_normal', 'untruncated_normal', 'uniform']")
        self.input_axes = None if input_axes is None else list(axes_of(input_axes, "input_axes"))
        self.output_axes = None if output_axes is None else list(axes_of(output_axes, "output_axes"))
        self._jax_axes = {"in_axis": in_axis, "out_axis": out_axis, "batch_axis": batch_axis}
        for name, value in self._jax_axes.items():
            axes_of(value, name)
        super().__init__(seed)
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def fans(self, shape):
        return compute_fans(shape, self.input_axes, self.output_axes, **self._jax_axes)

    def variance(self, shape):
        fan_in, fan_out = self.fans(shape)
        return self.scale / max(1.0, FAN_MODES[self.mode](fan_in, fan_out))

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
        return self.scale / FAN_MODES[self.mode](fan_in, fan_out)   # truncated_normal is corrected to this variance

    def _axes_config(self):
        """Keras's input_axes / output_axes, and JAX's axes where they are not the defaults."""
        jax_axes = {k: v for k, v in self._jax_axes.items() if axes_of(v, k) != {"in_axis": (-2,), "out_axis": (-1,),
                                                                                 "batch_axis": ()}[k]}
        return {"input_axes": self.input_axes, "output_axes": self.output_axes, **jax_axes}

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                **Initializer.get_config(self), **self._axes_config()}


def _preset(name, scale, mode, distribution, doc):
    def __init__(self, seed=None, input_axes=None, output_axes=None, *, in_axis=-2, out_axis=-1, batch_axis=()):
        VarianceScaling.__init__(self, scale, mode, distribution, seed, input_axes, output_axes, in_axis=in_axis,
                                 out_axis=out_axis, batch_axis=batch_axis)

    def get_config(self):
        return {**Initializer.get_config(self), **self._axes_config()}

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
    """Every element equal to value: a number, or an array broadcast to the shape (as Keras's ``Constant``).
    Constant weights never break the symmetry between units."""

    def __init__(self, value=0.0):
        if isinstance(value, (dict, list)) and not isinstance(value, np.ndarray):   # a saved config's array
            value = np.asarray(_keras_deserialize(value) if isinstance(value, dict) else value)
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
            self.value = V.real(value, "value", finite=False)
        elif hasattr(value, "shape") and hasattr(value, "dtype"):   # a NumPy / JAX array, a torch / Keras tensor
            array = np.asarray(value.detach().cpu() if hasattr(value, "detach") else value)
            if array.dtype.kind not in "biuf":
                raise TypeError(f"value must be a real number or a real array, got an array of {array.dtype}")
            self.value = float(array) if array.ndim == 0 else array
        else:
            raise TypeError(f"value must be a real number or an array, got {type(value).__name__} {value!r}")
        self.seed = self._init_seed = None   # (no draws: nothing taken from random)

    def _fill(self, shape, element):
        dtype = numpy_dtype(element)
        if isinstance(self.value, float):
            return np.full(shape, self.value, dtype=dtype)
        try:
            return np.array(np.broadcast_to(self.value.astype(dtype), shape))
        except ValueError:
            raise ValueError(f"value of shape {self.value.shape} cannot be broadcast to shape {shape}") from None

    def get_config(self):
        if isinstance(self.value, float):
            return {"value": self.value}
        return {"value": _keras_serialize(self.value) if _keras_loaded() else self.value.tolist()}


def _keras_loaded():
    import sys

    return "keras" in sys.modules


def _keras_deserialize(config):
    from keras.saving import deserialize_keras_object

    return deserialize_keras_object(config)


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
        self.seed = self._init_seed = None

    def _fill(self, shape, element):
        if len(shape) != 2:   # Keras's words
            raise ValueError("Identity matrix initializer can only be used for 2D matrices. "
                             f"Received: shape={shape} of rank {len(shape)}.")
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
        if len(shape) < 2:   # Keras's words
            raise ValueError("The tensor to initialize must be at least two-dimensional. "
                             f"Received: shape={shape} of rank {len(shape)}.")
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


CLASSES = {c.__name__: c for c in (Initializer, VarianceScaling, GlorotNormal, GlorotUniform, HeNormal, HeUniform,
                                     LecunNormal, LecunUniform, RandomNormal, RandomUniform, TruncatedNormal, Zeros,
                                     Ones, Constant, Identity, Orthogonal)}
# Keras / JAX names -> class name (the table of names is the scheme table's), and Keras's legacy aliases
ALIAS_NAMES = {**_schemes.KERAS_ALIASES, "normal": "RandomNormal", "uniform": "RandomUniform", "one": "Ones",
               "zero": "Zeros", "IdentityInitializer": "Identity", "OrthogonalInitializer": "Orthogonal"}
ALIASES = {name: CLASSES[cls] for name, cls in ALIAS_NAMES.items()}


def get(identifier, classes=None):
    """An initializer as ``keras.initializers.get`` makes one: None -> None; a name ('glorot_uniform', 'HeNormal',
    Keras's legacy 'OrthogonalInitializer', ...) or a class -> a new instance; a ``{"class_name", "config"}`` dict
    (what ``keras.initializers.serialize`` writes) -> ``from_config``; an array or tensor -> a function returning it
    (for that shape only); any other callable as it is. ``classes``: name -> class (the public ones)."""
    classes = CLASSES if classes is None else classes
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        if not isinstance(identifier.get("class_name"), str) or not isinstance(identifier.get("config", {}), dict):
            raise ValueError(f"Could not interpret initializer identifier: {identifier}")
        name = identifier.get("registered_name") or identifier["class_name"]
        cls = _by_name(name.split(">", 1)[1] if name.startswith("fastinit>") else name, classes)
        return cls.from_config(identifier.get("config", {}))
    if isinstance(identifier, str):
        return _by_name(identifier, classes)()
    array_like = hasattr(identifier, "shape") and hasattr(identifier, "dtype") and not callable(identifier)
    if isinstance(identifier, (np.ndarray, np.generic)) or array_like:
        return _direct(identifier)
    if isinstance(identifier, type):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret initializer identifier: {identifier}")


def _by_name(name, classes):
    cls = classes.get(ALIAS_NAMES.get(name, name)) if isinstance(name, str) else None
    if cls is None or name == "Initializer":
        valid = sorted(ALIAS_NAMES) + sorted(n for n in classes if n != "Initializer")
        raise ValueError(f"unknown initializer {name!r}; valid names: {', '.join(valid)}")
    return cls


def _direct(value):
    """Keras's initializer of a tensor given directly: the tensor itself, for its own shape only."""
    expected = tuple(value.shape)

    def initialize_fn(shape, dtype=None):
        if tuple(shape_tuple(shape)) != expected:
            raise ValueError(f"Expected `shape` to be {expected} for direct tensor as initializer. "
                             f"Received shape={shape}")
        return Constant(value)(shape, dtype=dtype)
    return initialize_fn
