"""The classic experiment while a real model learns: per-layer signal statistics through training.

    with fi.monitor(model, every=10) as mon:
        for x, y in batches:
            loss = loss_fn(model(x), y)
            opt.zero_grad(); loss.backward(); opt.step()
    print(mon.result.summary())                    # layers that died, saturated, exploded or stopped moving
    mon.result.to_pandas(); mon.result.plot("monitor.png")

A step is one ``optimizer.step()`` of an optimizer over the model's parameters (torch's global step hooks see it,
whatever the loop), or a call of ``mon.step()`` in a loop without one. Steps 0, every, 2 every, ... are recorded:
during such a step, per selected module (``fi.probe``'s selection rules), the statistics record of each output of
a forward pass in training mode with gradients on (mean, std, min, max, zero and saturated fractions, non-finite
count, histogram) and, from the backward pass, the std of the gradient with respect to that output; per trainable
parameter, at the optimizer's step, |W| and |dL/dW| (Frobenius) and the update ratio |W_after - W_before| /
|W_before|. cs231n's rule of thumb puts healthy update ratios near 1e-3 (Karpathy, CS231n notes, "Babysitting the
learning process"). Between recorded steps no hook is installed on the modules. CPU float tensors go through the C
statistics kernels (the simulation engine's), other devices through torch ops on the device.

With ``out=`` each recorded step's rows are appended to a CSV file (or a Parquet file at the end, its CSV journal
beside it) when the step ends, so a run that dies keeps what it recorded (``MonitorResult.read``); with
``tensorboard=`` they also go to a ``SummaryWriter``. Under torch.distributed every row carries its rank: module
outputs are each rank's own, parameter norms and update ratios those of the whole parameter (a DTensor shard's
norms are reduced over its mesh), and ``out=`` writes one file per rank.
"""
import dataclasses
import glob
import math
import os
import re

import numpy as np

from .. import _validate as V
from .._optional import require
from . import _journal, _stats
from ._probe import FIELDS, first_float_tensor, output_stats, select_modules

__all__ = ["monitor", "Monitor", "MonitorResult", "DEAD", "SATURATED", "STILL", "SCHEMA", "rank_path"]

# summary()'s thresholds: a layer died when this fraction of its outputs is exactly 0 (ReLU units that never fire),
# saturated when this fraction sits at its activation's bounds, stopped moving when a parameter's update ratio is
# below STILL (1e-3 is healthy)
DEAD = 0.9
SATURATED = 0.9
STILL = 1e-6

# the probe's fields of a module output (a weight's gradient is a parameter row here), and mean |output|: the
# coordinate size of Yang et al. 2021 (recorded with abs_mean=True, as fastinit.coord_check does)
_MODULE_FIELDS = tuple(f for f in FIELDS if f != "grad_w_norm") + ("abs_mean",)
MODULE_COLUMNS = ("step", "rank", "name", "type", "output", "shape", *_MODULE_FIELDS)
PARAM_COLUMNS = ("step", "rank", "name", "w_norm", "grad_norm", "update_ratio")

# out=: one journal for both kinds of row (kind "module" or "param"), each with the other kind's fields empty
_INT_FIELDS = {"step", "rank", "nonfinite", "grad_nonfinite"}
SCHEMA = _journal.Schema(
    [("kind", str)] +
    [(k, int if k in _INT_FIELDS else str if k in ("name", "type", "output", "shape") else float)
     for k in dict.fromkeys(MODULE_COLUMNS + PARAM_COLUMNS)] +
    [("hist", "series"), ("edges", "series")], "monitor")
_EMPTY = {int: 0, str: "", float: math.nan, "series": np.zeros(0)}


def rank_path(out, rank):
    """The file of one rank's rows when a monitor runs under torch.distributed with several ranks:
    ``run.csv`` -> ``run.rank1.csv``."""
    root, ext = os.path.splitext(os.fspath(out))
    return f"{root}.rank{rank}{ext}"


def _existing(path):
    """The file that holds the rows of an out=: the path itself, or the CSV journal of a .parquet out whose run
    ended before writing it; None."""
    for p in (path, _journal.csv_path(path)):
        if os.path.isfile(p):
            return p
    return None


def _distributed(torch):
    """(rank, world size) under an initialized torch.distributed, else (0, 1)."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _journal_row(kind, row, hist=None, edges=None):
    out = {k: _EMPTY[t] for k, t in SCHEMA.fields}
    out.update(kind=kind, **{k: v for k, v in row.items() if k in SCHEMA.types})
    if kind == "module":
        out["shape"] = "x".join(map(str, row["shape"]))
        out["hist"], out["edges"] = hist, edges
    return out


def _from_journal(rows, config):
    """The MonitorResult of journal rows (both kinds, any ranks)."""
    modules = [r for r in rows if r["kind"] == "module"]
    bins = {len(r["hist"]) for r in modules}
    if len(bins) > 1:
        raise ValueError(f"the rows hold histograms of {sorted(bins)} bins; they come from different monitors")
    nb = bins.pop() if bins else 0
    hist = np.array([r["hist"] for r in modules], np.int64).reshape(len(modules), nb)
    edges = np.array([r["edges"] for r in modules], np.float64).reshape(len(modules), nb + 1 if nb else 0)
    module_rows = [{**{k: r[k] for k in MODULE_COLUMNS},
                    "shape": [int(v) for v in r["shape"].split("x")] if r["shape"] else []} for r in modules]
    params = [{k: r[k] for k in PARAM_COLUMNS} for r in rows if r["kind"] == "param"]
    return MonitorResult(rows=module_rows, hist=hist, edges=edges, params=params, config=config)


def _torch():
    return require("torch", "fastinit.monitor")


@dataclasses.dataclass
class MonitorResult:
    """What a monitor recorded. ``rows``: one per module output of a recorded step (keys ``step``, ``rank`` (0
    outside torch.distributed), ``name`` (``#2`` ... for later calls in the same step), ``type``, ``output``,
    ``shape`` and ``mean``, ``std``, ``min``, ``max``, ``zero_frac``, ``saturated_frac`` (NaN where the module does
    not saturate), ``nonfinite``, ``grad_std`` and ``grad_nonfinite`` of dL/d(output) (NaN / 0 without a backward
    pass), ``abs_mean`` (mean |output|, NaN unless asked)); ``hist`` / ``edges``: each row's histogram; ``params``:
    one per trainable parameter and recorded step (``step``, ``rank``, ``name``, ``w_norm``, ``grad_norm``,
    ``update_ratio``: NaN where the step had no optimizer step or W was 0); ``config``."""

    rows: list
    hist: np.ndarray
    edges: np.ndarray
    params: list
    config: dict

    @property
    def steps(self):
        """The recorded steps, in order."""
        return sorted({r["step"] for r in self.rows} | {p["step"] for p in self.params})

    def to_pandas(self, what="modules"):
        """One row per recorded step and module output (``what="modules"``), or per step and parameter
        (``what="params"``). pandas is optional."""
        if what not in ("modules", "params"):
            raise ValueError(f"what must be 'modules' or 'params', got {what!r}")
        pd = require("pandas", "to_pandas")
        if what == "modules":
            return pd.DataFrame(self.rows, columns=list(MODULE_COLUMNS))
        return pd.DataFrame(self.params, columns=list(PARAM_COLUMNS))

    @classmethod
    def read(cls, out):
        """What a monitor with ``out=`` wrote, read back: a CSV file (a last line cut by a kill is left out), a
        Parquet file, or, when ``out`` itself does not exist, the per-rank files of a distributed run
        (``run.rank0.csv``, ``run.rank1.csv``, ...: every rank's rows, each with its rank)."""
        out = _journal.check_out(out)
        found = _existing(out)
        paths = [found] if found else []
        if not paths:   # the files of a distributed run's ranks
            root, ext = os.path.splitext(out)
            ranks = {}
            for p in glob.glob(glob.escape(root) + ".rank*"):
                m = re.fullmatch(re.escape(root) + r"\.rank(\d+)" + re.escape(ext) + r"(\.rows\.csv)?", p)
                found = _existing(rank_path(out, m.group(1))) if m else None
                if found:
                    ranks[int(m.group(1))] = found
            paths = [ranks[r] for r in sorted(ranks)]
        if not paths:
            raise FileNotFoundError(2, f"no monitor file {out!r} (nor per-rank files {rank_path(out, 'N')!r})")
        rows = []
        for path in paths:
            if path.endswith(".parquet"):
                frame = require("pandas", "MonitorResult.read of a .parquet file").read_parquet(path)
                for r in frame.to_dict("records"):
                    r["hist"], r["edges"] = np.asarray(r["hist"], np.float64), np.asarray(r["edges"], np.float64)
                    rows.append(r)
            else:
                rows.extend(_journal.read_rows(path, SCHEMA)[0])
        return _from_journal(rows, {"out": out, "files": paths})

    def events(self):
        """The first step at which each layer died (zero fraction >= DEAD), saturated (saturated fraction >=
        SATURATED), exploded (a non-finite output or gradient) or stopped moving (update ratio < STILL), as rows
        {name, what, step, value}, in step order."""
        found = {}
        for r in self.rows:
            checks = (("died", r["zero_frac"], r["zero_frac"] >= DEAD),
                      ("saturated", r["saturated_frac"], r["saturated_frac"] >= SATURATED),
                      ("exploded", r["nonfinite"] + r["grad_nonfinite"], r["nonfinite"] + r["grad_nonfinite"] > 0))
            for what, value, hit in checks:
                if hit and (r["name"], what) not in found:
                    found[(r["name"], what)] = {"name": r["name"], "what": what, "step": r["step"], "value": value}
        for p in self.params:
            if p["update_ratio"] < STILL and (p["name"], "stopped moving") not in found:
                found[(p["name"], "stopped moving")] = {"name": p["name"], "what": "stopped moving",
                                                        "step": p["step"], "value": p["update_ratio"]}
        return sorted(found.values(), key=lambda e: (e["step"], e["name"]))

    def summary(self):
        """A table of ``events()``: which layer died, saturated, exploded or stopped moving, and from which step."""
        events = self.events()
        head = (f"{len(self.steps)} recorded steps ({', '.join(map(str, self.steps[:8]))}"
                f"{', ...' if len(self.steps) > 8 else ''}), {len({r['name'] for r in self.rows})} module outputs, "
                f"{len({p['name'] for p in self.params})} parameters")
        if not events:
            return head + ": no layer died, saturated, exploded or stopped moving"
        width = max(len(e["name"]) for e in events)
        lines = [head + ":", f"  {'name':<{width}}  {'what':<14}  {'from step':>9}  value"]
        lines += [f"  {e['name']:<{width}}  {e['what']:<14}  {e['step']:>9}  {e['value']:.3g}" for e in events]
        return "\n".join(lines)

    def __repr__(self):
        return f"MonitorResult(steps={self.steps[:6]}{'...' if len(self.steps) > 6 else ''}, " \
               f"rows={len(self.rows)}, params={len(self.params)})"

    def plot(self, path=None, hist_layers=None):
        """The std of each module's output over the recorded steps (modules x steps, log colour), the std of its
        gradient likewise, the zero and saturated fractions of the modules that have them, each weight's update
        ratio with cs231n's 1e-3, and below, for each of ``hist_layers`` (module names; default up to three
        activations spread over the depth), its histogram at every recorded step side by side (the "colourful
        dimension" view: value against step, colour the fraction of outputs, log). With several ranks, the first
        rank's rows. Saved to ``path`` when given; returns the figure (matplotlib)."""
        from ._monitor_plots import plot_monitor

        return plot_monitor(self, path, hist_layers)


class Monitor:
    """A monitor of ``model``'s training; see ``fastinit.monitor``. ``result`` holds what it recorded so far."""

    def __init__(self, model, every=10, modules=None, grads=True, updates=True, bins=50, eval_passes=False,
                 out=None, resume=True, start_step=None, tensorboard=None, abs_mean=False, params=True):
        self._torch = torch = _torch()
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.every = V.integer(every, "every")
        if self.every < 1:
            raise ValueError(f"every must be >= 1, got {self.every}")
        self.bins = V.integer(bins, "bins")
        if self.bins < 1:
            raise ValueError(f"bins must be >= 1, got {self.bins}")
        for name, value in (("grads", grads), ("updates", updates), ("eval_passes", eval_passes), ("resume", resume),
                            ("abs_mean", abs_mean), ("params", params)):
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be True or False, got {value!r}")
        if out is not None:
            out = _journal.check_out(out)
        if start_step is not None:
            start_step = V.integer(start_step, "start_step")
            if start_step < 0:
                raise ValueError(f"start_step must be >= 0, got {start_step}")
        if tensorboard is not None and not all(callable(getattr(tensorboard, m, None))
                                               for m in ("add_scalar", "add_histogram_raw")):
            raise TypeError(f"tensorboard must be a torch.utils.tensorboard.SummaryWriter (add_scalar and "
                            f"add_histogram_raw), got {type(tensorboard).__name__}")
        self.model, self.grads, self.updates, self.eval_passes = model, grads, updates, eval_passes
        self.abs_mean, self.tensorboard, self.params = abs_mean, tensorboard, params
        self.rank, self.world_size = _distributed(torch)
        self.out = out if out is None or self.world_size == 1 else rank_path(out, self.rank)
        self._resume, self._journal, self._parquet = resume, None, None
        self._written = (0, 0)   # module rows and parameter rows sent to out= / tensorboard= so far
        self._selected = select_modules(model, modules)
        self._params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self._ids = {id(p) for _, p in self._params}
        self.step_index = start_step or 0   # the step in progress
        self._start_step = start_step
        self._rows, self._hist, self._edges, self._param_rows = [], [], [], []
        self._calls = {}
        self._before = None   # (w_norm, grad_norm, snapshot) per parameter, taken before a recorded optimizer step
        self._module_hooks = []
        self._step_hooks = []
        self._optimizers = {}
        self._open = False

    # -- life cycle
    def start(self):
        """Install the hooks (``with`` does it). Returns self."""
        if self._open:
            return self
        from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

        if self.out is not None:
            self._open_journal()
        self._step_hooks = [register_optimizer_step_pre_hook(self._before_optimizer_step),
                            register_optimizer_step_post_hook(self._after_optimizer_step)]
        self._open = True
        self._arm()
        return self

    def _open_journal(self):
        """Open out=: a fresh file, or (resume) the rows it holds before the step this monitor starts at: by
        default the step after the file's last one; with start_step, the rows from that step on are dropped (a run
        restarted from a checkpoint records them again)."""
        first = self._journal is None and not self._rows and not self._param_rows
        self._journal, self._parquet = _journal.open_journal(self.out, self._resume or not first, SCHEMA)
        if not first:
            return
        kept = self._journal.rows
        if self._start_step is None:
            self.step_index = max((r["step"] for r in kept), default=-1) + 1
        elif any(r["step"] >= self.step_index for r in kept):
            kept = [r for r in kept if r["step"] < self.step_index]
            self._journal.rewrite(kept)
        if kept:
            earlier = _from_journal(kept, {})
            if earlier.hist.shape[1] != self.bins and earlier.rows:
                self.close()
                raise ValueError(f"bins={self.bins}, but {self.out} holds histograms of {earlier.hist.shape[1]} "
                                 "bins; pass the same bins, resume=False to start the file over, or another out")
            self._rows, self._param_rows = earlier.rows, earlier.params
            self._hist, self._edges = list(earlier.hist), list(earlier.edges)
            self._written = (len(self._rows), len(self._param_rows))

    def close(self):
        """Remove every hook; what was recorded stays in ``result`` (and with out=, in the file: the Parquet file
        of a .parquet out is written now)."""
        for h in self._module_hooks + self._step_hooks:
            h.remove()
        self._module_hooks, self._step_hooks = [], []
        self._open = False
        self._flush()
        if self._journal is not None:
            self._journal.close()
            self._journal = None
            if self._parquet is not None:
                rows = _journal.read_rows(_journal.csv_path(self.out), SCHEMA)[0]
                frame = require("pandas", "out=*.parquet").DataFrame(rows, columns=list(SCHEMA.columns))
                frame.to_parquet(self._parquet, index=False)
        if self.tensorboard is not None:
            self.tensorboard.flush()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
        return False

    def recorded(self, step):
        """Whether a step is one the monitor records."""
        return step % self.every == 0

    def _arm(self):
        """Module hooks on while the step in progress is recorded, off otherwise."""
        want = self._open and self.recorded(self.step_index)
        if want and not self._module_hooks:
            self._module_hooks = [m.register_forward_hook(self._hook_for(name)) for name, m in self._selected]
        elif not want and self._module_hooks:
            for h in self._module_hooks:
                h.remove()
            self._module_hooks = []

    # -- a recorded step
    def _hook_for(self, name):
        def hook(module, args, out):
            torch = self._torch
            if not self.eval_passes and not (torch.is_grad_enabled() and module.training):
                return
            t, where = first_float_tensor(out)
            if t is None:
                return
            self._calls[name] = self._calls.get(name, 0) + 1
            call = name if self._calls[name] == 1 else f"{name}#{self._calls[name]}"
            fields, hist, edges = output_stats(module, t, self.bins)
            row = {"step": self.step_index, "rank": self.rank, "name": call, "type": type(module).__name__,
                   "output": where, "shape": list(t.shape), **fields, "grad_std": math.nan, "grad_nonfinite": 0,
                   "abs_mean": float(t.detach().abs().mean(dtype=torch.float64)) if self.abs_mean else math.nan}
            if self.grads and t.requires_grad:
                t.register_hook(lambda g: row.update(self._grad_fields(g)))
            self._rows.append(row)
            self._hist.append(hist)
            self._edges.append(edges)
        return hook

    @staticmethod
    def _grad_fields(g):
        st = _stats.of_tensor(g)
        return {"grad_std": st.std, "grad_nonfinite": st.nonfinite}

    def _norm(self, t):
        """|t| (Frobenius), accumulated in float64 without a float64 copy of t; of the whole parameter for a
        DTensor shard (the shards' norms reduced over the mesh: every rank calls this in the same order)."""
        if t is None:
            return math.nan
        torch = self._torch
        norm = torch.linalg.vector_norm(t.detach(), dtype=torch.float64)
        if V.is_dtensor(norm):
            norm = norm.full_tensor()
        return float(norm)

    def _ours(self, optimizer):
        """Whether an optimizer steps this model's parameters (asked once per optimizer: every optimizer of the
        process calls the global step hooks)."""
        known = self._optimizers.get(id(optimizer))
        if known is None or known[0] is not optimizer:
            known = (optimizer, any(id(p) in self._ids for group in optimizer.param_groups for p in group["params"]))
            self._optimizers[id(optimizer)] = known
        return known[1]

    def _before_optimizer_step(self, optimizer, args, kwargs):
        if not (self.params and self._open and self._ours(optimizer) and self.recorded(self.step_index)):
            return
        self._before = {name: (self._norm(p), self._norm(p.grad),
                               p.detach().clone() if self.updates else None) for name, p in self._params}

    def _after_optimizer_step(self, optimizer, args, kwargs):
        if self._open and self._ours(optimizer):
            self.step()

    def step(self):
        """End the step in progress: with an optimizer step seen, its parameter rows (norms before the step,
        the update ratio); else |W| and |dL/dW| now and no update ratio. Then the next step begins."""
        if self.recorded(self.step_index):
            before, self._before = self._before, None
            for name, p in self._params if self.params else ():
                if before is not None:
                    w_norm, grad_norm, old = before[name]
                    # (the difference in the parameter's dtype: within a rounding of it, a float64 copy costs more)
                    ratio = self._norm(p.detach() - old) / w_norm if old is not None and w_norm > 0 else math.nan
                else:
                    w_norm, grad_norm, ratio = self._norm(p), self._norm(p.grad), math.nan
                self._param_rows.append({"step": self.step_index, "rank": self.rank, "name": name, "w_norm": w_norm,
                                         "grad_norm": grad_norm, "update_ratio": ratio})
            self._flush()
        self.step_index += 1
        self._calls = {}
        self._arm()

    def _flush(self):
        """Send the rows recorded since the last flush to out= and tensorboard= (a step's rows when it ends: its
        gradients are in by then)."""
        m0, p0 = self._written
        if (self._journal is None and self.tensorboard is None) or (m0, p0) == (len(self._rows), len(self._param_rows)):
            return
        modules = [(r, self._hist[i], self._edges[i]) for i, r in enumerate(self._rows[m0:], m0)]
        params = self._param_rows[p0:]
        if self._journal is not None:
            self._journal.append([_journal_row("module", r, h, e) for r, h, e in modules] +
                                 [_journal_row("param", p) for p in params])
        if self.tensorboard is not None:
            self._to_tensorboard(modules, params)
        self._written = (len(self._rows), len(self._param_rows))

    def _to_tensorboard(self, modules, params):
        """Scalars under fastinit/<module>/<field> and fastinit/<parameter>/<field>, each output's histogram under
        fastinit/<module>/hist, at the training step."""
        tb = self.tensorboard
        for r, hist, edges in modules:
            step = r["step"]
            for field in ("mean", "std", "zero_frac", "saturated_frac", "grad_std", "abs_mean"):
                if math.isfinite(r[field]):
                    tb.add_scalar(f"fastinit/{r['name']}/{field}", r[field], step)
            n = int(hist.sum())
            if n:
                tb.add_histogram_raw(f"fastinit/{r['name']}/hist", min=r["min"], max=r["max"], num=n,
                                     sum=r["mean"] * n, sum_squares=(r["std"] ** 2 + r["mean"] ** 2) * n,
                                     bucket_limits=edges[1:].tolist(), bucket_counts=hist.tolist(), global_step=step)
        for p in params:
            for field in ("w_norm", "grad_norm", "update_ratio"):
                if math.isfinite(p[field]):
                    tb.add_scalar(f"fastinit/{p['name']}/{field}", p[field], p["step"])

    @property
    def result(self):
        """A ``MonitorResult`` of what was recorded so far."""
        hist = np.array(self._hist) if self._hist else np.zeros((0, self.bins), np.int64)
        edges = np.array(self._edges) if self._edges else np.zeros((0, self.bins + 1))
        config = {"model": type(self.model).__name__, "every": self.every, "bins": self.bins, "grads": self.grads,
                  "updates": self.updates, "params": self.params, "modules": [n for n, _ in self._selected],
                  "rank": self.rank, "world_size": self.world_size, "out": self.out}
        return MonitorResult(rows=[dict(r) for r in self._rows], hist=hist, edges=edges,
                             params=[dict(p) for p in self._param_rows], config=config)


def monitor(model, every=10, *, modules=None, grads=True, updates=True, bins=50, eval_passes=False, out=None,
            resume=True, start_step=None, tensorboard=None, abs_mean=False, params=True):
    r"""Watch a torch model learn: per-layer signal statistics every ``every`` training steps, in any loop.

    The hooks are installed at once; use it as a context (``with fi.monitor(model) as mon: ...``: they go when
    the block ends, also on an error) or call ``close()``. During a recorded step (0, every, 2 every, ...) each
    selected module's output of each training forward pass gets the statistics record of ``fi.probe``: mean,
    std, min, max, zero fraction (dead units), saturated fraction (Tanh |h| > 0.99, Sigmoid outside
    [0.01, 0.99], clamps at their bounds), non-finite count and a ``bins``-bin histogram; and the std of
    dL/d(output) from the backward pass. Each trainable parameter gets, at the optimizer's step,
    :math:`\|W\|`, :math:`\|\partial L / \partial W\|` and the update ratio
    :math:`\|W_{t+1} - W_t\| / \|W_t\|` (about 1e-3 is healthy: Karpathy, CS231n notes; Glorot & Bengio 2010
    and He et al. 2015 for what the activation statistics tell about an init).

    Args:
        model: a ``torch.nn.Module``.
        every: record steps 0, every, 2 every, ... (an int >= 1); between them no module hook is installed.
        modules: which modules, as ``fi.probe`` takes them (None: every leaf module and attention block; a type
            or tuple of types; a regular expression on the qualified names; a list of names; a callable).
        grads: record the std of dL/d(output) (a tensor hook per recorded output).
        updates: keep a copy of the parameters at a recorded optimizer step for the update ratio.
        params: record the parameter rows at all (False: module outputs only, no norms computed).
        bins: histogram bins per output.
        eval_passes: also record forward passes under ``torch.no_grad()`` or in eval mode (validation batches).
        out: a file path: each recorded step's rows are appended (and flushed) to this CSV when the step ends, so a
            run that dies keeps them; a ``.parquet`` path keeps that CSV as ``<out>.rows.csv`` and writes the
            Parquet file at ``close()``. ``MonitorResult.read(out)`` reads either back. Under torch.distributed
            with several ranks each rank writes its own file, ``run.csv`` -> ``run.rank<r>.csv``. The file is
            locked while the monitor runs (a second writer raises ``fastinit.experiment.JournalBusy``).
        resume: when ``out`` holds rows, keep them (``result`` includes them) and go on from the step after its
            last one (False: start the file over).
        start_step: the number of the first step (a run restarted from a checkpoint of step k: ``start_step=k``;
            the rows ``out`` holds from that step on are dropped and recorded again).
        tensorboard: a ``torch.utils.tensorboard.SummaryWriter``: each module's mean, std, zero and saturated
            fractions, gradient std and histogram, and each parameter's norms and update ratio, under
            ``fastinit/<name>/<field>`` at the training step.
        abs_mean: also record mean |output| per module output, the coordinate size of Yang et al. 2021 (Tensor
            Programs V) that ``fastinit.coord_check`` reads (one more pass over each recorded output).

    Returns:
        A ``Monitor``; its ``result`` is a ``MonitorResult`` (``to_pandas()``, ``summary()``, ``plot()``).
    """
    return Monitor(model, every=every, modules=modules, grads=grads, updates=updates, bins=bins,
                   eval_passes=eval_passes, out=out, resume=resume, start_step=start_step, tensorboard=tensorboard,
                   abs_mean=abs_mean, params=params).start()
