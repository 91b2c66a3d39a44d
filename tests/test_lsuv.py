"""fastinit.init.lsuv_ (Mishkin & Matas 2016): every covered layer's output std on the batch within tol of 1,
measured independently afterwards; forward order; the model's mode kept; compared with the lsuv package."""
import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

import fastinit as fi  # noqa: E402


def tanh_mlp(depth=10, width=64, seed=0):
    torch.manual_seed(seed)
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.Tanh()]
    model = nn.Sequential(nn.Linear(16, width), nn.Tanh(), *layers, nn.Linear(width, 10))
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.Linear):
                m.weight.normal_(0, 0.01)   # the small init that collapses
    return model


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        # defined in another order than the forward pass calls them
        self.head = nn.Linear(8 * 4 * 4, 5)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 4)
        return self.head(self.drop(x.flatten(1)))


def output_stds(model, x, names):
    """Each named layer's output std on x (torch's unbiased std, float64), in eval mode, by our own hooks."""
    got = {}

    def keep(name):
        def hook(module, args, out):   # (returns None: the output goes on unchanged)
            got.setdefault(name, float(out.double().std()))
        return hook

    hooks = [m.register_forward_hook(keep(n)) for n, m in model.named_modules() if n in names]
    was = model.training
    model.eval()
    with torch.no_grad():
        model(x)
    model.train(was)
    for h in hooks:
        h.remove()
    return got


@pytest.mark.parametrize("tol", [0.1, 0.01])
def test_every_layer_reaches_unit_std_within_tol(tol):
    model = tanh_mlp()
    x = torch.randn(256, 16, generator=torch.Generator().manual_seed(1))
    report = fi.init.lsuv_(model, x, tol=tol, generator=fi.Generator(3))
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    assert [r["name"] for r in report] == names
    measured = output_stds(model, x, names)
    for r in report:
        assert abs(measured[r["name"]] - 1) <= tol, r
        assert r["std"] == pytest.approx(measured[r["name"]], rel=1e-7)   # (the C kernel sums float32 blocks)
    assert max(r["iterations"] for r in report) >= 1   # (the orthogonal init alone does not give unit std)
    # the orthogonal pre-init is fastinit's: the same generator gives the same weights
    again = tanh_mlp()
    fi.init.lsuv_(again, x, tol=tol, generator=fi.Generator(3))
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), again.parameters()))


def test_forward_order_eval_mode_and_the_mode_kept():
    model = SmallCNN().train()
    x = torch.randn(16, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    report = fi.init.lsuv_(model, x, tol=0.05)
    assert [r["name"] for r in report] == ["conv1", "conv2", "head"]   # the call order, not the definition order
    assert model.training   # left as it was; dropout was off during the init (eval mode), so the stds hold there
    measured = output_stds(model, x, {"conv1", "conv2", "head"})
    assert all(abs(s - 1) <= 0.05 for s in measured.values()), measured
    assert float(model.conv1.bias.detach().abs().max()) == 0.0


def test_as_the_lsuv_package_does():
    lsuv = pytest.importorskip("lsuv", reason="pip install --no-deps lsuv (it declares an unpinned torch)")
    x = torch.randn(256, 16, generator=torch.Generator().manual_seed(4))
    ours, theirs = tanh_mlp(), tanh_mlp()
    fi.init.lsuv_(ours, x, tol=0.1)
    lsuv.lsuv_with_singlebatch(theirs, x, std_tol=0.1, verbose=False)
    names = [n for n, m in ours.named_modules() if isinstance(m, nn.Linear)]
    a, b = output_stds(ours, x, names), output_stds(theirs, x, names)
    for n in names:   # both within the tolerance, layer by layer
        assert abs(a[n] - 1) <= 0.1 and abs(b[n] - 1) <= 0.1, (n, a[n], b[n])


def test_bad_arguments_and_a_failing_forward_leave_the_model_as_it_was():
    model = tanh_mlp(depth=2)
    x = torch.randn(8, 16)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        fi.init.lsuv_("model", x)
    with pytest.raises(ValueError, match="tol must be > 0, got 0"):
        fi.init.lsuv_(model, x, tol=0)
    with pytest.raises(ValueError, match="max_iter must be >= 1"):
        fi.init.lsuv_(model, x, max_iter=0)
    with pytest.raises(TypeError, match="x must be a tensor"):
        fi.init.lsuv_(model, np.zeros((8, 16)))
    with pytest.raises(ValueError, match=r"modules: no module named \['9'\]"):
        fi.init.lsuv_(model, x, modules=["9"])
    with pytest.raises(TypeError, match="modules must be None or a list"):
        fi.init.lsuv_(model, x, modules="0")
    before = copy.deepcopy(model.state_dict())
    model.train()
    with pytest.raises(RuntimeError):
        fi.init.lsuv_(model, torch.randn(8, 5))   # the model's own shape error
    assert model.training and sum(len(m._forward_hooks) for m in model.modules()) == 0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())   # nothing was written


def test_a_dead_layer_keeps_its_weight():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4))
    x = torch.zeros(8, 4)   # every output is the zero bias: std 0, nothing to divide by
    report = fi.init.lsuv_(model, x)
    assert report == [{"name": "0", "std": 0.0, "iterations": 0}, {"name": "2", "std": 0.0, "iterations": 0}]
    assert torch.isfinite(model[0].weight).all()


def test_gpt2_projections_reach_unit_std_and_the_tied_head_is_left_alone():
    transformers = pytest.importorskip("transformers")
    cfg = transformers.GPT2Config(n_layer=2, n_embd=64, n_head=4, vocab_size=128, n_positions=32, bos_token_id=0,
                                  eos_token_id=0)
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(cfg)
    wte = model.transformer.wte.weight.detach().clone()
    ids = torch.randint(0, 128, (8, 32), generator=torch.Generator().manual_seed(5))
    report = fi.init.lsuv_(model, {"input_ids": ids}, tol=0.1)
    names = [r["name"] for r in report]
    # transformers' Conv1D layers (c_attn, c_proj, c_fc, c_proj per block), in forward order; not the tied lm_head
    assert names == [f"transformer.h.{i}.{m}" for i in range(2)
                     for m in ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")]
    assert torch.equal(model.transformer.wte.weight, wte) and model.lm_head.weight is model.transformer.wte.weight
    got = {}
    hooks = [m.register_forward_hook(lambda mod, a, out, n=n: got.setdefault(n, float(out.double().std())) and None)
             for n, m in model.named_modules() if n in names]
    model.eval()
    with torch.no_grad():
        model(input_ids=ids)
    for h in hooks:
        h.remove()
    assert all(abs(got[n] - 1) <= 0.1 for n in names), got


def test_a_transformer_encoder_layers_linears_are_reached():
    """In eval mode without gradients nn.TransformerEncoderLayer may take a fused path that never calls its Linear
    modules (torch leaves it while hooks are attached, as LSUV's are): its linear1 / linear2 get unit std."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, dropout=0.0, batch_first=True),
                          nn.Linear(32, 8))
    x = torch.randn(4, 10, 32, generator=torch.Generator().manual_seed(6))
    report = fi.init.lsuv_(model, x, tol=0.05)
    names = [r["name"] for r in report]
    assert names == ["0.linear1", "0.linear2", "1"]   # (out_proj is applied functionally by the attention)
    measured = output_stds(model, x, set(names))
    assert all(abs(measured[n] - 1) <= 0.05 for n in names), measured
