"""One training step of fi.train's engine (forward, backward, SGD update) against its bare matrix products and
against the same loop in PyTorch eager, on the CPU, in one run.

    python bench/train_step.py [--rounds 7] [--steps 30]

Shapes: width 512, batch 256, depth 10 (the products dominate) and width 128, batch 64, depth 40 (per-operation
overheads dominate). The network: `depth` tanh layers of `width` units on `width` inputs, a linear readout to 10
classes, softmax cross-entropy, SGD with momentum 0.9. Per shape, milliseconds per step (the best round of
--rounds, each round --steps steps):
- fastinit: ``_Net.step`` as fi.train runs it (the C layer steps, the C SGD update);
- GEMM floor: the 3 products per layer alone (P = H W^T, dW = G^T H, dH = G W), through the same BLAS that the
  engine calls (SciPy's), from Python (scipy.linalg.blas.sgemm into preallocated outputs);
- torch: nn.Sequential(Linear, Tanh, ..., Linear), CrossEntropyLoss, backward, optim.SGD.step, zero_grad.
"""
import argparse
import math
import time

import numpy as np

import fastinit as fi
from fastinit.experiment import _init_arg as weights, _training as training

SHAPES = ((512, 256, 10), (128, 64, 40))
CLASSES = 10


def best_ms(fn, steps, rounds):
    fn()
    best = math.inf
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(steps):
            fn()
        best = min(best, time.perf_counter() - t)
    return best / steps * 1e3


def engine(width, batch, depth):
    widths = (width,) + (width,) * depth + (CLASSES,)
    net = training._Net(widths, "tanh", 0.0, weights.resolve("xavier_normal"), 0.0, 0.0, 0, np.dtype(np.float32))
    x = fi.Generator(1).normal((batch, width))
    y = (np.arange(batch) % CLASSES).astype(np.int64)
    P, H, G = net.work_buffers(batch)
    return lambda: net.step(x, y, "cross_entropy", 0.01, 0.9, 0.0, P, H, G)


def gemm_floor(width, batch, depth):
    from scipy.linalg.blas import sgemm

    gen = fi.Generator(2)
    h = gen.normal((batch, width))
    Ws = [gen.normal((width, width)) for _ in range(depth)] + [gen.normal((CLASSES, width))]
    outs = [(np.empty((batch, W.shape[0]), np.float32), np.empty((W.shape[0], width), np.float32),
             np.empty((batch, width), np.float32)) for W in Ws]
    g = [gen.normal((batch, W.shape[0])) for W in Ws]

    def run():
        # the engine's calls: row-major arrays as their transposes in column-major BLAS terms (no copies)
        for W, (p, gw, gi), gg in zip(Ws, outs, g):
            sgemm(1.0, W.T, h.T, trans_a=True, c=p.T, overwrite_c=True)     # P = H W^T
            sgemm(1.0, h.T, gg.T, trans_b=True, c=gw.T, overwrite_c=True)   # dW = G^T H
            sgemm(1.0, W.T, gg.T, c=gi.T, overwrite_c=True)                 # dH = G W
    return run


def torch_loop(width, batch, depth):
    import torch

    layers = []
    for _ in range(depth):
        layers += [torch.nn.Linear(width, width), torch.nn.Tanh()]
    model = torch.nn.Sequential(*layers, torch.nn.Linear(width, CLASSES))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss = torch.nn.CrossEntropyLoss()
    x = torch.from_numpy(fi.Generator(1).normal((batch, width)))
    y = torch.arange(batch) % CLASSES

    def run():
        opt.zero_grad()
        loss(model(x), y).backward()
        opt.step()
    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--steps", type=int, default=30)
    args = ap.parse_args()
    import torch

    print(f"fastinit threads {fi.get_num_threads()}, torch threads {torch.get_num_threads()}")
    print("| width | batch | depth | fastinit ms/step | GEMM floor ms | fastinit / floor | torch ms/step | "
          "torch / fastinit |")
    print("|---|---|---|---|---|---|---|---|")
    for width, batch, depth in SHAPES:
        ours = best_ms(engine(width, batch, depth), args.steps, args.rounds)
        floor = best_ms(gemm_floor(width, batch, depth), args.steps, args.rounds)
        theirs = best_ms(torch_loop(width, batch, depth), args.steps, args.rounds)
        print(f"| {width} | {batch} | {depth} | {ours:.3f} | {floor:.3f} | {ours / floor:.2f} | {theirs:.3f} | "
              f"{theirs / ours:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
