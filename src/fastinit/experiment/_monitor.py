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
"""
import dataclasses
import math

import numpy as np

from .. import _validate as V
from .._optional import require
from . import _stats
from ._probe import FIELDS, first_float_tensor, output_stats, select_modules

__all__ = ["monitor", "Monitor", "MonitorResult", "DEAD", "SATURATED", "STILL"]

# summary()'s thresholds: a layer died when this fraction of its outputs is exactly 0 (ReLU units that never fire),
# saturated when this fraction sits at its activation's bounds, stopped moving when a parameter's update ratio is
# below STILL (1e-3 is healthy)
DEAD = 0.9
SATURATED = 0.9
STILL = 1e-6

# the probe's fields of a module output; a weight's gradient is a parameter row here
_MODULE_FIELDS = tuple(f for f in FIELDS if f != "grad_w_norm")


def _torch():
    return require("torch", "fastinit.monitor")


@dataclasses.dataclass
class MonitorResult:
    """What a monitor recorded. ``rows``: one per module output of a recorded step (keys ``step``, ``name``
    (``#2`` ... for later calls in the same step), ``type``, ``output``, ``shape`` and ``mean``, ``std``, ``min``,
    ``max``, ``zero_frac``, ``saturated_frac`` (NaN where the module does not saturate), ``nonfinite``,
    ``grad_std`` and ``grad_nonfinite`` of dL/d(output) (NaN / 0 without a backward pass)); ``hist`` / ``edges``:
    each row's histogram; ``params``: one per trainable parameter and recorded step (``step``, ``name``,
    ``w_norm``, ``grad_norm``, ``update_ratio``: NaN where the step had no optimizer step or W was 0); ``config``."""

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
        pd = require("pandas", "to_pandas")
        if what == "modules":
            return pd.DataFrame(self.rows, columns=["step", "name", "type", "output", "shape", *_MODULE_FIELDS])
        if what == "params":
            return pd.DataFrame(self.params, columns=["step", "name", "w_norm", "grad_norm", "update_ratio"])
        raise ValueError(f"what must be 'modules' or 'params', got {what!r}")

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

    def plot(self, path=None):
        """Four panels: the std of each module's output over the recorded steps (modules x steps, log colour),
        the std of its gradient likewise, the zero and saturated fractions of the modules that have them, and each
        weight's update ratio with cs231n's 1e-3. Saved to ``path`` when given; returns the figure."""
        from ._monitor_plots import plot_monitor

        return plot_monitor(self, path)


class Monitor:
    """A monitor of ``model``'s training; see ``fastinit.monitor``. ``result`` holds what it recorded so far."""

    def __init__(self, model, every=10, modules=None, grads=True, updates=True, bins=50, eval_passes=False):
        self._torch = torch = _torch()
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.every = V.integer(every, "every")
        if self.every < 1:
            raise ValueError(f"every must be >= 1, got {self.every}")
        self.bins = V.integer(bins, "bins")
        if self.bins < 1:
            raise ValueError(f"bins must be >= 1, got {self.bins}")
        for name, value in (("grads", grads), ("updates", updates), ("eval_passes", eval_passes)):
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be True or False, got {value!r}")
        self.model, self.grads, self.updates, self.eval_passes = model, grads, updates, eval_passes
        self._selected = select_modules(model, modules)
        self._params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self._ids = {id(p) for _, p in self._params}
        self.step_index = 0   # the step in progress
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

        self._step_hooks = [register_optimizer_step_pre_hook(self._before_optimizer_step),
                            register_optimizer_step_post_hook(self._after_optimizer_step)]
        self._open = True
        self._arm()
        return self

    def close(self):
        """Remove every hook; what was recorded stays in ``result``."""
        for h in self._module_hooks + self._step_hooks:
            h.remove()
        self._module_hooks, self._step_hooks = [], []
        self._open = False

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
            row = {"step": self.step_index, "name": call, "type": type(module).__name__, "output": where,
                   "shape": list(t.shape), **fields, "grad_std": math.nan, "grad_nonfinite": 0}
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
        """|t| (Frobenius), accumulated in float64 without a float64 copy of t."""
        torch = self._torch
        return float(torch.linalg.vector_norm(t.detach(), dtype=torch.float64)) if t is not None else math.nan

    def _ours(self, optimizer):
        """Whether an optimizer steps this model's parameters (asked once per optimizer: every optimizer of the
        process calls the global step hooks)."""
        known = self._optimizers.get(id(optimizer))
        if known is None or known[0] is not optimizer:
            known = (optimizer, any(id(p) in self._ids for group in optimizer.param_groups for p in group["params"]))
            self._optimizers[id(optimizer)] = known
        return known[1]

    def _before_optimizer_step(self, optimizer, args, kwargs):
        if not (self._open and self._ours(optimizer) and self.recorded(self.step_index)):
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
            for name, p in self._params:
                if before is not None:
                    w_norm, grad_norm, old = before[name]
                    # (the difference in the parameter's dtype: within a rounding of it, a float64 copy costs more)
                    ratio = self._norm(p.detach() - old) / w_norm if old is not None and w_norm > 0 else math.nan
                else:
                    w_norm, grad_norm, ratio = self._norm(p), self._norm(p.grad), math.nan
                self._param_rows.append({"step": self.step_index, "name": name, "w_norm": w_norm,
                                         "grad_norm": grad_norm, "update_ratio": ratio})
        self.step_index += 1
        self._calls = {}
        self._arm()

    @property
    def result(self):
        """A ``MonitorResult`` of what was recorded so far."""
        hist = np.array(self._hist) if self._hist else np.zeros((0, self.bins), np.int64)
        edges = np.array(self._edges) if self._edges else np.zeros((0, self.bins + 1))
        config = {"model": type(self.model).__name__, "every": self.every, "bins": self.bins, "grads": self.grads,
                  "updates": self.updates, "modules": [n for n, _ in self._selected]}
        return MonitorResult(rows=[dict(r) for r in self._rows], hist=hist, edges=edges,
                             params=[dict(p) for p in self._param_rows], config=config)


def monitor(model, every=10, *, modules=None, grads=True, updates=True, bins=50, eval_passes=False):
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
        bins: histogram bins per output.
        eval_passes: also record forward passes under ``torch.no_grad()`` or in eval mode (validation batches).

    Returns:
        A ``Monitor``; its ``result`` is a ``MonitorResult`` (``to_pandas()``, ``summary()``, ``plot()``).
    """
    return Monitor(model, every=every, modules=modules, grads=grads, updates=updates, bins=bins,
                   eval_passes=eval_passes).start()
