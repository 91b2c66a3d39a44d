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
