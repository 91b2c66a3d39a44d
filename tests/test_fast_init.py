"""fastinit.fast_init: model construction through fastinit with the model's code unchanged (torch modules and
Hugging Face transformers models built from small configs, stock and under the context, parameter by parameter)."""
import math
import threading

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import fastinit as fi  # noqa: E402
from fastinit import torch as fit  # noqa: E402

# significance of the two-sample KS test of each random tensor against the stock builds' (two torch seeds pooled);
# every build is seeded, so a pass is reproducible
KS_ALPHA = 1e-4


def state(model):
    return {k: v.detach().clone() for k, v in model.state_dict(keep_vars=True).items()}


# ------------------------------------------------------------------------------------------ the calls it serves

def test_serves_the_fills_of_torch_modules():
    torch.manual_seed(0)
    with fi.fast_init() as mode:
        lin = nn.Linear(300, 200)
        conv = nn.Conv2d(8, 16, 3)
        emb = nn.Embedding(1000, 32, padding_idx=0)
        x = torch.randn(4000)
        u = torch.rand(4000, dtype=torch.float64)
        xl = torch.randn_like(torch.empty(3000, dtype=torch.bfloat16))
        w = nn.init.trunc_normal_(torch.empty(4000), std=0.02, a=-0.04, b=0.04)
        o = nn.init.orthogonal_(torch.empty(64, 32))
    assert mode.fills == 2 + 2 + 1 + 1 + 1 + 1 + 1 + 1
    bound = 1 / math.sqrt(300)
    assert lin.weight.abs().max() < bound and lin.weight.abs().max() > 0.95 * bound
    assert lin.bias.abs().max() < bound
    assert conv.weight.abs().max() < 1 / math.sqrt(8 * 9)
    assert torch.all(emb.weight[0] == 0) and abs(emb.weight[1:].std().item() - 1) < 0.02
    assert abs(x.std().item() - 1) < 0.05 and x.dtype == torch.float32
    assert u.dtype == torch.float64 and 0 <= u.min() and u.max() < 1
    assert xl.dtype == torch.bfloat16 and abs(xl.float().std().item() - 1) < 0.05
    assert w.abs().max() <= 0.04 and abs(w.std().item() - 0.02 * 0.8796) < 0.001
    np.testing.assert_allclose((o.T @ o).numpy(), np.eye(32), atol=1e-5)


def test_same_values_as_fastinit_init_in_call_order():
    """The fills are streams 0, 1, 2, ... of Generator(seed), in call order."""
    with fi.fast_init(seed=7):
        a = torch.empty(100, 50).normal_(0.5, 2.0)
        b = torch.empty(30).uniform_(-1, 3)
        c = torch.randn(4, 5)
    g = fi.Generator(7)
    assert torch.equal(a, fi.init.normal_(torch.empty(100, 50), 0.5, 2.0, generator=g))
    assert torch.equal(b, fi.init.uniform_(torch.empty(30), -1, 3, generator=g))
    assert torch.equal(c, fi.init.normal_(torch.empty(4, 5), generator=g))


def test_passes_through_what_it_does_not_serve():
    g = torch.Generator().manual_seed(3)
    with fi.fast_init(seed=1) as mode:
        ints = torch.empty(10, dtype=torch.int64).random_(0, 5)
        c = torch.randn(5, dtype=torch.complex64)
        explicit = torch.empty(100).normal_(generator=g)
        meta = nn.Linear(10, 10, device="meta")
        same = torch.empty(3).uniform_(2.0, 2.0)   # torch fills 2.0
    assert mode.fills == 0
    assert ints.dtype == torch.int64 and c.dtype == torch.complex64 and meta.weight.is_meta
    assert torch.equal(explicit, torch.empty(100).normal_(generator=torch.Generator().manual_seed(3)))
    assert torch.all(same == 2.0)


def test_torch_errors_and_autograd_rules_hold():
    w = torch.randn(4, 4, requires_grad=True)
    with fi.fast_init(seed=1):
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            w.normal_()
        with pytest.raises(RuntimeError, match="expects to return a"):
            torch.empty(3).uniform_(1.0, 0.0)
        with pytest.raises(RuntimeError, match="std >= 0"):
            torch.empty(3).normal_(0.0, -1.0)
        with pytest.raises(ValueError, match="Mode fan_out2 not supported"):
            nn.init.kaiming_uniform_(torch.empty(3, 3), mode="fan_out2")
        # an in-place fill that autograd saved for backward: torch's version check still fires
        v = torch.randn(4, 4, requires_grad=True)
        y = (v * v).sum()
        with torch.no_grad():
            nn.init.normal_(v)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.backward()


def test_meta_then_to_empty_then_init():
    torch.manual_seed(0)
    with torch.device("meta"):
        model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 8))
    model.to_empty(device="cpu")
    with fi.fast_init(seed=5) as mode:
        for m in model.modules():
            if isinstance(m, nn.Linear):
                m.reset_parameters()
    assert mode.fills == 4
    assert model[0].weight.abs().max() < 1 / 8 and model[0].weight.std() > 0.03


def test_forward_under_the_context_equals_one_outside():
    """Dropout masks and random noise inside forward are not init: they stay torch's."""
    class Noisy(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(16, 16)
            self.drop = nn.Dropout(0.5)

        def forward(self, x):
            return self.drop(self.lin(x)) + torch.randn_like(x) + torch.empty_like(x).normal_()

    model = Noisy()
    x = torch.ones(8, 16)
    torch.manual_seed(11)
    outside = model(x)
    with fi.fast_init(seed=1) as mode:
        torch.manual_seed(11)
        inside = model(x)
    assert mode.fills == 0 and torch.equal(inside, outside)


def test_patch_restored_on_exit_exception_and_nesting():
    original = torch.nn.init._no_grad_trunc_normal_
    with pytest.raises(KeyError):
        with fi.fast_init(seed=1):
            assert torch.nn.init._no_grad_trunc_normal_ is not original
            raise KeyError("inside")
    assert torch.nn.init._no_grad_trunc_normal_ is original and fit.active() is None
    with fi.fast_init(seed=1) as outer:
        a = torch.randn(10)
        with fi.fast_init(seed=2) as inner:
            b = torch.randn(10)
        assert fit.active() is outer
        c = torch.randn(10)
    assert torch.nn.init._no_grad_trunc_normal_ is original
    assert (outer.fills, inner.fills) == (2, 1)
    g1, g2 = fi.Generator(1), fi.Generator(2)
    assert torch.equal(a, torch.from_numpy(g1.normal(10))) and torch.equal(c, torch.from_numpy(g1.normal(10)))
    assert torch.equal(b, torch.from_numpy(g2.normal(10)))


def test_another_thread_is_not_affected():
    torch.manual_seed(3)
    expected = torch.randn(1000)
    seen = {}

    def other():
        torch.manual_seed(3)
        seen["x"] = torch.randn(1000)
        seen["trunc"] = nn.init.trunc_normal_(torch.empty(10))

    with fi.fast_init(seed=1) as mode:
        t = threading.Thread(target=other)
        t.start()
        t.join(timeout=30)
    assert mode.fills == 0 and torch.equal(seen["x"], expected)


def test_bad_arguments():
    with pytest.raises(ValueError, match="seed or generator"):
        fi.fast_init(seed=1, generator=fi.Generator(2))
    with pytest.raises(TypeError, match="generator must be a fastinit.Generator"):
        fi.fast_init(generator=torch.Generator())
    with pytest.raises(ValueError, match="seed must be in"):
        fi.fast_init(seed=-1)


def build(fn, seed=None, threads=None):
    before = fi.get_num_threads()
    if threads:
        fi.set_num_threads(threads)
    try:
        torch.manual_seed(123)
        with fi.fast_init(seed=seed):
            return state(fn())
    finally:
        fi.set_num_threads(before)


def big_mlp():
    return nn.Sequential(nn.Linear(512, 1024), nn.GELU(), nn.Linear(1024, 256), nn.Embedding(300, 64))


def test_reproducible_for_every_thread_count_and_seed():
    one, two, again = build(big_mlp, threads=1), build(big_mlp, threads=2), build(big_mlp)
    other = build(big_mlp, seed=99)
    for k in one:
        assert torch.equal(one[k], two[k]) and torch.equal(one[k], again[k]), k
        assert not torch.equal(one[k], other[k]), k
    torch.manual_seed(124)
    with fi.fast_init():
        different_torch_seed = state(big_mlp())
    assert not torch.equal(one["0.weight"], different_torch_seed["0.weight"])


# ------------------------------------------------------------------------------------------ Hugging Face models

transformers = pytest.importorskip("transformers")


def _llama():
    cfg = transformers.LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    return transformers.LlamaForCausalLM, cfg


def _gpt2():
    cfg = transformers.GPT2Config(vocab_size=512, n_positions=64, n_embd=64, n_layer=2, n_head=4)
    return transformers.GPT2LMHeadModel, cfg


def _bert():
    cfg = transformers.BertConfig(vocab_size=512, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                  intermediate_size=128, max_position_embeddings=64)
    return transformers.BertModel, cfg


def _vit():
    cfg = transformers.ViTConfig(image_size=32, patch_size=8, hidden_size=64, num_hidden_layers=2,
                                 num_attention_heads=4, intermediate_size=128)
    return transformers.ViTModel, cfg


def _resnet():
    cfg = transformers.ResNetConfig(embedding_size=32, hidden_sizes=[32, 64], depths=[1, 1])
    return transformers.ResNetModel, cfg


MODELS = {"llama": _llama, "gpt2": _gpt2, "bert": _bert, "vit": _vit, "resnet": _resnet}


def hf_build(name, how, torch_seed, fast, seed=None):
    cls, cfg = MODELS[name]()
    torch.manual_seed(torch_seed)
    ctx = fi.fast_init(seed=seed) if fast else _nullcontext()
    with ctx:
        if how == "direct":
            model = cls(cfg)
        else:   # how large models are built: on the meta device, then storage, then the model's own init
            with torch.device("meta"):
                model = cls(cfg)
            model.to_empty(device="cpu")
            model.initialize_weights()
    return model


class _nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def compare_with_stock(name, how):
    stock_a, stock_b = state(hf_build(name, how, 1, False)), state(hf_build(name, how, 2, False))
    model = hf_build(name, how, 1, True, seed=0)
    ours = state(model)
    # fastinit drew every random value: under a fixed fastinit seed, torch's seed changes nothing
    other_torch_seed = state(hf_build(name, how, 2, True, seed=0))
    for k in ours:
        assert torch.equal(ours[k], other_torch_seed[k]), f"{k} was drawn by torch"
    assert ours.keys() == stock_a.keys()
    random_checked = 0
    for k, mine in ours.items():
        a, b = stock_a[k], stock_b[k]
        assert mine.shape == a.shape and mine.dtype == a.dtype, k
        if torch.equal(a, b):   # deterministic in the stock build (zeros, ones, constants, RoPE inv_freq)
            assert torch.equal(mine, a), k
            continue
        x, y, z = (t.double().flatten().numpy() for t in (mine, a, b))
        assert np.all(np.isfinite(x)), k
        both = np.concatenate([y, z])
        sd, n = both.std(), x.size
        # within sampling noise (5 standard errors) of the stock builds' mean and std, plus 2% of the std
        assert abs(x.mean() - both.mean()) < 0.02 * sd + 5 * sd / math.sqrt(n) + 1e-12, k
        assert abs(x.std() - sd) < 0.02 * sd + 5 * sd / math.sqrt(2 * n), k
        # bounds: where the two stock builds reach the same extremes the distribution is bounded (uniform,
        # truncated normal), and ours must stay inside them; a normal's extremes vary from build to build
        tol = 0.05 * sd
        if abs(y.max() - z.max()) < tol and abs(y.min() - z.min()) < tol:
            assert max(y.min(), z.min()) - tol <= x.min() and x.max() <= min(y.max(), z.max()) + tol, k
        if x.size >= 1000:
            from scipy import stats

            p = stats.ks_2samp(x, both).pvalue
            assert p > KS_ALPHA, f"{k}: KS p = {p:.2g}"
            random_checked += 1
    return model, random_checked


@pytest.mark.parametrize("how", ["direct", "meta"])
@pytest.mark.parametrize("name", list(MODELS))
def test_hf_models_have_the_stock_distribution(name, how):
    model, checked = compare_with_stock(name, how)
    assert checked >= 3   # the model's large random tensors were compared, not only its constants
    if name == "llama":
        assert model.model.rotary_emb.inv_freq.dtype == torch.float32


def test_gpt2_tied_embeddings_and_scaled_projections():
    model = hf_build("gpt2", "direct", 1, True)
    assert model.lm_head.weight is model.transformer.wte.weight
    c_proj = model.transformer.h[0].attn.c_proj.weight   # GPT-2 scales c_proj to 0.02 / sqrt(2 n_layer)
    assert abs(c_proj.std().item() - 0.02 / math.sqrt(2 * 2)) < 0.002


def test_hf_build_is_reproducible_and_bfloat16_direct():
    a, b = state(hf_build("llama", "direct", 5, True)), state(hf_build("llama", "direct", 5, True))
    assert all(torch.equal(a[k], b[k]) for k in a)
    cls, cfg = _llama()
    torch.manual_seed(5)
    with fi.fast_init():
        model = cls(cfg).to(torch.bfloat16)
    torch.manual_seed(5)
    with torch.device("cpu"):
        default_dtype = torch.get_default_dtype()
        torch.set_default_dtype(torch.bfloat16)
        try:
            with fi.fast_init() as mode:
                native = cls(cfg)
        finally:
            torch.set_default_dtype(default_dtype)
    assert mode.fills > 0
    w = native.model.layers[0].mlp.up_proj.weight
    assert w.dtype == torch.bfloat16 and abs(w.float().std().item() - 0.02) < 0.002
    # bfloat16 fills are the float32 draws rounded: the same stream built in float32 rounds to the same values
    assert torch.equal(w, model.model.layers[0].mlp.up_proj.weight)


# ------------------------------------------------------------------------------------------ reliability

def _resnet_cls():
    return transformers.ResNetForImageClassification(
        transformers.ResNetConfig(embedding_size=16, hidden_sizes=[16, 32], depths=[1, 1]))


def _regnet():
    return transformers.RegNetForImageClassification(
        transformers.RegNetConfig(embedding_size=16, hidden_sizes=[16, 32], depths=[1, 1], groups_width=8))


def _mamba():
    return transformers.MambaForCausalLM(
        transformers.MambaConfig(vocab_size=128, hidden_size=32, num_hidden_layers=2, state_size=8))


def _mamba2():
    return transformers.Mamba2ForCausalLM(transformers.Mamba2Config(
        vocab_size=128, hidden_size=64, num_hidden_layers=2, state_size=8, num_heads=4, head_dim=32, n_groups=1))


def _wav2vec2():
    return transformers.Wav2Vec2ForPreTraining(transformers.Wav2Vec2Config(
        vocab_size=32, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        conv_dim=(16, 16), conv_stride=(5, 2), conv_kernel=(10, 3), num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2, codevector_dim=32, proj_codevector_dim=16, num_codevectors_per_group=8,
        num_codevector_groups=2))


def _dac():
    return transformers.DacModel(transformers.DacConfig(
        encoder_hidden_size=8, downsampling_ratios=[2, 2], decoder_hidden_size=16, n_codebooks=2, codebook_size=16,
        codebook_dim=4, hidden_size=16))


@pytest.mark.parametrize("build", [_resnet_cls, _regnet, _mamba, _mamba2, _wav2vec2, _dac])
def test_models_whose_init_passes_mode_as_a_keyword(build):
    """transformers' kaiming_uniform_ wrapper passes mode= as a keyword; the handlers' first parameter was named
    mode ("got multiple values for argument 'mode'"). Stock against the context, parameter by parameter: the same
    names, shapes and dtypes, the stock build's constants, random tensors of the stock scale."""
    torch.manual_seed(0)
    stock = state(build())
    with fi.fast_init(seed=0) as mode:
        ours = state(build())
    assert mode.fills > 0 and ours.keys() == stock.keys()
    for k, mine in ours.items():
        assert mine.shape == stock[k].shape and mine.dtype == stock[k].dtype, k
        if mine.dtype.is_floating_point and mine.numel() >= 64 and stock[k].std() > 0:
            assert 0.5 < mine.double().std() / stock[k].double().std() < 2, k
        elif mine.dtype.is_floating_point and mine.numel() and torch.all(stock[k] == stock[k].flatten()[0]):
            assert torch.equal(mine, stock[k]), k   # constants (zeros, ones) stay what the model sets


def test_handlers_take_every_argument_by_keyword():
    w = torch.empty(16, 8)
    with fi.fast_init(seed=0) as mode:
        nn.init.kaiming_uniform_(tensor=w, a=0.0, mode="fan_out", nonlinearity="relu")
        nn.init.uniform_(tensor=torch.empty(3), a=-1.0, b=1.0)
        nn.init.normal_(tensor=torch.empty(3), mean=0.0, std=2.0)
    assert mode.fills == 3
    bound = math.sqrt(2.0) * math.sqrt(3.0 / 16)   # fan_out = 16
    assert torch.equal(w, torch.from_numpy(fi.Generator(0).uniform((16, 8), -bound, bound, stream=0)))


class _Interrupt(nn.Module):
    def forward(self, x):
        raise KeyboardInterrupt


def test_ctrl_c_in_a_forward_leaves_the_context_working():
    """torch runs the always_call post-hook for Exception only: after a KeyboardInterrupt inside a forward, the
    in-forward count stayed raised and every later context served nothing (weights from torch's RNG)."""
    with fi.fast_init(seed=0) as mode:
        with pytest.raises(KeyboardInterrupt):
            nn.Sequential(nn.Linear(2, 2), _Interrupt())(torch.zeros(1, 2))
        nn.Linear(8, 8)   # the same context after the interrupt
    assert mode.fills == 2 + 2
    with fi.fast_init(seed=0) as later:
        nn.Linear(8, 8)
    assert later.fills == 2


def test_a_forward_in_another_thread_when_the_hooks_go_leaves_that_thread_working():
    """The hooks are process-wide: when the last context exits while another thread is inside a forward, that
    thread's post-hook never runs and its count stayed above 0."""
    started, release, seen = threading.Event(), threading.Event(), {}

    class Wait(nn.Module):
        def forward(self, x):
            started.set()
            release.wait(30)
            return x

    def other():
        Wait()(torch.zeros(1))   # outside any context, while the main thread's context has the hooks installed
        with fi.fast_init(seed=0) as mode:
            nn.Linear(4, 4)
        seen["fills"] = mode.fills

    with fi.fast_init(seed=1):
        thread = threading.Thread(target=other)
        thread.start()
        assert started.wait(30)
    release.set()   # the hooks are gone now; the other thread's forward returns
    thread.join(30)
    assert not thread.is_alive() and seen["fills"] == 2


def test_fastinit_init_inside_the_context_draws_from_the_context():
    """fastinit.init without generator= drew from the module's default generator (seeded from OS entropy), so
    `with fi.fast_init(seed=0): fi.init.normal_(w)` differed from run to run."""
    draws = []
    for _ in range(2):
        w = torch.empty(5, 4)
        with fi.fast_init(seed=0):
            fi.init.normal_(w)
            b = nn.Linear(3, 3).bias   # the context's next stream
        draws.append((w, b.detach().clone()))
    expected = fi.Generator(0)
    assert torch.equal(draws[0][0], draws[1][0]) and torch.equal(draws[0][1], draws[1][1])
    assert torch.equal(draws[0][0], torch.from_numpy(expected.normal((5, 4))))
    outside = fi.default_generator().next_stream
    fi.init.normal_(torch.empty(3))   # outside a context: the default generator, as before
    assert fi.default_generator().next_stream == outside + 1


def test_the_default_seed_does_not_move_torchs_stream():
    """seed=None drew 64 bits from torch's generator when the context was entered, so a forward pass inside the
    context differed from the same pass outside it (dropout masks shifted). It is drawn at the first fill now."""
    drop, x = nn.Dropout(0.5), torch.ones(64)
    torch.manual_seed(4)
    outside = drop(x)
    torch.manual_seed(4)
    with fi.fast_init() as mode:
        inside = drop(x)
    assert mode.fills == 0 and torch.equal(inside, outside)
    # the build stays reproducible from torch's seed, and two contexts in a row draw different weights
    builds = []
    for _ in range(2):
        torch.manual_seed(4)
        with fi.fast_init():
            builds.append((nn.Linear(4, 4).weight.detach().clone(), nn.Linear(4, 4).weight.detach().clone()))
    assert torch.equal(builds[0][0], builds[1][0]) and not torch.equal(builds[0][0], builds[0][1])
    torch.manual_seed(4)
    with fi.fast_init():
        first = nn.Linear(4, 4).weight.detach().clone()
    with fi.fast_init():
        second = nn.Linear(4, 4).weight.detach().clone()
    assert not torch.equal(first, second)


def test_the_context_under_meta_and_fake_modes():
    """The default seed was drawn with torch.randint, which follows torch.device("meta"), set_default_device and
    FakeTensorMode: int() of it failed."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    with torch.device("meta"):
        with fi.fast_init() as mode:
            lin = nn.Linear(4, 4)
            cpu = torch.empty(3, device="cpu").uniform_(0.0, 1.0)   # a CPU fill: the seed is drawn on the CPU
    assert lin.weight.is_meta and mode.fills == 1 and 0 <= cpu.min() and cpu.max() < 1
    torch.set_default_device("meta")
    try:
        with fi.fast_init() as mode:
            lin = nn.Linear(4, 4)
    finally:
        torch.set_default_device(None)   # (not "cpu": that leaves a device mode installed for later tests)
    assert lin.weight.is_meta and mode.fills == 0
    with FakeTensorMode():
        with fi.fast_init() as mode:
            lin = nn.Linear(4, 4)
    assert type(lin.weight).__name__ == "FakeTensor" and mode.fills == 0


@pytest.mark.parametrize("what", ["module", "init_and_randn"])
def test_torch_compile_inside_the_context(what):
    """dynamo traced into the mode and the NumPy view (TorchRuntimeError: data type 'ndarray' not understood);
    the handler is kept out of the graph and the compiled function gives the eager values."""
    def build(x):
        lin = nn.Linear(4, 4)
        if what == "init_and_randn":
            nn.init.normal_(lin.weight, std=0.5)
            return lin(x) + torch.randn(4)
        return lin(x)

    compiled = torch.compile(build, backend="eager")
    x = torch.ones(2, 4)
    with fi.fast_init(seed=3) as mode:
        got = compiled(x)
    with fi.fast_init(seed=3) as eager:
        expected = build(x)
    assert mode.fills == eager.fills > 0 and torch.equal(got, expected)


def test_negative_bit_nested_and_sparse_tensors():
    """A tensor with the negative bit was served and crashed (.numpy() refuses it); nested and sparse CSR tensors
    were served too. The first is filled (through a buffer), the others go to torch."""
    neg = torch.zeros(6, dtype=torch.complex128).conj().imag
    assert neg.is_neg()
    with fi.fast_init(seed=2) as mode:
        neg.normal_(1.0, 2.0)
    assert mode.fills == 1
    assert torch.equal(neg, torch.from_numpy(fi.Generator(2).normal(6, 1.0, 2.0, dtype=np.float64)))

    def outcome(make, fill):
        try:
            fill(make())
            return None
        except Exception as exc:   # torch's own answer for the layout, whatever it is
            return type(exc)
    cases = [(lambda: torch.nested.nested_tensor([torch.zeros(2), torch.zeros(3)]), lambda t: t.uniform_(0.0, 1.0)),
             (lambda: torch.eye(3).to_sparse_csr(), lambda t: t.normal_())]
    for make, fill in cases:
        stock = outcome(make, fill)
        with fi.fast_init(seed=2) as mode:
            assert outcome(make, fill) is stock
        assert mode.fills == 0


def test_kaiming_uniform_bound_is_torchs_to_the_last_bit():
    """The bound is torch's std = gain / sqrt(fan), bound = sqrt(3) * std, in that order: sqrt(3) * gain / sqrt(fan)
    differs in the last bit for about a quarter of the fans, which moves the float64 weights of every such Linear."""
    gain = nn.init.calculate_gain("leaky_relu", math.sqrt(5))
    differing = [fan for fan in range(2, 200) if math.sqrt(3.0) * (gain / math.sqrt(fan))
                 != math.sqrt(3.0) * gain / math.sqrt(fan)]
    assert differing   # (the case this test is about exists)
    for fan in differing[:5]:
        with fi.fast_init(seed=0):
            lin = nn.Linear(fan, 3, dtype=torch.float64)
        bound = math.sqrt(3.0) * (gain / math.sqrt(fan))
        expected = fi.Generator(0).uniform((3, fan), -bound, bound, dtype=np.float64, stream=0)
        assert torch.equal(lin.weight.detach(), torch.from_numpy(expected)), fan


def test_the_meta_recipe_keeps_ties_when_tie_weights_is_called():
    # to_empty unties (torch's behaviour, with or without fastinit); the README's recipe calls tie_weights()
    config = transformers.GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=100, n_positions=16,
                                     bos_token_id=0, eos_token_id=0)
    with torch.device("meta"):
        model = transformers.GPT2LMHeadModel(config)
    model.to_empty(device="cpu")
    assert model.lm_head.weight is not model.transformer.wte.weight
    model.tie_weights()
    with fi.fast_init(seed=0):
        getattr(model, "initialize_weights", model.init_weights)()
    assert model.lm_head.weight is model.transformer.wte.weight
    assert torch.isfinite(model.transformer.wte.weight).all() and model.transformer.wte.weight.std() > 0.01
