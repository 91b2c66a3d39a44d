"""The coordinate check of an MLP on digits (issue target: 5 widths x 2 parametrizations x 5 steps in under a
minute): fi.coord_check of the standard parametrization under Adam and of muP (by hand, as Tensor Programs V's
table gives it for Adam; the same numbers as the mup package's MuReadout / set_base_shapes / MuAdam, which
tests/test_coord_check.py checks), timed against the mup package's get_coord_data on the same models, batch and
steps when mup is installed (`pip install --no-deps mup`: it declares torchvision). Median and range of --repeats
runs, alternating. Writes docs/coord_check_sp.png and docs/coord_check_mup.png.

    python bench/coord_check.py [--repeats 5] [--seeds 1] [--figures docs]
"""
import argparse
import statistics
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn

import fastinit as fi

WIDTHS = [64, 128, 256, 512, 1024]
BASE = 64


def sp_mlp(width):
    return nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 10))


class MuMLP(nn.Module):
    """muP for Adam (Yang et al. 2021, Table 3) relative to width BASE: the readout zero-initialized and its input
    multiplied by BASE / width; the hidden weight's learning rate scaled by BASE / width (its ``lr_scale``); the
    hidden bias width-independent (mup's set_base_shapes rescales it so)."""

    def __init__(self, width):
        super().__init__()
        self.mult = BASE / width
        self.net = nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU())
        self.readout = nn.Linear(width, 10)
        nn.init.zeros_(self.readout.weight)
        nn.init.zeros_(self.readout.bias)
        self.net[2].weight.lr_scale = self.mult
        with torch.no_grad():   # the hidden bias O(1): torch's bound 1/sqrt(fan_in) times sqrt(width / base)
            self.net[2].bias.mul_((width / BASE) ** 0.5)

    def forward(self, x):
        return self.readout(self.net(x) * self.mult)


def mu_adam(params, lr):
    """Adam with each parameter's learning rate times its lr_scale (1 where it has none)."""
    groups = {}
    for p in params:
        groups.setdefault(getattr(p, "lr_scale", 1.0), []).append(p)
    return torch.optim.Adam([{"params": ps, "lr": lr * s} for s, ps in groups.items()], lr=lr)


def digits():
    X, y = load_digits(return_X_y=True)
    return ((X - X.mean(0)) / (X.std(0) + 1e-8)).astype(np.float32), y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--figures", default=None, help="a folder for the two figures")
    args = ap.parse_args()
    X, y = digits()
    batch = [(torch.from_numpy(X[:64]), torch.from_numpy(y[:64]))]   # mup's get_coord_data reuses one batch
    seeds = range(args.seeds)
    try:
        # (the public get_coord_data takes optimizer names, not a factory)
        from mup.coord_check import _get_coord_data as get_coord_data
    except ImportError:
        get_coord_data = None
    print(f"torch {torch.__version__}, {torch.get_num_threads()} torch threads; widths {WIDTHS}, 5 steps, "
          f"{args.seeds} seed(s), lr 1e-2")

    def ours():
        sp = fi.coord_check(sp_mlp, WIDTHS, batch, steps=5, lr=1e-2, seeds=seeds, progress=False)
        mu = fi.coord_check(MuMLP, WIDTHS, batch, steps=5, lr=1e-2, optimizer=mu_adam, seeds=seeds, progress=False)
        return sp, mu

    def theirs():
        def lazy(make, width, seed):
            def build():
                with fi.fast_init(seed=seed):
                    return make(width)
            return build
        for make, opt in ((sp_mlp, torch.optim.Adam), (MuMLP, mu_adam)):
            for seed in seeds:   # (its nseeds reseeds torch's generator; the models here are seeded alike)
                get_coord_data({w: lazy(make, w, seed) for w in WIDTHS}, batch, lambda m, o=opt: o(m.parameters(),
                               lr=1e-2), nsteps=5, cuda=False, show_progress=False)

    times = {"fastinit.coord_check": []}
    if get_coord_data is not None:
        times["mup get_coord_data"] = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        sp, mu = ours()
        times["fastinit.coord_check"].append(time.perf_counter() - t)
        if get_coord_data is not None:
            t = time.perf_counter()
            theirs()
            times["mup get_coord_data"].append(time.perf_counter() - t)
    for k, v in times.items():
        print(f"  {k:22s} {statistics.median(v):6.2f} s ({min(v):.2f}-{max(v):.2f}) for 2 x {len(WIDTHS)} x "
              f"{args.seeds} runs")
    if len(times) == 2:
        a, b = (statistics.median(v) for v in times.values())
        print(f"  ratio mup / fastinit: {b / a:.2f}x")
    for label, res in (("standard parametrization, Adam", sp), ("muP, Adam", mu)):
        print(label)
        print(res)
    if args.figures:
        sp.plot(f"{args.figures}/coord_check_sp.png")
        mu.plot(f"{args.figures}/coord_check_mup.png")


if __name__ == "__main__":
    main()
