"""The ``fastinit`` command: ``fastinit info``, ``fastinit bench`` and ``fastinit simulate``."""
import argparse
import json
import platform
import sys

import numpy as np

import fastinit as fi
from fastinit import _bench, _core


def _info(args):
    torch = _bench._torch()
    lines = [
        ("fastinit", fi.__version__),
        ("python", platform.python_version()),
        ("numpy", np.__version__),
        ("torch", torch.__version__ if torch else "not installed"),
        ("SIMD path", f"{_core.get_simd()} (available: {', '.join(_core.simd_available())})"),
        ("OpenMP", "yes" if _core.have_openmp() else "no (serial build)"),
        ("threads", str(fi.get_num_threads())),
        ("stream format", "Philox4x32-10, DESIGN.md mapping (see README)"),
    ]
    width = max(len(k) for k, _ in lines)
    for k, v in lines:
        print(f"{k:<{width}}  {v}")
    return 0


def _bench_cmd(args):
    n = 1 << (22 if args.quick else 26)
    repeat = 3 if args.quick else 5
    print(f"fill benchmark: {n} elements (2**{n.bit_length() - 1}), best of {repeat}, "
          f"{fi.get_num_threads()} threads, SIMD {_core.get_simd()}", flush=True)
    times = {}
    for name, factory in _bench.FILL_CASES.items():
        run = factory(n)
        if run is None:
            print(f"  {name:<32} skipped (torch not installed)")
            continue
        times[name] = _bench.best_time(run, repeat)
        print(f"  {name:<32} {times[name] * 1e3:9.2f} ms", flush=True)
    print()
    print(f"{'comparison':<44} {'speedup':>8} {'target':>8}")
    rows = _bench.ratio_table(times)
    for label, ratio, target in rows:
        r = "n/a" if ratio is None else f"{ratio:.2f}x"
        t = "" if target is None else f">= {target:g}x"
        print(f"{label:<44} {r:>8} {t:>8}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"elements": n, "repeat": repeat, "threads": fi.get_num_threads(),
                       "simd": _core.get_simd(), "seconds": times,
                       "ratios": [{"comparison": l, "speedup": r, "target": t} for l, r, t in rows]}, f, indent=2)
        print(f"wrote {args.json}")
    return 0


def _csv(text):
    return [t.strip() for t in text.split(",") if t.strip()]


def _simulate_cmd(args):
    from . import simulation

    inits = _csv(args.compare) if args.compare else [args.init]
    activations = _csv(args.activation)
    if not inits or not activations:
        raise ValueError("--compare and --activation need at least one name")
    results = []
    for activation in activations:
        for init in inits:
            res = simulation.simulate(depth=args.depth, width=args.width, batch=args.batch, activation=activation,
                                      init=init, bias=args.bias, batchnorm=args.batchnorm, backward=args.backward,
                                      bins=args.bins, seed=args.seed, dtype=args.dtype)
            print(repr(res), end="\n\n", flush=True)
            results.append(res)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([r.to_dict() for r in results] if len(results) > 1 else results[0].to_dict(), f)
        print(f"wrote {args.json}")
    if args.plot:
        from .plotting import plot_results

        plot_results(results, args.plot, max_layers=args.max_layers)
        print(f"wrote {args.plot}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="fastinit", description="fast, reproducible weight initialization")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="version, SIMD path, OpenMP, threads")
    p.set_defaults(func=_info)
    p = sub.add_parser("bench", help="time the fills against NumPy and PyTorch on this machine")
    p.add_argument("--quick", action="store_true", help="2**22 elements instead of 2**26 (a few seconds)")
    p.add_argument("--json", metavar="PATH", help="also write the timings and ratios as JSON")
    p.add_argument("--threads", type=int, help="threads for fastinit (default: all CPUs this process may use)")
    p.set_defaults(func=_bench_cmd)
    p = sub.add_parser("simulate", help="a deep random MLP forward (and backward): per-layer statistics",
                       description="Propagate N(0, 1) inputs through depth random layers and print per-layer "
                                   "activation statistics, e.g. fastinit simulate --activation tanh "
                                   "--compare small_normal,normal,xavier_normal --plot layers.png")
    p.add_argument("--depth", type=int, default=10)
    p.add_argument("--width", type=int, default=500)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--activation", default="tanh",
                   help="one of " + ", ".join(("linear", "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu",
                                                "selu", "gelu", "silu", "softplus")) + " (comma list: one run each)")
    p.add_argument("--init", default="xavier_normal", help="a scheme name (small_normal, normal, xavier_normal, "
                                                           "he_normal, lecun_normal, orthogonal, zeros, ...)")
    p.add_argument("--compare", metavar="INIT,INIT,...", help="run several inits (overrides --init); one figure")
    p.add_argument("--bias", type=float, default=0.0)
    p.add_argument("--batchnorm", action="store_true", help="batch-normalize every pre-activation")
    p.add_argument("--backward", action="store_true", help="also record the gradient statistics")
    p.add_argument("--bins", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--plot", metavar="PATH", help="save histograms + std vs depth (needs matplotlib)")
    p.add_argument("--max-layers", type=int, default=10, help="histogram columns in the figure")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    p.add_argument("--threads", type=int, help="threads for fastinit (default: all CPUs this process may use)")
    p.set_defaults(func=_simulate_cmd)
    args = parser.parse_args(argv)
    if getattr(args, "threads", None) is not None:
        try:
            fi.set_num_threads(args.threads)
        except (TypeError, ValueError) as exc:
            parser.error(str(exc))
    if args.command == "simulate" and args.plot:
        from .plotting import _pyplot
        try:   # before the work: a missing matplotlib should not cost the user a long run
            _pyplot()
        except ImportError as exc:
            parser.error(str(exc))
    try:
        return args.func(args)
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))


if __name__ == "__main__":
    sys.exit(main())
