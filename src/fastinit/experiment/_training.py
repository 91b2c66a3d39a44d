"""Training in the simulation engine: does the init that keeps the signal alive also train?

    res = fi.train(depth=10, width=128, activation="tanh", init="xavier_normal", data="digits", steps=500)
    print(res.test_accuracy)              # held-out accuracy after training
    fi.plot_training([res, fi.train(init="small_normal")], "curves.png")

The network is the simulation's MLP with a readout: ``depth`` hidden layers H_l = act(H_{l-1} W_l^T + b_l) of
``width`` units, then logits Z = H_depth W_out^T + b_out, every layer in the C layer step (the BLAS products and
the fused epilogue, as in ``fastinit.simulate``). Weights follow ``init`` (fans from each layer's shape), biases
are ``bias + bias_std * N(0, 1)`` (the theory's sigma_b = bias_std). The loss is softmax cross-entropy on integer
labels,

    L = -(1 / B) sum_i log softmax(Z_i)_{y_i},      dL/dZ = (softmax(Z) - onehot(y)) / B,

or mean squared error, L = (1 / (B K)) sum (Z - Y)^2 (torch's MSELoss). Each step takes a mini-batch of B rows
(an epoch is a permutation of the training rows from the generator's stream: the same batches for every thread
count and machine), runs the backward pass of the engine and updates every weight and bias in place by
torch.optim.SGD's rule (Robbins & Monro 1951; momentum as in Sutskever et al. 2013, torch's form):

    d = g + weight_decay * w,    v = momentum * v + d,    w = w - lr * v.

A non-finite loss stops the run at that step (``diverged_step``); nothing raises from C.
"""
import dataclasses
import math
import sys
import time

import numpy as np

from .. import _core, _validate as V
from .._optional import require
from ..random._generator import Generator
from . import _activations as _act, _init_arg, _stats
from ._datasets import DIGITS_TEST_ROWS, LOSSES, load_data
from ._progress import Progress

__all__ = ["train", "TrainResult", "plot_training", "load_data", "LOSSES", "DIGITS_TEST_ROWS"]

STAT_FIELDS = ("p_std", "h_std", "h_zero_frac", "h_saturated_frac", "grad_h_std", "grad_w_norm")
_EVAL_ROWS = 1024          # evaluation runs over the data in pieces of this many rows
_NAN2 = (math.nan, math.nan)


def _head(z, target, loss):
    """(loss, accuracy, dL/dZ in z's dtype) of a batch; the loss in float64. NaN accuracy for mse."""
    B = z.shape[0]
    with np.errstate(all="ignore"):
        z64 = z.astype(np.float64)
        if loss == "mse":
            diff = z64 - target
            return float(np.mean(diff * diff)), math.nan, (2.0 / diff.size * diff).astype(z.dtype)
        shifted = z64 - z64.max(axis=1, keepdims=True)
        lse = np.log(np.exp(shifted).sum(axis=1))
        rows = np.arange(B)
        value = float(np.mean(lse - shifted[rows, target]))
        g = np.exp(shifted - lse[:, None])
        g[rows, target] -= 1.0
        g /= B
        accuracy = float(np.mean(np.argmax(z64, axis=1) == target))
    return value, accuracy, g.astype(z.dtype)


class _Net:
    """The weights, biases, momentum buffers and activations of one training run."""

    def __init__(self, widths, activation, alpha, weights, bias, bias_std, seed, dtype):
        self.widths, self.dtype = widths, dtype
        row = _act.get(activation)
        linear = _act.get("linear")
        self.layers = len(widths) - 1
        self.acts = [row.code] * (self.layers - 1) + [linear.code]
        self.saturation = [row.saturation] * (self.layers - 1) + [linear.saturation]
        self.alpha = alpha
        # child 0: the mini-batches; child l: layer l's weights (the readout is layer depth + 1); the last: biases
        children = Generator(seed).spawn(self.layers + 2)
        self.batches = Generator(children[0].seed)
        # each layer's W (out x in) and b in one flat buffer, and its gradient and momentum alike: one SGD call
        # per layer (torch's weight decay applies to biases too)
        self.params, self.grads, self.momenta, self.W, self.b, self.gW, self.gb = ([] for _ in range(7))
        biases = Generator(children[-1].seed)
        for l in range(1, self.layers + 1):
            n_out, n_in = widths[l], widths[l - 1]
            flat, grad = np.empty(n_out * n_in + n_out, dtype), np.empty(n_out * n_in + n_out, dtype)
            W, b = flat[:n_out * n_in].reshape(n_out, n_in), flat[n_out * n_in:]
            weights.fill(W, Generator(children[l].seed))
            b[...] = bias
            if bias_std:
                b += biases.normal(n_out, std=bias_std, dtype=dtype)
            else:
                biases.take_streams(1)   # layer l's bias stream whether it is used or not
            self.params.append(flat)
            self.grads.append(grad)
            self.momenta.append(np.zeros_like(flat))
            self.W.append(W)
            self.b.append(b)
            self.gW.append(grad[:n_out * n_in].reshape(n_out, n_in))
            self.gb.append(grad[n_out * n_in:])
        self._hist = np.zeros(1, np.int64), np.zeros(1, np.int64)

    def buffers(self, rows):
        """P and H of every layer for ``rows`` input rows."""
        return ([np.empty((rows, n), self.dtype) for n in self.widths[1:]],
                [np.empty((rows, n), self.dtype) for n in self.widths[1:]])

    def forward(self, x, P, H, stats=False):
        """Fills P, H; returns the C statistics of each layer (p_stats, h_stats) when ``stats``, else None."""
        out, h = [], x
        hist = self._hist if stats else (None, None)
        for l in range(self.layers):
            ps, hs, _, _ = _core.layer_forward(h, self.W[l], self.b[l], P[l], H[l], False, 1.0, None, self.acts[l],
                                               self.alpha, self.saturation[l], 1, _NAN2, _NAN2, *hist, stats)
            out.append((ps, hs))
            h = H[l]
        return out if stats else None

    def backward_and_step(self, x, P, H, g, G, lr, momentum, weight_decay, stats=False):
        """g: dL/dZ; G: dL/dH buffers of the hidden layers. Updates every parameter; returns per layer
        (gh_stats, gw_norm) when ``stats``, else None."""
        out = []
        for l in range(self.layers - 1, -1, -1):
            h_in = H[l - 1] if l else x
            g_in = G[l - 1] if l else None
            gh, _, gw = _core.layer_backward(h_in, self.W[l], P[l], H[l], False, None, self.acts[l], self.alpha, g,
                                             g_in, self.gW[l], stats)
            g.sum(axis=0, out=self.gb[l])   # g now holds dL/dP
            _core.sgd_step(self.params[l], self.grads[l], self.momenta[l], lr, momentum, weight_decay)
            out.append((gh, gw))
            g = g_in
        return out[::-1] if stats else None

    def step(self, x, target, loss, lr, momentum, weight_decay, P, H, G, stats=False):
        """One training step on the batch x: (loss, accuracy, forward statistics, backward statistics; both None
        unless ``stats``). Nothing is updated when the loss is not finite."""
        fwd = self.forward(x, P, H, stats)
        value, accuracy, g = _head(H[-1], target, loss)
        if not math.isfinite(value):
            return value, accuracy, fwd, None
        return value, accuracy, fwd, self.backward_and_step(x, P, H, g, G, lr, momentum, weight_decay, stats)

    def work_buffers(self, rows):
        """(P, H, G) for training batches of ``rows`` rows (G: dL/dH of the hidden layers)."""
        P, H = self.buffers(rows)
        return P, H, [np.empty((rows, n), self.dtype) for n in self.widths[1:-1]]

    def evaluate(self, X, target, loss):
        """(loss, accuracy) over all rows of X, in pieces."""
        if len(X) == 0:
            return math.nan, math.nan
        P, H = self.buffers(min(len(X), _EVAL_ROWS))
        total_loss = total_right = 0.0
        for start in range(0, len(X), _EVAL_ROWS):
            x = X[start:start + _EVAL_ROWS]
            n = len(x)
            self.forward(x, [p[:n] for p in P], [h[:n] for h in H])
            value, accuracy, _ = _head(H[-1][:n], target[start:start + n], loss)
            total_loss += value * n
            total_right += (0.0 if loss == "mse" else accuracy) * n
        return total_loss / len(X), (math.nan if loss == "mse" else total_right / len(X))


def _batch_order(gen, rows, batch, steps):
    """The row indices of every step: consecutive slices of permutations of range(rows), one permutation per
    epoch (argsort of the epoch's raw words; ties broken by position), the last partial slice of an epoch dropped
    (all rows when batch >= rows)."""
    batch = min(batch, rows)
    per_epoch = rows // batch
    epochs = -(-steps // per_epoch)
    order = np.empty((epochs * per_epoch, batch), np.int64)
    for e in range(epochs):
        perm = np.argsort(gen.random_raw(rows), kind="stable")
        order[e * per_epoch:(e + 1) * per_epoch] = perm[:per_epoch * batch].reshape(per_epoch, batch)
    return order[:steps]


def check_settings(steps=500, lr=0.01, momentum=0.9, weight_decay=0.0, data="digits", loss="cross_entropy",
                   normalize="standardize", dtype="float32"):
    """The checked training settings (steps, lr, momentum, weight_decay) and the loaded data: ValueError /
    TypeError naming the argument before any work (a sweep checks its settings once, up front)."""
    steps = V.positive_int(steps, "steps")
    lr, momentum, weight_decay = V.real(lr, "lr"), V.real(momentum, "momentum"), V.real(weight_decay, "weight_decay")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
    d = load_data(data, normalize, loss, dtype)
    if loss == "cross_entropy" and d.outputs < 2:
        raise ValueError(f"y has {d.outputs} class; cross_entropy needs labels of at least 2 classes")
    return steps, lr, momentum, weight_decay, d


def train(depth=10, width=128, activation="tanh", init="xavier_normal", bias_std=0.0, bias=0.0, data="digits",
          steps=500, batch=64, lr=0.01, momentum=0.9, weight_decay=0.0, seed=0, loss="cross_entropy",
          normalize="standardize", eval_every=None, record_every=None, dtype="float32", alpha=None, progress=None,
          *, stop=None):
    """Train the engine's MLP with SGD and record its loss, accuracy and per-layer statistics over the steps.

    Loss L = -(1/B) sum_i log softmax(Z_i)_{y_i} (or torch's MSELoss); each step, for every weight and bias:
    d = g + weight_decay w, v = momentum v + d, w = w - lr v (torch.optim.SGD; momentum as in Sutskever et al.
    2013). Which inits train: Glorot & Bengio 2010, He et al. 2015; the depth scales: Schoenholz et al. 2017
    (``fastinit.theory.depth_scales``).

    Args:
        depth, width: hidden layers and their units (the readout layer comes on top: ``depth + 1`` weight matrices).
        activation, alpha: as in ``fastinit.simulate`` (the readout is linear).
        init: as in ``fastinit.simulate`` for every weight matrix (``{"sigma_w2": v}``: N(0, v / fan_in)).
        bias_std, bias: every bias starts as ``bias + bias_std * N(0, 1)`` (sigma_b^2 of the theory =
            ``bias_std**2``; the default is zero biases).
        data: ``"digits"`` (scikit-learn's load_digits, a fixed 1,257 / 540 split; the ``digits`` extra),
            ``(X, y)`` or ``(X, y, X_test, y_test)``; ``normalize`` is fitted on the training rows
            (``fastinit.normalize``'s methods, or None).
        steps, batch: SGD steps and rows per mini-batch.
        lr, momentum, weight_decay: torch.optim.SGD's (dampening 0, not Nesterov).
        seed: weights, biases and the order of the mini-batches derive from it.
        loss: "cross_entropy" (integer labels 0 .. classes - 1) or "mse" (real targets).
        eval_every: held-out loss and accuracy every this many steps (default steps // 4: four points of a curve
            for about 6% of a 300-step run at depth 40; and after the last step, always).
        record_every: the per-layer statistics of the training pass every this many steps (default steps // 5;
            always at step 1, the initial network, and at the last step; about 2%).
        dtype: "float32" or "float64".
        progress: a progress bar (tqdm if installed, else a line on stderr) with an ETA; None (the default): when
            stderr is a terminal.
        stop: a ``threading.Event``; once set, training raises KeyboardInterrupt before its next step.
    Returns:
        TrainResult.
    """
    start = time.perf_counter()
    depth = V.positive_int(depth, "depth")
    width = V.positive_int(width, "width")
    row = _act.get(activation)
    alpha = row.alpha if alpha is None else V.real(alpha, "alpha")
    weights = _init_arg.resolve(init)
    bias_std, bias = V.real(bias_std, "bias_std"), V.real(bias, "bias")
    if bias_std < 0:
        raise ValueError(f"bias_std must be >= 0, got {bias_std}")
    batch = V.positive_int(batch, "batch")
    steps, lr, momentum, weight_decay, d = check_settings(steps, lr, momentum, weight_decay, data, loss, normalize,
                                                          dtype)
    seed = V.uint64(seed, "seed")
    eval_every = max(1, steps // 4) if eval_every is None else V.positive_int(eval_every, "eval_every")
    record_every = max(1, steps // 5) if record_every is None else V.positive_int(record_every, "record_every")
    if progress is None:
        progress = sys.stderr.isatty()
    widths = (d.X.shape[1],) + (width,) * depth + (d.outputs,)
    net = _Net(widths, activation, alpha, weights, bias, bias_std, seed, d.X.dtype)
    order = _batch_order(net.batches, len(d.X), batch, steps)
    B = order.shape[1]
    P, H, G = net.work_buffers(B)
    x = np.empty((B, widths[0]), d.X.dtype)
    history = {k: np.full(steps, np.nan) for k in ("loss", "accuracy")}
    evals = {"step": [], "test_loss": [], "test_accuracy": []}
    records = {"step": []}
    records.update({f: [] for f in STAT_FIELDS})
    record_at = set(range(record_every, steps + 1, record_every)) | {1, steps}
    diverged = None
    bar = Progress(steps, enabled=progress, desc="train", unit="step")
    try:
        for step in range(1, steps + 1):
            if stop is not None and stop.is_set():
                raise KeyboardInterrupt("the training was stopped")
            idx = order[step - 1]
            np.take(d.X, idx, axis=0, out=x)
            record = step in record_at
            value, accuracy, fwd, bwd = net.step(x, d.y[idx], loss, lr, momentum, weight_decay, P, H, G, record)
            history["loss"][step - 1], history["accuracy"][step - 1] = value, accuracy
            if not math.isfinite(value):
                diverged = step
                break
            if record:
                _record(records, step, fwd, bwd)
            if step % eval_every == 0 or step == steps:
                test_loss, test_accuracy = net.evaluate(d.X_test, d.y_test, loss)
                evals["step"].append(step)
                evals["test_loss"].append(test_loss)
                evals["test_accuracy"].append(test_accuracy)
            bar.update()
    finally:
        bar.close()
    done = steps if diverged is None else diverged - 1
    train_loss, train_accuracy = net.evaluate(d.X, d.y, loss) if diverged is None else (math.nan, math.nan)
    # the held-out numbers of the trained network: the last step's evaluation (the last step always evaluates)
    test_loss, test_accuracy = (evals["test_loss"][-1], evals["test_accuracy"][-1]) if diverged is None else \
        (math.nan, math.nan)
    config = dict(depth=depth, width=width, widths=list(widths), activation=activation, alpha=alpha,
                  init=init if isinstance(init, (str, dict)) else repr(init), bias_std=bias_std, bias=bias,
                  data=d.name, train_rows=len(d.X), test_rows=len(d.X_test), steps=steps, batch=B, lr=lr,
                  momentum=momentum, weight_decay=weight_decay, seed=seed, loss=loss, normalize=normalize,
                  eval_every=eval_every, record_every=record_every, dtype=str(d.X.dtype))
    return TrainResult(
        config=config,
        history={"step": np.arange(1, done + 1), "loss": history["loss"][:done],
                 "accuracy": history["accuracy"][:done]},
        evaluations={k: np.asarray(v, np.int64 if k == "step" else np.float64) for k, v in evals.items()},
        layers={k: np.asarray(v, np.int64 if k == "step" else np.float64) for k, v in records.items()},
        loss=train_loss, train_accuracy=train_accuracy, test_loss=test_loss, test_accuracy=test_accuracy,
        diverged_step=diverged, seconds=time.perf_counter() - start, weights=net.W, biases=net.b)


def _record(records, step, fwd, bwd):
    """The per-layer statistics of one training pass (hidden layers and the readout)."""
    records["step"].append(step)
    cols = {f: [] for f in STAT_FIELDS}
    for (ps, hs), (gh, gw) in zip(fwd, bwd):
        p, h, g = _stats.from_core(ps), _stats.from_core(hs), _stats.from_core(gh)
        cols["p_std"].append(p.std)
        cols["h_std"].append(h.std)
        cols["h_zero_frac"].append(h.fraction("zeros"))
        cols["h_saturated_frac"].append(h.fraction("saturated"))
        cols["grad_h_std"].append(g.std)
        cols["grad_w_norm"].append(gw)
    for f in STAT_FIELDS:
        records[f].append(cols[f])


@dataclasses.dataclass
class TrainResult:
    """One training run.

    ``history``: per step ``step``, ``loss`` and ``accuracy`` of its mini-batch (before that step's update).
    ``evaluations``: ``step``, ``test_loss``, ``test_accuracy`` on the held-out rows. ``layers``: ``step`` (the
    recorded steps) and per field of ``STAT_FIELDS`` an array (recorded steps x depth + 1 layers; the last is the
    readout): the statistics of that step's training pass, as ``fastinit.simulate`` records them (h_zero_frac: dead
    ReLUs; h_saturated_frac: saturated tanh / sigmoid units). ``loss``, ``train_accuracy``, ``test_loss``,
    ``test_accuracy``: the trained network on all training and held-out rows (NaN after a divergence).
    ``diverged_step``: the step whose loss was not finite (training stopped there), else None. ``weights``,
    ``biases``: the trained parameters (W_l as (out, in)).
    """

    config: dict
    history: dict
    evaluations: dict
    layers: dict
    loss: float
    train_accuracy: float
    test_loss: float
    test_accuracy: float
    diverged_step: object
    seconds: float
    weights: list = dataclasses.field(default=None, repr=False)
    biases: list = dataclasses.field(default=None, repr=False)

    def to_pandas(self):
        """One row per step: loss, accuracy and, at the evaluated steps, test_loss and test_accuracy."""
        pd = require("pandas", "to_pandas")
        frame = pd.DataFrame({k: self.history[k] for k in ("loss", "accuracy")},
                             index=pd.Index(self.history["step"], name="step"))
        ev = pd.DataFrame({k: self.evaluations[k] for k in ("test_loss", "test_accuracy")},
                          index=pd.Index(self.evaluations["step"], name="step"))
        return frame.join(ev)

    def summary(self):
        """The trainability row of a sweep: final accuracies and losses, the divergence step (0: none)."""
        return {"train_accuracy": self.train_accuracy, "test_accuracy": self.test_accuracy, "train_loss": self.loss,
                "test_loss": self.test_loss, "diverged_step": self.diverged_step or 0}

    def __repr__(self):
        c = self.config
        head = (f"TrainResult(depth={c['depth']}, width={c['width']}, activation={c['activation']!r}, "
                f"init={c['init']!r}, data={c['data']!r}, steps={c['steps']}, lr={c['lr']})")
        if self.diverged_step is not None:
            return head + f"\n  diverged: the loss was not finite at step {self.diverged_step}"
        return head + (f"\n  train loss {self.loss:.4g}, accuracy {self.train_accuracy:.3f}; "
                       f"test loss {self.test_loss:.4g}, accuracy {self.test_accuracy:.3f} ({self.seconds:.2f} s)")

    def plot(self, path=None):
        """Loss and accuracy over the steps, and the per-layer statistics at the recorded steps (matplotlib)."""
        from ._training_plots import plot_training as plot

        return plot([self], path)


def plot_training(results, path=None):
    """Several runs on one figure (the classic comparison of inits): loss and accuracy over the steps, and the
    dead (relu-like) or saturated (tanh, sigmoid) fraction of the hidden units at the recorded steps."""
    from ._training_plots import plot_training as plot

    return plot(list(results), path)
