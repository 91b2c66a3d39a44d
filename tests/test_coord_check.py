"""fi.coord_check (Yang et al. 2021, Tensor Programs V): an MLP in the standard parametrization under Adam grows
its hidden and output coordinates with the width once it has taken a step; the same MLP in muP (the mup package:
MuReadout, set_base_shapes, MuAdam) stays flat. The sizes equal an independent recomputation and mup's own
get_coord_data on the same models, seeds and data; runs journal, resume and go to a process pool."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from sklearn.datasets import load_digits  # noqa: E402
from torch import nn  # noqa: E402

import fastinit as fi  # noqa: E402

WIDTHS = [64, 128, 256, 512, 1024]


def digits():
    X, y = load_digits(return_X_y=True)
    return ((X - X.mean(0)) / (X.std(0) + 1e-8)).astype(np.float32), y


def sp_mlp(width):
    """The standard parametrization: torch's default init, one learning rate for every layer."""
    return nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 10))


def mup_mlp(width):
    """The same MLP in muP with the mup package: the readout zero-initialized with its 1/width multiplier
    (MuReadout), shapes relative to width 64 (set_base_shapes); trained with mup.MuAdam."""
    import mup

    def make(w):
        return nn.Sequential(nn.Linear(64, w), nn.ReLU(), nn.Linear(w, w), nn.ReLU(),
                             mup.MuReadout(w, 10, readout_zero_init=True))

    model = make(width)
    mup.set_base_shapes(model, make(64), delta=make(128))
    return model


class HandMuP(nn.Module):
    """muP for Adam by hand (Tensor Programs V, Table 3), as docs/experiment.md writes it: the readout
    zero-initialized with its input times 64 / width, the hidden weight's learning rate times 64 / width, the
    hidden bias width-independent."""

    def __init__(self, width):
        super().__init__()
        self.mult = 64 / width
        self.net = nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU())
        self.readout = nn.Linear(width, 10)
        nn.init.zeros_(self.readout.weight)
        nn.init.zeros_(self.readout.bias)
        self.net[2].weight.lr_scale = self.mult
        with torch.no_grad():   # the hidden bias O(1): torch's bound 1/sqrt(fan_in) times sqrt(width / base)
            self.net[2].bias.mul_((width / 64) ** 0.5)

    def forward(self, x):
        return self.readout(self.net(x) * self.mult)


def hand_mu_adam(params, lr):
    groups = {}
    for p in params:
        groups.setdefault(getattr(p, "lr_scale", 1.0), []).append(p)
    return torch.optim.Adam([{"params": ps, "lr": lr * s} for s, ps in groups.items()], lr=lr)


def test_standard_parametrization_grows_with_width_under_adam():
    res = fi.coord_check(sp_mlp, WIDTHS, digits(), steps=5, lr=1e-2, seeds=range(2), progress=False)
    slopes = res.slopes()
    assert not res.failed and set(slopes) == {(m, s) for m in "01234" for s in range(5)}
    for m in "01234":   # at init every size is width-independent (torch's 1/fan_in variance)
        assert abs(slopes[(m, 0)]) < 0.2, (m, slopes[(m, 0)])
    for s in range(2, 5):
        assert 0.8 < slopes[("4", s)] < 1.4, slopes[("4", s)]   # the readout: slope near 1
        assert slopes[("2", s)] > 0.3 and slopes[("3", s)] > 0.3   # the hidden layer grows too
    frame = res.to_pandas()
    assert list(frame.columns[:6]) == ["width", "seed", "step", "module", "type", "size"]
    assert len(frame) == 5 * 2 * 5 * 5
    assert "slope of log size" in repr(res) and "step 4" in repr(res)


def test_mup_is_flat():
    mup = pytest.importorskip("mup", reason="pip install --no-deps mup (it declares torchvision)")
    res = fi.coord_check(mup_mlp, WIDTHS, digits(), steps=5, lr=1e-2, optimizer=mup.MuAdam, seeds=range(2),
                         progress=False)
    slopes = res.slopes()
    finite = {k: v for k, v in slopes.items() if math.isfinite(v)}
    # (the zero readout's size at init is 0 at every width: no slope)
    assert set(slopes) - set(finite) == {("4", 0)}
    assert max(abs(v) for v in finite.values()) < 0.1, finite


def test_muP_by_hand_is_the_mup_package():
    mup = pytest.importorskip("mup", reason="pip install --no-deps mup (it declares torchvision)")
    data = digits()
    hand = fi.coord_check(HandMuP, WIDTHS, data, steps=4, lr=1e-2, optimizer=hand_mu_adam, progress=False)
    package = fi.coord_check(mup_mlp, WIDTHS, data, steps=4, lr=1e-2, optimizer=mup.MuAdam, progress=False)
    # (the same layers: net.0-3 then the readout, named "readout" by hand and "4" in the package's Sequential)
    rename = {"readout": "4", **{f"net.{i}": str(i) for i in range(4)}}
    a = {(r["width"], r["step"], rename[r["module"]]): r["size"] for r in hand.rows}
    b = {(r["width"], r["step"], r["module"]): r["size"] for r in package.rows}
    assert a.keys() == b.keys()
    np.testing.assert_allclose([a[k] for k in a], [b[k] for k in a], rtol=1e-5, atol=1e-12)


def test_the_same_numbers_as_mups_get_coord_data():
    mup = pytest.importorskip("mup", reason="pip install --no-deps mup (it declares torchvision)")
    pytest.importorskip("pandas")
    from mup.coord_check import get_coord_data

    X, y = digits()
    batch = (torch.from_numpy(X[:64]), torch.from_numpy(y[:64]))

    def lazy(width):   # mup's models: built under the same fast_init seed as coord_check builds them
        def make():
            with fi.fast_init(seed=0):
                return mup_mlp(width)
        return make

    # mup reuses its first batch every step: the same as coord_check on a list of that one batch
    ours = fi.coord_check(mup_mlp, WIDTHS, [batch], steps=3, lr=1e-2, optimizer=mup.MuAdam, progress=False)
    theirs = get_coord_data({w: lazy(w) for w in WIDTHS}, [batch], optimizer="adam", lr=1e-2, mup=True, nsteps=3,
                            cuda=False, show_progress=False)
    mine = ours.to_pandas().assign(t=lambda f: f.step + 1)
    both = theirs.merge(mine, on=["width", "module", "t"])
    assert len(both) == len(mine) == 5 * 5 * 3
    np.testing.assert_allclose(both["size"], both["l1"], rtol=1e-5)   # (mup averages in float32)


def test_sizes_equal_an_independent_recomputation():
    X, y = digits()
    torch.manual_seed(123)
    state = torch.get_rng_state()
    res = fi.coord_check(sp_mlp, [32, 48], (X, y), steps=3, lr=1e-2, seeds=[7], batch=50, progress=False)
    assert torch.equal(torch.get_rng_state(), state)   # the caller's torch generator is left as it was
    with fi.fast_init(seed=7):
        model = sp_mlp(48)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    seen = {}
    step = [0]
    for name, m in model.named_children():
        m.register_forward_hook(lambda mod, a, out, n=name: seen.update({(step[0], n): np.abs(
            out.detach().double().numpy()).mean()}))
    for t in range(3):   # consecutive batches of 50 rows
        xb, yb = torch.from_numpy(X[50 * t:50 * (t + 1)]), torch.from_numpy(y[50 * t:50 * (t + 1)])
        loss = nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step[0] += 1
    got = {(r["step"], r["module"]): r["size"] for r in res.rows if r["width"] == 48}
    assert got.keys() == seen.keys()
    for k in got:
        assert got[k] == pytest.approx(seen[k], rel=1e-12), k


CALLS = []
BUILT_40 = []


def counted_mlp(width):
    CALLS.append(width)
    if width == 40:
        BUILT_40.append(1)
        if len(BUILT_40) == 2:   # (the first is coord_check's check of the narrowest width; the second, seed 0's run)
            raise RuntimeError("width 40 failed once")
    return sp_mlp(width)


def test_journal_resume_and_a_failed_run(tmp_path):
    X, y = digits()
    out = tmp_path / "coord.csv"
    CALLS.clear()
    BUILT_40.clear()
    first = fi.coord_check(counted_mlp, [40, 64], (X, y), steps=2, seeds=[0, 1], out=out, progress=False)
    assert [(r["width"], r["seed"]) for r in first.failed] == [(40, 0)]
    assert "RuntimeError: width 40 failed once" in first.failed[0]["error"]
    CALLS.clear()
    again = fi.coord_check(counted_mlp, [40, 64, 96], (X, y), steps=2, seeds=[0, 1], out=out, progress=False)
    assert sorted(CALLS) == [40, 40, 96, 96]   # the check's model, the failed run again, the new width's two seeds
    assert not again.failed and len(again.rows) == 3 * 2 * 2 * 5
    assert fi.CoordCheckResult.from_csv(out).slopes().keys() == again.slopes().keys()
    with pytest.raises(ValueError, match="holds runs of 2 steps, not 3"):
        fi.coord_check(sp_mlp, [40, 64], (X, y), steps=3, seeds=[0], out=out, progress=False)


@pytest.mark.slow
def test_a_process_pool_gives_the_same_rows():
    X, y = digits()
    here = fi.coord_check(sp_mlp, [32, 64], (X, y), steps=2, seeds=[0, 1], progress=False)
    pool = fi.coord_check(sp_mlp, [32, 64], (X, y), steps=2, seeds=[0, 1], workers=2, progress=False)
    assert [(r["width"], r["seed"], r["step"], r["module"]) for r in here.rows] == \
        [(r["width"], r["seed"], r["step"], r["module"]) for r in pool.rows]
    np.testing.assert_allclose([r["size"] for r in pool.rows], [r["size"] for r in here.rows], rtol=1e-5)


def test_plot(tmp_path):
    pytest.importorskip("matplotlib")
    res = fi.coord_check(sp_mlp, [32, 64, 128], digits(), steps=3, lr=1e-2, progress=False)
    fig = res.plot(tmp_path / "coord.png")
    assert (tmp_path / "coord.png").stat().st_size > 10_000 and len(fig.axes) == 3
    with pytest.raises(ValueError, match="modules: \\['9'\\] were not recorded"):
        res.plot(modules=["9"])


def test_bad_arguments_are_named():
    data = digits()
    with pytest.raises(TypeError, match="make_model must be a callable"):
        fi.coord_check("mlp", WIDTHS, data)
    with pytest.raises(ValueError, match="widths must hold at least two different"):
        fi.coord_check(sp_mlp, [64], data)
    with pytest.raises(TypeError, match="widths must be a list"):
        fi.coord_check(sp_mlp, 64, data)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        fi.coord_check(sp_mlp, WIDTHS, data, steps=0)
    with pytest.raises(ValueError, match="lr must be > 0"):
        fi.coord_check(sp_mlp, WIDTHS, data, lr=0)
    with pytest.raises(TypeError, match="optimizer must be a callable"):
        fi.coord_check(sp_mlp, WIDTHS, data, optimizer="adam")
    with pytest.raises(TypeError, match="data must be arrays"):
        fi.coord_check(sp_mlp, WIDTHS, 5)
    with pytest.raises(ValueError, match="same number of rows"):
        fi.coord_check(sp_mlp, WIDTHS, (data[0], data[1][:10]))
    with pytest.raises(TypeError, match=r"make_model\(32\) must return a torch.nn.Module"):
        fi.coord_check(lambda w: None, [32, 64], data)
    with pytest.raises(ValueError, match="modules: no module named"):
        fi.coord_check(sp_mlp, [32, 64], data, modules=["nope"])
    with pytest.raises(ValueError, match="workers must be an integer"):
        fi.coord_check(sp_mlp, [32, 64], data, workers=0)
    with pytest.raises(TypeError, match="executor must be a concurrent.futures.Executor"):
        fi.coord_check(sp_mlp, [32, 64], data, executor="dask")


def test_a_dataloader_gives_what_the_same_arrays_give():
    X, y = digits()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y)),
                                         batch_size=100, shuffle=False)
    a = fi.coord_check(sp_mlp, [32, 64], loader, steps=20, lr=1e-2, progress=False)   # (18 batches: cycled)
    b = fi.coord_check(sp_mlp, [32, 64], (X, y), steps=20, lr=1e-2, batch=100, progress=False)
    # (the 18th batch differs: the loader's is the short last one, the arrays' wraps around to the first rows)
    sa = {(r["width"], r["step"], r["module"]): r["size"] for r in a.rows if r["step"] < 17}
    sb = {(r["width"], r["step"], r["module"]): r["size"] for r in b.rows if r["step"] < 17}
    assert sa == sb and len(sa) == 2 * 17 * 5
    assert len(a.rows) == 2 * 20 * 5
