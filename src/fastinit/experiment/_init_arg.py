"""What the ``init=`` of a simulation means: how to fill a layer's weight W (out, in) and the variance of its
entries, for every form ``init=`` takes: a scheme name (``fastinit.schemes``: every Keras / JAX name is one), a
Keras initializer object (``fastinit.initializers``), ``{"std": s}``, ``{"scale": s}``, or a callable
``f(W, generator=...)``.

The simulation engine fills its weights through ``resolve(init).fill``; the mean-field theory reads
``resolve(init).variance`` (``fastinit.theory.weight_variance``). One resolution, so the two cannot disagree.
"""
import copy
import dataclasses
import math

from .. import _validate as V, init as _init
from ..nn import _keras, schemes as _schemes

__all__ = ["Weights", "resolve"]


@dataclasses.dataclass(frozen=True)
class Weights:
    """``fill(W, generator)`` fills W (out, in) in place; ``variance(fan_in, fan_out)`` is Var[W_ij] (NaN when the
    init has no mean-field limit or is unknown: constants, a callable)."""

    fill: object
    variance: object


def _nan_variance(fan_in, fan_out):
    return math.nan


def _from_keras(obj):
    def fill(W, gen):
        each = copy.copy(obj)
        each.seed = gen          # each layer draws from its own generator
        W[...] = each((W.shape[1], W.shape[0]), dtype=W.dtype).T   # Keras kernels are (in, out)
    return Weights(fill, obj.weight_variance)


def _from_dict(spec):
    if set(spec) == {"std"}:
        std = V.real(spec["std"], "init['std']")
        if std < 0:
            raise ValueError(f"init['std'] must be >= 0, got {std}")
        return Weights(lambda W, gen: gen.normal(mean=0.0, std=std, out=W),
                       lambda fan_in, fan_out: float(spec["std"]) ** 2)
    if set(spec) == {"scale"}:
        scale = V.real(spec["scale"], "init['scale']")
        if scale < 0:
            raise ValueError(f"init['scale'] must be >= 0, got {scale}")
        return Weights(lambda W, gen: gen.normal(mean=0.0, std=scale / math.sqrt(W.shape[1]), out=W),
                       lambda fan_in, fan_out: float(spec["scale"]) ** 2 / fan_in)
    if set(spec) == {"sigma_w2"}:   # the mean-field theory's name: Var[W_ij] = sigma_w^2 / fan_in
        sigma_w2 = V.real(spec["sigma_w2"], "init['sigma_w2']")
        if sigma_w2 < 0:
            raise ValueError(f"init['sigma_w2'] must be >= 0, got {sigma_w2}")
        return Weights(lambda W, gen: gen.normal(mean=0.0, std=math.sqrt(sigma_w2 / W.shape[1]), out=W),
                       lambda fan_in, fan_out: sigma_w2 / fan_in)
    raise ValueError(f"init as a dict must be {{'std': s}} (N(0, s^2)), {{'scale': s}} (N(0, s^2 / fan_in)) or "
                     f"{{'sigma_w2': v}} (N(0, v / fan_in)), got keys {sorted(spec)}")


def resolve(init):
    """The ``Weights`` of an ``init=`` value; TypeError / ValueError naming ``init`` when it is none of the forms."""
    if isinstance(init, dict):
        return _from_dict(init)
    if isinstance(init, _keras.Initializer):
        return _from_keras(init)
    if isinstance(init, str):
        row = _schemes.SCHEMES.get(init)
        if row is not None:
            fn = _init.get_scheme(init)
            return Weights(lambda W, gen: fn(W, generator=gen), row.weight_variance)
        raise ValueError(f"unknown init {init!r}; valid names: {', '.join(_schemes.names())}")
    if callable(init):
        # the one callable whose variance is known: the orthogonal initializer itself
        variance = _schemes.SCHEMES["orthogonal"].weight_variance if init is _init.orthogonal_ else _nan_variance
        return Weights(lambda W, gen: init(W, generator=gen), variance)
    raise TypeError(f"init must be a scheme name, an initializer, a dict or a callable, got {type(init).__name__}")
