"""The init schemes by name, one table row each: how a scheme fills a weight and the variance it gives as a
function of the fans. ``fastinit.init`` builds its ``SCHEMES`` callables from these rows, the simulation engine
and ``init_module`` take their names, and the mean-field theory reads their variances.

A row names the ``fastinit.init`` function that fills a weight of torch's layout (out, in, *kernel) and its
keyword arguments, so the draws are exactly those of that function; ``variance(fan_in, fan_out)`` is Var[W_ij]
(None: the scheme has no mean-field limit, e.g. constants). Adding a scheme is one row:

    Scheme("he_trunc", "trunc_normal_", {"std": ..., ...}, variance=lambda fan_in, fan_out: ...,
           doc="...")

Every Keras / JAX initializer name is a row, drawn on torch's fans with Keras's default arguments (``glorot_normal``
and the other Keras-named presets keep torch's untruncated draws, as their docs say); ``KERAS_ALIASES`` maps the
names to the Keras classes of ``fastinit.initializers`` (``initializers.get``).
"""
import dataclasses
import math

__all__ = ["Scheme", "SCHEMES", "KERAS_ALIASES", "names", "get", "TRUNCATED_NORMAL_STD_CORRECTION",
           "TRUNCATED_NORMAL_VARIANCE"]

# Std of a standard normal truncated to [-2, 2] (scipy.stats.truncnorm.std(-2, 2)): Keras and JAX divide the target
# std by it so that the truncated draws have the intended variance. Its variance, correctly rounded
# (scipy.stats.truncnorm.var(-2, 2); the square of the std above is one ulp off).
TRUNCATED_NORMAL_STD_CORRECTION = 0.87962566103423978
TRUNCATED_NORMAL_VARIANCE = 0.7737413035499232


@dataclasses.dataclass(frozen=True)
class Scheme:
    """One init scheme: fill with ``fastinit.init.<function>(w, **kwargs[, generator=...])`` (``random``: the
    function draws and takes a generator); ``variance(fan_in, fan_out)`` is Var[W_ij] of the result, or None."""

    name: str
    function: str
    kwargs: dict
    variance: object
    doc: str
    random: bool = True

    def weight_variance(self, fan_in, fan_out):
        return math.nan if self.variance is None else self.variance(fan_in, fan_out)


def _glorot(fan_in, fan_out):
    return 2.0 / (fan_in + fan_out)


def _he(fan_in, fan_out):
    return 2.0 / fan_in


def _lecun(fan_in, fan_out):
    return 1.0 / fan_in


_RELU = {"nonlinearity": "relu"}

SCHEMES = {row.name: row for row in (
    Scheme("zeros", "zeros_", {}, None, "all zeros: no symmetry breaking", random=False),
    Scheme("ones", "ones_", {}, None, "all ones: no symmetry breaking", random=False),
    Scheme("small_normal", "small_normal_", {}, lambda fan_in, fan_out: 1e-4,
           "N(0, 0.01^2): activations and gradients vanish in deep tanh networks"),
    Scheme("normal", "large_normal_", {}, lambda fan_in, fan_out: 1.0, "N(0, 1): tanh and sigmoid units saturate"),
    Scheme("large_normal", "large_normal_", {}, lambda fan_in, fan_out: 1.0, "N(0, 1), as 'normal'"),
    Scheme("uniform", "uniform_", {"a": -1.0, "b": 1.0}, lambda fan_in, fan_out: 1.0 / 3.0, "U(-1, 1)"),
    Scheme("xavier_uniform", "xavier_uniform_", {}, _glorot, "Glorot & Bengio (2010): U(-l, l), l^2 = 6 / (in + out)"),
    Scheme("xavier_normal", "xavier_normal_", {}, _glorot, "Glorot & Bengio (2010): N(0, 2 / (in + out))"),
    Scheme("glorot_uniform", "xavier_uniform_", {}, _glorot, "xavier_uniform by its Keras name (torch's fans)"),
    Scheme("glorot_normal", "xavier_normal_", {}, _glorot, "xavier_normal by its Keras name (torch's fans)"),
    Scheme("he_uniform", "kaiming_uniform_", _RELU, _he, "He et al. (2015): U(-l, l), l^2 = 6 / fan_in"),
    Scheme("he_normal", "kaiming_normal_", _RELU, _he, "He et al. (2015): N(0, 2 / fan_in)"),
    Scheme("kaiming_uniform", "kaiming_uniform_", _RELU, _he, "he_uniform by torch's name"),
    Scheme("kaiming_normal", "kaiming_normal_", _RELU, _he, "he_normal by torch's name"),
    Scheme("lecun_uniform", "lecun_uniform_", {}, _lecun, "LeCun et al. (1998): U(-l, l), l^2 = 3 / fan_in"),
    Scheme("lecun_normal", "lecun_normal_", {}, _lecun, "LeCun et al. (1998): N(0, 1 / fan_in)"),
    # orthonormal rows (fan_out <= fan_in) or columns: each has unit norm
    Scheme("orthogonal", "orthogonal_", {}, lambda fan_in, fan_out: 1.0 / max(fan_in, fan_out),
           "Saxe et al. (2013): a Haar-random (semi-)orthogonal matrix"),
    Scheme("trunc_normal", "trunc_normal_", {"mean": 0.0, "std": 0.02, "a": -0.04, "b": 0.04},
           lambda fan_in, fan_out: 0.02 ** 2 * TRUNCATED_NORMAL_VARIANCE,
           "N(0, 0.02^2) truncated to [-0.04, 0.04] (BERT / ViT / timm)"),
    # Keras's names with Keras's defaults, on torch's fans
    Scheme("variance_scaling", "variance_scaling_", {}, _lecun,
           "Keras's VarianceScaling() defaults: truncated normal with variance 1 / fan_in"),
    Scheme("random_normal", "normal_", {"mean": 0.0, "std": 0.05}, lambda fan_in, fan_out: 0.05 ** 2,
           "Keras's RandomNormal(): N(0, 0.05^2)"),
    Scheme("random_uniform", "uniform_", {"a": -0.05, "b": 0.05}, lambda fan_in, fan_out: 0.1 ** 2 / 12,
           "Keras's RandomUniform(): U(-0.05, 0.05)"),
    Scheme("truncated_normal", "trunc_normal_", {"mean": 0.0, "std": 0.05, "a": -0.1, "b": 0.1},
           lambda fan_in, fan_out: 0.05 ** 2 * TRUNCATED_NORMAL_VARIANCE,
           "Keras's TruncatedNormal(): N(0, 0.05^2) truncated to 2 std"),
    Scheme("constant", "constant_", {"val": 0.0}, None, "Keras's Constant(): every weight 0", random=False),
    Scheme("identity", "eye_", {}, None, "Keras's Identity(): the identity matrix (2-D weights only)", random=False),
    # kaiming_uniform_(a=sqrt 5): bound 1 / sqrt(fan_in)
    Scheme("torch_default", "kaiming_uniform_", {"a": math.sqrt(5)}, lambda fan_in, fan_out: 1.0 / (3.0 * fan_in),
           "what torch's Linear / Conv reset_parameters draw: U(-1/sqrt(fan_in), 1/sqrt(fan_in))"),
)}

# Keras / JAX initializer names -> the class of fastinit.initializers (the names that are not rows above)
KERAS_ALIASES = {
    "variance_scaling": "VarianceScaling", "glorot_normal": "GlorotNormal", "glorot_uniform": "GlorotUniform",
    "he_normal": "HeNormal", "he_uniform": "HeUniform", "lecun_normal": "LecunNormal", "lecun_uniform": "LecunUniform",
    "random_normal": "RandomNormal", "random_uniform": "RandomUniform", "truncated_normal": "TruncatedNormal",
    "zeros": "Zeros", "ones": "Ones", "constant": "Constant", "identity": "Identity", "orthogonal": "Orthogonal",
    "xavier_normal": "GlorotNormal", "xavier_uniform": "GlorotUniform",
}


def names():
    """Every scheme name, sorted: what a simulation's ``init=``, ``init_module`` and ``probe`` take."""
    return sorted(SCHEMES)


def get(name):
    """The row of a scheme name, or ValueError listing the valid ones."""
    try:
        return SCHEMES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown init scheme {name!r}; valid names: {', '.join(SCHEMES)}") from None
