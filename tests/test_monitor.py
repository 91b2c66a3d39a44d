"""fi.monitor: per-layer statistics of a torch model while it trains, checked against an independent float64
recomputation of the same step's outputs, gradients and updates; hooks only during recorded steps and none left
after an error."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

import fastinit as fi  # noqa: E402


def mlp(seed=0, act=nn.Tanh, bias=0.0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(12, 16), act(), nn.Linear(16, 16), act(), nn.Linear(16, 3))
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.Linear) and m is not model[-1]:
                m.bias.fill_(bias)
    return model


def batches(n, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(32, 12, generator=g), torch.randint(0, 3, (32,), generator=g)) for _ in range(n)]


def train(model, data, opt):
    for x, y in data:
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_statistics_and_updates_equal_an_independent_float64_recomputation():
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    data = batches(5)
    outputs, grads, before, after = {}, {}, {}, {}
    step = [0]

    def keep(name):
        def hook(module, args, out):   # our own hooks: the outputs and their gradients of steps 0, 2, 4
            if step[0] % 2 == 0:
                outputs[(step[0], name)] = out.detach().double().numpy().copy()
                s = step[0]
                out.register_hook(lambda g: grads.__setitem__((s, name), g.double().numpy().copy()))
        return hook

    for name, m in model.named_children():
        m.register_forward_hook(keep(name))

    def seen(m):
        if step[0] % 2 == 0:
            before[step[0]] = {n: p.detach().double().clone() for n, p in m.named_parameters()}

    with fi.monitor(model, every=2, bins=20) as mon:
        for x, y in data:
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            seen(model)
            opt.step()
            if step[0] % 2 == 0:
                after[step[0]] = {n: p.detach().double().clone() for n, p in model.named_parameters()}
            step[0] += 1
    res = mon.result
    assert res.steps == [0, 2, 4]
    assert len(res.rows) == 3 * 5 and res.hist.shape == (15, 20) and res.edges.shape == (15, 21)
    for row, hist in zip(res.rows, res.hist):
        x = outputs[(row["step"], row["name"])]
        np.testing.assert_allclose([row["mean"], row["std"], row["min"], row["max"]],
                                   [x.mean(), x.std(), x.min(), x.max()], rtol=1e-5, atol=1e-7)
        assert row["zero_frac"] == (x == 0).mean() and row["nonfinite"] == 0
        want_sat = (np.abs(x) > 0.99).mean() if row["type"] == "Tanh" else math.nan
        np.testing.assert_equal(row["saturated_frac"], want_sat)
        assert hist.sum() == x.size
        g = grads[(row["step"], row["name"])]
        assert row["grad_std"] == pytest.approx(g.std(), rel=1e-5)
    for p in res.params:
        w0, w1 = before[p["step"]][p["name"]], after[p["step"]][p["name"]]
        assert p["w_norm"] == pytest.approx(float(w0.norm()), rel=1e-12)
        if float(w0.norm()) == 0:   # (the zero biases of step 0: no ratio to a zero norm)
            assert math.isnan(p["update_ratio"])
        else:
            # (the monitor subtracts in float32: the ratio within a float32 rounding of the float64 one)
            assert p["update_ratio"] == pytest.approx(float((w1 - w0).norm() / w0.norm()), rel=1e-6)
        assert p["grad_norm"] > 0
    assert {p["name"] for p in res.params} == {n for n, _ in model.named_parameters()}


def test_no_module_hook_between_recorded_steps_and_no_eval_pass_recorded():
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    hooked = []
    with fi.monitor(model, every=3) as mon:
        for x, y in batches(7):
            hooked.append(sum(len(m._forward_hooks) for m in model.modules()))
            loss = nn.functional.cross_entropy(model(x), y)
            with torch.no_grad():
                model(x)                      # a validation pass: not recorded
            opt.zero_grad()
            loss.backward()
            opt.step()
    assert hooked == [5, 0, 0, 5, 0, 0, 5]   # (5 leaf modules, hooked in steps 0, 3, 6 only)
    assert sum(len(m._forward_hooks) for m in model.modules()) == 0
    assert mon.result.steps == [0, 3, 6] and len(mon.result.rows) == 15
    with fi.monitor(model, every=1, eval_passes=True) as mon:
        model(batches(1)[0][0])
        with torch.no_grad():
            model(batches(1)[0][0])
    assert [r["name"] for r in mon.result.rows][:6] == ["0", "1", "2", "3", "4", "0#2"]


def test_an_optimizer_of_another_model_is_not_a_step():
    model, other = mlp(), mlp(1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    other_opt = torch.optim.SGD(other.parameters(), lr=0.01)
    with fi.monitor(model, every=1) as mon:
        train(other, batches(3), other_opt)
        assert mon.step_index == 0
        train(model, batches(2), opt)
    assert mon.step_index == 2 and mon.result.steps == [0, 1]


def test_a_manual_loop_steps_explicitly():
    model = mlp()
    mon = fi.monitor(model, every=1, modules=nn.Linear)
    for x, y in batches(2):
        loss = nn.functional.cross_entropy(model(x), y)
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
        mon.step()
    mon.close()
    res = mon.result
    assert res.steps == [0, 1] and {r["type"] for r in res.rows} == {"Linear"}
    assert all(math.isnan(p["update_ratio"]) and p["grad_norm"] > 0 for p in res.params)


def test_summary_names_the_layer_that_died():
    model = mlp(act=nn.ReLU, bias=-50.0)   # every unit of the first ReLU is off: a dead layer
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    with fi.monitor(model, every=1) as mon:
        train(model, batches(2), opt)
    events = mon.result.events()
    assert {"name": "1", "what": "died", "step": 0, "value": 1.0} in events
    # the dead layer's weights get no gradient, so the first Linear stops moving
    assert any(e["name"] == "0.weight" and e["what"] == "stopped moving" for e in events)
    text = mon.result.summary()
    assert "died" in text and "2 recorded steps" in text
    pd = pytest.importorskip("pandas")
    frame = mon.result.to_pandas()
    assert isinstance(frame, pd.DataFrame) and len(frame) == 10
    assert list(frame.columns[:4]) == ["step", "rank", "name", "type"]
    assert len(mon.result.to_pandas("params")) == 12
    with pytest.raises(ValueError, match="what must be 'modules' or 'params'"):
        mon.result.to_pandas("layers")


def test_plot(tmp_path):
    pytest.importorskip("matplotlib")
    model = mlp(act=nn.ReLU)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    with fi.monitor(model, every=2) as mon:
        train(model, batches(6), opt)
    fig = mon.result.plot(tmp_path / "monitor.png")
    assert (tmp_path / "monitor.png").stat().st_size > 10_000
    # the bottom row: each chosen layer's histograms over the steps, on one value grid
    titles = [ax.get_title() for ax in fig.axes]
    assert sum("values over steps" in t for t in titles) >= 1
    fig = mon.result.plot(hist_layers=["0", "1"])
    assert [t for t in (ax.get_title() for ax in fig.axes) if "values over steps" in t] == \
        ["0 Linear: values over steps", "1 ReLU: values over steps"]
    with pytest.raises(ValueError, match=r"hist_layers: \['9'\] were not recorded"):
        mon.result.plot(hist_layers=["9"])
    with pytest.raises(TypeError, match="hist_layers must be a list of module names"):
        mon.result.plot(hist_layers="1")
    assert len(fig.axes) >= 4


def test_bad_arguments_are_named():
    model = mlp()
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        fi.monitor("model")
    with pytest.raises(ValueError, match="every must be >= 1, got 0"):
        fi.monitor(model, every=0)
    with pytest.raises(TypeError, match="every must be an integer"):
        fi.monitor(model, every=2.5)
    with pytest.raises(ValueError, match="bins must be >= 1"):
        fi.monitor(model, bins=0)
    with pytest.raises(TypeError, match="grads must be True or False"):
        fi.monitor(model, grads="yes")
    with pytest.raises(ValueError, match="modules: no module named"):
        fi.monitor(model, modules=["nope"])
    assert sum(len(m._forward_hooks) for m in model.modules()) == 0


def test_a_forward_that_raises_leaves_no_hook_behind():
    from torch.optim import optimizer as optim_module

    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 4)

        def forward(self, x):
            return self.lin(x).view(3, 7)   # (a shape error of the model's own)

    model = Broken()
    pre, post = len(optim_module._global_optimizer_pre_hooks), len(optim_module._global_optimizer_post_hooks)
    with pytest.raises(RuntimeError):
        with fi.monitor(model, every=1):
            model(torch.randn(2, 4))
    assert sum(len(m._forward_hooks) for m in model.modules()) == 0
    assert (len(optim_module._global_optimizer_pre_hooks), len(optim_module._global_optimizer_post_hooks)) == \
        (pre, post)
