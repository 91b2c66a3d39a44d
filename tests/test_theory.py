"""fastinit.theory: the quadrature against closed forms and scipy.integrate.quad, fixed points, weight variances
against reference.py's scheme formulas, and the mean-field prediction against the simulation engine."""
import math

import numpy as np
import pytest
from scipy import integrate, optimize, special

import fastinit as fi
from fastinit import reference as R
from fastinit.experiment import theory as T
from fastinit.experiment._activations import ACTIVATIONS


def quad_expectation(f, mean, std):
    """E[f(mean + std z)] by adaptive quadrature, split at the kink 0 (the slow, independent oracle)."""
    dens = lambda x: f(np.array([x]))[0] * math.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))
    lo, hi = mean - 40 * std, mean + 40 * std
    pts = [lo, 0.0, hi] if lo < 0 < hi else [lo, hi]
    return sum(integrate.quad(dens, a, b, epsabs=0, epsrel=1e-12, limit=500)[0] for a, b in zip(pts, pts[1:]))


def test_half_normal_rule_is_gaussian():
    t, w = T.half_normal_rule(64)
    assert np.all(t > 0) and np.all(w > 0)
    for k in range(0, 40):
        exact = 2 ** ((k - 1) / 2) * special.gamma((k + 1) / 2) / math.sqrt(2 * math.pi)
        assert w @ t ** k == pytest.approx(exact, rel=1e-9), k


@pytest.mark.parametrize("q", [1e-4, 0.37, 1.0, 2.0, 50.0])
def test_relu_and_linear_closed_forms(q):
    e1, e2, ed2 = T.activation_moments("relu", 0.0, q)
    assert e2 == pytest.approx(q / 2, rel=1e-14)          # E[relu(sqrt(q) z)^2] = q / 2 exactly
    assert e1 == pytest.approx(math.sqrt(q / (2 * math.pi)), rel=1e-14)
    assert ed2 == pytest.approx(0.5, rel=1e-14)
    a = 0.2
    assert T.activation_moments("leaky_relu", 0.0, q, alpha=a)[1] == pytest.approx(q * (1 + a * a) / 2, rel=1e-14)
    e1, e2, ed2 = T.activation_moments("linear", 0.3, q)
    assert (e1, e2, ed2) == pytest.approx((0.3, 0.09 + q, 1.0), rel=1e-13)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("mean,var", [(0.0, 1.0), (0.3, 0.5), (-0.7, 4.0), (0.0, 0.01), (0.0, 300.0)])
def test_moments_match_adaptive_quadrature(activation, mean, var):
    alpha = ACTIVATIONS[activation].alpha
    got = T.activation_moments(activation, mean, var)
    phi = lambda x: R.activation(activation, x, alpha)
    dphi = lambda x: R.activation_derivative(activation, x, alpha)
    want = (quad_expectation(phi, mean, math.sqrt(var)), quad_expectation(lambda x: phi(x) ** 2, mean, math.sqrt(var)),
            quad_expectation(lambda x: dphi(x) ** 2, mean, math.sqrt(var)))
    for g, w in zip(got, want):
        assert g == pytest.approx(w, rel=1e-7, abs=1e-12)


def test_tanh_fixed_points():
    # ordered phase: sigma_w^2 < 1 collapses to q* = 0 and chi* = sigma_w^2 (tanh'(0) = 1)
    q, chi = T.fixed_point("tanh", 0.5)
    assert q == 0 and chi == pytest.approx(0.5)
    # sigma_w^2 = 2: a non-zero fixed point, solved independently with brentq on adaptive quadrature
    f = lambda q: 2 * quad_expectation(lambda x: np.tanh(x) ** 2, 0.0, math.sqrt(q)) - q
    want = optimize.brentq(f, 0.1, 2.0, xtol=1e-14)
    q, chi = T.fixed_point("tanh", 2.0)
    assert q == pytest.approx(want, rel=1e-9)
    assert chi == pytest.approx(2 * quad_expectation(lambda x: (1 - np.tanh(x) ** 2) ** 2, 0.0, math.sqrt(want)),
                                rel=1e-8)
    assert chi > 1   # chaotic side of the edge of chaos (Poole et al. 2016, sigma_b = 0: sigma_w^2 = 1)
    # with a bias the map has a fixed point even below sigma_w^2 = 1
    q, _ = T.fixed_point("tanh", 0.8, bias=0.3)
    assert q > 0 and q == pytest.approx(0.8 * T.activation_moments("tanh", 0.3, q)[1], rel=1e-10)


def test_relu_he_is_marginal_and_selu_lecun_is_self_normalizing():
    q, chi = T.fixed_point("relu", 2.0, q0=1.7)
    assert q == pytest.approx(1.7) and chi == pytest.approx(1.0)
    q, chi = T.fixed_point("selu", 1.0)
    assert q == pytest.approx(1.0, rel=1e-6)   # Klambauer et al. 2017: mean 0, variance 1 is the fixed point
    assert T.fixed_point("relu", 3.0)[0] == math.inf
    assert T.fixed_point("relu", 1.0)[0] == 0.0


@pytest.mark.parametrize("scheme,torch_name,kw", [
    ("xavier_normal", "xavier_normal", {}), ("xavier_uniform", "xavier_uniform", {}),
    ("he_normal", "kaiming_normal", dict(nonlinearity="relu")), ("he_uniform", "kaiming_uniform",
                                                                 dict(nonlinearity="relu")),
    ("lecun_normal", "lecun_normal", {}), ("lecun_uniform", "lecun_uniform", {}),
    ("torch_default", "kaiming_uniform", dict(a=math.sqrt(5))),
])
def test_weight_variance_matches_the_scheme_formulas(scheme, torch_name, kw):
    shape = (300, 200)   # (fan_out, fan_in)
    kind, a, b = R.torch_scheme(torch_name, shape, **kw)
    assert T.weight_variance(scheme, 200, 300) == pytest.approx(R.expected_std(kind, a, b) ** 2, rel=1e-12)


def test_weight_variance_of_other_forms():
    assert T.weight_variance({"std": 0.1}, 50, 60) == pytest.approx(0.01)
    assert T.weight_variance({"scale": 2.0}, 50, 60) == pytest.approx(4 / 50)
    assert T.weight_variance("trunc_normal", 50, 60) == pytest.approx(R.expected_std("truncated_normal", 0.02,
                                                                                     0.04) ** 2)
    assert T.weight_variance(fi.initializers.HeNormal(), 50, 60) == pytest.approx(2 / 50)   # truncation corrected
    assert T.weight_variance("glorot_uniform", 50, 60) == pytest.approx(2 / 110)
    assert T.weight_variance("random_normal", 50, 60) == pytest.approx(0.05 ** 2)
    assert T.weight_variance("orthogonal", 50, 60) == pytest.approx(1 / 60)
    for no_theory in ("zeros", "ones", "identity", lambda W, generator: None):
        assert math.isnan(T.weight_variance(no_theory, 50, 60))


def test_orthogonal_weights_have_the_stated_variance():
    for shape in ((60, 50), (50, 60)):
        W = np.empty(shape, np.float64)
        fi.init.orthogonal_(W, generator=fi.Generator(1))
        assert (W ** 2).mean() == pytest.approx(T.weight_variance("orthogonal", shape[1], shape[0]), rel=1e-12)


# --- theory against the engine: width 1000, batch 2000, 10 layers -------------------------------------------------

@pytest.mark.parametrize("init", ["xavier_normal", "he_normal", "lecun_normal"])
@pytest.mark.parametrize("activation", ["tanh", "relu", "selu"])
def test_prediction_matches_simulation(activation, init):
    """Per-layer std within 5% over 10 layers (and the backpropagated gradient std too). The theory is the mean over
    the weight ensemble: relu's per-layer variance is a multiplicative random walk at finite width (the batch's
    common mean direction gets only the 1000 units' averaging, +-4% per layer), so relu is averaged over 12 seeds;
    tanh and selu hold within 2% for a single seed."""
    pred = T.predict(depth=10, width=1000, activation=activation, init=init)
    seeds = range(12) if activation == "relu" else range(1)
    runs = [fi.simulate(depth=10, width=1000, batch=2000, activation=activation, init=init, seed=s,
                        backward=activation != "relu") for s in seeds]
    h_std = np.mean([r.layers["h_std"] for r in runs], axis=0)
    assert np.all(np.abs(h_std / pred.h_std - 1) < 0.05), h_std / pred.h_std
    if activation != "relu":
        g = runs[0].grads["grad_h_std"]
        assert np.all(np.abs(g / pred.grad_h_std - 1) < 0.05), g / pred.grad_h_std
    assert np.allclose(runs[0].theory.h_std, pred.h_std)


def test_prediction_with_batchnorm_bias_and_widths():
    res = fi.simulate(depth=6, width=800, batch=1500, activation="tanh", init="small_normal", batchnorm=True)
    assert np.all(np.abs(res.layers["h_std"] / res.theory.h_std - 1) < 0.01)
    assert np.all(np.isnan(res.theory.grad_h_std))   # not modelled with batch norm
    # a bias gives H a common mean direction, which (as for relu) only the 800 units average: one seed strays by
    # up to 4% at layer 6, the mean of 8 stays within 1%
    runs = [fi.simulate(depth=6, width=800, batch=1500, activation="tanh", init="xavier_normal", bias=0.3, seed=s)
            for s in range(8)]
    theory = runs[0].theory
    assert np.all(np.abs(np.mean([r.layers["h_std"] for r in runs], axis=0) / theory.h_std - 1) < 0.02)
    assert np.all(np.abs(np.mean([r.layers["h_mean"] for r in runs], axis=0) - theory.h_mean) < 0.02)
    res = fi.simulate(depth=3, widths=[400, 1200, 600, 900], batch=1500, activation="selu", init="lecun_normal",
                      backward=True)
    assert np.all(np.abs(res.layers["h_std"] / res.theory.h_std - 1) < 0.03)
    assert np.all(np.abs(res.grads["grad_h_std"] / res.theory.grad_h_std - 1) < 0.03)
    assert math.isnan(res.theory.q_star)


def test_prediction_of_the_classic_collapse():
    pred = T.predict(depth=10, width=500, activation="tanh", init="small_normal")
    assert pred.sigma_w2[0] == pytest.approx(0.05)
    res = fi.simulate(depth=10, width=500, batch=1000, activation="tanh", init="small_normal")
    assert np.all(np.abs(res.layers["h_std"] / pred.h_std - 1) < 0.05)
    assert pred.q_star == 0 and pred.chi_star == pytest.approx(0.05)


def test_no_theory_for_callables():
    res = fi.simulate(depth=2, width=30, batch=20, init=lambda W, generator: generator.normal(std=0.1, out=W))
    assert np.all(np.isnan(res.theory.h_std))
    assert " - " in res.table() or "-" in res.table().splitlines()[1]


def test_bad_input():
    with pytest.raises(ValueError, match="valid names"):
        T.activation_moments("swish", 0, 1)
    with pytest.raises(ValueError, match="valid names"):
        T.predict(activation="swish")
    with pytest.raises(ValueError, match="depth \\+ 1"):
        T.predict(depth=3, widths=[10, 10])
    with pytest.raises(ValueError, match="depth must be an integer >= 1"):
        T.predict(depth=0)
    with pytest.raises(ValueError, match="width must be an integer >= 1"):
        T.predict(width=0)
    with pytest.raises(ValueError, match="unknown init 'nope'"):
        T.predict(init="nope")


def test_truncate_is_the_shallower_prediction():
    deep = T.predict(depth=12, width=300, activation="tanh", init="he_normal")
    for d in (1, 5, 12):
        cut, direct = deep.truncate(d), T.predict(depth=d, width=300, activation="tanh", init="he_normal")
        for f in ("p_std", "h_mean", "h_std", "grad_h_std", "chi"):
            assert np.allclose(getattr(cut, f), getattr(direct, f), rtol=1e-12, equal_nan=True), (d, f)
    with pytest.raises(ValueError, match="depth must be in"):
        deep.truncate(13)


@pytest.mark.parametrize("sigma_w2, xi_c", [(1.0, 3.6), (1.5, 15.8), (2.0, 25.0), (3.0, 9.0)])
def test_depth_scales_of_tanh_match_schoenholz_et_al(sigma_w2, xi_c):
    # the values, computed from the mean-field equations independently, sigma_b^2 = 0.05
    s = fi.theory.depth_scales("tanh", sigma_w2, 0.05)
    assert s.xi_c == pytest.approx(xi_c, rel=0.015)
    assert s.phase == ("ordered" if sigma_w2 < 1.761 else "chaotic")
    assert (s.c_star == 1.0) == (s.phase == "ordered") and 0 < s.xi_q < s.xi_c


def test_the_order_to_chaos_boundary_of_tanh():
    critical = fi.theory.critical_sigma_w2("tanh", 0.05)
    assert critical == pytest.approx(1.761, abs=5e-4)
    assert fi.theory.depth_scales("tanh", critical, 0.05).xi_c > 1e4   # diverges there
    # sigma_b^2 = 0: at 1 (phi'(0) = 1, q* = 0); chi_1 - 1 grows only like (sigma_w^2 - 1)^2 there, so the root is
    # found to ~1e-5
    assert fi.theory.critical_sigma_w2("tanh", 0.0) == pytest.approx(1.0, abs=1e-4)


def test_depth_scales_of_relu_in_closed_form():
    # relu: E[relu(sqrt(q) z)^2] = q / 2, so q* = sigma_b^2 / (1 - sigma_w^2 / 2) and chi_1 = sigma_w^2 / 2
    s = fi.theory.depth_scales("relu", 1.5, 0.1)
    assert s.q_star == pytest.approx(0.4, rel=1e-9) and s.chi_1 == pytest.approx(0.75, rel=1e-9)
    assert s.xi_c == pytest.approx(-1 / math.log(0.75), rel=1e-9)
    assert s.xi_q == pytest.approx(-1 / math.log(0.75), rel=1e-6)   # the length map is linear: slope sigma_w^2 / 2
    assert fi.theory.depth_scales("relu", 2.0, 0.0).phase == "critical"
    assert fi.theory.depth_scales("relu", 2.5, 0.0).phase == "unbounded"


@pytest.mark.parametrize("kwargs, match", [(dict(sigma_w2=0.0), "sigma_w2"), (dict(sigma_w2=math.inf), "sigma_w2"),
                                           (dict(sigma_b2=-1.0), "sigma_b2"), (dict(activation="swish"), "swish")])
def test_depth_scales_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fi.theory.depth_scales(**{"activation": "tanh", "sigma_w2": 1.0, **kwargs})


def test_a_fixed_point_approached_like_one_over_l_is_solved():
    # tanh at sigma_w^2 = 1: q_l ~ 3 / (2 l), so iterating alone stops at q ~ 1e-4; the limit is (0, 1)
    assert T.fixed_point("tanh", 1.0) == (0.0, 1.0)
    q, chi = T.fixed_point("tanh", 1.0004)   # just chaotic: a small q* > 0, chi* within 1e-6 of 1
    assert 0 < q < 1e-3 and q == pytest.approx(1.0004 * T.activation_moments("tanh", 0.0, q)[1], rel=1e-10)
    assert chi == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_depth_scales_at_zero_bias_match_a_simulated_network(activation):
    """sigma_b^2 = 0 (the training sweeps' default): where q* = 0 the length map's slope exp(-1 / xi_q) is the
    per-layer ratio of q in a simulated network started small (relu: 1/2 at sigma_w^2 = 1; it was 0 with xi = inf,
    from phi'(0) taken on one side); where q* > 0 the simulated q settles (ratio 1)."""
    ds = fi.theory.depth_scales(activation, 1.0, 0.0)
    assert ds.chi_1 > 0 and ds.xi_q > 0 and ds.xi_c > 0
    scale = 1e-2 if ds.q_star == 0 else 1.0
    x = np.random.default_rng(0).normal(0, scale, (400, 1000)).astype(np.float32)
    res = fi.simulate(depth=12, width=1000, batch=400, activation=activation, init={"sigma_w2": 1.0}, input=x, seed=0)
    q = np.asarray(res.layers["p_std"], np.float64) ** 2
    ratio = (q[-1] / q[5]) ** (1 / 6)
    if ds.q_star == 0:
        slope = math.exp(-1 / ds.xi_q) if math.isfinite(ds.xi_q) else 1.0
        assert ratio == pytest.approx(slope, rel=0.02, abs=0.01), (ratio, ds)
        if math.isfinite(ds.xi_c):
            assert ds.chi_c == pytest.approx(ds.chi_1) and ds.xi_c == pytest.approx(ds.xi_q)
    else:
        assert ratio == pytest.approx(1.0, abs=0.05)


def test_relu_family_at_zero_bias():
    relu = fi.theory.depth_scales("relu", 1.0, 0.0)
    assert relu.chi_1 == pytest.approx(0.5) and relu.xi_c == pytest.approx(1 / math.log(2))
    assert fi.theory.depth_scales("leaky_relu", 0.5, 0.0).chi_1 == pytest.approx(0.5 * (1 + 0.01 ** 2) / 2)
