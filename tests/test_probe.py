"""fi.probe: the per-layer statistics of a real torch model, against the simulation engine on the same network, the
mean-field theory, transformers models, and bad input."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import fastinit as fi  # noqa: E402
from fastinit import reference as R  # noqa: E402


def simulation_mlp(depth, width, seed, init_fn, act=nn.Tanh):
    """The network fi.simulate builds: Linear layers without bias whose weights come from the children of
    Generator(seed).spawn(depth + 2) (child l for layer l), and its input from child 0."""
    children = fi.Generator(seed).spawn(depth + 2)
    layers = []
    for layer in range(1, depth + 1):
        lin = nn.Linear(width, width, bias=False)
        with torch.no_grad():
            init_fn(lin.weight, generator=fi.Generator(children[layer].seed))
        layers += [lin, act()]
    return nn.Sequential(*layers), children


def test_probe_reproduces_simulate_on_the_same_network():
    """The same weights and input: each Linear output is the simulation's P, each Tanh output its H. Tolerance
    2e-4 relative: the products run through torch's BLAS here and SciPy's there (float32 rounding), the
    statistics through the same C kernels."""
    depth, width, batch = 6, 128, 256
    sim = fi.simulate(depth=depth, width=width, batch=batch, activation="tanh", init="xavier_normal", seed=5)
    model, children = simulation_mlp(depth, width, 5, fi.init.xavier_normal_)
    x = torch.from_numpy(fi.Generator(children[0].seed).normal((batch, width)))
    res = fi.probe(model, x)
    lin = [r for r in res.rows if r["type"] == "Linear"]
    act = [r for r in res.rows if r["type"] == "Tanh"]
    assert len(lin) == len(act) == depth
    for side, rows in (("p", lin), ("h", act)):
        for field in ("mean", "std", "min", "max"):
            got = np.array([r[field] for r in rows])
            want = sim.layers[f"{side}_{field}"]
            scale = np.abs(sim.layers[f"{side}_std"]) if field == "mean" else np.abs(want)
            np.testing.assert_allclose(got, want, rtol=0, atol=2e-4 * scale.max(), err_msg=f"{side}_{field}")
    np.testing.assert_allclose([r["saturated_frac"] for r in act], sim.layers["h_saturated_frac"], atol=2e-4)
    assert all(math.isnan(r["saturated_frac"]) for r in lin)


def test_small_normal_tanh_collapses_as_the_theory_says():
    depth, width = 8, 500
    model, children = simulation_mlp(depth, width, 1, fi.init.SCHEMES["small_normal"])
    x = torch.from_numpy(fi.Generator(children[0].seed).normal((1000, width)))
    res = fi.probe(model, x, modules=nn.Tanh)
    std = res.column("std")
    theory = fi.theory.predict(depth=depth, width=width, activation="tanh", init="small_normal").h_std
    ratios, predicted = std[1:] / std[:-1], theory[1:] / theory[:-1]
    np.testing.assert_allclose(ratios, predicted, rtol=0.10)
    assert std[-1] < 1e-4 * std[0]   # the collapse


def test_statistics_and_histogram_match_the_reference_in_every_dtype():
    torch.manual_seed(0)
    x = torch.randn(3000, 7) * 2 + 0.5
    x[5, 2] = float("nan")
    x[9, 1] = 0.0
    for dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
        model = nn.Sequential(nn.Identity(), nn.Tanh()).to(dtype)
        res = fi.probe(model, x.to(dtype), bins=20)
        for row, hist, edges in zip(res.rows, res.hist, res.edges):
            values = (x.to(dtype).double() if row["type"] == "Identity" else torch.tanh(x.to(dtype)).double()).numpy()
            ref = R.array_stats(values, np.abs(values) > 0.99)
            assert row["nonfinite"] == 1 and row["zero_frac"] == pytest.approx(ref["zeros"] / values.size)
            assert row["mean"] == pytest.approx(ref["mean"], rel=1e-6, abs=1e-9)
            assert row["std"] == pytest.approx(ref["std"], rel=1e-6)
            assert (row["min"], row["max"]) == (ref["min"], ref["max"])
            # bit for bit: the kernels bin float32 and 16-bit data in float32, float64 data in float64
            precision = np.float64 if dtype == torch.float64 else np.float32
            counts, _ = R.histogram(values, 20, edges[0], edges[-1], precision=precision)
            np.testing.assert_array_equal(hist, counts)
            if row["type"] == "Tanh":
                assert row["saturated_frac"] == pytest.approx(ref["saturated"] / values.size)


def test_outputs_of_every_shape_calls_and_skips():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.shared = nn.Linear(4, 4)
            self.pair = Pair()
            self.ints = Ints()
            self.clamp = nn.Hardtanh(-0.5, 0.5)

        def forward(self, x):
            x = self.shared(self.shared(x))     # called twice: both calls recorded
            _, b = self.pair(x)
            self.ints(x)
            return {"out": self.clamp(b["value"])}

    class Pair(nn.Module):
        def forward(self, x):
            return torch.ones(1, dtype=torch.int64), {"value": x * 2}

    class Ints(nn.Module):
        def forward(self, x):
            return (x > 0).long()

    res = fi.probe(Odd(), torch.randn(64, 4), modules=lambda name, m: name != "")
    names = [r["name"] for r in res.rows]
    assert names[:2] == ["shared", "shared#2"]
    pair = res.rows[names.index("pair")]
    assert pair["output"] == "[1].value" and pair["shape"] == [64, 4]
    assert [n for n, _ in res.skipped] == ["ints"] and "int64" in res.skipped[0][1]
    clamp = res.rows[names.index("clamp")]
    assert 0 < clamp["saturated_frac"] <= 1 and clamp["max"] <= 0.5


def test_hooks_are_removed_after_a_failing_forward():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(5, 2))   # the shapes do not chain
    with pytest.raises(RuntimeError, match="mat1 and mat2") as err:   # torch's own error, unchanged
        fi.probe(model, torch.randn(2, 4))
    assert "raised by the model's forward pass" in " ".join(getattr(err.value, "__notes__", [""]))
    assert all(not m._forward_hooks for m in model.modules())
    with pytest.raises(RuntimeError, match="mat1 and mat2"):
        fi.probe(nn.Linear(4, 3), torch.randn(2, 5))   # inputs of the wrong shape


def test_bad_arguments():
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        fi.probe(lambda x: x, torch.randn(2))
    with pytest.raises(ValueError, match="bins must be >= 1"):
        fi.probe(nn.Linear(2, 2), torch.randn(2, 2), bins=0)
    with pytest.raises(ValueError, match="unknown init scheme 'nope'"):
        fi.probe(nn.Linear(2, 2), torch.randn(2, 2), inits=["default", "nope"])
    with pytest.raises(ValueError, match="no module named"):
        fi.probe(nn.Sequential(nn.Linear(2, 2)), torch.randn(2, 2), modules=["9"])
    with pytest.raises(TypeError, match="inputs must be"):
        fi.probe(nn.Linear(2, 2), [[1.0, 2.0]].__iter__())


@pytest.mark.parametrize("kwargs,exc,match", [
    ({"bins": True}, TypeError, "bins must be an integer"),
    ({"bins": 2.5}, TypeError, "bins must be an integer"),
    ({"seed": "x"}, TypeError, "seed must be an integer"),
    ({"seed": -1}, ValueError, "seed must be in"),
    ({"hist_range": ("a", 1)}, TypeError, r"hist_range\[0\] must be a real number"),
    ({"hist_range": (1, 1)}, ValueError, "hist_range low must be < high"),
    ({"hist_range": 3}, TypeError, "hist_range must be a"),
    ({"modules": "["}, ValueError, "modules: '\\[' is not a regular expression"),
    ({"inits": []}, ValueError, "inits must be a non-empty list"),
    ({"backward": "yes"}, TypeError, "backward must be True or False"),
])
def test_each_bad_argument_is_named_before_the_forward_pass(kwargs, exc, match):
    """The probe's own arguments are checked by the same rules as simulate's (fastinit._validate), before any
    work: not reported later as the model's failure."""
    model = nn.Sequential(nn.Linear(2, 2))
    calls = []
    model.register_forward_pre_hook(lambda m, a: calls.append(1))
    with pytest.raises(exc, match=match):
        fi.probe(model, torch.randn(2, 2), **kwargs)
    assert not calls


def test_the_models_own_errors_keep_their_type_and_the_probes_own_are_not_blamed_on_the_model(monkeypatch):
    """An error raised by the model surfaces as itself (a JSONDecodeError is not turned into a TypeError); an error
    of the probe's hooks is not reported as the model's."""
    import json

    class Reads(nn.Module):
        def forward(self, x):
            json.loads("{")
    with pytest.raises(json.JSONDecodeError) as err:
        fi.probe(Reads(), torch.randn(2, 2))
    assert "raised by the model's forward pass" in " ".join(err.value.__notes__)

    from fastinit.experiment import _stats as stats

    def broken(*args, **kwargs):
        raise ValueError("a bug of the probe's statistics")
    monkeypatch.setattr(stats, "of_tensor", broken)
    with pytest.raises(ValueError, match="a bug of the probe's statistics") as err:
        fi.probe(nn.Sequential(nn.Linear(2, 2)), torch.randn(2, 2))
    assert not getattr(err.value, "__notes__", None)


def test_a_mapping_of_keyword_inputs_is_accepted():
    """A tokenizer's BatchEncoding is a Mapping (a UserDict), not a dict: it is passed as keyword arguments."""
    import collections

    class Keyword(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 2)

        def forward(self, input_ids=None):
            return self.lin(input_ids)
    res = fi.probe(Keyword(), collections.UserDict(input_ids=torch.randn(4, 3)))
    assert [r["name"] for r in res.rows] == ["lin"]


def test_gradient_statistics_compute_no_histogram(monkeypatch):
    """Each module output's record has a histogram; the gradients' statistics run without one (the C kernels are
    given no histogram, so they skip the histogram pass)."""
    from fastinit import _core
    hists = []
    real = _core.tensor_stats

    def spy(x, dtype, saturation, bins, hist_range, hist):
        hists.append(hist)
        return real(x, dtype, saturation, bins, hist_range, hist)
    monkeypatch.setattr(_core, "tensor_stats", spy)
    model = nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 4))
    res = fi.probe(model, torch.randn(16, 8), backward=True)
    with_grads = sum(1 for r in res.rows if not math.isnan(r["grad_std"]))
    assert len(res.rows) == 3 and with_grads == 3
    assert sum(h is not None for h in hists) == 3 and sum(h is None for h in hists) == with_grads
    assert res.hist.shape == (3, 50)


def test_backward_records_gradients():
    model = nn.Sequential(nn.Linear(32, 64), nn.Tanh(), nn.Linear(64, 16))
    x = torch.randn(128, 32)
    res = fi.probe(model, x, backward=True, seed=3)
    top = res.rows[-1]
    assert top["grad_std"] == pytest.approx(1.0, rel=0.05)   # dL/d(output) = G ~ N(0, 1)
    # against autograd by hand
    out = model(x)
    g = torch.from_numpy(fi.Generator(3).normal(tuple(out.shape)))
    w_grad, = torch.autograd.grad((out * g).sum(), [model[0].weight])
    assert res.rows[0]["grad_w_norm"] == pytest.approx(float(w_grad.norm()), rel=1e-5)
    assert all(p.grad is None for p in model.parameters())   # the model's .grad is left alone


transformers = pytest.importorskip("transformers")


def test_hf_resnet_per_stage_statistics():
    torch.manual_seed(0)
    cfg = transformers.ResNetConfig(embedding_size=16, hidden_sizes=[16, 32, 64], depths=[1, 1, 1])
    model = transformers.ResNetModel(cfg).eval()
    res = fi.probe(model, torch.randn(2, 3, 64, 64), modules=nn.ReLU)
    stages = {r["name"].split(".layers")[0] for r in res.rows if r["name"].startswith("encoder.stages")}
    assert stages == {"encoder.stages.0", "encoder.stages.1", "encoder.stages.2"}
    assert all(np.isfinite(r["std"]) and r["std"] > 0 for r in res.rows)
    # a ReLU right after batch norm kills about half its units; after a residual sum (positive shortcut) fewer
    after_bn = [r["zero_frac"] for r in res.rows if ".layer." in r["name"]]
    assert len(after_bn) == 6 and all(0.3 < z < 0.85 for z in after_bn)


def test_hf_gpt2_backward_and_inits():
    cfg = transformers.GPT2Config(vocab_size=256, n_positions=32, n_embd=64, n_layer=2, n_head=4)
    model = transformers.GPT2Model(cfg).eval()
    ids = torch.randint(0, 256, (2, 16), generator=torch.Generator().manual_seed(0))
    results = fi.probe(model, {"input_ids": ids}, backward=True, inits=["default", "small_normal"])
    default, small = results
    assert len(default) == len(small) > 10
    assert np.isfinite(default.column("grad_std")[:-1]).sum() > 5
    c_attn = [r for r in small.rows if r["name"].endswith("attn.c_attn")]
    assert c_attn and all(r["std"] < 0.5 for r in c_attn)   # Conv1D re-initialized with N(0, 0.01^2)
    fig = results.plot()
    assert len(fig.axes) >= 2 * 6
    # the top row names its modules whole (names cut to their last 21 characters read the same: "...attn.c_attn"
    # for two blocks); the row below, the same modules, repeats only type and std
    top = [ax.get_title().split("\nx zoomed")[0].rsplit("\n", 1)[0].replace("\n", "") for ax in fig.axes[:6]]
    names = [r["name"] for r in default.rows]
    assert all(name in names for name in top) and len(set(top)) == 6, top
    assert all(ax.get_title().split("\nx zoomed")[0].count("\n") == 0 for ax in fig.axes[6:12])


@pytest.mark.parametrize("dtype, scale", [(torch.float32, 3e38), (torch.float64, 1e300), (torch.bfloat16, 3e38),
                                          (torch.float16, 6e4)])
def test_statistics_at_the_extremes_of_each_dtype(dtype, scale):
    """Finite values near the top of their dtype gave std 0 (float64 above ~1e150, float32 near 3e38: mean -inf)."""
    from fastinit.experiment import _stats as stats

    values = ((torch.rand(10000, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2 - 1)
              * scale).to(dtype)
    record = stats.of_tensor(values)
    exact = values.double() / scale
    assert abs(record.mean / scale - float(exact.mean())) < 1e-7
    assert abs(record.std / scale - float(exact.std(unbiased=False))) < 1e-7


def test_probe_of_an_exploded_float64_model():
    model = nn.Sequential(nn.Linear(4, 4)).double()
    with torch.no_grad():
        model[0].weight.copy_(torch.eye(4, dtype=torch.float64))
        model[0].bias.zero_()
    x = torch.randn(64, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 1e200
    std = fi.probe(model, x).column("std")[0]
    assert std / 1e200 == pytest.approx(float((x / 1e200).std(unbiased=False)), rel=1e-9)


def test_gradient_of_a_module_followed_by_an_in_place_op():
    """Linear -> ReLU(inplace=True) -> Linear gave the first Linear the ReLU's grad_std (0.2957 against the true
    0.2012): the in-place op rebases the output's grad_fn. Against the same model without in-place ops and against
    retain_grad() of the Linear's output."""
    torch.manual_seed(0)
    inplace = nn.Sequential(nn.Linear(16, 32), nn.ReLU(inplace=True), nn.Linear(32, 8))
    plain = nn.Sequential(inplace[0], nn.ReLU(), inplace[2])
    x = torch.randn(64, 16)
    got = fi.probe(inplace, x, backward=True).column("grad_std")
    np.testing.assert_allclose(got, fi.probe(plain, x, backward=True).column("grad_std"), rtol=1e-6)
    h = plain[0](x)
    h.retain_grad()
    g = torch.from_numpy(fi.Generator(0).normal((64, 8), dtype=np.float32))
    (plain[2](torch.relu(h)) * g).sum().backward()
    assert got[0] == pytest.approx(float(h.grad.double().std(unbiased=False)), rel=1e-6)


@pytest.mark.parametrize("parametrization", ["weight_norm", "spectral_norm"])
def test_inits_reach_parametrized_weights(parametrization):
    """inits=[...] did nothing on weight_norm / spectral_norm weights (m.weight is recomputed from its
    originals): every init gave the same statistics."""
    torch.manual_seed(0)
    wrap = getattr(nn.utils.parametrizations, parametrization)
    model = nn.Sequential(wrap(nn.Linear(64, 64)), nn.Tanh())
    if parametrization == "weight_norm":
        results = fi.probe(model, torch.randn(128, 64), inits=["small_normal", "large_normal"])
        small, large = (r.column("std")[0] for r in results)
        assert large / small == pytest.approx(100, rel=0.05)   # N(0, 1) against N(0, 0.01^2) weights
    else:   # spectral_norm divides by the top singular value, so only the matrices' shapes of spectrum show
        results = fi.probe(model, torch.randn(128, 64), inits=["xavier_uniform", "orthogonal"])
        xavier, orthogonal = (r.column("std")[0] for r in results)
        assert orthogonal / xavier > 1.2   # all singular values 1 against a spread spectrum


def test_a_bare_leaf_model_is_recorded_as_itself():
    res = fi.probe(torch.nn.Linear(8, 4), torch.randn(5, 8), backward=True)
    frame = res.to_pandas()
    assert len(frame) == 1 and "Linear" in repr(res) and frame["std"].iloc[0] > 0


def test_the_table_prints_whole_module_names():
    from collections import OrderedDict

    def stage():
        return nn.Sequential(OrderedDict([("residual_block_with_a_long_name", nn.Sequential(OrderedDict([
            ("projection_of_the_block", nn.Linear(4, 4))])))]))

    # two names that differ only at their start: cut from the left, they read the same
    model = nn.Sequential(OrderedDict([("stage_a", stage()), ("stage_b", stage())]))
    res = fi.probe(model, torch.randn(3, 4))
    names = list(res.to_pandas()["name"])
    assert len(names) == 2 and all(len(n) > 34 for n in names)
    text = repr(res)
    assert all(n in text for n in names)


def test_the_table_prints_whole_type_names():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    text = repr(fi.probe(model, torch.randn(2, 3, 8, 8)))
    assert " AdaptiveAvgPool2d " in text and "...veAvgPool2d" not in text   # was cut to 14 characters


def test_histogram_tick_labels_do_not_run_into_each_other():
    """The README's ResNet figure: narrow small_normal panels (values near 1e-3) took matplotlib's default ticks,
    whose labels ('-0.001', '0.000', '0.001', '0.002') touched each other."""
    pytest.importorskip("matplotlib")
    torch.manual_seed(0)
    cfg = transformers.ResNetConfig(embedding_size=32, hidden_sizes=[32, 64, 128], depths=[1, 1, 1])
    model = transformers.ResNetModel(cfg).eval()
    fig = fi.probe(model, torch.randn(8, 3, 96, 96), inits=["default", "xavier_normal", "he_normal", "small_normal"],
                   backward=True).plot()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    hists = [ax for ax in fig.axes if ax.patches]
    assert len(hists) == 24
    for ax in hists:
        lo, hi = ax.get_xlim()
        labels = [t for t in ax.get_xticklabels() if t.get_text() and lo <= t.get_position()[0] <= hi]
        boxes = [t.get_window_extent(renderer) for t in labels]
        assert len(boxes) >= 2
        for left, right in zip(boxes, boxes[1:]):
            assert left.x1 + 2 < right.x0, [t.get_text() for t in labels]   # a gap of 2 pixels at least


def test_probe_figure_title_and_legend_cover_nothing():
    """The title sat on the top row's module names and the legend of a GPT-2 probe covered its points; the caption
    now says when the model ran in eval mode (batch norm passes values through at init)."""
    pytest.importorskip("matplotlib")
    torch.manual_seed(0)
    model = transformers.GPT2Model(transformers.GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=50)).eval()
    res = fi.probe(model, {"input_ids": torch.randint(0, 50, (2, 16))}, backward=True)
    fig = res.plot()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    title = fig._suptitle.get_window_extent(renderer)
    for ax in fig.axes:
        if ax.get_title():
            assert ax.title.get_window_extent(renderer).y1 <= title.y0, ax.get_title()
        legend = ax.get_legend()
        if legend is not None:   # under the panel, off its points
            assert legend.get_window_extent(renderer).y1 <= ax.get_window_extent(renderer).y0
    assert "eval mode" in fig._suptitle.get_text()
    model.train()
    assert "eval mode" not in fi.probe(model, {"input_ids": torch.randint(0, 50, (2, 16))}).plot()._suptitle.get_text()
