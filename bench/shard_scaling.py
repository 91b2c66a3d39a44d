"""Per-rank work of sharded init: one rank's shard of a 2**28-element float32 tensor (16384 x 16384), filled at its
global offsets as a rank does (a row shard: one piece at its offset; a column shard: 16384 row pieces in one C call),
against the fill of the whole tensor, in one process, for N = 1, 2, 4, 8, 64 ranks. Normal draws, both cores,
buffers touched before timing, median of 5 (the whole: of 3).

    python bench/shard_scaling.py
"""
import statistics
import time

import numpy as np

import fastinit as fi

SIDE = 1 << 14


def median_time(fn, rounds):
    fn()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    g = fi.Generator(0)
    whole = np.ones((SIDE, SIDE), np.float32)
    t_whole = median_time(lambda: g.normal(out=whole, stream=0), 3)
    whole = None   # (its memory back before the shards)
    print(f"whole tensor 2**28 float32 normals: {t_whole * 1e3:.1f} ms")
    print(f"{'N':>3}  {'rows shard (ms)':>15}  {'x N / whole':>11}  {'columns shard (ms)':>18}  {'x N / whole':>11}")
    for n in (1, 2, 4, 8, 64):
        rows = np.ones((SIDE // n, SIDE), np.float32)
        rank = n - 1   # the last rank: the furthest offsets
        t_rows = median_time(lambda: g.normal(out=rows, stream=0, offset=rank * (SIDE // n) * SIDE), 5)
        cols = np.ones((SIDE, SIDE // n), np.float32)
        starts = np.arange(SIDE, dtype=np.uint64) * np.uint64(SIDE) + np.uint64(rank * (SIDE // n))
        t_cols = median_time(lambda: g.normal(out=cols, stream=0, row_offsets=starts), 5)
        print(f"{n:>3}  {t_rows * 1e3:>15.2f}  {t_rows * n / t_whole:>11.3f}  {t_cols * 1e3:>18.2f}  "
              f"{t_cols * n / t_whole:>11.3f}")


if __name__ == "__main__":
    main()
