"""16-bit fills against float32 fills of the same count: 2**26 normal draws into float32, float16 and bfloat16
buffers (allocated and touched before timing), the three kinds interleaved, median of the rounds.

    python bench/fill16.py [--rounds 15] [--elements 67108864]
"""
import argparse
import statistics
import time

import numpy as np

import fastinit as fi


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--elements", type=int, default=1 << 26)
    args = ap.parse_args()
    n = args.elements
    buffers = {"float32": (np.ones(n, np.float32), None), "float16": (np.ones(n, np.float16), None),
               "bfloat16": (np.ones(n, np.uint16), "bfloat16")}
    gen = fi.Generator(0)
    times = {k: [] for k in buffers}
    for _ in range(args.rounds + 1):   # the first round warms up
        for name, (out, dtype) in buffers.items():
            t0 = time.perf_counter()
            gen.normal(out=out, dtype=dtype)
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v[1:]) for k, v in times.items()}
    print(f"normal fills of {n} values, {fi.get_num_threads()} threads, SIMD {fi._core.get_simd()}, "
          f"median of {args.rounds}:")
    for name, t in med.items():
        print(f"  {name:<9} {t * 1e3:7.2f} ms   {t / med['float32']:.3f}x the float32 time")


if __name__ == "__main__":
    main()
