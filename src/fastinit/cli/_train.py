"""``fastinit train`` (fi.train from the command line: one run, or several inits compared on one figure) and the
training options of ``fastinit sweep``."""
import json
import math

from ..experiment import _activations as activations
from ..experiment._trainability import init_value
from ._args import add_outputs, comma_list


def _data(text):
    """--data: "digits", or a .npz file with arrays X, y (and optionally X_test, y_test)."""
    if text == "digits" or not text.endswith(".npz"):
        return text   # (fi.train names an unknown data set)
    import zipfile

    import numpy as np

    try:
        with np.load(text) as f:
            if not hasattr(f, "files"):
                raise ValueError("it holds one array, not named arrays (np.save, not np.savez)")
            missing = {"X", "y"} - set(f.files)
            if missing:
                raise ValueError(f"it has no {', '.join(sorted(missing))} array (it holds "
                                 f"{', '.join(f.files) or 'nothing'})")
            names = ("X", "y", "X_test", "y_test") if "X_test" in f.files and "y_test" in f.files else ("X", "y")
            return tuple(f[name] for name in names)
    except OSError:
        raise   # (a missing or unreadable file: the command's one-line error)
    except (ValueError, zipfile.BadZipFile, EOFError) as exc:   # not an .npz, pickled object arrays, ...
        raise ValueError(f"--data: cannot read {text} as a .npz of arrays X, y [, X_test, y_test]: {exc}") from None


def _init_values(args):
    """--init / --compare as fi.train's init values; ValueError naming the option for an empty list or a
    sigma_w2=V whose V is not a number."""
    option = "--compare" if args.compare else "--init"
    labels = comma_list(args.compare) if args.compare else [args.init]
    if not labels:
        raise ValueError(f"{option} needs at least one init name, got {args.compare!r}")
    values = []
    for label in labels:
        try:
            values.append(init_value(label))
        except ValueError:
            raise ValueError(f"{option}: {label!r}: expected a scheme name or sigma_w2=<number>") from None
    return values


def _train_cmd(args):
    import fastinit as fi

    inits = _init_values(args)
    data = _data(args.data)
    results = []
    for init in inits:
        res = fi.train(depth=args.depth, width=args.width, activation=args.activation, init=init,
                       bias_std=args.bias_std, data=data, steps=args.steps, batch=args.batch, lr=args.lr,
                       momentum=args.momentum, weight_decay=args.weight_decay, seed=args.seed, loss=args.loss,
                       normalize=None if args.normalize == "none" else args.normalize, eval_every=args.eval_every,
                       record_every=args.record_every, dtype=args.dtype, progress=not args.no_progress)
        results.append(res)
        print(repr(res), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([_as_json(r) for r in results], f, indent=1)
        print(f"wrote {args.json}")
    if args.plot:
        fi.plot_training(results, args.plot)
        print(f"wrote {args.plot}")
    return 1 if any(r.diverged_step is not None for r in results) else 0


def _as_json(res):
    def plain(v):
        return None if isinstance(v, float) and math.isnan(v) else v

    return {"config": res.config, "summary": {k: plain(v) for k, v in res.summary().items()},
            "history": {k: [plain(x) for x in v.tolist()] for k, v in res.history.items()},
            "evaluations": {k: [plain(x) for x in v.tolist()] for k, v in res.evaluations.items()},
            "layers": {k: [[plain(x) for x in row] if isinstance(row, list) else row for row in v.tolist()]
                       for k, v in res.layers.items()}}


def add_train_parser(sub):
    p = sub.add_parser("train", help="train the engine's MLP with SGD: loss, accuracy, per-layer statistics",
                       description="Train depth hidden layers and a softmax readout on scikit-learn's digits (or "
                                   "your arrays) with SGD, e.g. fastinit train --depth 5 --activation relu "
                                   "--compare small_normal,xavier_normal,he_normal --plot curves.png")
    p.add_argument("--depth", type=int, default=10, help="hidden layers")
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--activation", default="tanh", help="one of " + ", ".join(activations.names()))
    p.add_argument("--init", default="xavier_normal", help="a scheme name, or sigma_w2=V for N(0, V / fan_in)")
    p.add_argument("--compare", metavar="INIT,INIT,...", help="train once per init (overrides --init); one figure")
    p.add_argument("--bias-std", type=float, default=0.0, help="random biases N(0, std^2) (default 0: zeros)")
    p.add_argument("--data", default="digits", help="digits (needs scikit-learn), or a .npz with X, y "
                                                    "[, X_test, y_test]")
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--loss", default="cross_entropy", choices=["cross_entropy", "mse"])
    p.add_argument("--normalize", default="standardize", choices=["standardize", "center", "minmax", "max", "none"])
    p.add_argument("--eval-every", type=int, help="held-out evaluation every N steps (default steps / 4)")
    p.add_argument("--record-every", type=int, help="per-layer statistics every N steps (default steps / 5)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--no-progress", action="store_true")
    add_outputs(p, json_help="also write the runs (history, evaluations, per-layer records) as JSON",
                plot_help="loss and accuracy curves of every run (needs matplotlib)")
    p.set_defaults(func=_train_cmd)
    return p


def add_sweep_training_options(p):
    """The options that make ``fastinit sweep`` train every configuration."""
    g = p.add_argument_group("training (fi.sweep(train=...)): train every configuration, one trainability row each")
    g.add_argument("--train-steps", type=int, metavar="N", help="train N SGD steps per configuration (--batch rows "
                                                                "each); without it the sweep simulates")
    g.add_argument("--lr", type=float, default=0.01)
    g.add_argument("--momentum", type=float, default=0.9)
    g.add_argument("--data", default="digits", help="a data set name (digits)")
    g.add_argument("--sigma-w2", metavar="V,V,...", help="weight variances N(0, V / fan_in) instead of --init")
    g.add_argument("--sigma-b2", default="0", metavar="V,V,...", help="random bias variances (training only)")


def sweep_training_kwargs(args):
    """fi.sweep's train, sigma_w2 and sigma_b2 from the options (init=None when --sigma-w2 replaces it)."""
    def floats(text, name):
        try:
            return [float(t) for t in comma_list(text)]
        except ValueError:
            raise ValueError(f"--{name}: expected numbers, got {text!r}") from None

    kw = {"sigma_b2": floats(args.sigma_b2, "sigma-b2")}
    if args.sigma_w2:
        kw["sigma_w2"] = floats(args.sigma_w2, "sigma-w2")
    if args.train_steps is not None:
        kw["train"] = dict(steps=args.train_steps, lr=args.lr, momentum=args.momentum, data=args.data)
    return kw
