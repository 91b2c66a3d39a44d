"""The ``fastinit`` command: ``fastinit info``, ``bench``, ``simulate``, ``sweep``, ``train`` and ``probe``."""
import argparse
import json
import platform
import sys

import numpy as np

import fastinit as fi

from .. import _core
from .._optional import require
from ..experiment import _activations as activations, _probe
from ..experiment._journal import JournalBusy, csv_path as journal_csv_path
from ..random import _threads
from . import bench as _bench
from ._args import add_outputs, check_writable, comma_list, parse_int_list
from ._train import add_sweep_training_options, add_train_parser, sweep_training_kwargs


def _info(args):
    torch = _bench.torch_or_none()
    lines = [
        ("fastinit", f"{fi.__version__} (distribution {fi.DISTRIBUTION}, {fi.__file__.rsplit('/', 1)[0]})"),
        ("python", platform.python_version()),
        ("numpy", np.__version__),
        ("torch", torch.__version__ if torch else "not installed"),
        ("SIMD path", f"{_core.get_simd()} (available: {', '.join(_core.simd_available())})"),
        ("OpenMP", "yes" if _core.have_openmp() else "no (serial build)"),
        ("threads", str(fi.get_num_threads())),
        ("stream format", "Philox4x32-10, curand-compatible mapping (README, \"Stream format\")"),
    ]
    if torch:   # which path each visible device's tensors get, and why
        from ..random import _backends

        devices = [torch.device("cpu")] + [torch.device("cuda", i) for i in range(torch.cuda.device_count())]
        for d in devices:
            path, why = _backends.device_path(d)
            lines.append((f"device {d}", f"{path}: {why}"))
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

    def timed(name, run):
        if run is None:
            print(f"  {name:<36} skipped (torch not installed)")
            return
        times[name] = _bench.best_time(run, repeat)
        print(f"  {name:<36} {times[name] * 1e3:9.2f} ms", flush=True)

    for name, factory in _bench.FILL_CASES.items():
        timed(name, factory(n))
    print("simulation benchmark: depth 10, width 500, batch 1000, tanh, Xavier, 50-bin histograms", flush=True)
    for name, factory in _bench.SIM_CASES.items():
        timed(name, factory())
    print()
    print(f"{'comparison':<56} {'speedup':>8}")
    rows = _bench.ratio_table(times, _bench.FILL_RATIOS + _bench.SIM_RATIOS)
    for label, ratio in rows:
        print(f"{label:<56} {'n/a' if ratio is None else f'{ratio:.2f}x':>8}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"elements": n, "repeat": repeat, "threads": fi.get_num_threads(),
                       "simd": _core.get_simd(), "seconds": times,
                       "ratios": [{"comparison": l, "speedup": r} for l, r in rows]}, f, indent=2)
        print(f"wrote {args.json}")
    if args.plot:
        _bench.plot_bench(rows, args.plot, title=f"fastinit bench{' --quick' if args.quick else ''}: "
                                         f"{fi.get_num_threads()} threads, SIMD {_core.get_simd()}")
        print(f"wrote {args.plot}")
    return 0




def _simulate_cmd(args):
    inits = comma_list(args.compare) if args.compare else [args.init]
    activations = comma_list(args.activation)
    if not inits or not activations:
        raise ValueError("--compare and --activation need at least one name")
    results = []
    for activation in activations:
        for init in inits:
            res = fi.simulate(depth=args.depth, width=args.width, batch=args.batch, activation=activation,
                                      init=init, bias=args.bias, batchnorm=args.batchnorm, backward=args.backward,
                                      bins=args.bins, seed=args.seed, dtype=args.dtype)
            print(repr(res), end="\n\n", flush=True)
            results.append(res)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([r.to_dict() for r in results] if len(results) > 1 else results[0].to_dict(), f)
        print(f"wrote {args.json}")
    if args.plot:
        from ..experiment._plotting import plot_results

        plot_results(results, args.plot, max_layers=args.max_layers)
        print(f"wrote {args.plot}")
    return 0


def _sweep_cmd(args):
    from ..experiment import _sweep as S

    bools = {"false": False, "true": True, "no": False, "yes": True, "0": False, "1": True}
    bn = []
    for t in comma_list(args.batchnorm):
        if t.lower() not in bools:
            raise ValueError(f"--batchnorm: expected true/false values, got {t!r}")
        bn.append(bools[t.lower()])
    executor, client = None, None
    if args.scheduler:
        Client = require("dask.distributed", "--scheduler", ValueError).Client
        try:
            client = Client(args.scheduler, timeout=args.scheduler_timeout)
        except (OSError, TimeoutError) as exc:
            raise ValueError(f"--scheduler: cannot reach {args.scheduler!r}: {exc}") from None
        executor = client.get_executor()
    try:
        res = S.sweep(depth=parse_int_list(args.depth, "depth"), width=parse_int_list(args.width, "width"),
                      activation=comma_list(args.activation), init=None if args.sigma_w2 else comma_list(args.init),
                      batchnorm=bn, batch=args.batch, **sweep_training_kwargs(args),
                      seeds=parse_int_list(args.seeds, "seeds"), backward=args.backward, out=args.out,
                      resume=not args.no_resume, executor=executor, workers=args.workers,
                      progress=not args.no_progress, share_prefixes=not args.no_share_prefixes,
                      retry_failed=not args.no_retry_failed)
    finally:
        if client is not None:
            client.close()
    print(repr(res))
    if args.out:
        print(f"{len(res)} rows ({len(res) - len(res.failed)} ok, {len(res.failed)} failed) in {args.out}")
    if args.plot:
        res.plot(args.plot)
        print(f"wrote {args.plot}")
    return 1 if res.failed else 0


def _set_value(text):
    """--set key=value: the value as a Python literal when it reads as one (numbers, lists, True), else a string."""
    import ast

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"--set: expected key=value, got {text!r}")
    try:
        return key.strip(), ast.literal_eval(value.strip())
    except (ValueError, SyntaxError):
        return key.strip(), value.strip()


def _first_line(exc):
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " ".join(lines[:3]) or type(exc).__name__


class _CommandFailed(Exception):
    """A command that cannot finish for a reason that is not a bad argument: one line, exit status 1."""


def _probe_model(spec, settings):
    """(model, kind) from MODULE:CALLABLE (any importable function returning a torch module) or hf:ConfigClass (a
    transformers model built from that config's defaults and --set values, no download)."""
    import importlib

    if spec.startswith("hf:"):
        transformers = require("transformers", "hf: models", ValueError)
        name = spec[3:]
        cls = getattr(transformers, name, None)
        if cls is None or not name.endswith("Config"):
            raise ValueError(f"hf:{name}: transformers has no config class {name!r} (e.g. hf:ResNetConfig, "
                             "hf:GPT2Config)")
        config = cls()
        for key, value in settings:
            if not hasattr(config, key):
                raise ValueError(f"--set {key}: {name} has no attribute {key!r}")
            try:
                setattr(config, key, value)
            except Exception as exc:   # noqa: BLE001 (transformers' validation: a str for an int field, ...)
                raise ValueError(f"--set {key}={value!r}: {name} refuses it: {_first_line(exc)}") from None
        try:
            return transformers.AutoModel.from_config(config), config
        except Exception as exc:   # noqa: BLE001 (a config the model cannot be built from, e.g. --set n_head=3)
            given = ", ".join(f"{k}={v!r}" for k, v in settings) or "its defaults"
            raise ValueError(f"--set: cannot build a model from {name} with {given}: "
                             f"{type(exc).__name__}: {_first_line(exc)}") from None
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"model: expected MODULE:CALLABLE or hf:ConfigClass, got {spec!r}")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"model: cannot load {spec!r}: {exc}") from None
    if not callable(factory):
        raise ValueError(f"model: {spec!r} is a {type(factory).__name__}, not a function returning a torch module")
    model = factory(**dict(settings))
    import torch

    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"model: {spec}() returned a {type(model).__name__}, not a torch.nn.Module")
    return model, None


def _probe_inputs(model, config, args):
    """N(0, 1) inputs of --input-shape, or for a transformers config: random token ids (text models) or N(0, 1)
    images (vision models) of a default shape."""
    import torch

    gen = fi.Generator(args.seed)
    shape = parse_int_list(args.input_shape, "input-shape") if args.input_shape else None
    if config is not None and hasattr(config, "vocab_size") and not hasattr(config, "num_channels"):
        shape = shape or [2, 64]
        ids = gen.uniform(tuple(shape), 0, config.vocab_size, dtype="float64").astype("int64")
        return {"input_ids": torch.from_numpy(ids)}
    if shape is None and config is not None and hasattr(config, "num_channels"):
        size = getattr(config, "image_size", 224)
        shape = [2, config.num_channels, size, size]
    if shape is None:
        raise ValueError("--input-shape is needed for MODULE:CALLABLE models, e.g. --input-shape 32,3,224,224")
    return torch.from_numpy(gen.normal(tuple(shape)))


def _probe_cmd(args):
    settings = [_set_value(t) for t in args.set or []]
    inits = comma_list(args.inits) if args.inits else None
    torch = _bench.torch_or_none()
    if torch is None:
        raise _CommandFailed("probe needs torch: pip install torch")
    torch.manual_seed(args.seed)   # the model's own init (the "default" row) is then the same on every run
    model, config = _probe_model(args.model, settings)
    model.eval()   # dropout off, batch norm on its running statistics (a fresh model: mean 0, var 1)
    inputs = _probe_inputs(model, config, args)
    try:
        res = fi.probe(model, inputs, backward=args.backward, bins=args.bins, seed=args.seed, inits=inits)
    except Exception as exc:
        if _probe.MODEL_ERROR_NOTE not in getattr(exc, "__notes__", ()):
            raise
        # the model's own error on these inputs (a shape that does not fit, a token id past the vocabulary)
        raise _CommandFailed(f"the model's forward pass raised {type(exc).__name__}: {exc} (check --input-shape "
                             "and --set)") from None
    print(repr(res))
    if args.json:
        with open(args.json, "w") as f:
            json.dump([r.to_dict() for r in res] if inits else res.to_dict(), f)
        print(f"wrote {args.json}")
    if args.plot:
        res.plot(args.plot, max_layers=args.max_layers)
        print(f"wrote {args.plot}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="fastinit", description="fast, reproducible weight initialization")
    parser.add_argument("--version", action="version",
                        version=f"fastinit {fi.__version__} (distribution {fi.DISTRIBUTION})")
    sub = parser.add_subparsers(dest="command", required=True)
    subparsers = sub.choices
    p = sub.add_parser("info", help="version, SIMD path, OpenMP, threads",
                       description="Print the distribution and version, the SIMD path in use and the ones this "
                                   "CPU and build have, OpenMP, the thread count and where it came from.")
    p.set_defaults(func=_info)
    p = sub.add_parser("bench", help="time the fills and a simulation against NumPy and PyTorch on this machine",
                       description="Time fastinit's fills, initializers and a simulation against NumPy (and "
                                   "PyTorch, if installed) on this machine and print the ratios; --quick takes "
                                   "a few seconds.")
    p.add_argument("--quick", action="store_true", help="2**22 elements instead of 2**26 (a few seconds)")
    add_outputs(p, json_help="also write the timings and ratios as JSON",
                 plot_help="a bar chart of the speedups (needs matplotlib)")
    p.set_defaults(func=_bench_cmd)
    p = sub.add_parser("simulate", help="a deep random MLP forward (and backward): per-layer statistics",
                       description="Propagate N(0, 1) inputs through depth random layers and print per-layer "
                                   "activation statistics, e.g. fastinit simulate --activation tanh "
                                   "--compare small_normal,normal,xavier_normal --plot layers.png")
    p.add_argument("--depth", type=int, default=10)
    p.add_argument("--width", type=int, default=500)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--activation", default="tanh",
                   help="one of " + ", ".join(activations.names()) + " (comma list: one run each)")
    p.add_argument("--init", default="xavier_normal", help="a scheme name (small_normal, normal, xavier_normal, "
                                                           "he_normal, lecun_normal, orthogonal, zeros, ...)")
    p.add_argument("--compare", metavar="INIT,INIT,...", help="run several inits (overrides --init); one figure")
    p.add_argument("--bias", type=float, default=0.0)
    p.add_argument("--batchnorm", action="store_true", help="batch-normalize every pre-activation")
    p.add_argument("--backward", action="store_true", help="also record the gradient statistics")
    p.add_argument("--bins", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--max-layers", type=int, default=10, help="histogram columns in the figure")
    add_outputs(p, json_help="also write the results as JSON",
                 plot_help="save histograms + std vs depth (needs matplotlib)")
    p.set_defaults(func=_simulate_cmd)
    p = sub.add_parser("sweep", help="a grid of simulations: final std, saturation, gradients, theory per row",
                       description="Run every combination of depths, widths, activations and inits, one CSV row "
                                   "each (appended as they finish; rerun to resume), e.g. fastinit sweep --depth "
                                   "2:50:4 --width 64,256 --activation tanh,relu --init xavier_normal,he_normal "
                                   "--out sweep.csv --plot sweep.png")
    p.add_argument("--depth", default="10", help="'1:100' (inclusive), '2:100:4' or '5,10,20'")
    p.add_argument("--width", default="500", help="'64,256,1024' or a range")
    p.add_argument("--activation", default="tanh", help="comma list")
    p.add_argument("--init", default="xavier_normal", help="comma list of scheme names")
    p.add_argument("--batchnorm", default="false", help="comma list of true/false")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--seeds", default="0", help="comma list or range")
    p.add_argument("--backward", action="store_true", help="also record the gradient ratio")
    p.add_argument("--out", metavar="CSV", help="append rows here (resumable)")
    p.add_argument("--no-resume", action="store_true", help="start --out over instead of skipping its rows")
    p.add_argument("--no-retry-failed", action="store_true",
                   help="on resume, keep the rows recorded as failed instead of running them again")
    p.add_argument("--plot", metavar="PATH", help="heatmaps and std-vs-depth curves (needs matplotlib)")
    p.add_argument("--workers", type=int, help="local parallel configurations (default: one per CPU)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="a dask.distributed scheduler, e.g. tcp://host:8786")
    p.add_argument("--scheduler-timeout", type=float, default=30.0, metavar="SECONDS",
                   help="how long to try to reach --scheduler (default 30)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--no-share-prefixes", action="store_true",
                   help="one simulation per configuration instead of one per depth series (same rows, slower)")
    add_sweep_training_options(p)
    p.set_defaults(func=_sweep_cmd)
    add_train_parser(sub)
    p = sub.add_parser("probe", help="per-module activation (and gradient) statistics of a real torch model",
                       description="One forward (and backward) pass of a model, in eval mode (no dropout; batch "
                                   "norm uses its running statistics), with every leaf module's output "
                                   "recorded, e.g. fastinit probe hf:ResNetConfig --backward --plot probe.png, or "
                                   "fastinit probe mypkg.models:build --input-shape 32,3,224,224")
    p.add_argument("model", help="MODULE:CALLABLE (a function returning a torch.nn.Module) or hf:ConfigClass (a "
                                 "transformers model from that config's defaults)")
    p.add_argument("--input-shape", metavar="N,C,H,W", help="shape of the N(0, 1) input (token ids for text models: "
                                                             "batch,length; default 2,64)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="a config attribute (hf:) or a keyword argument of CALLABLE; repeatable")
    p.add_argument("--backward", action="store_true", help="also record the gradients")
    p.add_argument("--inits", metavar="INIT,INIT,...",
                   help="compare initializations: default (the model's own) and scheme names")
    p.add_argument("--bins", type=int, default=50)
    p.add_argument("--seed", type=int, default=0, help="seeds torch (default 0) before the model is built (its own "
                                                         "init, the 'default' row) and fastinit's inits and inputs")
    p.add_argument("--max-layers", type=int, default=6, help="histogram columns in the figure")
    add_outputs(p, json_help="also write the rows as JSON", plot_help="save the figure (needs matplotlib)")
    p.set_defaults(func=_probe_cmd)
    args, extra = parser.parse_known_args(argv)
    # errors found in the arguments are reported with the usage of the subcommand given (a misspelt option too:
    # argparse alone names it under the top-level usage, which lists no option of the subcommand)
    usage = subparsers[args.command] if getattr(args, "command", None) in subparsers else parser
    if extra:
        usage.error(f"unrecognized arguments: {' '.join(extra)}")
    if getattr(args, "threads", None) is not None:
        if not 1 <= args.threads <= _threads.MAX_THREADS:
            usage.error(f"--threads must be in [1, {_threads.MAX_THREADS}], got {args.threads}")
        fi.set_num_threads(args.threads)
    if getattr(args, "max_layers", None) is not None and args.max_layers < 1:
        usage.error(f"--max-layers must be >= 1, got {args.max_layers}")
    if getattr(args, "scheduler_timeout", None) is not None and not args.scheduler_timeout > 0:
        usage.error(f"--scheduler-timeout must be > 0 seconds, got {args.scheduler_timeout}")
    if args.command in ("simulate", "sweep", "train", "bench", "probe") and args.plot:
        from ..experiment._plotting import pyplot
        try:   # before the work: a missing matplotlib or an unwritable path should not cost the user a long run
            pyplot()
        except ImportError as exc:
            usage.error(str(exc))
        check_writable(usage, "--plot", args.plot)
    if getattr(args, "json", None):
        check_writable(usage, "--json", args.json)
    try:
        return args.func(args)
    except (TypeError, ValueError) as exc:
        usage.error(str(exc))
    except (JournalBusy, OSError, _CommandFailed) as exc:   # another sweep on --out, a full disk: one line
        print(f"fastinit {args.command}: {exc}", file=sys.stderr)
        return 1
    except MemoryError as exc:   # a size this machine cannot hold (--width 50000000): one line, not a traceback
        print(f"fastinit {args.command}: out of memory ({str(exc) or 'no details'}); try smaller sizes",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if args.command == "sweep" and args.out:
            print(f"\ninterrupted: the finished rows are in {journal_csv_path(args.out)}; run the same command "
                  "again to resume", file=sys.stderr)
        else:
            print("\ninterrupted", file=sys.stderr)
        return 130

