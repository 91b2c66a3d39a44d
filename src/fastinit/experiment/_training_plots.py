"""Figures of training runs (matplotlib: the optional ``fastinit-philox[plot]`` extra): loss and accuracy curves
of several inits on one figure, and the state of the hidden units over training."""
import numpy as np

from ._plotting import FONT, finish, pyplot, style_axes


def _smooth(values, window):
    """Running mean over `window` steps (the first ones over what there is)."""
    if window <= 1 or values.size == 0:
        return values
    c = np.cumsum(np.insert(values, 0, 0.0))
    n = np.arange(1, values.size + 1)
    lo = np.maximum(0, n - window)
    return (c[n] - c[lo]) / (n - lo)


def _run_label(c):
    return f"{c['activation']}, {c['init']}, depth {c['depth']}, lr {c['lr']:g}"


def _unit_fraction(res):
    """(what, per recorded step the mean over the hidden layers): dead units for relu-like activations, saturated
    ones for tanh / sigmoid, else the activations' std."""
    layers = res.layers
    hidden = slice(0, res.config["depth"])
    sat = layers["h_saturated_frac"][:, hidden]
    if np.all(np.isfinite(sat)) and res.config["activation"] in ("tanh", "sigmoid"):
        return "saturated fraction of the hidden units", sat.mean(axis=1)
    zeros = layers["h_zero_frac"][:, hidden]
    if res.config["activation"] in ("relu", "leaky_relu", "prelu"):
        return "zero fraction of the hidden activations (relu: units off)", zeros.mean(axis=1)
    return "std of the hidden activations (mean over layers)", layers["h_std"][:, hidden].mean(axis=1)


def plot_training(results, path=None):
    """Loss (log scale) and accuracy over the steps for every run (mini-batch values as a running mean, held-out
    values as dots), and the dead or saturated fraction of the hidden units at the recorded steps."""
    if not results:
        raise ValueError("nothing to plot: no training results")
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14.0, 3.8))
    loss_ax, acc_ax, unit_ax = axes
    whats = []
    for i, res in enumerate(results):
        color, label = f"C{i}", _run_label(res.config)
        h, ev = res.history, res.evaluations
        window = max(1, res.config["steps"] // 50)
        if h["step"].size:
            loss_ax.semilogy(h["step"], _smooth(h["loss"], window), color=color, lw=1.4, label=label)
            if res.config["loss"] == "cross_entropy":
                acc_ax.plot(h["step"], _smooth(h["accuracy"], window), color=color, lw=1.4, label=label)
        if ev["step"].size:
            loss_ax.semilogy(ev["step"], ev["test_loss"], "o", color=color, ms=3.5)
            acc_ax.plot(ev["step"], ev["test_accuracy"], "o", color=color, ms=3.5)
        if res.diverged_step is not None:
            loss_ax.axvline(res.diverged_step, color=color, ls=":", lw=1)
        if res.layers["step"].size:
            what, values = _unit_fraction(res)
            whats.append(what)
            unit_ax.plot(res.layers["step"], values, "o-", color=color, ms=3.5, lw=1.2)
    loss_ax.set_ylabel("loss (line: training batches, running mean; dots: held-out)", fontsize=FONT)
    acc_ax.set_ylabel("accuracy (line: training batches; dots: held-out)", fontsize=FONT)
    acc_ax.set_ylim(-0.02, 1.02)
    unit_ax.set_ylabel(whats[0] if len(set(whats)) == 1 else
                       "hidden activations: zero fraction (relu-like), saturated fraction (tanh, sigmoid)",
                       fontsize=FONT)
    for ax, title in ((loss_ax, "loss"), (acc_ax, "accuracy"), (unit_ax, "hidden units over training")):
        ax.set_xlabel("step", fontsize=FONT)
        style_axes(ax, title)
    loss_ax.legend(fontsize=FONT - 1, loc="best", framealpha=0.85)
    fig.tight_layout()
    return finish(plt, fig, path)
