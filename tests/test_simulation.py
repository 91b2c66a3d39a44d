"""The simulation engine (csrc/layer*.c through fi.simulate) against reference.simulate (NumPy, float64) on the
same input and weights, the classic signal-propagation results, and bad input."""
import math
import subprocess
import sys

import numpy as np
import pytest

import fastinit as fi
from fastinit import _core, reference as R
from fastinit.experiment import _simulation as S

ACTS = list(S.ACTIVATIONS)


def run_both(**kw):
    """fi.simulate(**kw) and reference.simulate on the same input, weights and top gradient."""
    res = fi.simulate(**kw)
    cfg = S._config(**{**dict(depth=10, width=500, batch=1000, activation="tanh", init="xavier_normal", bias=0.0,
                              batchnorm=False, backward=False, bins=50, hist_range=None, seed=0, dtype="float32",
                              widths=None, input=None, alpha=None, bn_eps=1e-5), **kw})
    streams = S._Streams(cfg)
    x = kw.get("input")
    x = streams.input() if x is None else x
    weights = [streams.weights(layer) for layer in range(1, cfg.depth + 1)]
    natural = S.ACTIVATIONS[cfg.activation].range
    ref = R.simulate(x, weights, cfg.activation, cfg.alpha, cfg.bias, cfg.batchnorm, cfg.bn_eps, cfg.bins,
                     cfg.hist_range, natural, streams.top_gradient() if cfg.backward else None)
    return res, ref


def close(a, b, rel, abs_=0.0):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.allclose(a, b, rtol=rel, atol=abs_, equal_nan=True)


def check_against_reference(res, ref, rel, hist_tol, count_tol):
    """Per-layer statistics within rel (std/mean/min/max), counts within count_tol of the elements, histograms
    within hist_tol of the elements in total absolute difference (values on a bin edge may fall either side)."""
    L = res.layers
    for side in ("p", "h"):
        st = ref[side]
        total = res.config["batch"] * np.array(res.config["widths"][1:])
        scale = np.array([s["std"] for s in st])
        # means near 0 are compared relative to the std
        assert close(L[f"{side}_mean"] / scale, [s["mean"] / s["std"] for s in st], 0, rel * 10), side
        assert close(L[f"{side}_std"], scale, rel), side
        assert close(L[f"{side}_min"], [s["min"] for s in st], rel, rel * scale.max()), side
        assert close(L[f"{side}_max"], [s["max"] for s in st], rel, rel * scale.max()), side
        assert np.all(np.abs(L[f"{side}_zero_frac"] - [s["zeros"] / t for s, t in zip(st, total)]) <= count_tol), side
        assert np.array_equal(L[f"{side}_nonfinite"], [s["nonfinite"] for s in st])
        edges = res.p_edges if side == "p" else res.h_edges
        for i, (counts, rng) in enumerate(zip(ref[f"{side}_hist"], ref[f"{side}_range"])):
            assert close(edges[i][[0, -1]], rng, rel, rel * scale.max()), (side, i)
            got = (res.p_hist if side == "p" else res.h_hist)[i]
            assert np.abs(got - counts).sum() <= hist_tol * total[i] + 2, (side, i, got, counts)
    sat = [s.get("saturated") for s in ref["h"]]
    if sat[0] is not None:
        assert np.all(np.abs(L["h_saturated_frac"] - np.array(sat) / total) <= count_tol)
    else:
        assert np.all(np.isnan(L["h_saturated_frac"]))
    if "grad_h" in ref:
        assert close(res.grads["grad_h_std"], [s["std"] for s in ref["grad_h"]], rel)
        assert close(res.grads["grad_p_std"], [s["std"] for s in ref["grad_p"]], rel)
        assert close(res.grads["grad_w_norm"], ref["grad_w_norm"], rel)
        assert np.all(res.grads["grad_nonfinite"] == 0)
    else:
        assert res.grads is None


@pytest.mark.parametrize("batchnorm", [False, True], ids=["plain", "bn"])
@pytest.mark.parametrize("activation", ACTS)
def test_float64_matches_reference(simd, activation, batchnorm):
    """float64: same input and weights, statistics within 1e-9, histograms nearly identical."""
    widths = [48, 64, 40, 72, 56]
    res, ref = run_both(depth=4, widths=widths, batch=300, activation=activation, init="lecun_normal", bias=0.1,
                        batchnorm=batchnorm, backward=True, bins=17, seed=7, dtype="float64")
    check_against_reference(res, ref, rel=1e-9, hist_tol=1e-4, count_tol=1e-4)


@pytest.mark.parametrize("batchnorm", [False, True], ids=["plain", "bn"])
@pytest.mark.parametrize("activation", ACTS)
def test_float32_matches_reference(simd, activation, batchnorm):
    """float32 arithmetic against the float64 reference of the same (float32) weights: 1e-3 relative.
    Big enough for the multi-threaded path (batch x width >= 32768)."""
    res, ref = run_both(depth=5, width=96, batch=520, activation=activation, init="he_normal", bias=-0.05,
                        batchnorm=batchnorm, backward=True, bins=31, seed=11, dtype="float32")
    check_against_reference(res, ref, rel=1e-3, hist_tol=2e-3, count_tol=2e-3)


@pytest.mark.parametrize("hist_range", [None, (-0.5, 0.75)])
def test_histogram_ranges(hist_range):
    res, ref = run_both(depth=3, width=64, batch=200, activation="relu", init="he_uniform", hist_range=hist_range,
                        bins=9, dtype="float64")
    check_against_reference(res, ref, rel=1e-9, hist_tol=1e-4, count_tol=0)
    if hist_range is not None:
        assert np.allclose(res.h_edges[:, [0, -1]], hist_range)
        assert np.all(res.h_hist.sum(axis=1) < 200 * 64)   # values outside the range are not counted
    else:
        assert np.all(res.h_hist.sum(axis=1) == 200 * 64)


def test_natural_range_of_tanh_and_sigmoid():
    for act, rng in (("tanh", (-1, 1)), ("sigmoid", (0, 1))):
        res = fi.simulate(depth=2, width=32, batch=64, activation=act, bins=10)
        assert np.allclose(res.h_edges[:, [0, -1]], rng)
        assert np.all(res.h_hist.sum(axis=1) == 32 * 64)


def test_given_input_and_normalize():
    X = np.random.default_rng(0).uniform(0, 255, size=(150, 30))
    Xn = fi.normalize(X, "max")
    assert Xn.max() <= 1 and Xn.min() >= 0
    res, ref = run_both(depth=3, widths=[30, 20, 20, 10], activation="sigmoid", input=Xn, dtype="float64")
    assert res.config["batch"] == 150
    check_against_reference(res, ref, rel=1e-9, hist_tol=1e-4, count_tol=1e-4)


def test_normalize_methods():
    X = np.random.default_rng(1).normal(3, 2, size=(400, 5))
    assert np.allclose(fi.normalize(X, "standardize").mean(0), 0, atol=1e-12)
    assert np.allclose(fi.normalize(X, "standardize").std(0), 1)
    assert np.allclose(fi.normalize(X, "center").mean(0), 0, atol=1e-12)
    mm = fi.normalize(X, "minmax")
    assert mm.min() == 0 and mm.max() == 1
    assert np.abs(fi.normalize(X, "max")).max() == 1
    with pytest.raises(ValueError, match="valid methods"):
        fi.normalize(X, "zscore")
    with pytest.raises(TypeError, match="2-D"):
        fi.normalize(X[0])


def test_thread_count_does_not_change_results(threads):
    kw = dict(depth=4, width=300, batch=700, activation="gelu", batchnorm=True, backward=True, seed=3)
    fi.set_num_threads(1)
    one = fi.simulate(**kw)
    fi.set_num_threads(2)
    two = fi.simulate(**kw)
    for k in one.layers:
        assert np.array_equal(one.layers[k], two.layers[k], equal_nan=True), k
    for k in one.grads:
        assert np.array_equal(one.grads[k], two.grads[k], equal_nan=True), k
    assert np.array_equal(one.h_hist, two.h_hist) and np.array_equal(one.p_hist, two.p_hist)


def test_same_seed_same_result_and_seed_matters():
    a = fi.simulate(depth=3, width=50, batch=80, seed=5)
    b = fi.simulate(depth=3, width=50, batch=80, seed=5)
    c = fi.simulate(depth=3, width=50, batch=80, seed=6)
    assert np.array_equal(a.layers["h_std"], b.layers["h_std"])
    assert not np.array_equal(a.layers["h_std"], c.layers["h_std"])


# --- the classic results (10 layers x 500 units, batch 1000) ---------------------------------------------------

def classic(activation, init, **kw):
    return fi.simulate(depth=10, width=500, batch=1000, activation=activation, init=init, seed=2026, **kw)


def test_tanh_small_random_collapses():
    """N(0, 0.01^2): each layer multiplies the std by about sqrt(500 x 1e-4) = 0.22 (tanh is linear near 0)."""
    std = classic("tanh", "small_normal").layers["h_std"]
    assert np.all(std[1:] < std[:-1] / 3.5)
    assert np.allclose(std[1:] / std[:-1], math.sqrt(500 * 1e-4), rtol=0.05)
    assert std[-1] < 1e-6


def test_tanh_large_random_saturates():
    """N(0, 1): pre-activations have std ~ sqrt(500) x 0.6, so from layer 2 on over 80% of |h| > 0.99."""
    sat = classic("tanh", "normal").layers["h_saturated_frac"]
    assert np.all(sat[1:] > 0.8)


def test_tanh_xavier_keeps_the_signal():
    std = classic("tanh", "xavier_normal").layers["h_std"]
    assert 0.1 <= std[-1] <= 0.5
    assert np.all(np.diff(std) < 0)   # slowly shrinking, never collapsing


def test_relu_he_holds_and_xavier_shrinks():
    he = classic("relu", "he_normal").layers["h_std"]
    assert he[0] / 2 <= he[-1] <= he[0] * 2
    xav = classic("relu", "xavier_normal").layers["h_std"]
    ratio = xav[1:] / xav[:-1]
    assert np.allclose(ratio.mean(), 1 / math.sqrt(2), rtol=0.05)
    assert np.all((ratio > 0.6) & (ratio < 0.8))
    dead = classic("relu", "he_normal").layers["h_zero_frac"]
    assert np.allclose(dead, 0.5, atol=0.03)   # half of the relus are off


def test_zero_init_never_breaks_symmetry():
    res = classic("tanh", "zeros", backward=True)
    assert np.all(res.layers["h_std"] == 0)
    assert np.all(res.grads["grad_w_norm"][1:] == 0)   # no gradient reaches the weights behind the first layer


def test_batchnorm_rescues_small_init():
    std = classic("tanh", "small_normal", batchnorm=True).layers["p_std"]
    assert np.allclose(std, 1, atol=1e-3)


def test_gradients_vanish_with_small_init_and_hold_with_xavier():
    small = classic("tanh", "small_normal", backward=True).grads["grad_h_std"]
    assert np.all(small[:-1] < small[1:] / 3.5)   # shrinking towards the input
    xav = classic("tanh", "xavier_normal", backward=True).grads["grad_h_std"]
    assert xav[0] / xav[-1] < 3


# --- overflow, init forms, widths ----------------------------------------------------------------------------

def test_overflow_is_counted_not_raised():
    # each layer multiplies the scale by 1e6 sqrt(200): float32 overflows in layer 6
    res = fi.simulate(depth=8, width=200, batch=50, activation="linear", init={"std": 1e6}, backward=True)
    assert res.layers["h_nonfinite"][-1] > 0
    assert res.layers["h_nonfinite"][0] == 0
    assert "non-finite" in res.table()
    finite = res.layers["h_std"][res.layers["h_nonfinite"] == 0]
    assert np.all(np.isfinite(finite))


def test_init_forms_agree():
    a = fi.simulate(depth=3, width=64, batch=100, init={"std": 0.05}, seed=1)
    b = fi.simulate(depth=3, width=64, batch=100, init=lambda W, generator: generator.normal(std=0.05, out=W), seed=1)
    assert np.array_equal(a.layers["h_std"], b.layers["h_std"])
    c = fi.simulate(depth=3, width=64, batch=100, init={"scale": 0.4}, seed=1)   # 0.4 / sqrt(64) = 0.05
    assert np.array_equal(a.layers["h_std"], c.layers["h_std"])
    d = fi.simulate(depth=3, width=64, batch=100, init="random_normal", seed=1)   # Keras's name: normal_(W, 0, 0.05)
    assert np.array_equal(a.layers["h_std"], d.layers["h_std"])
    e = fi.simulate(depth=3, width=64, batch=100, init=fi.initializers.RandomNormal(), seed=1)   # drawn (in, out)
    assert np.allclose(d.layers["h_std"], e.layers["h_std"], rtol=0.1)
    # torch's and Keras's Glorot draw the same distribution (not the same numbers: Keras draws (in, out))
    t = fi.simulate(depth=3, width=256, batch=400, init="glorot_uniform", seed=1)
    k = fi.simulate(depth=3, width=256, batch=400, init=fi.initializers.GlorotUniform(), seed=1)
    assert np.allclose(t.layers["h_std"], k.layers["h_std"], rtol=0.05)
    f = fi.simulate(depth=3, width=64, batch=100, init=fi.init.orthogonal_, seed=1)
    assert np.all(np.isfinite(f.layers["h_std"]))


def test_varying_widths():
    res = fi.simulate(depth=3, widths=[20, 100, 7, 3], batch=64, backward=True)
    assert res.config["widths"] == [20, 100, 7, 3]
    assert res.h_hist.sum(axis=1).tolist() == [64 * 100, 64 * 7, 64 * 3]


def test_result_views(tmp_path):
    res = fi.simulate(depth=3, width=40, batch=50, backward=True)
    d = res.to_dict()
    import json
    json.dumps(d)
    assert len(d["layers"]["h_std"]) == 3 and len(d["grads"]["grad_w_norm"]) == 3
    text = repr(res)
    assert "SimulationResult(depth=3" in text and len(text.splitlines()) == 5
    assert res.h_std is res.layers["h_std"] and res.grad_w_norm is res.grads["grad_w_norm"]
    pytest.importorskip("pandas")
    df = res.to_pandas()
    assert list(df.index) == [1, 2, 3] and "grad_h_std" in df


# --- bad input -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kw,exc,match", [
    (dict(depth=0), ValueError, "depth"),
    (dict(depth=2.5), TypeError, "depth"),
    (dict(width=0), ValueError, "width"),
    (dict(batch=0), ValueError, "batch"),
    (dict(activation="swish"), ValueError, "valid names: linear, sigmoid, tanh"),
    (dict(init="xavier"), ValueError, "valid names: .*xavier_normal"),
    (dict(init={"mean": 1}), ValueError, "std"),
    (dict(init={"std": -1}), ValueError, "init\\['std'\\]"),
    (dict(init=3), TypeError, "init"),
    (dict(bins=0), ValueError, "bins"),
    (dict(bins=(1 << 24) + 1), ValueError, "bins must be at most 16777216"),
    (dict(hist_range=(1, 1)), ValueError, "hist_range"),
    (dict(hist_range=(2, 1)), ValueError, "hist_range"),
    (dict(hist_range=5), TypeError, "hist_range"),
    (dict(hist_range=(-1e308, 1e308)), ValueError, "wider than the largest float"),
    (dict(widths=[10, 10]), ValueError, "widths must list depth \\+ 1 = 4"),
    (dict(widths=[10, 0, 10, 10]), ValueError, "widths\\[1\\]"),
    (dict(dtype="float16"), (TypeError, ValueError), "dtype"),
    (dict(dtype="int32"), (TypeError, ValueError), "dtype"),
    (dict(input=np.zeros((5, 7))), ValueError, "7 features"),
    (dict(input=np.full((5, 10), np.nan)), ValueError, "non-finite"),
    (dict(input=[[1.0] * 10]), TypeError, "input"),
    (dict(activation="elu", alpha=0), ValueError, "alpha"),
    (dict(batchnorm=True, bn_eps=0.0), ValueError, "bn_eps must be > 0"),
    (dict(input=np.full((3, 10), 1e300)), ValueError, "beyond the float32 range"),
    (dict(hist_range=(0.0, 5e-324)), ValueError, "too narrow to bin"),
])
def test_bad_input(kw, exc, match):
    base = dict(depth=3, width=10, batch=5)
    with pytest.raises(exc, match=match):
        fi.simulate(**{**base, **kw})


# --- the activation kernels alone --------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", ACTS)
def test_activation_kernel(simd, activation, dtype):
    """phi over [-30, 30], a dense grid near 0 and tiny inputs against the float64 reference, *relative* error
    (a collapsing network lives at 1e-7): float32 kernels (csrc/layer_math.h) within 4e-7 relative (gelu: plus
    the erf approximation's 1.5e-7 absolute, times |x| / 2), float64 within 1e-13 (gelu: 1 + erf cancels in the
    left tail, in the reference too)."""
    x = np.concatenate([np.linspace(-30, 30, 20001), np.linspace(-1e-3, 1e-3, 2001), [0.0, 88.0, -88.0],
                        np.geomspace(1e-30, 1.0, 300), -np.geomspace(1e-30, 1.0, 300)])
    x = x.astype(dtype)
    c_act, alpha = S.ACTIVATIONS[activation].code, S.ACTIVATIONS[activation].alpha
    y = np.empty_like(x)
    _core.activation(c_act, alpha, x, y)
    x64 = x.astype(np.float64)
    want = R.activation(activation, x64, alpha)
    err = np.abs(y.astype(np.float64) - want)
    if dtype == np.float32:
        bound = 4e-7 * np.abs(want) + 1e-35 + (1e-7 * np.abs(x64) if activation == "gelu" else 0)
    else:
        bound = 1e-13 * np.abs(want) + 1e-300 + (1e-16 * np.abs(x64) if activation == "gelu" else 0)
    bad = err > bound
    assert not bad.any(), (x[bad][:5], y[bad][:5], want[bad][:5])


def test_plot_draws_histograms_and_curves(tmp_path):
    pytest.importorskip("matplotlib")   # a test extra: installed in CI
    res = fi.simulate(depth=12, width=40, batch=50, backward=True)
    fig = res.plot(tmp_path / "p.png", max_layers=4)
    assert (tmp_path / "p.png").stat().st_size > 10_000
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[0] == f"layer 1: std {res.layers['h_std'][0]:.2g}" and titles[-1].startswith("layer 12: std ")
    assert len(titles) == 4
    curve, grad = fig.axes[-2], fig.axes[-1]   # activation std and gradient std, each measured and predicted
    assert np.allclose(curve.get_lines()[0].get_ydata(), res.layers["h_std"])
    assert np.allclose(curve.get_lines()[1].get_ydata(), res.theory.h_std)
    assert np.allclose(grad.get_lines()[0].get_ydata(), res.grads["grad_h_std"])
    assert curve.get_legend() is not None and "mean-field theory" in [t.get_text() for t in curve.get_legend().texts]


def test_figure_legends_sit_below_the_curves_and_relu_histograms_stay_readable():
    """The legend ("best") covered xavier's gradient in layers 1-5; relu's spike of zeros set each histogram's
    y-scale and a shrinking init shared he_normal's x-range: layers 6-10 showed nothing."""
    pytest.importorskip("matplotlib")
    from fastinit.experiment._plotting import plot_results

    xavier, he = (fi.simulate(activation="relu", init=init, backward=True) for init in ("xavier_normal", "he_normal"))
    fig = plot_results([xavier, he], max_layers=5)
    curve, grad = fig.axes[-2], fig.axes[-1]
    for ax in (curve, grad):
        legend = ax.get_legend().get_window_extent(fig.canvas.get_renderer())
        assert legend.y1 <= ax.get_window_extent().y0   # under the panel, over no curve
    hists = fig.axes[:-2]
    xavier_10, he_10 = hists[4], hists[9]
    assert xavier_10.get_title().startswith("layer 10") and he_10.get_title().startswith("layer 10")
    # relu's exact zeros: more than 40% in one bin, cut at the top with the fraction written
    spike = max(bar.get_height() for bar in he_10.patches)
    assert spike > 0.4 and he_10.get_ylim()[1] < spike / 2
    assert any(t.get_text().strip().endswith("%") for t in he_10.texts)
    # xavier's layer 10 (std 0.02 against he's 0.7) drawn on its own range, and the zoom said
    assert "x zoomed" in xavier_10.get_title() and "x zoomed" not in he_10.get_title()
    assert xavier_10.get_xlim()[1] < he_10.get_xlim()[1] / 5


def test_huge_finite_values_keep_exact_statistics():
    """Values near 1e21 (squares beyond float32): the statistics fall back to double for those blocks."""
    res, ref = run_both(depth=3, width=200, batch=60, activation="linear", init={"std": 1e6}, dtype="float32")
    assert res.layers["h_std"][-1] > 1e20 and res.layers["h_nonfinite"][-1] == 0
    check_against_reference(res, ref, rel=1e-3, hist_tol=2e-3, count_tol=0)


def test_peaked_histogram_counts_every_value():
    """A collapsed network puts nearly every value in one bin: the counts still add up."""
    res = fi.simulate(depth=6, width=300, batch=400, activation="tanh", init="small_normal", bins=7)
    assert np.all(res.h_hist.sum(axis=1) == 300 * 400)
    assert res.h_hist[-1, 3] == 300 * 400   # all within the middle seventh of [-1, 1]


def test_collapsed_tanh_keeps_tiny_activations():
    """tanh of 1e-7 is 1e-7, not 0: no false 'dead units' in the collapsing network (a sum of 500 products can
    still cancel to exactly 0 now and then: about 1 value in 1e7)."""
    res = fi.simulate(depth=10, width=500, batch=1000, activation="tanh", init="small_normal", seed=2026)
    assert res.layers["h_std"][-1] < 1e-6
    assert np.all(res.layers["h_zero_frac"] < 1e-4)   # the exp-based tanh gave 24% zeros at layer 10


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_histograms_of_collapsed_and_exploded_networks(dtype):
    """Ranges of subnormal width (relu + N(0, 0.01^2) collapses to 1e-38) and wider than the largest float64 still
    bin every value (this once indexed outside the table and crashed)."""
    res = fi.simulate(depth=40, width=64, batch=64, activation="relu", init="small_normal", dtype=dtype)
    assert np.all(res.h_hist.sum(axis=1) + 0 == 64 * 64)
    res2, ref = run_both(depth=40, width=64, batch=64, activation="relu", init="small_normal", dtype="float64")
    check_against_reference(res2, ref, rel=1e-9, hist_tol=1e-4, count_tol=0)
    if dtype == "float64":
        X = np.zeros((4, 3))
        X[0, 0], X[1, 0] = -1e308, 1e308
        big = fi.simulate(depth=1, widths=[3, 2], activation="linear", init="ones", input=X, dtype=dtype, bins=4)
        assert big.p_hist.sum() == 8 and big.p_edges[0, 0] < -1e308 / 2


def test_layer_scratch_out_of_memory_is_a_memory_error_and_writes_nothing():
    """Under an address-space limit the histogram copies (1 GiB for 2**24 bins) cannot be allocated: the layer step
    raises MemoryError and leaves P, H and the histograms as they were (it used to dereference NULL)."""
    code = """
import resource, numpy as np
from fastinit import _core
h = np.ones((4, 8), np.float32); w = np.full((8, 8), 0.1, np.float32)
p = np.full((4, 8), -7, np.float32); ho = p.copy()
small = np.zeros(4, np.int64)
_core.layer_forward(h, w, None, p.copy(), ho.copy(), False, 1e-5, None, 2, 0.0, 1, 4, (-1.0, 1.0), (-1.0, 1.0),
                    small, small.copy())   # the BLAS sets itself up before the limit
bins = _core.MAX_BINS
p_hist, h_hist = np.zeros(bins, np.int64), np.zeros(bins, np.int64)
vm_kib = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmSize:"))
resource.setrlimit(resource.RLIMIT_AS, (vm_kib * 1024 + (256 << 20), resource.getrlimit(resource.RLIMIT_AS)[1]))
try:
    _core.layer_forward(h, w, None, p, ho, False, 1e-5, None, 2, 0.0, 1, bins, (-1.0, 1.0), (-1.0, 1.0), p_hist, h_hist)
except MemoryError as exc:
    print("MemoryError:", exc)
print(bool((p == -7).all() and (ho == -7).all()), int(p_hist.any() or h_hist.any()))
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("MemoryError: out of memory for the scratch of a layer step"), run.stdout
    assert lines[1] == "True 0"


def test_repr_of_a_result_with_a_huge_uniform_init():
    res = fi.simulate(depth=2, width=4, batch=4, dtype="float64", init=fi.initializers.RandomUniform(-1e300, 1e300))
    assert "SimulationResult(depth=2" in repr(res)


@pytest.mark.parametrize("dtype, scale", [("float64", 1e160), ("float32", 1e18)])
def test_statistics_of_values_whose_squares_overflow(dtype, scale):
    """An exploding network must not read as a collapsed one: float64 values above ~1e154 have squares beyond
    double, and the merge turned their NaN M2 into std = 0 (h_std 2.8e149 at layer 176, exactly 0 at layer 181 of a
    depth-200 relu run). The first layer is linear in its input, so its statistics scale exactly."""
    x = np.random.default_rng(0).standard_normal((64, 16))
    small = fi.simulate(depth=2, width=16, input=x, dtype=dtype, seed=1, activation="relu")
    large = fi.simulate(depth=2, width=16, input=x * scale, dtype=dtype, seed=1, activation="relu")
    for key in ("p_std", "h_std", "p_mean", "h_mean"):
        np.testing.assert_allclose(large.layers[key] / scale, small.layers[key], rtol=1e-5, err_msg=key)


def test_plot_says_what_the_cut_bin_holds_and_keeps_flat_curves_flat():
    """relu's first bin was labelled '54%' with nothing saying it is the bin's share; with batch norm the std
    panel was a log axis over 0.6278-0.6295, drawing 0.2% noise as a climb."""
    pytest.importorskip("matplotlib")
    relu = fi.simulate(depth=3, width=200, batch=200, activation="relu", init="he_normal", seed=0).plot()
    labels = [t.get_text() for ax in relu.axes for t in ax.texts]
    assert any(t.strip().startswith("this bin: ") and t.strip().endswith("%") for t in labels), labels
    bn = fi.simulate(depth=6, width=200, batch=200, activation="tanh", init="xavier_normal", batchnorm=True,
                     seed=0)
    fig = bn.plot()
    panel = [ax for ax in fig.axes if ax.get_ylabel().startswith("std of the activations")][0]
    assert panel.get_yscale() == "linear"
    lo, hi = panel.get_ylim()
    stds = np.asarray(bn.layers["h_std"])
    assert hi - lo >= 0.2 * stds.max() - 1e-12 and lo <= stds.min() and hi >= stds.max()
    collapsing = fi.simulate(depth=6, width=200, batch=200, activation="tanh", init="small_normal", seed=0).plot()
    panel = [ax for ax in collapsing.axes if ax.get_ylabel().startswith("std of the activations")][0]
    assert panel.get_yscale() == "log"
