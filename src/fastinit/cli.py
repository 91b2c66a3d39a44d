"""The ``fastinit`` command: ``fastinit info`` and ``fastinit bench``."""
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
    args = parser.parse_args(argv)
    if getattr(args, "threads", None) is not None:
        try:
            fi.set_num_threads(args.threads)
        except (TypeError, ValueError) as exc:
            parser.error(str(exc))
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
