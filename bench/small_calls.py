"""Per-call cost of fills on small tensors, where the Python layers dominate: a (256,) bias and a 64x64 weight.

    python bench/small_calls.py [--calls 2000] [--rounds 7]

Times, per call (microseconds, the best round of ``--rounds``, each round ``--calls`` calls):
- ``fi.init.uniform_(t, -b, b)`` (the public initializer: meta wrapper, argument checks, target, fill);
- ``t.uniform_(-b, b)`` inside ``fi.fast_init()`` (what a model constructor pays for each bias);
- ``nn.init.kaiming_uniform_(w, a=sqrt(5))`` inside ``fi.fast_init()`` (each Linear weight);
- torch's own ``t.uniform_`` and ``nn.init.kaiming_uniform_`` (the peer, the same run).
"""
import argparse
import math
import time

import torch

import fastinit as fi


def per_call(fn, calls, rounds):
    best = math.inf
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, time.perf_counter() - start)
    return best / calls * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    bias, weight = torch.empty(256), torch.empty(64, 64)
    rows = []
    for name, t in (("(256,)", bias), ("64x64", weight)):
        rows.append((f"fi.init.uniform_ {name}", per_call(lambda: fi.init.uniform_(t, -0.1, 0.1),
                                                           args.calls, args.rounds)))
        with fi.fast_init(seed=0):
            rows.append((f"Tensor.uniform_ {name} under fast_init",
                         per_call(lambda: t.uniform_(-0.1, 0.1), args.calls, args.rounds)))
            if t.dim() == 2:
                rows.append((f"nn.init.kaiming_uniform_ {name} under fast_init",
                             per_call(lambda: torch.nn.init.kaiming_uniform_(t, a=math.sqrt(5)), args.calls,
                                      args.rounds)))
        rows.append((f"torch Tensor.uniform_ {name}", per_call(lambda: t.uniform_(-0.1, 0.1), args.calls, args.rounds)))
        if t.dim() == 2:
            rows.append((f"torch nn.init.kaiming_uniform_ {name}",
                         per_call(lambda: torch.nn.init.kaiming_uniform_(t, a=math.sqrt(5)), args.calls,
                                  args.rounds)))
    print(f"| call | us per call (best of {args.rounds} x {args.calls}) |")
    print("|---|---|")
    for name, us in rows:
        print(f"| {name} | {us:.2f} |")


if __name__ == "__main__":
    main()
