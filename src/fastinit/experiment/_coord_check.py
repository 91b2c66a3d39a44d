"""The coordinate check of Yang et al. 2021 (Tensor Programs V, "Tuning Large Neural Networks via Zero-Shot
Hyperparameter Transfer", section 5 / appendix D): does a parametrization keep each layer's activations the same
size as the model gets wider?

    res = fi.coord_check(make_model, widths=[64, 128, 256, 512, 1024], data=(X, y), steps=5,
                         optimizer=torch.optim.Adam, lr=1e-2, seeds=range(3))
    print(res.slopes())          # per module and step: d log(size) / d log(width)
    res.plot("coord.png")        # size against width, log-log, a panel per step

Each (width, seed) run builds ``make_model(width)`` under ``fastinit.fast_init(seed=seed)``, trains ``steps``
optimizer steps on the same batches and records, through ``fastinit.monitor``, each module's coordinate size: the
mean |activation| of its output in the forward pass of every step (step 0 is the model at init; step t has had t
updates). In the standard parametrization under Adam the sizes grow with the width after a step or two (the
readout's slope near 1); in muP they stay flat. The runs are independent: they go to an executor as
``fastinit.sweep``'s configurations do, and their rows to a resumable CSV journal.
"""
import concurrent.futures as cf
import dataclasses
import math
import os
import time

import numpy as np

from .. import _validate as V
from .._optional import require
from ..random import _threads
from . import _journal
from ._progress import Progress
from ._sweep import check_executor

__all__ = ["coord_check", "CoordCheckResult", "SCHEMA"]

SCHEMA = _journal.Schema([("width", int), ("seed", int), ("step", int), ("module", str), ("type", str),
                          ("size", float), ("std", float), ("status", str), ("error", str), ("wall_s", float)],
                         "coordinate check")
COLUMNS = SCHEMA.columns


def _torch():
    return require("torch", "fastinit.coord_check")


def _as_tensor(torch, a, name):
    if isinstance(a, torch.Tensor):
        return a
    a = np.asarray(a)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be a numeric array, got dtype {a.dtype}")
    return torch.from_numpy(np.ascontiguousarray(a.astype(np.float32) if a.dtype.kind == "f" else a))


def _check_data(torch, data, batch):
    """The data as arrays (X, y) split into consecutive batches of ``batch`` rows, cycled; or an iterable of
    (x, y) batches (a DataLoader), cycled. Checked once, here."""
    if isinstance(data, tuple) and len(data) == 2 and not isinstance(data[0], tuple):
        X, y = _as_tensor(torch, data[0], "data[0] (X)"), _as_tensor(torch, data[1], "data[1] (y)")
        if X.ndim < 1 or X.shape[0] == 0 or y.shape[:1] != X.shape[:1]:
            raise ValueError(f"data must be (X, y) with the same number of rows > 0, got shapes {tuple(X.shape)} "
                             f"and {tuple(y.shape)}")
        if X.dtype.is_floating_point and X.dtype != torch.float32:
            X = X.float()
        return ("arrays", X, y)
    if hasattr(data, "__iter__") and not isinstance(data, (str, bytes, dict)):
        return ("batches", data, None)
    raise TypeError(f"data must be arrays (X, y) or an iterable of (x, y) batches such as a DataLoader, got "
                    f"{type(data).__name__}")


def _batches(spec, batch, steps):
    kind, a, b = spec
    if kind == "arrays":
        n = a.shape[0]
        for t in range(steps):
            idx = [(t * batch + i) % n for i in range(min(batch, n))]
            yield a[idx], b[idx]
        return
    made = 0
    while made < steps:
        empty = True
        for item in a:
            empty = False
            if not (isinstance(item, (tuple, list)) and len(item) == 2):
                raise TypeError(f"data: each batch must be a pair (x, y), got {type(item).__name__}")
            yield item
            made += 1
            if made == steps:
                return
        if empty:
            raise ValueError("data: the iterable of batches is empty")


def _default_loss(torch, out, y):
    if not y.dtype.is_floating_point:
        return torch.nn.functional.cross_entropy(out, y)
    return torch.nn.functional.mse_loss(out, y.reshape(out.shape).to(out.dtype))


def _build(torch, make_model, width):
    model = make_model(width)
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"make_model({width}) must return a torch.nn.Module, got {type(model).__name__}")
    return model


def _train(torch, make_model, width, seed, spec, steps, optimizer, lr, modules, batch, loss):
    """Build and train one model under a monitor of its coordinate sizes; the monitor's rows."""
    from ..torch import fast_init
    from ._monitor import Monitor

    torch.manual_seed(seed)   # (what the model's code draws from torch's own generator: dropout)
    with fast_init(seed=seed):
        model = _build(torch, make_model, width)
    model.train()
    opt = optimizer(model.parameters(), lr=lr)
    mon = Monitor(model, every=1, modules=modules, grads=False, updates=False, bins=1, abs_mean=True, params=False)
    with mon:
        for x, y in _batches(spec, batch, steps):
            out = model(x)
            value = loss(out, y) if loss is not None else _default_loss(torch, out, y)
            opt.zero_grad()
            value.backward()
            opt.step()
    if mon.step_index != steps:
        raise RuntimeError(f"{steps} steps were run but the monitor saw {mon.step_index} optimizer steps: "
                           "optimizer must step the model's parameters")
    return mon.result.rows


def run(make_model, width, seed, spec, steps, optimizer, lr, modules, batch, loss, pin=False):
    """The rows of one (width, seed) run (module-level, so that process pools and dask can ship it). Never raises:
    a failure is one row with status "failed" (step -1) and the error."""
    torch = _torch()
    if pin:   # a local process pool's worker: one thread per run, the runs in parallel
        _threads.pin_process()
        torch.set_num_threads(1)
    t0 = time.perf_counter()
    try:
        with torch.random.fork_rng(devices=[]):   # the caller's torch generator is left as it was
            rows = _train(torch, make_model, width, seed, spec, steps, optimizer, lr, modules, batch, loss)
    except Exception as exc:   # noqa: BLE001 - a failed run is a row, the check goes on
        return [{"width": width, "seed": seed, "step": -1, "module": "", "type": "", "size": math.nan,
                 "std": math.nan, "status": "failed", "error": f"{type(exc).__name__}: {exc}",
                 "wall_s": time.perf_counter() - t0}]
    seconds = time.perf_counter() - t0
    return [{"width": width, "seed": seed, "step": r["step"], "module": r["name"], "type": r["type"],
             "size": r["abs_mean"], "std": r["std"], "status": "ok", "error": "", "wall_s": seconds}
            for r in rows]


def _check_model(torch, make_model, width, modules):
    """make_model and modules fail here, once, with their names, not as a failed row per run: the narrowest model
    is built (and dropped) and the modules are selected in it."""
    from ._probe import select_modules

    with torch.random.fork_rng(devices=[]):   # (its init draws leave the caller's generator as it was)
        model = _build(torch, make_model, width)
    select_modules(model, modules)


def _slope(widths, sizes):
    """Least-squares slope of log(size) against log(width); NaN with fewer than two positive sizes."""
    ok = (sizes > 0) & np.isfinite(sizes)
    if ok.sum() < 2:
        return math.nan
    return float(np.polyfit(np.log(widths[ok]), np.log(sizes[ok]), 1)[0])


@dataclasses.dataclass
class CoordCheckResult:
    """The rows of a coordinate check: one per (width, seed, step, module) with ``size`` (mean |output|) and
    ``std``; a failed run is one row with status "failed" and its error. ``config``: the check's settings."""

    rows: list
    config: dict

    @property
    def failed(self):
        return [r for r in self.rows if r["status"] != "ok"]

    def to_pandas(self):
        """One row per width, seed, step and module (pandas is optional)."""
        return require("pandas", "to_pandas").DataFrame(self.rows, columns=list(COLUMNS))

    @classmethod
    def from_csv(cls, path):
        """The rows of a coordinate check's ``out=`` CSV (a last line cut by a kill left out)."""
        rows = _journal.read_latest(path, SCHEMA)
        return cls(rows, {"widths": sorted({r["width"] for r in rows}), "seeds": sorted({r["seed"] for r in rows}),
                          "out": os.fspath(path)})

    def sizes(self):
        """{(module, step): (widths, mean size over the seeds)}, modules in forward order."""
        acc = {}
        for r in self.rows:
            if r["status"] == "ok":
                acc.setdefault((r["module"], r["step"]), {}).setdefault(r["width"], []).append(r["size"])
        out = {}
        for key, by_width in acc.items():
            w = np.array(sorted(by_width), np.float64)
            out[key] = (w, np.array([np.mean(by_width[int(v)]) for v in w]))
        return out

    def slopes(self):
        """{(module, step): slope}: the fitted d log(size) / d log(width) of each module at each step (about 0:
        the size does not depend on the width, as muP wants; about 1: it grows in proportion)."""
        return {key: _slope(w, s) for key, (w, s) in self.sizes().items()}

    def __repr__(self):
        slopes = self.slopes()
        modules = list(dict.fromkeys(m for m, _ in slopes))
        steps = sorted({s for _, s in slopes})
        head = (f"CoordCheckResult(widths {self.config.get('widths')}, {len(self.config.get('seeds', ()))} seeds, "
                f"{len(steps)} steps, {len(self.failed)} failed runs): slope of log size against log width")
        width = max([len(m) for m in modules] + [6])
        lines = [head, f"  {'module':<{width}}  " + "  ".join(f"{'step ' + str(s):>7}" for s in steps)]
        for m in modules:
            lines.append(f"  {m:<{width}}  " + "  ".join(f"{slopes.get((m, s), math.nan):>7.2f}" for s in steps))
        return "\n".join(lines)

    def plot(self, path=None, modules=None):
        """Coordinate size against width, log-log, one panel per step, a line per module (``modules``: a list of
        names, default all) with its fitted slope in the legend (matplotlib). Saved to ``path`` when given;
        returns the figure."""
        from ._coord_plots import plot_coord_check

        return plot_coord_check(self, path, modules)


def _widths(widths):
    if isinstance(widths, (int, np.integer)) or not hasattr(widths, "__iter__"):
        raise TypeError(f"widths must be a list of integers, got {type(widths).__name__}")
    out = [V.integer(w, "widths") for w in widths]
    if len(set(out)) < 2 or min(out) < 1:
        raise ValueError(f"widths must hold at least two different integers >= 1, got {out}")
    return sorted(set(out))


def _seeds(seeds):
    if isinstance(seeds, (int, np.integer)):
        seeds = [seeds]
    out = [V.integer(s, "seeds") for s in seeds]
    if not out:
        raise ValueError("seeds must hold at least one seed")
    return list(dict.fromkeys(out))


def coord_check(make_model, widths, data, steps=5, optimizer=None, lr=1e-3, seeds=(0,), modules=None, batch=64,
                loss=None, out=None, resume=True, executor=None, workers=None, progress=True):
    r"""The coordinate check (Yang et al. 2021, Tensor Programs V, appendix D): each module's coordinate size
    :math:`\overline{|h|}` (mean |output|) over the first ``steps`` training steps, at each width, and the slope
    of :math:`\log \overline{|h|}` against :math:`\log n`. In a parametrization whose hyperparameters transfer
    across widths (muP) every slope is about 0 at every step; in the standard parametrization under Adam, the
    hidden and output sizes grow with the width once the model has taken a step (the readout's slope near 1).

    Args:
        make_model: ``make_model(width) -> torch.nn.Module``, called under ``fastinit.fast_init(seed=seed)`` (and
            ``torch.manual_seed(seed)``) for each width and seed; for muP with the ``mup`` package it calls
            ``mup.set_base_shapes`` itself. Must be picklable (a module-level function) for a process executor.
        widths: at least two widths.
        data: arrays ``(X, y)`` (NumPy or torch; consecutive batches of ``batch`` rows, the same for every width
            and seed) or an iterable of ``(x, y)`` batches such as a ``DataLoader`` (cycled).
        steps: optimizer steps per run (>= 1); sizes are recorded in the forward pass of each.
        optimizer: ``optimizer(params, lr=lr) -> torch.optim.Optimizer``, e.g. ``torch.optim.SGD`` or
            ``mup.MuAdam``; default ``torch.optim.Adam``.
        lr: the learning rate passed to it.
        seeds: the seeds of the runs; sizes are averaged over them.
        modules: which modules, as ``fastinit.probe`` takes them (default every leaf module).
        batch: rows per step with array data.
        loss: ``loss(output, y) -> scalar tensor``; default cross entropy for integer ``y``, else MSE.
        out: a CSV path: each run's rows are appended when it finishes; with ``resume`` (the default) a second
            call skips the runs already there (failed runs are run again).
        executor: a ``concurrent.futures.Executor`` (a process pool, ``dask.distributed``'s
            ``Client.get_executor()``) to run the (width, seed) runs on; default: in this process, one after the
            other, or a local process pool of ``workers`` processes.
        progress: a progress bar over the runs.

    Returns:
        ``CoordCheckResult``: ``to_pandas()`` (width, seed, step, module, type, size, std, ...), ``sizes()``,
        ``slopes()``, ``plot()``.
    """
    torch = _torch()
    if not callable(make_model):
        raise TypeError(f"make_model must be a callable width -> torch.nn.Module, got {type(make_model).__name__}")
    widths, seeds = _widths(widths), _seeds(seeds)
    steps = V.integer(steps, "steps")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    batch = V.integer(batch, "batch")
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    lr = V.real(lr, "lr")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    optimizer = torch.optim.Adam if optimizer is None else optimizer
    if not callable(optimizer):
        raise TypeError(f"optimizer must be a callable (params, lr=...) -> torch.optim.Optimizer, got "
                        f"{type(optimizer).__name__}")
    if loss is not None and not callable(loss):
        raise TypeError(f"loss must be a callable (output, y) -> scalar tensor, got {type(loss).__name__}")
    check_executor(executor, workers, "this process")
    if out is not None:
        _journal.check_out(out)
    if not isinstance(resume, bool):
        raise TypeError(f"resume must be True or False, got {resume!r}")
    spec = _check_data(torch, data, batch)
    _check_model(torch, make_model, widths[0], modules)
    config = {"widths": widths, "seeds": seeds, "steps": steps, "lr": lr, "batch": batch,
              "optimizer": getattr(optimizer, "__name__", type(optimizer).__name__)}

    journal, parquet = _journal.open_journal(out, resume, SCHEMA) if out is not None else (None, None)
    rows = {}   # (width, seed) -> its rows
    for r in (journal.rows if journal is not None else ()):
        rows.setdefault((r["width"], r["seed"]), []).append(r)
    done = {k: v for k, v in rows.items() if k[0] in widths and k[1] in seeds and all(r["status"] == "ok" for r in v)}
    for v in done.values():
        if max(r["step"] for r in v) + 1 != steps:
            journal.close()
            raise ValueError(f"{out} holds runs of {max(r['step'] for r in v) + 1} steps, not {steps}: choose "
                             "another out, or resume=False to start it over")
    pending = [(w, s) for s in seeds for w in widths if (w, s) not in done]
    bar = Progress(len(widths) * len(seeds), len(done), progress, desc="coord_check", unit="run", units="runs")
    args = (spec, steps, optimizer, lr, modules, batch, loss)
    try:
        for key, got in _run_all(make_model, pending, args, executor, workers):
            done[key] = got
            bar.update()
            if journal is not None:
                journal.append(got)
    finally:
        bar.close()
        if journal is not None:
            journal.close()
    order = {(w, s): i for i, (w, s) in enumerate((w, s) for s in seeds for w in widths)}
    result = CoordCheckResult([r for k in sorted(done, key=order.get) for r in done[k]], config)
    if parquet is not None:
        result.to_pandas().to_parquet(parquet, index=False)
    return result


def _run_all(make_model, pending, args, executor, workers):
    """((width, seed), rows) of each pending run as it finishes."""
    if executor is None and (workers or 1) == 1:
        for w, s in pending:
            yield (w, s), run(make_model, w, s, *args)
        return
    own = executor is None
    if own:
        import multiprocessing

        # spawn: a forked child of a process that has run torch's thread pools can hang
        executor = cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = {executor.submit(run, make_model, w, s, *args, pin=own): (w, s) for w, s in pending}
        for f in cf.as_completed(futures):
            yield futures[f], f.result()
    finally:
        if own:
            executor.shutdown(cancel_futures=True)
