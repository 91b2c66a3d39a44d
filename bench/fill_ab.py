"""Best-of-N time of the three fills of 2**22 float32 values into one buffer (no allocation in the loop), for A/B
runs of two trees on a noisy host: run it alternately under each tree and compare the minima.

    PYTHONPATH=/path/to/tree/src python bench/fill_ab.py LABEL [--rounds 200]
"""
import argparse
import time

import numpy as np

import fastinit as fi


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("label")
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    buf = np.empty(1 << 22, np.float32)
    g = fi.Generator(0)
    fills = {"uniform": lambda: g.uniform(out=buf), "normal": lambda: g.normal(out=buf),
             "truncated_normal": lambda: g.truncated_normal(out=buf)}
    best = {}
    for name, fill in fills.items():
        best[name] = min(_timed(fill) for _ in range(args.rounds)) * 1e3
    print(args.label, " ".join(f"{k}={v:.3f}ms" for k, v in best.items()), f"threads={fi.get_num_threads()}")


def _timed(fill):
    start = time.perf_counter()
    fill()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
