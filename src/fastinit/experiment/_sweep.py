"""Depth / width / activation / init sweeps of the simulation engine, with the mean-field theory beside every row.

    res = fi.sweep(depth=range(2, 51, 4), width=[64, 256], activation=["tanh", "relu"],
                   init=["xavier_normal", "he_normal"], out="sweep.csv")
    res.plot("sweep.png")          # heatmaps of log10 final std over depth x width, std vs depth against theory

Rows are appended to ``out`` (CSV) as they finish, so an interrupted sweep loses nothing; run it again with
``resume=True`` (the default) and it skips the rows already there. Configurations run on a local thread pool sized
to the machine (the C kernels release the GIL; fastinit's and the BLAS's threads are split between the workers) or
on any ``concurrent.futures.Executor`` passed as ``executor=``: that is how a sweep leaves one machine, e.g.
``dask.distributed.Client(...).get_executor()``. A row that raises is recorded with status "failed" and its
error, and the sweep goes on.

Forward-only configurations that differ only in depth share one simulation of the deepest (layer l's weights do
not depend on the depth, so the first d layers of a deeper network are the depth-d network, bit for bit): a depth
sweep costs its deepest network, not the sum of all of them.
"""
import concurrent.futures as cf
import contextlib
import dataclasses
import math
import threading
import time

import numpy as np

from .._optional import require
from ..random import _threads
from . import _grid as _grid_mod, _journal, _simulation as _sim, _trainability, _training, theory as _theory_mod
from ._journal import COLUMNS, KEY, row_key as _key
from ._progress import Progress
from ._trainability import init_value, train_label, train_settings

__all__ = ["sweep", "run_config", "run_group", "SweepResult", "COLUMNS", "KEY"]


_THEORY = {}   # (activation, init, width, batchnorm) -> the deepest Prediction made so far in this process


def _theory_key(config):
    return config["activation"], config["init"], config["width"], config["batchnorm"]


def _theory(config, theory_depth=0):
    """The mean-field prediction of a square configuration, cut from the deepest one computed so far (the map
    does not depend on the depth; a sweep over 25 depths computes it once, at theory_depth when that is deeper:
    the sweep's deepest configuration of the same kind)."""
    key = _theory_key(config)
    pred = _THEORY.get(key)
    if pred is None or pred.p_std.size < config["depth"]:
        pred = _theory_mod.predict(depth=max(config["depth"], theory_depth), width=config["width"],
                                   activation=config["activation"], init=init_value(config["init"]),
                                   batchnorm=config["batchnorm"])
        _THEORY[key] = pred
    return pred.truncate(config["depth"])


def _series_key(config):
    """What a depth series has in common: every KEY field but the depth."""
    return tuple(config[k] for k in KEY if k != "depth")


def _summary(config, res, theory_depth):
    """The row of `config` from a simulation whose first config["depth"] layers are that configuration's."""
    depth = config["depth"]
    theory = _theory(config, theory_depth)
    L = {k: v[:depth] for k, v in res.layers.items()}
    g = res.grads["grad_h_std"] if res.grads is not None else None
    row = {k: config[k] for k in KEY}
    row.update(_journal.empty_result())   # (the training columns stay empty)
    row.update(
        status="ok", error="",
        final_h_std=float(L["h_std"][-1]), final_p_std=float(L["p_std"][-1]), final_h_mean=float(L["h_mean"][-1]),
        final_saturated_frac=float(L["h_saturated_frac"][-1]), final_zero_frac=float(L["h_zero_frac"][-1]),
        nonfinite=int(np.nansum(L["h_nonfinite"]) + np.nansum(L["p_nonfinite"])),
        # how much the gradient std grows from the top layer's output down to the first layer's
        grad_ratio=float(g[0] / g[-1]) if g is not None else math.nan,
        theory_final_h_std=float(theory.h_std[-1]),
        theory_grad_ratio=float(theory.grad_h_std[0] / theory.grad_h_std[-1]),
        q_star=float(theory.q_star), chi_star=float(theory.chi_star),
        h_std_layers=np.array(L["h_std"], dtype=np.float64), theory_h_std_layers=np.array(theory.h_std, np.float64),
        wall_s=float(res.layer_seconds[depth - 1]))
    return row


def run_group(configs, pin=False, theory_depth=0, stop=None):
    """The rows of configurations that differ only in depth, from one simulation of the deepest.

    Exact, not an approximation: the input and layer l's weights come from children 0 and l of the seed's
    generator whatever the depth, so the first d layers of a deeper network are the depth-d network, bit for bit.
    Forward passes only (the top gradient and everything backward depend on the depth): a backward configuration
    is a group of its own. Never raises: a failure is a row with status "failed" and the error (when the shared
    simulation fails, each configuration is retried on its own, so one too-deep network does not fail the
    shallower ones). wall_s of a row is the time until its last layer was done. Module-level so that process
    pools and dask can ship it; with pin=True (how ``sweep`` sends it to an executor) the executing process's
    BLAS and fastinit threads are set to one, once, and left so. theory_depth: compute the mean-field prediction
    at least that deep (the sweep's deepest of the same activation, init, width and batch norm), once per
    process. stop: a threading.Event that interrupts the simulation between layers (KeyboardInterrupt)."""
    if pin:
        _threads.pin_process()
    configs = [{"sigma_b2": 0.0, "train": "", **c} for c in configs]   # (the columns a simulation may leave out)
    if configs[0]["train"]:
        return [_trainability.train_row(c, stop) for c in configs]
    deepest = max(configs, key=lambda c: c["depth"])
    if len(configs) > 1 and (deepest["backward"] or len({_series_key(c) for c in configs}) > 1):
        raise ValueError("run_group shares one simulation only between forward configurations that differ only in "
                         "depth")
    t0 = time.perf_counter()
    try:
        kw = {"stop": stop} if stop is not None else {}
        res = _sim.simulate(depth=deepest["depth"], width=deepest["width"], batch=deepest["batch"],
                            activation=deepest["activation"], init=init_value(deepest["init"]),
                            batchnorm=deepest["batchnorm"],
                            backward=deepest["backward"], seed=deepest["seed"], **kw)
    except Exception as exc:   # noqa: BLE001 - a failed row is data, the sweep goes on
        if len(configs) > 1:
            return [row for c in configs for row in run_group([c], theory_depth=theory_depth, stop=stop)]
        return [_journal.failed_row(deepest, exc, time.perf_counter() - t0)]
    rows = []
    # deepest first: its theory prediction is computed once and every shallower row's is cut from it
    for c in sorted(configs, key=lambda c: -c["depth"]):
        try:
            rows.append(_summary(c, res, theory_depth))
        except Exception as exc:   # noqa: BLE001
            rows.append(_journal.failed_row(c, exc, time.perf_counter() - t0))
    return rows


def run_config(config, pin=False):
    """One row: simulate the configuration (a dict with the KEY fields) and summarize it (``run_group`` of one)."""
    return run_group([config], pin)[0]


def _tasks(pending, share_prefixes):
    """Groups of pending configurations for run_group: forward configurations that differ only in depth share one
    simulation (when share_prefixes), the rest run alone. The most expensive groups go first, so that the
    pool's workers finish together."""
    if not share_prefixes:
        return [[c] for c in pending]
    groups, tasks = {}, []
    for c in pending:
        if c["backward"] or c["train"]:
            tasks.append([c])
            continue
        k = _series_key(c)
        if k not in groups:
            groups[k] = []
            tasks.append(groups[k])
        groups[k].append(c)
    return sorted(tasks, key=lambda t: -max(c["depth"] for c in t) * t[0]["width"] ** 2 * t[0]["batch"] *
                  (train_settings(t[0]["train"])["steps"] if t[0]["train"] else 1))


def sweep(depth=(10,), width=(500,), activation=("tanh",), init=None, batchnorm=(False,), batch=256,
          seeds=(0,), backward=False, configs=None, out=None, resume=True, executor=None, workers=None, progress=True,
          share_prefixes=True, retry_failed=True, *, sigma_w2=None, sigma_b2=(0.0,), train=None):
    """Simulate (or train) every configuration of a grid and summarize each in one row.

    Args:
        depth, width, activation, init, batchnorm, seeds: values or lists; the grid is their Cartesian product
            (init: scheme names of ``fastinit.simulate``, or ``{"sigma_w2": v}``; default xavier_normal).
        sigma_w2: instead of init, weight variances: N(0, v / fan_in) for each v (the theory's sigma_w^2; the CSV's
            init column says "sigma_w2=v").
        train: a dict of ``fastinit.train`` settings (steps, lr, momentum, weight_decay, data, loss, normalize,
            dtype; ``TRAIN_DEFAULTS``): train every configuration instead of simulating it, ``batch`` rows per step,
            and write its trainability row: train_accuracy, test_accuracy, train_loss, test_loss and diverged_step
            (0: none), the theory's xi_c, q_star and chi_star (``fastinit.theory.depth_scales``; chi_star is chi_1),
            and the initial network's statistics of its first training pass in the final_* and h_std_layers
            columns.
        sigma_b2: values or a list (training sweeps only): random biases N(0, sigma_b2), a grid axis.
        batch, backward: for every configuration (batch 256 by default, where ``simulate`` takes 1000: a grid
            runs many networks, and 256 rows estimate a layer's std to ~1% at width 256).
        configs: an explicit list of dicts (keys depth, width, activation, init and optionally batchnorm, batch,
            seed, backward) instead of the grid.
        out: a CSV path; rows are appended (and flushed) as they finish. A ``.parquet`` path (pandas and pyarrow)
            keeps that CSV journal as ``<out>.rows.csv`` and writes the Parquet file when the sweep ends.
        resume: when ``out`` exists, keep its rows and run only the missing ones (False: start the file over).
            ``out`` is locked while the sweep runs: a second sweep on the same file raises
            ``fastinit.experiment.JournalBusy`` instead of interleaving its rows.
        retry_failed: on resume, run the configurations recorded as failed again (the default: a failure is often
            transient, a MemoryError beside another job); their new rows are appended and replace the old ones.
        executor: a ``concurrent.futures.Executor`` to run on (e.g. dask.distributed's ``Client.get_executor()``);
            default a local thread pool of ``workers`` (default: one per CPU, at most one per configuration).
            Every configuration runs with one BLAS and one fastinit thread, so a row is the same whatever the
            executor or worker count (the executor's processes are left single-threaded).
        progress: a progress bar (tqdm if installed) with an ETA on stderr.
        share_prefixes: forward-only configurations that differ only in depth run as one simulation of the
            deepest, each row cut from its first layers (``run_group``): the same rows bit for bit, since layer l's
            weights do not depend on the depth, for the cost of the deepest network alone (a grid of 25 depths
            from 2 to 98 costs 98 layers instead of 1250). False: one simulation per configuration.
    Returns:
        SweepResult, rows in grid order. Each row: the configuration, status ("ok" / "failed") and error,
        final_h_std, final_p_std, final_h_mean, final_saturated_frac, final_zero_frac, nonfinite, grad_ratio
        (std of dL/dH at layer 1 over the top's; NaN without backward), the theory's final_h_std and grad_ratio,
        q_star, chi_star (``fastinit.theory``), the per-layer h_std (measured and predicted: float arrays; the CSV
        holds them as space-separated floats, the Parquet file as lists) and the wall time in seconds (with shared
        prefixes, until the row's last layer was done).
    """
    check_executor(executor, workers, "one per CPU")
    if out is not None:
        _journal.check_out(out)
    grid = _grid_mod.configurations(depth, width, activation, init, batchnorm, batch, seeds, bool(backward), configs,
                                    sigma_w2, sigma_b2, train_label(train))
    for label in {c["train"] for c in grid if c["train"]}:   # bad settings fail now, not in every row
        _training.check_settings(**train_settings(label))
    index = {}
    for i, c in enumerate(grid):
        index.setdefault(_key(c), i)
    journal, parquet = _journal.open_journal(out, resume) if out is not None else (None, None)
    done = {_key(r): r for r in (journal.rows if journal is not None else ()) if _key(r) in index}
    if retry_failed:
        done = {k: r for k, r in done.items() if r["status"] == "ok"}
    # a configuration listed twice runs (and is written) once
    pending = [grid[i] for i in sorted(index.values()) if _key(grid[i]) not in done]
    tasks = _tasks(pending, share_prefixes)
    theory_depth = {}
    for c in pending:
        kind = _theory_key(c)
        theory_depth[kind] = max(theory_depth.get(kind, 0), c["depth"])
    bar = Progress(len(index), len(done), progress, desc="sweep", unit="config", units="configurations")
    salvage = []   # rows finished when an interruption came, not yet written

    def record(rows):
        for row in rows:
            done[_key(row)] = row
            bar.update()
        if journal is not None:
            journal.append(rows)

    try:
        with contextlib.closing(_run_tasks(tasks, theory_depth, executor, workers, salvage)) as results:
            for rows in results:
                record(rows)
    except BaseException:
        for rows in salvage:   # a Ctrl-C keeps every finished row
            record(rows)
        raise
    finally:
        bar.close()
        if journal is not None:
            journal.close()
    result = SweepResult(sorted(done.values(), key=lambda r: index[_key(r)]))
    if parquet is not None:
        result.to_pandas().to_parquet(parquet, index=False)
    return result


def check_executor(executor, workers, none_means):
    """The executor= / workers= pair of a sweep or a coordinate check: workers an integer >= 1 or None (which
    means ``none_means``), executor None or something with ``submit``."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1):
        raise ValueError(f"workers must be an integer >= 1 (or None: {none_means}), got {workers!r}")
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise TypeError(f"executor must be a concurrent.futures.Executor (something with submit), got "
                        f"{type(executor).__name__}")


def _as_finished(pool, tasks, theory_depth, pin, salvage, stop=None):
    """Submit every task to `pool`, yield the rows of each as it finishes. On an interruption (Ctrl-C) or an error:
    `stop` is set (a local pool's running simulations end before their next layer), the tasks not started are
    cancelled, and the rows of tasks that finished but were not yet yielded go to `salvage` for the caller to
    write before the exception propagates."""
    kw = {"stop": stop} if stop is not None else {}
    futures = [pool.submit(run_group, t, pin, theory_depth[_theory_key(t[0])], **kw) for t in tasks]
    yielded = set()
    try:
        for f in cf.as_completed(futures):
            rows = f.result()
            yielded.add(f)
            yield rows
    except BaseException:
        if stop is not None:
            stop.set()
        for f in futures:
            f.cancel()
        cf.wait([f for f in futures if not f.cancelled()], timeout=None if stop is not None else 0)
        salvage.extend(f.result() for f in futures
                       if f not in yielded and f.done() and not f.cancelled() and f.exception() is None)
        raise


def _run_tasks(tasks, theory_depth, executor, workers, salvage):
    """The rows of each task (a list of configurations for run_group) as they finish: on `executor`, whose
    processes pin themselves, or on a local thread pool of `workers` (default one per CPU this process may use)."""
    if executor is not None:
        yield from _as_finished(executor, tasks, theory_depth, True, salvage)
        return
    n_workers = max(1, min(int(workers) if workers else _threads.available_cpus(), len(tasks) or 1))
    with _threads.single_threaded():
        if n_workers == 1:
            for t in tasks:
                yield run_group(t, False, theory_depth[_theory_key(t[0])])
            return
        with cf.ThreadPoolExecutor(n_workers) as pool:
            yield from _as_finished(pool, tasks, theory_depth, False, salvage, threading.Event())


@dataclasses.dataclass
class SweepResult:
    """The rows of a sweep (dicts with ``COLUMNS``), in grid order."""

    rows: list

    def __len__(self):
        return len(self.rows)

    @property
    def failed(self):
        return [r for r in self.rows if r["status"] != "ok"]

    def column(self, name):
        return np.array([r[name] for r in self.rows])

    def to_pandas(self):
        """One row per configuration (pandas is optional)."""
        pd = require("pandas", "to_pandas")
        return pd.DataFrame(self.rows, columns=list(COLUMNS))

    @classmethod
    def from_csv(cls, path):
        """The rows of a sweep's CSV (a retried configuration's later row replacing its earlier one)."""
        return cls(_journal.read_latest(path))

    def __repr__(self):
        ok = len(self.rows) - len(self.failed)
        head = f"SweepResult({len(self.rows)} rows, {ok} ok, {len(self.failed)} failed)"
        if any(r["train"] for r in self.rows):   # training rows: what trained, beside the theory's depth scale
            lines = [head, f"{'activation':>10} {'init':>14} {'sigma_b2':>8} {'depth':>5} {'width':>5} {'seed':>4} "
                           f"{'train acc':>9} {'test acc':>9} {'xi_c':>8}"]
            for r in self.rows[:20]:
                lines.append(f"{r['activation']:>10} {r['init']:>14} {r['sigma_b2']:>8.4g} {r['depth']:>5} "
                             f"{r['width']:>5} {r['seed']:>4} {r['train_accuracy']:>9.3f} {r['test_accuracy']:>9.3f} "
                             f"{r['xi_c']:>8.3g}")
        else:
            lines = [head, f"{'activation':>10} {'init':>14} {'depth':>5} {'width':>5} {'seed':>4} "
                           f"{'final h_std':>12} {'theory':>10}"]
            for r in self.rows[:20]:
                lines.append(f"{r['activation']:>10} {r['init']:>14} {r['depth']:>5} {r['width']:>5} {r['seed']:>4} "
                             f"{r['final_h_std']:>12.4g} {r['theory_final_h_std']:>10.4g}")
        if len(self.rows) > 20:
            lines.append(f"... {len(self.rows) - 20} more")
        return "\n".join(lines)

    def trainability(self, threshold=0.5):
        """The depth-scale law tested on the training rows (``fastinit.trainability.fit``)."""
        return _trainability.fit(self.rows, threshold)

    def plot(self, path=None):
        """Heatmaps of log10 final h_std over depth x width, one per (activation, init), each cell labelled with its
        std on grids of up to 16 x 8, and the per-layer std of the deepest network of each pair at every width
        against the mean-field theory; for a training sweep, the held-out accuracy over
        depth x sigma_w^2 with the theory's depth scales on it (``fastinit.trainability.plot_trainability``)
        (matplotlib, the ``fastinit-philox[plot]`` extra)."""
        if any(r["train"] for r in self.rows):
            return _trainability.plot_trainability(self, path)
        from ._plotting import plot_sweep

        return plot_sweep(self, path)
