"""Mean-field theory of signal propagation in deep random networks (Poole et al. 2016, "Exponential
expressivity in deep neural networks through transient chaos"; Schoenholz et al. 2017, "Deep information
propagation"), for the activations and init schemes of the simulation engine.

In a wide random layer P = H W^T + b with W_ij iid, mean 0, Var[W_ij] = sigma_w^2 / fan_in, every pre-activation
is Gaussian across units, P ~ N(b, q), and its variance follows the map

    q_l = sigma_w^2 E[phi(b + sqrt(q_{l-1}) z)^2],  z ~ N(0, 1)         (length map; b is the engine's constant bias,
                                                                         so sigma_b^2 enters as b^2 in E[P^2])

with sigma_w^2 = fan_in Var[W] (xavier on a square layer: 1, he: 2, lecun: 1, N(0, 0.01^2) at width 500: 0.05,
N(0, 1): 500). Gradients backpropagated through a layer are multiplied in variance by

    chi_l = sigma_w^2 (fan_out / fan_in) E[phi'(b + sqrt(q_l) z)^2]

and chi at the fixed point q* (q* = the limit of the map) decides between vanishing (chi < 1), exploding (chi > 1)
and the edge of chaos (chi = 1). The expectations are Gaussian quadratures: half-range Gauss-Hermite rules
(weight e^{-z^2/2} on [0, inf), built by Golub-Welsch from a discretized Stieltjes procedure) for the two tails
and Gauss-Legendre panels between break points placed at the activation's kink and its own scale, so
piecewise-polynomial integrands such as relu(x)^2 are integrated exactly (E[relu(sqrt(q) z)^2] = q / 2 to
rounding) and a tanh of a large pre-activation is still resolved.
"""
import dataclasses
import functools
import math

import numpy as np

from . import _activations as _act, _init_arg

__all__ = ["half_normal_rule", "gaussian_expectation", "activation_moments", "weight_variance", "fixed_point",
           "predict", "Prediction", "depth_scales", "DepthScales", "critical_sigma_w2"]



@functools.lru_cache(maxsize=None)
def half_normal_rule(n=64):
    """(t, w): n nodes in (0, inf) and weights with sum w_i f(t_i) = int_0^inf f(t) phi(t) dt (phi the N(0, 1)
    density) exactly for polynomials f of degree < 2n. Golub-Welsch on the Jacobi matrix of the half-normal
    weight, whose recurrence comes from Lanczos (full reorthogonalization) on a 20-point Gauss-Legendre
    discretization of each [k, k + 1], k < 48 (the mass beyond 48 is below 1e-500)."""
    x, w = np.polynomial.legendre.leggauss(20)
    z = (np.arange(48)[:, None] + (x[None, :] + 1) / 2).ravel()
    mass = (np.tile(w / 2, 48) * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi))
    Q = np.zeros((n + 1, z.size))
    Q[0] = np.sqrt(mass / mass.sum())
    alpha, beta = np.zeros(n), np.zeros(n)
    for k in range(n):
        v = z * Q[k]
        alpha[k] = v @ Q[k]
        v -= alpha[k] * Q[k] + (beta[k - 1] * Q[k - 1] if k else 0)
        v -= Q[:k + 1].T @ (Q[:k + 1] @ v)   # reorthogonalize (twice is enough)
        v -= Q[:k + 1].T @ (Q[:k + 1] @ v)
        beta[k] = np.linalg.norm(v)
        Q[k + 1] = v / beta[k]
    nodes, vecs = np.linalg.eigh(np.diag(alpha) + np.diag(beta[:-1], 1) + np.diag(beta[:-1], -1))
    return nodes, mass.sum() * vecs[0] ** 2


@functools.lru_cache(maxsize=None)
def _legendre(n=16):
    return np.polynomial.legendre.leggauss(n)


def _gaussian_nodes(mean, std, kink=0.0, n=64):
    """(x, w): points and weights with sum w_i f(x_i) = E[f(mean + std z)], z ~ N(0, 1), for f smooth on each side
    of x = kink whose features live at |x - kink| ~ 1 (every activation here). In z the two tails beyond the break
    points are half-range Gauss-Hermite rules (``half_normal_rule``, shifted: int_a^inf g(z) phi(z) dz =
    int_0^inf g(a + t) phi(t) e^{-a t - a^2 / 2} dt); between them, 16-point Gauss-Legendre panels no wider than
    1/2. The break points are z = 0, the kink and kink +- {1/4, 1, 3} / std where they fall in [-6, 6]: a broad
    Gaussian (tanh of a large pre-activation) still resolves the activation's own scale, and the kink is never
    inside a panel."""
    if std == 0:
        return np.array([float(mean)]), np.array([1.0])
    zk = (kink - mean) / std
    pts = {0.0}
    for c in (0.0, 0.25, 1.0, 3.0):
        for p in (zk - c / std, zk + c / std):
            if -6.0 <= p <= 6.0:
                pts.add(p)
    pts = np.array(sorted(pts))
    t, w = half_normal_rule(n)
    lo, hi = pts[0], pts[-1]   # lo <= 0 <= hi: each tail holds the Gaussian's decaying side
    x, wl = _legendre()
    pieces = np.maximum(1, np.ceil(np.diff(pts) / 0.5)).astype(int)
    edges = np.concatenate([np.linspace(a, b, k + 1)[:-1] for a, b, k in zip(pts, pts[1:], pieces)] + [pts[-1:]])
    half = np.diff(edges)[:, None] / 2
    zp = ((edges[:-1] + edges[1:])[:, None] / 2 + half * x[None, :]).ravel()
    wp = (half * wl[None, :]).ravel() * np.exp(-0.5 * zp * zp) / math.sqrt(2 * math.pi)
    z = np.concatenate([hi + t, lo - t, zp])
    weights = np.concatenate([np.exp(-hi * t - 0.5 * hi * hi) * w, np.exp(lo * t - 0.5 * lo * lo) * w, wp])
    return mean + std * z, weights


def gaussian_expectation(f, mean, std, kink=0.0, n=64):
    """E[f(mean + std z)], z ~ N(0, 1), by the rule of ``_gaussian_nodes`` (f vectorized)."""
    x, w = _gaussian_nodes(mean, std, kink, n)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        return float(w @ f(x))


def activation_moments(activation, mean, var, alpha=None):
    """(E[phi(P)], E[phi(P)^2], E[phi'(P)^2]) for P ~ N(mean, var); alpha as in ``fastinit.simulate``. The
    quadrature breaks at the activation's kink (every kink of the table is at 0, a break point of every rule)."""
    row = _act.get(activation)
    x, w = _gaussian_nodes(mean, math.sqrt(var), kink=row.kinks[0] if row.kinks else 0.0)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        phi = row.phi(x, alpha)
        dphi = row.dphi(x, alpha)
        return float(w @ phi), float(w @ (phi * phi)), float(w @ (dphi * dphi))


def weight_variance(init, fan_in, fan_out):
    """Var[W_ij] of a zero-mean iid init for a (fan_out, fan_in) layer (any ``init=`` of ``fastinit.simulate``,
    resolved as a simulation resolves it); NaN when the init has no mean-field limit (zeros, ones, constant,
    identity), is not known (a callable) or is not an init at all."""
    try:
        return _init_arg.resolve(init).variance(fan_in, fan_out)
    except (TypeError, ValueError):
        return math.nan


@functools.lru_cache(maxsize=4096)   # sweeps ask for the same few maps over and over
def fixed_point(activation, sigma_w2, bias=0.0, alpha=None, q0=1.0, max_iter=2000, rtol=1e-12):
    """(q*, chi*): the limit of q -> sigma_w^2 E[phi(b + sqrt(q) z)^2] from q0, and
    chi* = sigma_w^2 E[phi'(b + sqrt(q*) z)^2]. q* is 0 for a collapsing map and inf for a diverging one; a
    marginal map (relu with sigma_w^2 = 2) stays at q0. Where the iteration approaches its limit only like 1 / l
    (tanh at sigma_w^2 = 1: q* = 0, chi* = 1) the limit is solved for as the root the iteration is moving towards."""
    q = float(q0)
    done = False
    for _ in range(max_iter):
        new = sigma_w2 * activation_moments(activation, bias, q, alpha)[1]
        if not math.isfinite(new) or new > 1e100:   # growing without bound (chaotic or expanding map)
            q = math.inf
            break
        done = abs(new - q) <= rtol * max(q, 1e-300)
        q = new
        if done or q < 1e-300:
            break
    if not done and 1e-300 <= q < math.inf:
        q = _root_ahead(lambda x: sigma_w2 * activation_moments(activation, bias, x, alpha)[1] - x, q)
    if q < 1e-300 and bias == 0:
        q = 0.0
    if math.isinf(q):
        return q, math.inf if sigma_w2 > 0 else 0.0
    return q, sigma_w2 * activation_moments(activation, bias, q, alpha)[2]


def _gradient_stds(chi, known=True):
    """std of dL/dH per layer from std 1 at the top, multiplied by sqrt(chi) of each layer on the way down (all
    NaN when the gradient has no prediction, from a non-finite chi down)."""
    grad = np.full(chi.size, np.nan)
    if known:
        grad[-1] = 1.0
        for i in range(chi.size - 1, 0, -1):
            grad[i - 1] = grad[i] * math.sqrt(chi[i]) if math.isfinite(chi[i]) else math.nan
    return grad


@dataclasses.dataclass
class Prediction:
    """Per-layer mean-field predictions (index i = layer i + 1) and the fixed point of the map.

    p_std: std of the pre-activations (after batch norm when used); h_mean, h_std: of the activations;
    grad_h_std: std of dL/dH of each layer's output when the top gradient has std 1 (the engine's default);
    chi: per-layer gradient variance factor (grad_h_std[i - 1]^2 / grad_h_std[i]^2 predicted); sigma_w2: fan_in
    Var[W] per layer; q_star, chi_star: fixed point of a square layer of the last layer's scheme. With batch norm
    the gradients, chi, q_star and chi_star are NaN (batch norm's gradient statistics need the batch-correlation
    theory of Yang et al. 2019); so are q_star and chi_star for varying widths."""

    p_std: np.ndarray
    h_mean: np.ndarray
    h_std: np.ndarray
    grad_h_std: np.ndarray
    chi: np.ndarray
    sigma_w2: np.ndarray
    q_star: float
    chi_star: float

    def to_dict(self):
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in dataclasses.asdict(self).items()}

    def truncate(self, depth):
        """The prediction for the first `depth` layers of the same network (the forward map is the same; the
        gradient is renormalized to std 1 at the new top)."""
        if not 1 <= depth <= self.p_std.size:
            raise ValueError(f"depth must be in [1, {self.p_std.size}], got {depth}")
        grad = _gradient_stds(self.chi[:depth], known=bool(np.isfinite(self.grad_h_std[-1])))
        return Prediction(p_std=self.p_std[:depth].copy(), h_mean=self.h_mean[:depth].copy(),
                          h_std=self.h_std[:depth].copy(), grad_h_std=grad, chi=self.chi[:depth].copy(),
                          sigma_w2=self.sigma_w2[:depth].copy(), q_star=self.q_star, chi_star=self.chi_star)


def predict(depth=10, width=500, activation="tanh", init="xavier_normal", bias=0.0, batchnorm=False, widths=None,
            alpha=None, input_mean_square=1.0, bn_eps=1e-5):
    """Mean-field prediction for ``fastinit.simulate`` with the same arguments (the input's mean square E[x^2]
    is 1 for the default N(0, 1) input). Layers whose scheme has no variance (callables, constants) are NaN."""
    _act.get(activation)
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise ValueError(f"depth must be an integer >= 1, got {depth!r}")
    if widths is None and (isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1):
        raise ValueError(f"width must be an integer >= 1, got {width!r}")
    if widths is not None and any(isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 1 for w in widths):
        raise ValueError(f"widths must be integers >= 1, got {widths!r}")
    _init_arg.resolve(init)   # TypeError / ValueError naming init when it is not one (a callable is: NaN below)
    widths = np.array(widths if widths is not None else [width] * (depth + 1), dtype=float)
    if len(widths) != depth + 1:
        raise ValueError(f"widths must list depth + 1 = {depth + 1} sizes, got {len(widths)}")
    sw2 = np.array([widths[l - 1] * weight_variance(init, widths[l - 1], widths[l]) for l in range(1, depth + 1)])
    p_std, h_mean, h_std, dphi2 = (np.full(depth, np.nan) for _ in range(4))
    chi = np.full(depth, np.nan)
    ms = float(input_mean_square)   # E[H_{l-1}^2]
    for i in range(depth):
        v = sw2[i] * ms   # variance of P before the bias / batch norm
        if batchnorm:
            mean, var = 0.0, v / (v + bn_eps) if v + bn_eps > 0 else 0.0
        else:
            mean, var = bias, v
        if not math.isfinite(var):
            break
        e1, e2, ed2 = activation_moments(activation, mean, var, alpha)
        p_std[i] = math.sqrt(var)
        h_mean[i], h_std[i] = e1, math.sqrt(max(e2 - e1 * e1, 0.0))
        dphi2[i] = ed2
        ms = e2
    if not batchnorm:   # dL/dH_{l-1} = (dL/dH_l phi'(P_l)) W_l: variance x fan_out Var[W] E[phi'^2]
        # (through batch norm the gradient picks up batch correlations that this map does not model: Yang et al.
        # 2019 find an explosion by pi / (pi - 1) per relu layer; not predicted here, NaN)
        chi = widths[1:] * sw2 / np.array(widths[:-1], dtype=float) * dphi2
    grad = _gradient_stds(chi, known=not batchnorm)
    if batchnorm or len(set(widths)) > 1 or not math.isfinite(sw2[-1]):
        q_star = chi_star = math.nan
    else:
        q_star, chi_star = fixed_point(activation, sw2[-1], bias, alpha, q0=sw2[0] * float(input_mean_square))
    return Prediction(p_std=p_std, h_mean=h_mean, h_std=h_std, grad_h_std=grad, chi=chi, sigma_w2=sw2,
                      q_star=q_star, chi_star=chi_star)


# ------------------------------------------------------------------------------------- depth scales (trainability)

@functools.lru_cache(maxsize=None)
def _hermite_2d(n=96):
    """(z1, z2, w): the tensor product of n-point Gauss-Hermite rules for two independent N(0, 1) variables."""
    z, w = np.polynomial.hermite_e.hermegauss(n)
    w = w / w.sum()
    return np.repeat(z, n), np.tile(z, n), np.outer(w, w).ravel()


def _pair(q, c):
    """Points (u1, u2) and weights for (u1, u2) ~ N(0, q [[1, c], [c, 1]])."""
    z1, z2, w = _hermite_2d()
    r = math.sqrt(q)
    return r * z1, r * (c * z1 + math.sqrt(max(1.0 - c * c, 0.0)) * z2), w


@dataclasses.dataclass(frozen=True)
class DepthScales:
    """The depth scales of Schoenholz et al. (2017) at one (sigma_w^2, sigma_b^2): the fixed points q* of the length
    map and c* of the correlation map, chi_1 = sigma_w^2 E[phi'(u)^2] (the slope of the c-map at c = 1, the
    gradients' per-layer variance factor), chi_c (the c-map's slope at c*), xi_q and xi_c (layers over which the
    length and the correlation of two inputs approach their fixed points: deviations decay like e^{-l / xi}), and
    the phase ("ordered": chi_1 < 1, c* = 1; "chaotic": chi_1 > 1, c* < 1; "critical": chi_1 = 1; "unbounded": the
    length map diverges, relu-like activations with sigma_w^2 above their boundary)."""

    q_star: float
    c_star: float
    chi_1: float
    chi_c: float
    xi_q: float
    xi_c: float
    phase: str


def _q_map(activation, sigma_w2, sigma_b2, alpha):
    return lambda q: sigma_w2 * activation_moments(activation, 0.0, q, alpha)[1] + sigma_b2


def _root_ahead(excess, q):
    """The root of excess(x) = map(x) - x that a slowly converging iteration at q is moving towards (the map is
    near marginal there and the iteration approaches like 1 / l): bracketed by halving or doubling q, then Brent."""
    from scipy.optimize import brentq

    f = excess(q)
    if f == 0:
        return q
    step = 0.5 if f < 0 else 2.0
    other = q
    for _ in range(2000):
        other *= step
        if other < 1e-300:
            return 0.0
        if not math.isfinite(excess(other)) or other > 1e100:
            return math.inf
        if (excess(other) > 0) == (f < 0):
            break
    a, b = sorted((q, other))
    return brentq(excess, a, b, xtol=1e-300, rtol=1e-14)


def depth_scales(activation="tanh", sigma_w2=1.0, sigma_b2=0.0, alpha=None, max_iter=500):
    """The depth scales xi_q and xi_c of a random network with W_ij ~ N(0, sigma_w^2 / fan_in), b_i ~ N(0, sigma_b^2)
    (Schoenholz, Gilmer, Ganguli & Sohl-Dickstein, "Deep Information Propagation", ICLR 2017, eqs. 3-9):

        q_l = sigma_w^2 E[phi(sqrt(q_{l-1}) z)^2] + sigma_b^2                         (the length map, fixed point q*)
        c_l = (sigma_w^2 E[phi(u1) phi(u2)] + sigma_b^2) / q*,  (u1, u2) ~ N(0, q* [[1, c_{l-1}], [c_{l-1}, 1]])
        chi_1 = sigma_w^2 E[phi'(sqrt(q*) z)^2],    chi_c = sigma_w^2 E[phi'(u1) phi'(u2)] at c*
        xi_q^-1 = -log(chi_1 + sigma_w^2 E[phi''(sqrt(q*) z) phi(sqrt(q*) z)]),    xi_c^-1 = -log chi_c

    (the argument of xi_q's log is the length map's slope at q*, computed here as that derivative). xi_c diverges at
    the order-to-chaos boundary chi_1 = 1 (``critical_sigma_w2``); random networks train when their depth is
    below a few xi_c (about 6 xi_c in the paper). For tanh with sigma_b^2 = 0.05: xi_c = 3.63 at sigma_w^2 = 1,
    15.8 at 1.5, 25.2 at 2, 9.05 at 3; the boundary is at 1.761. The two-dimensional expectations use a 96 x 96
    Gauss-Hermite rule: accurate to ~1e-10 for smooth activations (tanh, sigmoid, gelu, ...), to ~1e-4 where phi'
    jumps (relu).
    """
    row = _act.get(activation)
    alpha = row.alpha if alpha is None else alpha
    sigma_w2, sigma_b2 = float(sigma_w2), float(sigma_b2)
    if not (sigma_w2 > 0 and math.isfinite(sigma_w2)):
        raise ValueError(f"sigma_w2 must be a finite number > 0, got {sigma_w2}")
    if not (sigma_b2 >= 0 and math.isfinite(sigma_b2)):
        raise ValueError(f"sigma_b2 must be a finite number >= 0, got {sigma_b2}")
    q_map = _q_map(activation, sigma_w2, sigma_b2, alpha)
    q = 1.0
    zero = np.array([0.0])
    if (sigma_b2 == 0 and not row.kinks and row.phi(zero, alpha)[0] == 0
            and sigma_w2 * row.dphi(zero, alpha)[0] ** 2 <= 1):
        max_iter = 0   # q = 0 attracts (tanh at sigma_w^2 <= 1: the map approaches it only like 1 / l)
        q = 0.0
    done = max_iter == 0
    for _ in range(max_iter):
        new = q_map(q)
        if not math.isfinite(new) or new > 1e100:
            nan = math.nan
            return DepthScales(math.inf, nan, nan, nan, nan, nan, "unbounded")
        done = abs(new - q) <= 1e-14 * max(q, 1e-300)
        q = new
        if done or q < 1e-300:
            break
    if not done and q >= 1e-300:
        q = _root_ahead(lambda x: q_map(x) - x, q)
    if math.isinf(q):
        nan = math.nan
        return DepthScales(math.inf, nan, nan, nan, nan, nan, "unbounded")
    if q < 1e-300:   # sigma_b^2 = 0 and a contracting map: the linearization at 0
        q = 0.0
    if q == 0:
        # The limit q -> 0+: E[phi'(sqrt(q) z)^2] tends to the mean of phi'(0-)^2 and phi'(0+)^2 (z is symmetric),
        # not phi' at 0 taken on one side (relu: 1/2, not 0; a relu network at sigma_w^2 = 1 halves q per layer)
        slope0 = sigma_w2 * _dphi2_at_zero(row, alpha)
        chi_1 = slope0
    else:
        chi_1 = sigma_w2 * activation_moments(activation, 0.0, q, alpha)[2]
    if abs(chi_1 - 1.0) <= 1e-9:   # on the boundary (relu at sigma_w^2 = 2): c* = 1, both scales infinite
        chi_1 = 1.0
    c = 1.0
    if chi_1 > 1 and q > 0:   # c = 1 is unstable: the stable c* < 1, a root of c_map(c) - c below 1
        def excess(c):
            u1, u2, w = _pair(q, c)
            return (sigma_w2 * float(w @ (row.phi(u1, alpha) * row.phi(u2, alpha))) + sigma_b2) / q - c

        gap = 0.5   # c_map(c) < c just below 1 (slope chi_1 > 1 at c = 1); c_map(0) - 0 >= 0
        while excess(1.0 - gap) >= 0 and gap > 1e-12:
            gap /= 2
        if excess(1.0 - gap) >= 0:   # chi_1 within rounding of 1: no c* < 1 resolved
            c = 1.0
        elif excess(0.0) <= 0:
            c = 0.0
        else:
            from scipy.optimize import brentq

            c = brentq(excess, 0.0, 1.0 - gap, xtol=1e-15, rtol=1e-14)
    if c < 1.0:
        u1, u2, w = _pair(q, c)
        chi_c = sigma_w2 * float(w @ (row.dphi(u1, alpha) * row.dphi(u2, alpha)))
    else:
        chi_c = chi_1
    h = 1e-5
    slope = (q_map(q * (1 + h)) - q_map(q * (1 - h))) / (2 * h * q) if q > 0 else slope0

    def scale(x):
        return -1.0 / math.log(x) if 0 < x < 1 else math.inf

    phase = "chaotic" if chi_1 > 1 else "critical" if chi_1 == 1 else "ordered"
    return DepthScales(q, c, chi_1, chi_c, scale(slope), scale(chi_c), phase)


def _dphi2_at_zero(row, alpha):
    """(phi'(0-)^2 + phi'(0+)^2) / 2: the limit of E[phi'(sqrt(q) z)^2] and of E[phi(sqrt(q) z)^2] / q as q -> 0+
    for an activation with phi(0) = 0 (the two sides of a kink at 0 each weigh half)."""
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        sides = row.dphi(np.array([-1e-30, 1e-30]), alpha)
    return float(np.mean(sides * sides))


def critical_sigma_w2(activation="tanh", sigma_b2=0.0, alpha=None, lo=1e-3, hi=100.0):
    """The sigma_w^2 of the order-to-chaos boundary for this sigma_b^2: chi_1(sigma_w^2) = 1 (Poole et al. 2016;
    Schoenholz et al. 2017), by bisection on [lo, hi] (NaN when chi_1 - 1 does not change sign there)."""
    from scipy.optimize import brentq

    def excess(sw2):
        chi = depth_scales(activation, sw2, sigma_b2, alpha).chi_1
        return (chi if math.isfinite(chi) else 1e300) - 1.0

    a, b = excess(lo), excess(hi)
    if not a * b < 0:
        return math.nan
    return brentq(excess, lo, hi, xtol=1e-12, rtol=1e-12)
