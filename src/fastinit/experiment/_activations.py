"""The activations of the simulation engine, one table row each: everything the engine, the mean-field theory,
the sweeps, the CLI and the probe need to know about an activation lives in its row.

    row = ACTIVATIONS["tanh"]
    row.code          # the C layer step's code (fastinit._core.ACT_CODES["tanh"])
    row.phi(x), row.dphi(x)            # NumPy phi and phi', float64

Adding an activation is one row here plus its C kernel: its enum code and name (csrc/layer.h, csrc/layer.c) and
its lines in the two switches of csrc/layer_impl.h (the Cython layer reads the codes by name).
The formulas (torch's definitions):

=========== ======================================================= =====================================
name        phi(x)                                                  phi'(x)
=========== ======================================================= =====================================
linear      x                                                       1
sigmoid     1 / (1 + e^-x)                                          s (1 - s)
tanh        tanh x                                                  1 - tanh^2 x
relu        max(x, 0)                                               [x > 0]
leaky_relu  x (x > 0), alpha x (alpha = 0.01)                       1 or alpha
prelu       leaky_relu with PReLU's initial slope alpha = 0.25      1 or alpha
elu         x (x > 0), alpha (e^x - 1) (alpha = 1)                  1 or alpha e^x
selu        lambda elu_alpha(x), Klambauer et al. 2017              lambda (1 or alpha e^x)
gelu        x Phi(x), the exact erf form (Hendrycks & Gimpel 2016)  Phi(x) + x phi_N(x)
silu        x sigmoid(x) (Elfwing et al. 2018)                      s (1 + x (1 - s))
softplus    log(1 + e^x), x above 20 (torch's threshold)            sigmoid(x), 1 above 20
=========== ======================================================= =====================================
"""
import dataclasses

import numpy as np

from .. import _core

__all__ = ["Activation", "ACTIVATIONS", "get", "names", "saturated", "SELU_LAMBDA", "SELU_ALPHA"]

SELU_LAMBDA = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _erf(x):
    from scipy import special

    return special.erf(x)


# phi and phi' in float64 (x an ndarray; alpha the row's slope or scale): the formulas of the table above
def _phi_linear(x, alpha):
    return x.copy()


def _dphi_linear(x, alpha):
    return np.ones_like(x)


def _phi_sigmoid(x, alpha):
    return _sigmoid(x)


def _dphi_sigmoid(x, alpha):
    s = _sigmoid(x)
    return s * (1 - s)


def _phi_tanh(x, alpha):
    return np.tanh(x)


def _dphi_tanh(x, alpha):
    return 1 - np.tanh(x) ** 2


def _phi_relu(x, alpha):
    return np.where(x > 0, x, 0.0)


def _dphi_relu(x, alpha):
    return (x > 0).astype(np.float64)


def _phi_leaky(x, alpha):
    return np.where(x > 0, x, alpha * x)


def _dphi_leaky(x, alpha):
    return np.where(x > 0, 1.0, alpha)


def _phi_elu(x, alpha):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def _dphi_elu(x, alpha):
    return np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0)))


def _phi_selu(x, alpha):
    return SELU_LAMBDA * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0)))


def _dphi_selu(x, alpha):
    return SELU_LAMBDA * np.where(x > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(x, 0)))


def _phi_gelu(x, alpha):
    return 0.5 * x * (1.0 + _erf(x / np.sqrt(2.0)))


def _dphi_gelu(x, alpha):
    return 0.5 * (1 + _erf(x / np.sqrt(2.0))) + x * np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)


def _phi_silu(x, alpha):
    return x * _sigmoid(x)


def _dphi_silu(x, alpha):
    s = _sigmoid(x)
    return s * (1 + x * (1 - s))


def _phi_softplus(x, alpha):
    return np.where(x > 20, x, np.log1p(np.exp(np.minimum(x, 20))))


def _dphi_softplus(x, alpha):
    return np.where(x > 20, 1.0, _sigmoid(x))


@dataclasses.dataclass(frozen=True)
class Activation:
    """One activation. ``code``: the C layer step's code; ``alpha``: the default slope (leaky_relu, prelu) or
    scale (elu), 0 where unused; ``saturation``: the C saturation rule counted in ``h_saturated_frac``
    (``_core.SAT_ABS``: |h| > 0.99, ``_core.SAT_UNIT``: h outside [0.01, 0.99], ``_core.SAT_NONE``);
    ``range``: the natural range of phi (the histograms' default) or None; ``kinks``: where phi or phi' is not
    smooth (the theory's quadrature puts a break point there); ``torch_modules``: the torch.nn module class names
    that compute it (how the probe recognizes it)."""

    name: str
    code: int
    alpha: float
    saturation: int
    range: tuple
    kinks: tuple
    torch_modules: tuple
    _phi: object = dataclasses.field(repr=False, compare=False)
    _dphi: object = dataclasses.field(repr=False, compare=False)

    @property
    def saturates(self):
        return self.saturation != _core.SAT_NONE

    def phi(self, x, alpha=None):
        """phi(x) in float64 (``alpha=None``: the row's default)."""
        x = np.asarray(x, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            return self._phi(x, self.alpha if alpha is None else alpha)

    def dphi(self, x, alpha=None):
        """phi'(x) in float64, differentiated by hand from phi."""
        x = np.asarray(x, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            return self._dphi(x, self.alpha if alpha is None else alpha)

    def saturated(self, h):
        """The saturation test of the statistics, as a boolean array (None when the activation has none)."""
        return saturated(h, self.saturation)


def saturated(h, saturation):
    """Which values of h (a NumPy array or a torch tensor) the C statistics count as saturated under the rule
    ``saturation`` (|h| > 0.99, or h outside [0.01, 0.99]: the thresholds of csrc/layer.h), as a boolean array of
    the same kind; None for ``_core.SAT_NONE``."""
    if saturation == _core.SAT_ABS:
        return abs(h) > _core.SAT_ABS_LIMIT
    if saturation == _core.SAT_UNIT:
        return abs(h - _core.SAT_UNIT_CENTRE) > _core.SAT_UNIT_LIMIT
    return None


def _row(name, phi, dphi, alpha=0.0, saturation=_core.SAT_NONE, range=None, kinks=(), torch_modules=(), kernel=None):
    """A row; ``kernel``: the C kernel's name (csrc/layer.c) when it is not the row's own (prelu is leaky_relu)."""
    return Activation(name, _core.ACT_CODES[kernel or name], alpha, saturation, range, kinks, torch_modules, phi,
                      dphi)


ACTIVATIONS = {row.name: row for row in (
    _row("linear", _phi_linear, _dphi_linear, torch_modules=("Identity",)),
    _row("sigmoid", _phi_sigmoid, _dphi_sigmoid, saturation=_core.SAT_UNIT, range=(0.0, 1.0),
         torch_modules=("Sigmoid",)),
    _row("tanh", _phi_tanh, _dphi_tanh, saturation=_core.SAT_ABS, range=(-1.0, 1.0),
         torch_modules=("Tanh",)),
    _row("relu", _phi_relu, _dphi_relu, kinks=(0.0,), torch_modules=("ReLU",)),
    _row("leaky_relu", _phi_leaky, _dphi_leaky, alpha=0.01, kinks=(0.0,),
         torch_modules=("LeakyReLU",)),
    # PReLU with its slope fixed at torch's initial 0.25
    _row("prelu", _phi_leaky, _dphi_leaky, alpha=0.25, kinks=(0.0,), torch_modules=("PReLU",), kernel="leaky_relu"),
    _row("elu", _phi_elu, _dphi_elu, alpha=1.0, kinks=(0.0,), torch_modules=("ELU",)),
    _row("selu", _phi_selu, _dphi_selu, kinks=(0.0,), torch_modules=("SELU",)),
    _row("gelu", _phi_gelu, _dphi_gelu, torch_modules=("GELU",)),
    _row("silu", _phi_silu, _dphi_silu, torch_modules=("SiLU",)),
    _row("softplus", _phi_softplus, _dphi_softplus, torch_modules=("Softplus",)),
)}


def names():
    return list(ACTIVATIONS)


def get(name):
    """The row of an activation name, or ValueError listing the valid ones."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown activation {name!r}; valid names: {', '.join(ACTIVATIONS)}") from None
