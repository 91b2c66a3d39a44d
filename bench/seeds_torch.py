"""The seeds' claims on real torch models: a 10-layer tanh MLP and a 5-layer ReLU MLP (width 128) on scikit-learn's
digits, initialized N(0, 0.01^2), N(0, 1), Xavier (tanh) / He (ReLU), LSUV, and N(0, 0.01^2) with BatchNorm1d after
each linear layer, trained the same SGD steps under fi.monitor. Prints each run's layer-10 (or -5) activation std at
step 0, its saturated / dead fraction, and its held-out accuracy; --plot draws the figure.

    python bench/seeds_torch.py --steps 300 --plot docs/seeds_torch.png
"""
import argparse

import numpy as np
import torch
from torch import nn

import fastinit as fi

INITS = ("N(0, 0.01^2)", "N(0, 1)", "Xavier / He", "LSUV", "N(0, 0.01^2) + BN")
NETS = {"tanh": (10, nn.Tanh), "relu": (5, nn.ReLU)}


def digits():
    """8x8 digits standardized on the training rows: 1,257 training and 540 held-out rows (fi.train's sizes; the
    rows are a NumPy permutation of seed 0, not fi.train's own split)."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    X, y = X[order].astype(np.float32), y[order]
    train, test = slice(0, len(y) - 540), slice(len(y) - 540, None)
    mean, std = X[train].mean(0), X[train].std(0) + 1e-6
    X = (X - mean) / std
    as_torch = [torch.from_numpy(a) for a in (X[train], y[train], X[test], y[test])]
    return tuple(as_torch[:2]), tuple(as_torch[2:])


def build(activation, init, x_batch, seed=0, width=128):
    """The MLP of one (activation, init): Linear [-> BatchNorm1d] -> activation, depth times, then a linear readout."""
    depth, act = NETS[activation]
    layers, fan_in = [], 64
    for _ in range(depth):
        layers.append(nn.Linear(fan_in, width))
        if init.endswith("+ BN"):
            layers.append(nn.BatchNorm1d(width))
        layers.append(act())
        fan_in = width
    model = nn.Sequential(*layers, nn.Linear(width, 10))
    gen = fi.Generator(seed)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for m in linears:
            fi.init.zeros_(m.bias)
            if init.startswith("N(0, 0.01^2)"):
                fi.init.normal_(m.weight, 0.0, 0.01, generator=gen)
            elif init == "N(0, 1)":
                fi.init.normal_(m.weight, 0.0, 1.0, generator=gen)
            elif activation == "tanh":
                fi.init.xavier_normal_(m.weight, generator=gen)
            else:
                fi.init.kaiming_normal_(m.weight, nonlinearity="relu", generator=gen)
    if init == "LSUV":
        fi.init.lsuv_(model, x_batch, generator=gen)
    return model


def run(activation, init, data, steps, lr=0.01, batch=64, seed=0):
    """Train under fi.monitor; (held-out accuracy, MonitorResult)."""
    (X, y), (Xt, yt) = data
    model = build(activation, init, X[:256], seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    order = torch.from_numpy(np.random.default_rng(seed).permutation(np.tile(np.arange(len(y)), steps * batch
                                                                              // len(y) + 1)))
    activations = (nn.Tanh, nn.ReLU)
    with fi.monitor(model, every=max(1, steps // 10), modules=activations) as mon:
        model.train()
        for step in range(steps):
            rows = order[step * batch:(step + 1) * batch]
            loss = nn.functional.cross_entropy(model(X[rows]), y[rows])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        accuracy = float((model(Xt).argmax(1) == yt).float().mean())
    return accuracy, mon.result


def table(results):
    lines = ["| network | init | last hidden layer's std at step 0 | saturated / dead there | held-out accuracy |",
             "|---|---|---|---|---|"]
    for (activation, init), (accuracy, res) in results.items():
        first = [r for r in res.rows if r["step"] == 0]
        last = first[-1]
        frac = last["saturated_frac"] if activation == "tanh" else last["zero_frac"]
        depth = NETS[activation][0]
        lines.append(f"| {depth} x 128 {activation} | {init} | {last['std']:.3g} | {frac:.1%} | {accuracy:.3f} |")
    return "\n".join(lines)


def plot(results, path):
    from matplotlib import pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    for row, activation in enumerate(NETS):
        runs = [(init, *results[(activation, init)]) for init in INITS]
        ax = axes[row, 0]
        for init, _, res in runs:
            first = [r for r in res.rows if r["step"] == 0]
            ax.plot(range(1, len(first) + 1), [max(r["std"], 1e-12) for r in first], marker=".", label=init)
        ax.set_yscale("log")
        ax.set_xlabel("layer", fontsize=8)
        ax.set_title(f"{activation}: activation std per layer at step 0", fontsize=9)
        ax.legend(fontsize=7, loc="lower left")
        ax = axes[row, 1]
        what = "saturated_frac" if activation == "tanh" else "zero_frac"
        for init, _, res in runs:
            first = [r for r in res.rows if r["step"] == 0]
            ax.plot(range(1, len(first) + 1), [r[what] for r in first], marker=".", label=init)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("layer", fontsize=8)
        ax.set_title(f"{activation}: {'saturated (|h| > 0.99)' if activation == 'tanh' else 'dead (h = 0)'} "
                     "fraction at step 0" + ("" if activation == "tanh" else "\n(zero biases: the same units die at "
                                             "any weight scale, so three lines coincide)"), fontsize=9)
        ax = axes[row, 2]
        ax.barh(range(len(runs)), [a for _, a, _ in runs], color=[f"C{i}" for i in range(len(runs))])
        ax.set_yticks(range(len(runs)), [i for i, _, _ in runs], fontsize=8)
        ax.axvline(0.1, color="black", linestyle=":", linewidth=1)
        ax.set_xlim(0, 1)
        for i, (_, a, _) in enumerate(runs):
            ax.text(min(a + 0.02, 0.85), i, f"{a:.2f}", va="center", fontsize=8)
        ax.set_title(f"{activation}: held-out accuracy (dotted: chance)", fontsize=9)
    fig.suptitle("torch MLPs on digits under fi.monitor: the same SGD steps for every init", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--plot")
    args = parser.parse_args()
    torch.manual_seed(0)
    data = digits()
    results = {(a, i): run(a, i, data, args.steps) for a in NETS for i in INITS}
    print(f"{args.steps} SGD steps (lr 0.01, momentum 0.9, batch 64), seed 0")
    print(table(results))
    if args.plot:
        plot(results, args.plot)


if __name__ == "__main__":
    main()
