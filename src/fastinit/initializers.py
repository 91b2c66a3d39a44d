"""Keras 3 and JAX initializers. The classes (``GlorotUniform``, ``HeNormal``, ``VarianceScaling``...) are Keras
3's: objects called as ``init(shape, dtype=None)`` that return a new NumPy array, fans of a kernel (..., in, out).
Where Keras imports, they are subclasses of ``keras.initializers.Initializer`` (the variance-scaling ones of
``keras.initializers.VarianceScaling``, so ``EinsumDense`` gives them its input and output axes) registered for
serialization as ``fastinit>HeNormal``...: ``get_config`` / ``from_config``, ``keras.saving.serialize_keras_object``,
``model.save`` / ``keras.saving.load_model`` keep fastinit's class and numbers (import ``fastinit.initializers``
before loading, before or after Keras). The classes are made when Keras is imported or on first use, so
``import fastinit`` and the JAX functions never import Keras.

The functions (``glorot_uniform``, ``he_normal``, ``variance_scaling``...) are ``jax.nn.initializers``': a function
of the hyperparameters returns ``init(key, shape, dtype)``. JAX keys (``jax.random.key(s)``,
``jax.random.PRNGKey(s)``, split or folded-in keys, concrete or traced under ``jit`` and ``vmap``) give ``jax.Array``
results drawn by ``fastinit.random._jax`` (the stream format in ``jax.numpy``): key data (k0, k1) is the fastinit
seed ``k0 << 32 | k1``, stream 0, so ``PRNGKey(s)`` draws what ``Generator(s)``'s first fill draws. An int key or a
``fastinit.Generator`` gives a NumPy array from the C core (an int: stream 0 of ``Generator(key)``; a Generator: its
next stream). Complex dtypes follow JAX: a complex normal has E|z|^2 = the requested variance (real and imaginary
parts each half of it, drawn as consecutive values of one stream), a complex "uniform" is uniform on a disk and a
complex truncated normal has its modulus truncated at 2, both scaled to JAX's variances.
"""
import importlib.util
import math
import sys
import threading

import numpy as np

from . import _validate as V
from .nn import _keras as _K, _orthogonal
from .nn._keras import DISTRIBUTIONS, MODES, TRUNCATED_NORMAL_STD_CORRECTION, compute_fans
from .random import _generator, _spec as _F

_CLASS_NAMES = ("Initializer", "VarianceScaling", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform",
                "LecunNormal", "LecunUniform", "RandomNormal", "RandomUniform", "TruncatedNormal", "Zeros", "Ones",
                "Constant", "Identity", "Orthogonal")

__all__ = [*_CLASS_NAMES, "compute_fans", "get", "ALIASES",  # noqa: F822 (ALIASES: made by __getattr__)
           "MODES", "DISTRIBUTIONS",
           "TRUNCATED_NORMAL_STD_CORRECTION",
           # JAX's functions
           "variance_scaling", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform",
           "lecun_normal", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "normal", "uniform",
           "truncated_normal", "constant", "zeros", "ones", "orthogonal", "delta_orthogonal"]


# ------------------------------------------------------------------------------------------ Keras's classes

_public = {}   # name -> the public class, made once (pickles and saved models name fastinit.initializers.<name>)
_public_lock = threading.Lock()


def _keras():
    """The keras module where it imports (its backend set up), else None: the classes are then plain ones."""
    if importlib.util.find_spec("keras") is None:
        return None
    try:
        import keras
        keras.initializers.VarianceScaling   # noqa: B018 (a Keras 2 or a broken install has none)
    except Exception:   # noqa: BLE001 (e.g. Keras's default backend, TensorFlow, is not installed)
        return None
    return keras


def _classes():
    """{name: public class}: each a subclass of its fastinit.nn._keras class and, where Keras imports,
    of Keras's Initializer (VarianceScaling's family: of Keras's VarianceScaling), registered as fastinit>name."""
    with _public_lock:
        if not _public:
            _public.update(_make_classes())
    return _public


def _make_classes():
    keras = _keras()
    extra = {}
    if keras is not None:
        extra = {_K.Initializer: (keras.initializers.Initializer,),
                 _K.VarianceScaling: (keras.initializers.VarianceScaling,)}
    made = {}
    for base in sorted((_K.CLASSES[name] for name in _CLASS_NAMES), key=lambda c: len(c.__mro__)):   # parents first
        bases = (base, *(made[b] for b in base.__bases__ if b in made), *extra.get(base, ()))
        name = base.__name__
        cls = type(name, bases, {"__module__": __name__, "__qualname__": name, "__doc__": base.__doc__})
        if keras is not None:
            keras.saving.register_keras_serializable(package="fastinit", name=name)(cls)
        made[base] = cls
    return {cls.__name__: cls for cls in made.values()}


def __getattr__(name):
    if name in _CLASS_NAMES:
        return _classes()[name]
    if name == "ALIASES":   # Keras / JAX names -> the public classes
        return {alias: _classes()[cls] for alias, cls in _K.ALIAS_NAMES.items()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_CLASS_NAMES) | {"ALIASES"})


class _RegisterWhenKerasLoads:
    """An import hook that makes (and so registers) the classes right after ``import keras``: Keras finds a saved
    model's ``fastinit>GlorotNormal`` only among registered classes, and otherwise quietly rebuilds its own
    GlorotNormal from the class name. It removes itself on its first use."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            run_module = spec.loader.exec_module

            def run_then_register(module):
                run_module(module)
                try:
                    _classes()
                except Exception:   # noqa: BLE001 - never break `import keras`: first use makes them, and says why
                    pass

            spec.loader.exec_module = run_then_register   # (this spec's own loader object)
        return spec


if "keras" in sys.modules:
    _classes()
elif importlib.util.find_spec("keras") is not None:
    sys.meta_path.insert(0, _RegisterWhenKerasLoads())


def get(identifier):
    """An initializer as ``keras.initializers.get`` makes one: None -> None; a name ('glorot_uniform', 'HeNormal',
    Keras's legacy 'OrthogonalInitializer', ...) or a class -> a new instance; a ``{"class_name", "config"}`` dict
    -> ``from_config``; an array or tensor -> a function returning it (for that shape only); a callable as it is."""
    return _K.get(identifier, _classes())


# ------------------------------------------------------------------------------------------ JAX's functions
# jax.nn.initializers: a function of the hyperparameters returns init(key, shape, dtype), except zeros and ones,
# which are init functions themselves. The fans are JAX's (in_axis, out_axis, batch_axis: ints or sequences).

def _host_key(key):
    """The Generator of an int key or a Generator; None for anything else (a JAX key)."""
    if isinstance(key, _generator.Generator):
        return key
    if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
        return _generator.Generator(V.uint64(key, "key"))
    return None


def _jax_key(key):
    """(the _jax module, k0, k1) of a JAX PRNG key."""
    try:
        import jax.numpy as jnp

        from .random import _jax
    except ImportError:
        raise TypeError(f"key must be an int, a fastinit.Generator or a JAX PRNG key, got {type(key).__name__} "
                        "(JAX keys need jax installed)") from None
    if not hasattr(key, "dtype") or not hasattr(key, "shape"):
        raise TypeError(f"key must be an int, a fastinit.Generator or a JAX PRNG key, got {type(key).__name__}")
    return (_jax, *_jax.key_words(jnp.asarray(key)))


def _scalar(value, name):
    """A real hyperparameter as a float: a number, or a 0-d NumPy / JAX array (JAX takes both)."""
    if hasattr(value, "shape") and hasattr(value, "dtype") and not isinstance(value, np.generic):
        array = np.asarray(value)
        if array.shape != () or array.dtype.kind not in "iuf":
            raise TypeError(f"{name} must be a real number or a 0-d real array, got an array of shape "
                            f"{array.shape} and dtype {array.dtype}")
        value = array.item()
    return V.real(value, name)


class _Draw:
    """One call of an init function: the key resolved (host Generator, or the _jax module and key words), the shape,
    and the element type, with complex dtypes split into their real type."""

    def __init__(self, key, shape, dtype):
        self.shape = _K.shape_tuple(shape)
        self.gen = _host_key(key)
        if self.gen is None:
            import jax
            self.js, self.k0, self.k1 = _jax_key(key)
            requested = jax.dtypes.canonicalize_dtype(np.float32 if dtype is None else dtype)
        else:
            requested = dtype
        kind = _kind(requested)
        self.complex = kind == "c"
        if self.complex:
            self.dtype = np.dtype(requested)
            self.element = self.dtype.type(0).real.dtype.name
        elif self.gen is None:
            self.element = self.js.output_dtype(requested)
        else:
            self.element = _F.float_element(requested)

    @property
    def xp(self):
        if self.gen is not None:
            return np
        import jax.numpy as jnp
        return jnp

    def real(self, draw, shape=None):
        """A new real array of shape (default: this call's) holding ``draw`` = (kind, params) of fillspec."""
        shape = self.shape if shape is None else shape
        if self.gen is None:
            return self.js.fill(draw, shape, self.element, self.k0, self.k1)
        out = np.empty(shape, dtype=_F.storage_dtype(self.element))
        self.gen.fill(draw, self.element, out)
        return out.view(_K.numpy_dtype(self.element)) if self.element == "bfloat16" else out

    def pairs(self, draw):
        """Two arrays of this call's shape from one stream: values 2i and 2i + 1 of ``draw``."""
        both = self.real(draw, (*self.shape, 2))
        return both[..., 0], both[..., 1]

    def complex_of(self, re, im):
        if self.gen is None:
            from jax import lax
            return lax.complex(re, im)
        out = np.empty(self.shape, self.dtype)
        out.real, out.imag = re, im
        return out

    def complex_normal(self, std):
        """E|z|^2 = std^2: real and imaginary parts N(0, std^2 / 2), as jax.random.normal's complex draws."""
        return self.complex_of(*self.pairs(_F.normal(0.0, std * math.sqrt(0.5), self.element)))

    def complex_polar(self, radius_of_u):
        """r(u1) exp(2 pi i u2) from a pair of uniforms (jax.nn.initializers' complex uniform / truncated normal)."""
        xp = self.xp
        u1, u2 = self.pairs(_F.uniform(0.0, 1.0, self.element))
        r, theta = radius_of_u(xp, u1), (2 * math.pi) * u2
        return self.complex_of(r * xp.cos(theta), r * xp.sin(theta))


def _kind(dtype):
    try:
        return np.dtype(dtype).kind
    except TypeError:
        return None   # (a name NumPy does not know, e.g. 'bfloat16' without ml_dtypes: float_element says so)


def _with_dtype(init, default):
    def with_default(key, shape, dtype=None):
        return init(key, shape, dtype if dtype is not None else default)
    return with_default


def _no_complex(name, call):
    if call.complex:   # (jax.random's uniform and truncated_normal take real dtypes only)
        raise TypeError(f"{name} needs a real floating dtype, got {call.dtype}")


def _jax_fans(shape, in_axis, out_axis, batch_axis):
    """JAX's _compute_fans, formula for formula: receptive = prod(shape) / (in * out * batch), fan_in = in *
    receptive, fan_out = out * receptive (axes may coincide, as JAX lets them); a shape of fewer than 2 dimensions
    has no fans unless in_axis is given."""
    if isinstance(in_axis, int) and in_axis == -2 and len(shape) <= 1:   # JAX's words
        raise ValueError(f"Can't compute input and output sizes of a {len(shape)}-dimensional weights tensor with "
                         "default in_axis. Must be at least 2D or specify in_axis explicitly.")
    sizes = []
    for name, axes in (("in_axis", in_axis), ("out_axis", out_axis), ("batch_axis", batch_axis)):
        try:
            sizes.append(math.prod(shape[a] for a in _K.axes_of(axes, name)))
        except IndexError:
            raise ValueError(f"{name}={axes} does not fit shape {shape}") from None
    receptive = math.prod(shape) / sizes[0] / sizes[1] / sizes[2]
    return sizes[0] * receptive, sizes[1] * receptive


_JAX_MODES = {**_K.FAN_MODES, "fan_geo_avg": lambda i, o: math.sqrt(i * o)}   # (JAX >= 0.5.1 has the last)
# std of the modulus-truncated complex normal, JAX's constant (jax.nn.initializers.variance_scaling)
_COMPLEX_TRUNCATED_STD = 0.9531116438049121


def variance_scaling(scale, mode, distribution, in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
    r"""JAX's ``variance_scaling``: draws of variance :math:`s = \text{scale} / n`, n = fan_in, fan_out,
    (fan_in + fan_out) / 2 or :math:`\sqrt{\text{fan\_in} \cdot \text{fan\_out}}` (``mode`` "fan_in", "fan_out",
    "fan_avg", "fan_geo_avg"), fans from ``in_axis``, ``out_axis`` and ``batch_axis`` (ints or sequences of ints;
    the other axes are the receptive field).

    - ``truncated_normal``: :math:`\mathcal{N}(0, \sigma^2)` truncated to :math:`[-2\sigma, 2\sigma]`,
      :math:`\sigma = \sqrt{s} / 0.87962566103423978`; complex: modulus truncated at 2, scaled by JAX's 0.9531...
    - ``normal``: :math:`\mathcal{N}(0, s)` (JAX's meaning: untruncated; complex: E|z|^2 = s).
    - ``uniform``: :math:`\mathcal{U}(-\sqrt{3 s}, \sqrt{3 s})`; complex: uniform on the disk of radius
      :math:`\sqrt{2 s}`.

    LeCun et al. (1998), Glorot & Bengio (2010), He et al. (2015). ``jax.nn.initializers.variance_scaling``.
    """
    scale = _scalar(scale, "scale")
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    if not isinstance(mode, str) or mode not in _JAX_MODES:   # JAX's words
        raise ValueError(f"invalid mode for variance scaling initializer: {mode}")
    if distribution not in ("truncated_normal", "normal", "uniform"):
        raise ValueError(f"invalid distribution for variance scaling initializer: {distribution}")
    axes = {"in_axis": in_axis, "out_axis": out_axis, "batch_axis": batch_axis}
    for name, value in axes.items():
        _K.axes_of(value, name)

    def init(key, shape, dtype_=None):
        call = _Draw(key, shape, dtype_)
        if 0 in call.shape:
            return call.xp.zeros(call.shape, call.dtype if call.complex else _K.numpy_dtype(call.element))
        variance = scale / _JAX_MODES[mode](*_jax_fans(call.shape, **axes))
        if call.complex:
            if distribution == "normal":
                return call.complex_normal(math.sqrt(variance))
            if distribution == "uniform":
                return call.complex_polar(lambda xp, u: xp.sqrt(2 * u) * math.sqrt(variance))
            t_max, std = 1 - math.exp(-4.0), math.sqrt(variance) / _COMPLEX_TRUNCATED_STD
            return call.complex_polar(lambda xp, u: xp.sqrt(-xp.log1p(-t_max * u)) * std)
        if distribution == "truncated_normal":
            std = math.sqrt(variance) / TRUNCATED_NORMAL_STD_CORRECTION
            return call.real(_F.truncated_normal(0.0, std, -2.0 * std, 2.0 * std, call.element))
        if distribution == "normal":
            return call.real(_F.normal(0.0, math.sqrt(variance), call.element))
        limit = math.sqrt(3.0 * variance)
        return call.real(_F.uniform(-limit, limit, call.element))
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


# JAX's other names of the same functions
xavier_uniform = glorot_uniform
xavier_normal = glorot_normal
kaiming_uniform = he_uniform
kaiming_normal = he_normal


def normal(stddev=1e-2, dtype=None):
    """N(0, stddev^2); complex dtypes: E|z|^2 = stddev^2 (each part N(0, stddev^2 / 2)).
    ``jax.nn.initializers.normal``."""
    stddev = _scalar(stddev, "stddev")
    _F.normal(0.0, stddev, "float32")   # checks stddev now

    def init(key, shape, dtype_=None):
        call = _Draw(key, shape, dtype_)
        return call.complex_normal(stddev) if call.complex else call.real(_F.normal(0.0, stddev, call.element))
    return _with_dtype(init, dtype)


def uniform(scale=1e-2, dtype=None):
    """U[0, scale) (JAX's convention: not centred). ``jax.nn.initializers.uniform``."""
    scale = _scalar(scale, "scale")
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")

    def init(key, shape, dtype_=None):
        call = _Draw(key, shape, dtype_)
        _no_complex("uniform", call)
        return call.real(_F.uniform(0.0, scale, call.element))
    return _with_dtype(init, dtype)


def truncated_normal(stddev=1e-2, dtype=None, lower=-2.0, upper=2.0):
    """stddev times a standard normal truncated to [lower, upper] (not rescaled). ``jax.nn.initializers.
    truncated_normal`` (its argument order: stddev, dtype, lower, upper)."""
    stddev, lower, upper = _scalar(stddev, "stddev"), _scalar(lower, "lower"), _scalar(upper, "upper")
    if not stddev >= 0 or not lower < upper:
        raise ValueError(f"need stddev >= 0 and lower < upper, got {stddev}, {lower}, {upper}")

    def init(key, shape, dtype_=None):
        call = _Draw(key, shape, dtype_)
        _no_complex("truncated_normal", call)
        return call.real(_F.truncated_normal(0.0, stddev, lower * stddev, upper * stddev, call.element))
    return _with_dtype(init, dtype)


def _full(value, key, shape, dtype):
    """value everywhere: a jax.Array for a JAX key, else a NumPy array (complex dtypes too)."""
    call = _Draw(key, shape, dtype)
    if call.gen is not None and not call.complex and not np.iscomplexobj(value):
        return _K.Constant(value)(call.shape, dtype=call.element)
    return call.xp.full(call.shape, np.asarray(value) if call.gen is None else value,
                        call.dtype if call.complex else _K.numpy_dtype(call.element))


def constant(value, dtype=None):
    """Every element equal to value (a number or an array broadcast to the shape).
    ``jax.nn.initializers.constant``."""
    if np.asarray(value).dtype.kind not in "biufc":   # (JAX's constant takes complex values too)
        raise TypeError(f"value must be a number or a numeric array, got {type(value).__name__} {value!r}")
    return _with_dtype(lambda key, shape, dtype_=None: _full(value, key, shape, dtype_), dtype)


def zeros(key, shape, dtype=None):
    """All zeros: an init function itself, as ``jax.nn.initializers.zeros``."""
    return _full(0.0, key, shape, dtype)


def ones(key, shape, dtype=None):
    """All ones: an init function itself, as ``jax.nn.initializers.ones``."""
    return _full(1.0, key, shape, dtype)


def _haar(call, rows, cols):
    """A Haar (rows, cols) matrix as jax.nn.initializers.orthogonal forms it: QR of a (max, min) normal matrix
    (complex: complex normal), the phases of R's diagonal moved into Q, transposed when rows < cols. A host key
    takes the real matrix from fastinit.orthogonal (the same distribution, half the flops)."""
    if call.gen is not None and not call.complex:
        work = np.float64 if call.element == "float64" else np.float32
        return _orthogonal.orthogonal_matrix(rows, cols, work, call.gen)
    xp = call.xp
    sub = _Sub(call, (max(rows, cols), min(rows, cols)))
    a = sub.complex_normal(1.0) if call.complex else sub.real(_F.normal(0.0, 1.0, sub.element))
    q, r = xp.linalg.qr(a)
    d = xp.diagonal(r)
    phase = d / xp.abs(d) if call.complex else xp.sign(d)
    q = q * phase[None, :]   # (explicit rank: JAX's jax_numpy_rank_promotion="raise" refuses an implicit one)
    return q.T if rows < cols else q


class _Sub(_Draw):
    """A call's key and element type with another shape (the square-ish matrix orthogonal factors; 16-bit
    outputs factor a float32 matrix)."""

    def __init__(self, call, shape):
        self.__dict__.update(call.__dict__)
        self.shape = shape
        if call.element in ("float16", "bfloat16"):
            self.element = "float32"


def orthogonal(scale=1.0, column_axis=-1, dtype=None):
    """Saxe et al. (2013): scale times a (semi-)orthogonal matrix (complex dtypes: unitary), the other axes
    flattened against ``column_axis``. ``jax.nn.initializers.orthogonal``."""
    scale = _scalar(scale, "scale")
    column_axis = V.integer(column_axis, "column_axis")

    def init(key, shape, dtype_=None):
        call = _Draw(key, shape, dtype_)
        shape = call.shape
        if len(shape) < 2:   # JAX's words
            raise ValueError("orthogonal initializer requires at least a 2D shape")
        axis = range(len(shape))[column_axis]
        moved = shape[:axis] + shape[axis + 1:] + (shape[axis],)
        out_dtype = call.dtype if call.complex else _K.numpy_dtype(call.element)
        xp = call.xp
        rows, cols = math.prod(moved[:-1]), moved[-1]
        if rows and cols:
            q = (scale * _haar(call, rows, cols)).astype(out_dtype)
        else:
            q = xp.zeros((rows, cols), out_dtype)
        return xp.moveaxis(q.reshape(moved), -1, axis)
    return _with_dtype(init, dtype)


def delta_orthogonal(scale=1.0, column_axis=-1, dtype=None):
    """Xiao et al. (2018), "Dynamical isometry and a mean field theory of CNNs": a convolution kernel (*spatial,
    in, out), in <= out, that is an orthogonal matrix at the spatial centre ((k - 1) // 2 on each axis, as JAX
    places it) and zero elsewhere. ``jax.nn.initializers.delta_orthogonal``."""
    ortho = orthogonal(scale, column_axis)

    def init(key, shape, dtype_=None):
        shape = _K.shape_tuple(shape)
        if len(shape) not in (3, 4, 5):   # JAX's words
            raise ValueError("Delta orthogonal initializer requires a 3D, 4D or 5D shape.")
        if shape[-1] < shape[-2]:
            raise ValueError("`fan_in` must be less or equal than `fan_out`. ")
        centre = tuple((k - 1) // 2 for k in shape[:-2])
        q = ortho(key, shape[-2:], dtype_)
        if _host_key(key) is not None:
            out = np.zeros(shape, dtype=q.dtype)
            out[centre] = q
            return out
        import jax.numpy as jnp
        return jnp.zeros(shape, q.dtype).at[centre].set(q)
    return _with_dtype(init, dtype)
