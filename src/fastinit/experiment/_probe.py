"""The classic experiment on a real model: per-layer activation and gradient statistics of any torch network.

    res = fi.probe(model, x)                       # one forward pass, every leaf module's output recorded
    print(res)                                     # per-module table: mean, std, min, max, zeros, saturation
    res.plot("probe.png")                          # histograms over depth, std vs depth (and gradients)
    fi.probe(model, x, backward=True, inits=["default", "xavier_normal", "he_normal"]).plot("inits.png")

Forward hooks record each selected module's output: mean, std, min, max, the fraction of exact zeros (dead
units), the fraction saturated where the module is a saturating activation (``nn.Tanh`` |h| > 0.99,
``nn.Sigmoid`` outside [0.01, 0.99], ``nn.Hardtanh`` / ``nn.ReLU6`` / ``nn.Hardsigmoid`` at their bounds), the count
of non-finite values and a histogram. CPU float32, float64, float16 and bfloat16 outputs go through fastinit's C
statistics and histogram kernels (the simulation engine's), reading the tensor where it lies, GIL released; other
devices use torch ops on the device.

With ``backward=True`` the loss is L = sum(output * G), G ~ N(0, 1) drawn from ``seed`` (so dL/d(output) = G has
std 1 at the top, as in ``fastinit.simulate``); the std of dL/d(module output) is recorded per module, and
|dL/dW| (Frobenius) per module that holds a ``weight``.
"""
import copy
import dataclasses
import math
import re

import numpy as np

from .. import _core, _validate as V, init as _init
from .._optional import require
from ..nn import _modules
from ..random._generator import Generator
from . import _activations as _act, _stats

__all__ = ["probe", "ProbeResult", "ProbeResults", "FIELDS", "MODEL_ERROR_NOTE", "select_modules", "first_float_tensor",
           "output_stats"]

FIELDS = ("mean", "std", "min", "max", "zero_frac", "saturated_frac", "nonfinite", "grad_std", "grad_nonfinite",
          "grad_w_norm")

# module class name -> the C saturation rule of the activation table (tanh, sigmoid)
C_SATURATION = {cls: row.saturation for row in _act.ACTIVATIONS.values() for cls in row.torch_modules
                 if row.saturation != _core.SAT_NONE}
# activations that clamp: saturated = at one of their bounds, (lower, upper) from the module
CLAMPS = {"Hardtanh": lambda m: (m.min_val, m.max_val), "ReLU6": lambda m: (0.0, 6.0),
           "Hardsigmoid": lambda m: (0.0, 1.0)}


def _torch():
    import torch

    return torch


def _default_modules(model):
    """Every leaf module, and every attention block (a module whose class name says Attention); a model that is a
    leaf itself (a bare nn.Linear) is recorded as itself, under its class name."""
    if not any(True for _ in model.children()):
        yield type(model).__name__, model
        return
    for name, m in model.named_modules():
        if name and (not any(True for _ in m.children()) or "Attention" in type(m).__name__):
            yield name, m


def select_modules(model, modules):
    if modules is None:
        return list(_default_modules(model))
    classes = isinstance(modules, tuple) and modules and all(isinstance(t, type) for t in modules)
    if isinstance(modules, type) or classes:
        return [(n, m) for n, m in model.named_modules() if n and isinstance(m, modules)]
    if isinstance(modules, str):
        try:
            pattern = re.compile(modules)
        except re.error as exc:
            raise ValueError(f"modules: {modules!r} is not a regular expression: {exc}") from None
        return [(n, m) for n, m in model.named_modules() if n and pattern.search(n)]
    if callable(modules):
        return [(n, m) for n, m in model.named_modules() if n and modules(n, m)]
    if isinstance(modules, (list, tuple)):
        return _modules.named_modules(model, modules)
    raise TypeError("modules must be None, a module type (or tuple of types), a regular expression on the qualified "
                    f"names, a list of names or a callable(name, module), got {type(modules).__name__}")


def output_stats(module, t, bins, hist_range=None):
    """(fields, hist, edges) of one module output: mean, std, min, max, zero_frac, saturated_frac (the module's
    saturation rule: the activation table's for Tanh / Sigmoid, at a bound for the clamping ones, NaN for the
    rest) and nonfinite, with a histogram of ``bins`` bins."""
    cls = type(module).__name__
    saturation = C_SATURATION.get(cls, _core.SAT_NONE)
    st = _stats.of_tensor(t, saturation, bins, hist_range)
    sat = st.fraction("saturated") if saturation != _core.SAT_NONE else math.nan
    clamp = CLAMPS.get(cls)
    if clamp is not None:
        lo, hi = clamp(module)
        sat = float(((t.detach() <= lo) | (t.detach() >= hi)).sum()) / max(t.numel(), 1)
    fields = {"mean": st.mean, "std": st.std, "min": st.min, "max": st.max, "zero_frac": st.fraction("zeros"),
              "saturated_frac": sat, "nonfinite": st.nonfinite}
    return fields, st.hist, st.edges


def first_float_tensor(out, path=""):
    """(tensor, where) of the first floating tensor in a module's output (a tensor, tuple, list, dict or
    ModelOutput), depth first; (None, why) when there is none."""
    torch = _torch()
    if isinstance(out, torch.Tensor):
        return (out, path) if out.is_floating_point() else (None, f"{path or 'output'} is {out.dtype}")
    if isinstance(out, dict) or hasattr(out, "items"):
        items = list(out.items())
        for key, value in items:
            t, where = first_float_tensor(value, f"{path}.{key}")
            if t is not None:
                return t, where
        return None, f"{path or 'output'} holds no floating tensor"
    if isinstance(out, (tuple, list)):
        for i, value in enumerate(out):
            t, where = first_float_tensor(value, f"{path}[{i}]")
            if t is not None:
                return t, where
        return None, f"{path or 'output'} holds no floating tensor"
    return None, f"{path or 'output'} is a {type(out).__name__}"


@dataclasses.dataclass
class ProbeResult:
    """What one probe recorded: ``rows`` (one per module call, in the order of the forward pass; keys ``name``
    (the qualified name, ``#2`` ... for later calls of the same module), ``type``, ``output`` (which tensor of the
    module's output: "" for a tensor, ``[0]``, ``.last_hidden_state``), ``shape``, ``dtype`` and the statistics of
    ``FIELDS``: mean, std, min, max, zero_frac, saturated_frac (NaN where the module does not saturate), nonfinite,
    and with backward grad_std (of dL/d output), grad_nonfinite and grad_w_norm (|dL/dW|, NaN without a weight)),
    ``hist`` / ``edges`` (bins counts and bins + 1 edges per row), ``skipped`` ((name, why) of module calls whose
    output holds no floating tensor), ``config``."""

    rows: list
    hist: np.ndarray
    edges: np.ndarray
    skipped: list
    config: dict

    def __len__(self):
        return len(self.rows)

    def column(self, name):
        return np.array([r[name] for r in self.rows])

    def to_dict(self):
        return {"config": self.config, "rows": self.rows, "hist": self.hist.tolist(), "edges": self.edges.tolist(),
                "skipped": [list(s) for s in self.skipped]}

    def to_pandas(self):
        """One row per module call (pandas is optional)."""
        pd = require("pandas", "to_pandas")
        return pd.DataFrame(self.rows)

    def table(self, max_rows=60):
        # the name and type columns as wide as their longest entries: names cut short made two stages read the
        # same, and a cut type (AdaptiveAvgPool2d as "...veAvgPool2d") is not the class a user would look up
        name_width = max([34] + [len(str(r["name"])) for r in self.rows])
        type_width = max([14] + [len(str(r["type"])) for r in self.rows])
        cols = [("name", name_width), ("type", type_width), ("mean", 10), ("std", 10), ("min", 10), ("max", 10),
                ("zero", 6), ("sat", 6)]
        if self.config.get("backward"):
            cols += [("grad_std", 10), ("grad_w_norm", 11)]
        key = {"zero": "zero_frac", "sat": "saturated_frac"}
        lines = ["  ".join(f"{c:>{w}}" if c not in ("name", "type") else f"{c:<{w}}" for c, w in cols)]
        shown = self.rows
        if len(shown) > max_rows:   # the first and last rows, with a gap between
            shown = shown[:max_rows // 2] + [None] + shown[-max_rows // 2:]
        for r in shown:
            if r is None:
                lines.append(f"... {len(self.rows) - 2 * (max_rows // 2)} more rows (to_pandas() has them all)")
                continue
            cells = []
            for c, w in cols:
                v = r[key.get(c, c)]
                if c in ("name", "type"):
                    cells.append(f"{str(v):<{w}}")
                elif isinstance(v, float) and math.isnan(v):
                    cells.append(f"{'-':>{w}}")
                elif c in ("zero", "sat"):
                    cells.append(f"{v:>{w}.3f}")
                else:
                    cells.append(f"{v:>{w}.4g}")
            lines.append("  ".join(cells))
        bad = int(sum(r["nonfinite"] for r in self.rows))
        if bad:
            lines.append(f"warning: {bad} non-finite values; the statistics use the finite ones")
        if self.skipped:
            lines.append(f"skipped (no floating tensor in the output): {', '.join(n for n, _ in self.skipped[:8])}"
                         + (" ..." if len(self.skipped) > 8 else ""))
        return "\n".join(lines)

    def __repr__(self):
        c = self.config
        return (f"ProbeResult({c['model']}, init={c['init']!r}, {len(self.rows)} module calls, "
                f"backward={c['backward']})\n" + self.table())

    def plot(self, path=None, max_layers=8):
        """Histograms of evenly chosen module outputs over depth, std vs depth (and the gradient's std vs depth
        with backward). Saves to path when given; returns the figure (matplotlib, the ``plot`` extra)."""
        from ._plotting import plot_probes

        return plot_probes([self], path, max_layers=max_layers)


class ProbeResults(list):
    """One ProbeResult per init of ``probe(..., inits=[...])``, with one figure for all of them."""

    def plot(self, path=None, max_layers=6):
        from ._plotting import plot_probes

        return plot_probes(list(self), path, max_layers=max_layers)

    def __repr__(self):
        return "\n\n".join(repr(r) for r in self)


def _reinit(model, scheme, generator):
    """Every Linear / Conv (and transformers' Conv1D, whose weight is (in, out)) weight drawn from a scheme of the
    scheme table; everything else as the model made it."""
    torch = _torch()
    from torch.nn.utils import parametrize

    fill = _init.get_scheme(scheme)
    with torch.no_grad():
        for m in model.modules():
            w = getattr(m, "weight", None)
            if not isinstance(w, torch.Tensor) or w.dim() < 2:
                continue
            # a parametrized weight (weight_norm, spectral_norm) is computed from its originals on every access:
            # the scheme's matrix goes in through the parametrization's right_inverse, as `m.weight = W` does
            target = torch.empty_like(w) if parametrize.is_parametrized(m, "weight") else w
            if isinstance(m, (torch.nn.Linear, torch.nn.modules.conv._ConvNd)):
                fill(target, generator=generator)
            elif type(m).__name__ == "Conv1D":
                fill(target.T, generator=generator)   # (in, out): its transpose has torch's (out, in) fans
            else:
                continue
            if target is not w:
                m.weight = target


class _HookFailure(Exception):
    """An error of the probe's own hook, raised inside the model's forward: passed through unwrapped."""


# The note on an error of the model's own forward pass (its type and arguments kept): how a caller tells it apart
MODEL_ERROR_NOTE = "(raised by the model's forward pass on the inputs given to fastinit.probe)"


def _probe_one(model, inputs, selected, backward, bins, hist_range, seed, label):
    torch = _torch()
    run = _modules.runner(model, inputs)
    calls = {}
    records = []   # (row, output tensor when backward)
    output_grads = {}   # record index -> dL/d(output), from the tensor hooks
    skipped = []

    def hook_for(name, module):
        cls = type(module).__name__

        def hook(mod, args, out):
            try:
                record(mod, out)
            except Exception as exc:   # noqa: BLE001 - ours, not the model's: surfaces as it is
                raise _HookFailure() from exc

        def record(mod, out):
            calls[name] = calls.get(name, 0) + 1
            call_name = name if calls[name] == 1 else f"{name}#{calls[name]}"
            t, where = first_float_tensor(out)
            if t is None:
                skipped.append((call_name, where))
                return
            fields, hist, edges = output_stats(mod, t, bins, hist_range)
            row = {"name": call_name, "type": cls, "output": where, "shape": list(t.shape), "dtype": str(t.dtype),
                   **fields, "grad_std": math.nan, "grad_nonfinite": 0, "grad_w_norm": math.nan}
            tracked = backward and t.requires_grad
            if tracked:
                # dL/d(output) as the module made it: an in-place op after the module (ReLU(inplace=True)) rebases
                # the tensor's grad_fn, and its gradient then is the later op's; a hook registered now keeps this one
                slot = len(records)
                t.register_hook(lambda g: output_grads.__setitem__(slot, g.detach()))
            records.append((row, hist, edges, mod, t if tracked else None))
        return hook

    handles = []
    try:
        for name, m in selected:
            handles.append(m.register_forward_hook(hook_for(name, m)))
        ctx = torch.enable_grad() if backward else torch.no_grad()
        with ctx:
            try:
                out = run()
            except _HookFailure as failure:
                raise failure.__cause__ from None
            except Exception as exc:
                # the model's own error, unchanged (its type and arguments), said to come from the model
                if hasattr(exc, "add_note"):
                    exc.add_note(MODEL_ERROR_NOTE)
                raise
    finally:
        for h in handles:
            h.remove()
    if backward:
        top, where = first_float_tensor(out)
        if top is None or not top.requires_grad:
            raise ValueError(f"backward=True needs a floating output that requires grad ({where or 'none found'})")
        g = torch.from_numpy(Generator(seed).normal(tuple(top.shape), dtype=np.float32)).to(top.device, top.dtype)
        loss = (top * g).sum()
        outs = [(i, rec[4]) for i, rec in enumerate(records) if rec[4] is not None]
        weights = {}
        for i, rec in enumerate(records):
            w = getattr(rec[3], "weight", None)
            if isinstance(w, torch.Tensor) and w.requires_grad and id(w) not in weights:
                weights[id(w)] = (i, w)
        targets = [t for _, t in outs] + [w for _, w in weights.values()]
        grads = torch.autograd.grad(loss, targets, allow_unused=True)
        for (i, _), gr in zip(outs, grads[:len(outs)]):
            gr = output_grads.get(i, gr)
            if gr is not None:
                st = _stats.of_tensor(gr)   # (no histogram: the gradients record none)
                records[i][0]["grad_std"] = st.std
                records[i][0]["grad_nonfinite"] = st.nonfinite
        for (i, _), gr in zip(weights.values(), grads[len(outs):]):
            if gr is not None:
                records[i][0]["grad_w_norm"] = float(torch.linalg.vector_norm(gr.detach().double()))
    rows = [r[0] for r in records]
    hist = np.array([r[1] for r in records]) if records else np.zeros((0, bins), np.int64)
    edges = np.array([r[2] for r in records]) if records else np.zeros((0, bins + 1))
    config = {"model": type(model).__name__, "init": label, "backward": bool(backward), "bins": bins, "seed": seed,
              "modules": len(selected), "training": bool(model.training)}
    return ProbeResult(rows=rows, hist=hist, edges=edges, skipped=skipped, config=config)


def probe(model, inputs, *, backward=False, modules=None, bins=50, hist_range=None, seed=0, inits=None):
    """Push ``inputs`` through ``model`` once and record every selected module's output statistics (and, with
    backward, its gradient's): the experiment of ``fastinit.simulate`` on a real network.

    Args:
        model: a ``torch.nn.Module`` (left in the mode it is in: call ``model.eval()`` first to probe without
            dropout).
        inputs: a tensor, a tuple of tensors (positional arguments) or a dict (keyword arguments, e.g. a tokenizer's
            ``input_ids``).
        backward: also run backward from L = sum(output * G), G ~ N(0, 1) from ``seed``, and record the std of
            dL/d(output) per module and |dL/dW| per module weight.
        modules: which modules to record: None (every leaf module and every attention block), a module type or a
            tuple of types, a regular expression searched in the qualified names, a list of names, or a callable
            ``f(name, module) -> bool``.
        bins, hist_range: histogram of each output; ``hist_range=None`` uses each output's [min, max].
        seed: the seed of G (backward) and of the re-initializations (``inits``).
        inits: compare initializations: a list of scheme names of ``fastinit.schemes`` ("default" is the model as
            given); each other entry re-initializes a copy of the model (every Linear/Conv weight, from
            ``Generator(seed)``) and probes it. Returns ``ProbeResults`` then, one result per init.
    Returns:
        ProbeResult (or ProbeResults with ``inits``). Module calls whose output holds no floating tensor are listed
        in ``skipped``; a module called several times records every call (``name#2``, ...). Hooks are removed
        afterwards, also when the forward pass raises.
    """
    torch = _torch()
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    bins = V.bins(bins)
    hist_range = V.hist_range(hist_range)
    seed = V.uint64(seed, "seed")
    if not isinstance(backward, (bool, np.bool_)):
        raise TypeError(f"backward must be True or False, got {backward!r}")
    if inits is None:
        return _probe_one(model, inputs, select_modules(model, modules), backward, bins, hist_range, seed, "as given")
    if isinstance(inits, str):
        inits = [inits]
    if not isinstance(inits, (list, tuple)) or not inits:
        raise ValueError(f"inits must be a non-empty list of scheme names ('default': the model as given), got "
                         f"{inits!r}")
    for scheme in inits:
        if scheme != "default":
            _init.get_scheme(scheme)   # ValueError naming the valid schemes, before any work
    results = ProbeResults()
    for scheme in inits:
        if scheme == "default":
            results.append(_probe_one(model, inputs, select_modules(model, modules), backward, bins, hist_range, seed,
                                      "default"))
            continue
        twin = copy.deepcopy(model)
        _reinit(twin, scheme, Generator(seed))
        selected = select_modules(twin, modules)
        results.append(_probe_one(twin, inputs, selected, backward, bins, hist_range, seed, scheme))
    return results
