"""Schoenholz et al.'s trainability experiment on scikit-learn's digits: train random tanh networks over a grid of
depth x sigma_w^2 (sigma_b^2 = 0.05) with SGD, and test the law "a network trains when its depth is below k xi_c"
(xi_c the theory's correlation depth scale, ``fi.theory.depth_scales``; the paper's k is about 6 after long training).

    python bench/trainability.py [--steps 300,1500] [--lr 0.001] [--out trainability.csv] [--plot docs/trainability.png]

For every step budget: one training sweep (``fi.sweep(train=...)``: resumable, rows in --out, one CSV per budget),
the k that makes the most cells agree with "trained" (held-out accuracy > 0.5; chance is 0.1), how many agree, and
the cells that do not, each with what sets it apart; the heatmap of the last budget with 6 xi_c and k xi_c on it.
--quick: a 3 x 3 grid and 20 steps (what the tests run to check the script end to end).
"""
import argparse
import math
import os
import time

import fastinit as fi

SIGMA_W2 = (1.0, 1.25, 1.5, 1.65, 1.76, 1.9, 2.0, 2.25, 2.5, 3.0, 3.5, 4.0)
DEPTHS = (2, 4, 6, 8, 10, 15, 20, 30, 40, 60, 80)
SIGMA_B2 = 0.05
WIDTH, BATCH, MOMENTUM = 128, 64, 0.9


def why(cell, critical):
    """What sets a cell that disagrees with the law apart."""
    sw2 = float(cell["init"].split("=")[1])
    side = "ordered" if sw2 < critical else "chaotic"
    if cell["predicted"]:
        return (f"predicted to train (depth {cell['depth']} < k xi_c = k x {cell['xi_c']:.3g}) but reached "
                f"{cell['test_accuracy']:.2f}: {side} side, sigma_w^2 = {sw2}")
    return (f"trained ({cell['test_accuracy']:.2f}) beyond k xi_c (depth {cell['depth']}, xi_c {cell['xi_c']:.3g}): "
            f"{side} side, sigma_w^2 = {sw2}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", default="300,1500", help="comma list of step budgets")
    ap.add_argument("--out", default="trainability.csv", help="the sweep's CSV (budget N: <stem>-N.csv)")
    ap.add_argument("--plot", default=os.path.join("docs", "trainability.png"))
    ap.add_argument("--lr", type=float, default=0.001, help="SGD learning rate (default 0.001: at 0.005 networks of "
                                                            "60 layers fail at every sigma_w^2, the step too large)")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    sigma_w2, depths = (SIGMA_W2, DEPTHS) if not args.quick else ((1.0, 1.76, 3.0), (2, 4, 8))
    budgets = [20] if args.quick else [int(s) for s in args.steps.split(",")]
    critical = fi.theory.critical_sigma_w2("tanh", SIGMA_B2)
    print(f"tanh, sigma_b^2 = {SIGMA_B2} (order-to-chaos boundary at sigma_w^2 = {critical:.4f}), width {WIDTH}, "
          f"batch {BATCH}, SGD lr {args.lr} momentum {MOMENTUM}, digits (1,257 training / 540 held-out rows)")
    print("xi_c: " + ", ".join(f"{s}: {fi.theory.depth_scales('tanh', s, SIGMA_B2).xi_c:.3g}" for s in sigma_w2))
    stem, ext = os.path.splitext(args.out)
    result = None
    for steps in budgets:
        start = time.perf_counter()
        result = fi.sweep(depth=depths, width=WIDTH, activation="tanh", sigma_w2=sigma_w2, sigma_b2=SIGMA_B2,
                          batch=BATCH, train=dict(steps=steps, lr=args.lr, momentum=MOMENTUM),
                          out=f"{stem}-{steps}{ext}",
                          workers=args.workers, progress=not args.quick)
        seconds = time.perf_counter() - start
        fit = result.trainability(0.5)
        trained = sum(r["test_accuracy"] > 0.5 for r in result.rows)
        print(f"\n{steps} steps: {len(result)} cells ({len(result.failed)} failed), {trained} trained "
              f"(held-out accuracy > 0.5), {seconds:.0f} s for the sweep (rows already in the CSV are not rerun)")
        print(f"  fitted k = {fit['k']:.3g}: {fit['agree']} of {fit['cells']} cells agree with depth < k xi_c "
              f"({100 * fit['agree'] / fit['cells']:.0f}%)")
        for cell in sorted(fit["disagree"], key=lambda c: (c["init"], c["depth"])):
            print("   - " + why(cell, critical))
        print("  held-out accuracy, rows depth, columns sigma_w^2:")
        print("  " + "depth".rjust(5) + "".join(f"{s:>6}" for s in sigma_w2))
        for d in depths:
            accs = {float(r["init"].split("=")[1]): r["test_accuracy"] for r in result.rows if r["depth"] == d}
            print("  " + f"{d:>5}" + "".join(f"{accs.get(s, math.nan):>6.2f}" for s in sigma_w2))
    if args.plot:
        result.plot(args.plot)
        print(f"\nwrote {args.plot}")


if __name__ == "__main__":
    main()
