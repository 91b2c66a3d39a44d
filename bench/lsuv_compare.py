"""fastinit.init.lsuv_ against the lsuv package (PyPI 0.3.0, `pip install --no-deps lsuv`) on the same models and
batch: the time of the whole init (median and range of 5 runs) and the largest |std - 1| of the layers' outputs
afterwards, measured by hooks of our own in eval mode.

    python bench/lsuv_compare.py
"""
import statistics
import sys
import time

import torch
from torch import nn

import fastinit as fi


def mlp(depth=20, width=512):
    torch.manual_seed(0)
    layers = [m for _ in range(depth) for m in (nn.Linear(width, width), nn.Tanh())]
    return nn.Sequential(*layers, nn.Linear(width, 10)), torch.randn(512, width)


def cnn():
    torch.manual_seed(0)
    layers = [nn.Conv2d(3, 32, 3, padding=1), nn.ReLU()]
    for _ in range(7):
        layers += [nn.Conv2d(32, 32, 3, padding=1), nn.ReLU()]
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(32 * 16 * 16, 10)), torch.randn(64, 3, 16, 16)


def worst_deviation(model, x):
    stds = []
    hooks = [m.register_forward_hook(lambda mod, a, out: stds.append(float(out.double().std())) and None)
             for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    model.eval()
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return max(abs(s - 1) for s in stds)


def main():
    try:
        import lsuv
    except ImportError:
        sys.exit("the lsuv package is not installed: pip install --no-deps lsuv")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} torch threads")
    for label, make in (("tanh MLP 20 x 512, batch 512", mlp), ("ReLU CNN 8 conv 32ch 16x16, batch 64", cnn)):
        times = {"fastinit.init.lsuv_": [], "lsuv.lsuv_with_singlebatch": []}
        worst = {}
        for _ in range(5):
            for name, run in (("fastinit.init.lsuv_", lambda m, x: fi.init.lsuv_(m, x, tol=0.1)),
                              ("lsuv.lsuv_with_singlebatch",
                               lambda m, x: lsuv.lsuv_with_singlebatch(m, x, std_tol=0.1, verbose=False))):
                model, x = make()
                t = time.perf_counter()
                run(model, x)
                times[name].append(time.perf_counter() - t)
                worst[name] = worst_deviation(model, x)
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"{label}:")
        for k, v in times.items():
            print(f"  {k:28s} {med[k] * 1e3:8.1f} ms ({min(v) * 1e3:.1f}-{max(v) * 1e3:.1f}), "
                  f"largest |std - 1| after: {worst[k]:.3f}")
        print(f"  ratio lsuv / fastinit: {med['lsuv.lsuv_with_singlebatch'] / med['fastinit.init.lsuv_']:.2f}x")


if __name__ == "__main__":
    main()
