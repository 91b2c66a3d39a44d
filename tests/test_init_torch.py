"""fastinit.init against torch.nn.init itself (CI installs torch==2.13.0; skipped where torch is missing): the same
values' distributions, torch's autograd and in-place write rules, 16-bit bounds, dirac_ on odd shapes."""
import math
import warnings

import numpy as np
import pytest
from scipy import stats

torch = pytest.importorskip("torch")
nn = torch.nn

import fastinit as fi  # noqa: E402
from fastinit import init  # noqa: E402

SHAPES = [(512, 384), (64, 32, 3, 3), (128, 16, 9)]
CASES = {
    "uniform_": {"a": -0.3, "b": 0.7},
    "normal_": {"mean": 0.1, "std": 0.05},
    "trunc_normal_": {"mean": 0.0, "std": 0.5, "a": -0.4, "b": 0.9},
    "xavier_uniform_": {"gain": 1.3},
    "xavier_normal_": {"gain": 0.8},
    "kaiming_uniform_": {"a": math.sqrt(5)},
    "kaiming_normal_": {"mode": "fan_out", "nonlinearity": "relu"},
    "orthogonal_": {"gain": 1.5},
    "sparse_": {"sparsity": 0.3, "std": 0.02},
}


@pytest.mark.parametrize("name,shape", [(n, s) for n in CASES for s in SHAPES if n != "sparse_" or len(s) == 2])
def test_same_distribution_as_torch(name, shape):
    kw = CASES[name]
    torch.manual_seed(0)
    ref = getattr(nn.init, name)(torch.empty(shape), **kw).numpy().ravel().astype(np.float64)
    ours = getattr(init, name)(torch.empty(shape), generator=fi.Generator(0), **kw).numpy().ravel().astype(np.float64)
    assert stats.ks_2samp(ours, ref).pvalue > 1e-4
    n = ours.size
    assert abs(ours.std() - ref.std()) <= 5 * ref.std() * math.sqrt(2 / n)
    assert abs(ours.mean() - ref.mean()) <= 5 * ref.std() * math.sqrt(2 / n)
    if name in ("uniform_", "trunc_normal_", "xavier_uniform_", "kaiming_uniform_"):
        # same support: both inside the bounds torch uses, and both reach near them
        lo, hi = min(ref.min(), ours.min()), max(ref.max(), ours.max())
        width = hi - lo
        assert abs(ours.min() - ref.min()) < 0.01 * width and abs(ours.max() - ref.max()) < 0.01 * width
    if name == "sparse_":
        assert np.count_nonzero(ours == 0) == np.count_nonzero(ref == 0)


@pytest.mark.parametrize("shape", [(5, 7), (64, 3, 3, 3), (16, 8, 5), (1, 1), (3, 0)])
def test_fans_equal_torch(shape):
    t = torch.empty(shape)
    assert init._calculate_fan_in_and_fan_out(t) == nn.init._calculate_fan_in_and_fan_out(t)


@pytest.mark.parametrize("nonlinearity", init.NONLINEARITIES)
@pytest.mark.parametrize("param", [None, 0.2])
def test_gains_equal_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(nn.init.calculate_gain(nonlinearity, param))


def test_fewer_than_two_dims_like_torch():
    with pytest.raises(ValueError):
        nn.init.xavier_uniform_(torch.empty(3))
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(torch.empty(3))


def test_tensor_kinds():
    g = fi.Generator(1)
    w = torch.empty(300, 200)
    expected = init.kaiming_normal_(np.empty((300, 200), np.float32), generator=fi.Generator(1))
    out = init.kaiming_normal_(w, generator=g)
    assert out is w
    np.testing.assert_array_equal(w.numpy(), expected)
    # non-contiguous view: filled in place, in C order of the view
    base = torch.zeros(200, 300)
    init.kaiming_normal_(base.T, generator=fi.Generator(1))
    np.testing.assert_array_equal(base.T.numpy(), expected)
    # parameters that require grad, float64, float16 and bfloat16 (through a float32 buffer)
    p = nn.Parameter(torch.empty(300, 200))
    init.kaiming_normal_(p, generator=fi.Generator(1))
    assert p.requires_grad and torch.equal(p.detach(), torch.from_numpy(expected))
    for dtype in (torch.float16, torch.bfloat16):
        h = torch.empty(300, 200, dtype=dtype)
        init.kaiming_normal_(h, generator=fi.Generator(1))
        assert h.dtype == dtype
        assert torch.equal(h, torch.from_numpy(expected).to(dtype))
    d = torch.empty(300, 200, dtype=torch.float64)
    init.xavier_uniform_(d, generator=fi.Generator(2))
    assert d.abs().max() <= math.sqrt(6 / 500)


def test_bad_tensors():
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):   # torch's own error, as torch
        init.normal_(torch.empty(3, 3, dtype=torch.int64))
    with pytest.raises(TypeError, match="floating"):   # a NumPy array keeps fastinit's
        init.normal_(np.empty((3, 3), np.int64))
    # meta tensors have no storage: like torch's, fastinit's initializers check their arguments and do nothing
    # (how Hugging Face, accelerate and FSDP build large models)
    meta = torch.empty(3, 3, device="meta")
    for fill in (init.normal_, init.uniform_, init.trunc_normal_, init.xavier_uniform_, init.kaiming_normal_,
                 init.orthogonal_, init.zeros_, init.eye_, lambda t: init.sparse_(t, 0.5)):
        assert fill(meta) is meta
    with pytest.raises(ValueError, match="Fan in and fan out"):
        init.xavier_uniform_(torch.empty(3, device="meta"))
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(torch.empty(0, 3))


def mlp():
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))


def cnn():
    return nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU(), nn.Conv2d(16, 32, 5, groups=2), nn.ReLU(),
                         nn.Conv1d(32, 8, 3), nn.ConvTranspose2d(8, 4, 3), nn.Flatten(), nn.Linear(288, 10),
                         nn.Embedding(50, 16, padding_idx=3))


@pytest.mark.parametrize("make", [mlp, cnn])
def test_init_module_matches_reset_parameters(make):
    """Per-parameter std within 2% of torch's reset_parameters, pooled over 1000 re-initializations (so that a
    10-element bias has 10**4 draws: the std of the ratio is then ~0.6%)."""
    model = make()
    gen = fi.Generator(0)
    torch.manual_seed(0)
    sums = {"ours": {}, "torch": {}}

    def accumulate(key):
        for name, p in model.named_parameters():
            x = p.detach().double()
            s = sums[key].setdefault(name, [0, 0.0, 0.0, -np.inf])
            s[0] += x.numel()
            s[1] += x.sum().item()
            s[2] += (x * x).sum().item()
            s[3] = max(s[3], x.abs().max().item())

    for _ in range(1000):
        init.init_module(model, generator=gen)
        accumulate("ours")
        for m in model.modules():
            if m is not model and hasattr(m, "reset_parameters"):
                m.reset_parameters()
        accumulate("torch")
    modules = dict(model.named_modules())
    for name, (n, s1, s2, amax) in sums["ours"].items():
        tn, t1, t2, tmax = sums["torch"][name]
        std, tstd = math.sqrt(s2 / n - (s1 / n) ** 2), math.sqrt(t2 / tn - (t1 / tn) ** 2)
        assert abs(std / tstd - 1) < 0.02, (name, std, tstd)
        if not isinstance(modules[name.rsplit(".", 1)[0]], nn.Embedding):   # N(0, 1) is unbounded
            assert amax <= tmax * 1.01 + 1e-12, (name, amax, tmax)    # same bounded support
    emb = model[-1] if isinstance(model[-1], nn.Embedding) else None
    if emb is not None:
        assert torch.all(emb.weight[3] == 0)


def test_init_module_with_scheme():
    model = mlp()
    init.init_module(model, "he_normal", generator=fi.Generator(3))
    w = model[0].weight.detach().numpy()
    assert abs(w.std() - math.sqrt(2 / 784)) < 5 * math.sqrt(2 / 784) / math.sqrt(2 * w.size)
    assert torch.all(model[0].bias == 0)
    init.init_module(model, lambda t, generator=None: init.constant_(t, 0.5))
    assert torch.all(model[2].weight == 0.5)
    with pytest.raises(ValueError, match="valid names"):
        init.init_module(model, "glorot")
    with pytest.raises(TypeError, match="nn.Module"):
        init.init_module(np.empty(3))


@pytest.mark.parametrize("name", fi.schemes.names())
def test_every_scheme_name_serves_init_module_simulate_and_probe(name):
    """One list of names: each one simulate takes, init_module and probe take too (the Keras-only names with
    Keras's defaults on torch's fans), drawing the variance the scheme table states."""
    model = torch.nn.Sequential(torch.nn.Linear(96, 64), torch.nn.Tanh(), torch.nn.Linear(64, 64))
    init.init_module(model, name, generator=fi.Generator(1))
    w = model[0].weight.detach().numpy().astype(np.float64)
    variance = fi.schemes.SCHEMES[name].weight_variance(96, 64)
    if not math.isnan(variance):
        assert w.var() == pytest.approx(variance, rel=0.12), name
    fi.simulate(depth=2, width=32, batch=16, init=name)
    probed = fi.probe(model, torch.randn(8, 96), inits=[name])
    assert len(probed) == 1


def test_variance_scaling_on_torch_weights():
    """Keras's VarianceScaling on torch's layout: torch's fans (a conv weight (out, in, k, k): fan_in = in k k)."""
    w = torch.empty(64, 32, 3, 3)
    init.variance_scaling_(w, 2.0, "fan_in", "truncated_normal", generator=fi.Generator(2))
    sigma = math.sqrt(2.0 / (32 * 9))
    assert w.var().item() == pytest.approx(sigma ** 2, rel=0.05)
    assert w.abs().max().item() <= 2 * sigma / fi.initializers.TRUNCATED_NORMAL_STD_CORRECTION * (1 + 1e-6)
    init.variance_scaling_(w, 1.0, "fan_avg", "uniform", generator=fi.Generator(2))
    assert w.abs().max().item() < math.sqrt(3.0 / ((32 + 64) * 9 / 2))
    with pytest.raises(ValueError, match="distribution must be"):
        init.variance_scaling_(w, distribution="normal")
    with pytest.raises(ValueError, match="mode must be"):
        init.variance_scaling_(w, mode="fan_sum")
    with pytest.raises(ValueError, match="scale must be"):
        init.variance_scaling_(w, scale=0.0)


def test_torch_autograd_rules_side_by_side():
    """What torch.nn.init does, fastinit.init does: a fill of a tensor autograd saved moves its version counter
    (backward then raises), an inference tensor refuses the write outside inference mode, an expanded tensor
    refuses it, and they raise torch's own errors."""
    for init_fn in (torch.nn.init.normal_, fi.init.normal_):
        w = torch.randn(4, 4, requires_grad=True)
        y = (w * w).sum()
        with torch.no_grad():
            init_fn(w)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.backward()
        w2 = torch.randn(4, 4, requires_grad=True)
        y2 = (w2 * w2).sum()
        init_fn(w2)   # the init functions run under no_grad themselves
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y2.backward()
        with torch.inference_mode():
            inf = torch.empty(3)
        with pytest.raises(RuntimeError, match="Inplace update to inference tensor outside InferenceMode"):
            init_fn(inf)
        expanded = torch.empty(1, 3).expand(4, 3)
        with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
            init_fn(expanded)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_torch_16_bit_uniform_stays_below_high(dtype):
    t = torch.empty(10**6, dtype=getattr(torch, dtype))
    for low, high in ((0.0, 1.0), (-0.1, 0.1)):
        fi.init.uniform_(t, low, high, generator=fi.Generator(4))
        lo, hi = (torch.tensor(v).to(t.dtype).item() for v in (low, high))   # the bounds as torch casts them
        assert t.min().item() >= lo and t.max().item() < hi
    fi.init.trunc_normal_(t, 0.0, 1.0, -0.3, 0.7, generator=fi.Generator(4))
    assert t.min().item() >= -0.3 and t.max().item() <= 0.7


def test_dirac_with_an_empty_dimension_and_huge_groups_returns_at_once():
    """Found by the fuzz: 0 rows are divisible by any groups, and dirac_ looped over all 2**50 groups."""
    import time

    t0 = time.perf_counter()
    w = np.zeros((0, 3, 3), np.float32)
    fi.init.dirac_(w, groups=2**50)
    assert time.perf_counter() - t0 < 1
    w = np.zeros((8, 3, 3), np.float32)
    fi.init.dirac_(w, groups=2)
    torch_w = torch.zeros(8, 3, 3)
    torch.nn.init.dirac_(torch_w, groups=2)
    np.testing.assert_array_equal(w, torch_w.numpy())


def test_init_module_leaves_uninitialized_lazy_modules_alone():
    """init_module raised on a LazyLinear before its first forward; torch's reset_parameters does nothing there."""
    model = nn.Sequential(nn.LazyLinear(4), nn.ReLU(), nn.Linear(4, 2))
    init.init_module(model, generator=fi.Generator(0))
    assert isinstance(model[0].weight, nn.parameter.UninitializedParameter)
    model(torch.zeros(1, 3))   # materialized: now it is initialized like any Linear
    init.init_module(model, generator=fi.Generator(0))
    assert model[0].weight.shape == (4, 3) and model[0].weight.abs().max() <= 1 / math.sqrt(3)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_16_bit_uniform_casts_its_bounds_as_torch_does(dtype):
    """fastinit.init.uniform_ returned b as the dtype represents it in 157 of 287 random ranges (torch only when
    dtype(a) == dtype(b)), and raised 'no bfloat16 value lies in [low, high)' where torch returns values:
    torch casts the bounds to the dtype first."""
    tdtype = getattr(torch, dtype)
    rng = np.random.default_rng(0)
    for _ in range(100):
        a, b = sorted(rng.uniform(-3, 3, 2))
        lo, hi = (torch.tensor(v, dtype=torch.float32).to(tdtype).item() for v in (a, b))
        t = init.uniform_(torch.empty(4000, dtype=tdtype), a, b, generator=fi.Generator(1))
        ref = torch.empty(4000, dtype=tdtype).uniform_(a, b)
        if lo == hi:
            assert torch.all(t == lo) and torch.all(ref == lo)
        else:
            assert lo <= t.min().item() and t.max().item() < hi, (a, b)
            assert lo <= ref.min().item() and ref.max().item() <= hi
    if dtype == "bfloat16":   # no bfloat16 value in [1.001, 1.005): both bounds cast to 1.0
        assert torch.all(init.uniform_(torch.empty(8, dtype=tdtype), 1.001, 1.005) == 1.0)
        assert torch.all(torch.empty(8, dtype=tdtype).uniform_(1.001, 1.005) == 1.0)


def test_uniform_with_equal_bounds_fills_the_bound():
    """torch accepts uniform_(a, a) and fills a; fastinit raised 'a must be < b'."""
    for dtype in (torch.float32, torch.float64, torch.bfloat16):
        ours, theirs = torch.empty(5, dtype=dtype), torch.empty(5, dtype=dtype)
        init.uniform_(ours, 0.25, 0.25)
        nn.init.uniform_(theirs, 0.25, 0.25)
        assert torch.equal(ours, theirs) and torch.all(ours == 0.25)


def _f32(*shape):
    return lambda: torch.empty(*shape)


# every case of the review of torch's rules (issue: reliability of the integration layer), by outcome class
TORCH_RULE_CASES = [
    ("uniform_(a, a)", _f32(5), lambda I, t: I.uniform_(t, 0.5, 0.5)),
    ("zeros_ on int64", lambda: torch.empty(3, dtype=torch.int64), lambda I, t: I.zeros_(t)),
    ("ones_ on bool", lambda: torch.empty(3, dtype=torch.bool), lambda I, t: I.ones_(t)),
    ("constant_ on int32", lambda: torch.empty(3, dtype=torch.int32), lambda I, t: I.constant_(t, 3)),
    ("normal_ with a torch.Generator", _f32(5), lambda I, t: I.normal_(t, generator=torch.Generator().manual_seed(0))),
    ("normal_(mean=inf)", _f32(5), lambda I, t: I.normal_(t, mean=math.inf)),
    ("normal_(std=tensor(1.))", _f32(5), lambda I, t: I.normal_(t, std=torch.tensor(1.0))),
    ("constant_(nan)", _f32(5), lambda I, t: I.constant_(t, math.nan)),
    ("uniform_ on complex64", lambda: torch.empty(3, dtype=torch.complex64), lambda I, t: I.uniform_(t)),
    ("orthogonal_(gain=0)", _f32(4, 4), lambda I, t: I.orthogonal_(t, gain=0)),
    ("orthogonal_(gain=-1)", _f32(4, 4), lambda I, t: I.orthogonal_(t, gain=-1)),
    ("sparse_(sparsity=2)", _f32(4, 4), lambda I, t: I.sparse_(t, 2)),
    ("sparse_(sparsity=-0.5)", _f32(4, 4), lambda I, t: I.sparse_(t, -0.5)),
    ("trunc_normal_(a == b)", _f32(5), lambda I, t: I.trunc_normal_(t, a=0.5, b=0.5)),
    ("xavier_uniform_(gain=0)", _f32(4, 4), lambda I, t: I.xavier_uniform_(t, gain=0)),
    ("xavier_normal_(gain=0)", _f32(4, 4), lambda I, t: I.xavier_normal_(t, gain=0)),
    ("normal_(std=-1) on meta", lambda: torch.empty(3, device="meta"), lambda I, t: I.normal_(t, std=-1)),
    ("float16 uniform_ wider than 65504", lambda: torch.empty(3, dtype=torch.float16),
     lambda I, t: I.uniform_(t, -40000, 40000)),
    ("normal_(std=-1)", _f32(5), lambda I, t: I.normal_(t, std=-1)),
    ("uniform_(1, 0)", _f32(5), lambda I, t: I.uniform_(t, 1, 0)),
    ("calculate_gain('leaky_relu', 'x')", _f32(1), lambda I, t: I.calculate_gain("leaky_relu", "x")),
    ("dirac_(groups=0)", _f32(4, 4, 3), lambda I, t: I.dirac_(t, groups=0)),
    ("kaiming_uniform_(a=nan)", _f32(4, 4), lambda I, t: I.kaiming_uniform_(t, a=math.nan)),
    ("uniform_(-3e38, 3e38)", _f32(5), lambda I, t: I.uniform_(t, -3e38, 3e38)),
    ("uniform_ float32 beyond its range", _f32(5), lambda I, t: I.uniform_(t, 1e308, 1e308)),
    ("xavier_uniform_ on 0 x 0", _f32(0, 0), lambda I, t: I.xavier_uniform_(t)),
]
# kept stricter on purpose (README, "Stricter than torch"): torch draws these by a rejection loop that can run
# without end (trunc_normal_(t, 0, 1, 1, 2**50) hangs in torch 2.13) and the bounds hold no representable mass
STRICTER = [
    ("trunc_normal_ on [-40, -39]", _f32(5), lambda I, t: I.trunc_normal_(t, a=-40, b=-39)),
    ("trunc_normal_(mean=100) on [-2, 2]", _f32(5), lambda I, t: I.trunc_normal_(t, mean=100, std=1, a=-2, b=2)),
]


def _rule_outcome(module, make, call):
    """The outcome class of a call: the exception type, or 'ok' with whether the values are finite and the one
    value they all hold (None when they differ), or 'no-op' for a meta tensor."""
    t = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            call(module, t)
        except Exception as exc:   # noqa: BLE001 - the exception type is the outcome compared
            return type(exc)
    if t.is_meta:
        return "no-op"
    if not t.numel() or not (t.is_floating_point() or t.is_complex()):
        return ("ok", t.tolist())
    flat = t.flatten()
    constant = flat[0].item() if bool((flat == flat[0]).all()) else None
    return ("ok", bool(torch.isfinite(t).all()), constant)


@pytest.mark.parametrize("case", TORCH_RULE_CASES, ids=[c[0] for c in TORCH_RULE_CASES])
def test_torch_rules_hold_case_by_case(case):
    """torch accepted and fastinit raised (about 60 cases in all), torch raised and fastinit accepted, or both
    raised with other types: fastinit.init and nn.init under fast_init() give torch.nn.init's outcome."""
    _, make, call = case
    expected = _rule_outcome(nn.init, make, call)
    assert _rule_outcome(init, make, call) == expected
    with fi.fast_init(seed=0):
        assert _rule_outcome(nn.init, make, call) == expected


@pytest.mark.parametrize("case", STRICTER, ids=[c[0] for c in STRICTER])
def test_what_fastinit_keeps_stricter_than_torch(case):
    _, make, call = case
    assert _rule_outcome(nn.init, make, call)[0] == "ok"   # torch warns and returns values
    with pytest.raises(ValueError, match="leave no probability mass"):
        call(init, make())


def test_trunc_normal_takes_torch_generators_and_std_zero_as_torch():
    """trunc_normal_(t, generator=torch.Generator()) raised TypeError where every other initializer hands the call
    to torch; trunc_normal_(t, 0.0, 0.0) filled zeros where torch raises ZeroDivisionError."""
    ours, theirs = torch.empty(5, 7), torch.empty(5, 7)
    fi.init.trunc_normal_(ours, 0.1, 0.5, generator=torch.Generator().manual_seed(3))
    torch.nn.init.trunc_normal_(theirs, 0.1, 0.5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(ours, theirs)
    for target in (torch.empty(4), np.empty(4, np.float32)):
        with pytest.raises(ZeroDivisionError):
            fi.init.trunc_normal_(target, 0.0, 0.0)
    with pytest.raises(ZeroDivisionError):
        torch.nn.init.trunc_normal_(torch.empty(4), 0.0, 0.0)
