"""Training sweeps (``fastinit.sweep(..., train=dict(...))``): the CSV forms of their settings and of inits given
as variances, the trainability row of one configuration, and the test of the depth-scale law on a grid
(Schoenholz et al. 2017: random networks train when depth < about 6 xi_c), and its figure: the held-out accuracy
over depth x sigma_w^2 with the theory's depth scale on it (their figure 5).
"""
import ast
import math
import time

import numpy as np

from . import _journal, _training, theory as _theory_mod
from ._journal import KEY

__all__ = ["init_label", "init_value", "sigma_w2_of", "train_label", "train_settings", "train_row",
           "fit", "plot_trainability", "check_variance", "TRAIN_DEFAULTS", "SIGMA_W2"]


SIGMA_W2 = "sigma_w2="   # an init of a sweep given as a variance: "sigma_w2=1.5" is N(0, 1.5 / fan_in)
# the settings of fi.train a training sweep takes (train=dict(...)), with their defaults; a row's "train" column
# holds them all, in this order, so equal settings are the same configuration
TRAIN_DEFAULTS = dict(steps=500, lr=0.01, momentum=0.9, weight_decay=0.0, data="digits", loss="cross_entropy",
                      normalize="standardize", dtype="float32")


def init_label(init):
    """The CSV form of a sweep's init: a scheme name as it is, {"sigma_w2": v} as "sigma_w2=v"."""
    if isinstance(init, dict) and set(init) == {"sigma_w2"}:
        return f"{SIGMA_W2}{check_variance(init['sigma_w2'], 'sigma_w2')!r}"
    return init


def check_variance(v, name, least=0.0, strict=True):
    """v as a float: a finite number above (strict) or at least ``least``; ValueError naming it otherwise."""
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(v) or \
            (v <= least if strict else v < least):
        raise ValueError(f"{name} must be a finite number {'>' if strict else '>='} {least}, got {v!r}")
    return float(v)


def init_value(label):
    """What ``fastinit.simulate`` / ``fastinit.train`` take for a sweep's init label."""
    if isinstance(label, str) and label.startswith(SIGMA_W2):
        return {"sigma_w2": float(label[len(SIGMA_W2):])}
    return label


def sigma_w2_of(config):
    """fan_in Var[W] of a square layer of the configuration's init (NaN when the scheme has none)."""
    w = config["width"]
    return w * _theory_mod.weight_variance(init_value(config["init"]), w, w)


def train_label(train):
    """The "train" column of a training sweep's settings (a dict of ``TRAIN_DEFAULTS`` keys), "" for none."""
    if train is None or train is False:
        return ""
    if not isinstance(train, dict):
        raise TypeError(f"train must be a dict of fi.train settings ({', '.join(TRAIN_DEFAULTS)}), got "
                        f"{type(train).__name__}")
    unknown = set(train) - set(TRAIN_DEFAULTS)
    if unknown:
        raise ValueError(f"train has unknown keys {sorted(unknown)}; valid: {', '.join(TRAIN_DEFAULTS)} (depth, "
                         f"width, activation, init, batch, seed and sigma_b2 are the sweep's axes)")
    settings = {**TRAIN_DEFAULTS, **train}
    if not isinstance(settings["data"], str):
        raise ValueError("train['data'] must be a data set name ('digits') in a sweep: its rows go into the CSV")
    for k, v in settings.items():   # NumPy scalars as Python numbers: the column must read back (literal_eval)
        if isinstance(v, (np.integer, np.floating)):
            settings[k] = v.item()
        elif not isinstance(v, (bool, int, float, str, type(None))):
            raise TypeError(f"train[{k!r}] must be a number, a string or None, got {type(v).__name__}")
        elif isinstance(v, str) and (" " in v or "=" in v):
            raise ValueError(f"train[{k!r}] must not contain spaces or '=' (it goes into the CSV), got {v!r}")
    return " ".join(f"{k}={settings[k]!r}" for k in TRAIN_DEFAULTS)


def train_settings(label):
    """The fi.train settings of a "train" column."""
    settings = {}
    for item in label.split(" "):
        k, _, v = item.partition("=")
        settings[k] = ast.literal_eval(v)
    return settings


def train_row(config, stop=None):
    """The trainability row of a training configuration: fi.train with the row's settings, the initial network's
    statistics (its first training pass) and the theory's depth scale xi_c."""
    t0 = time.perf_counter()
    settings = train_settings(config["train"])
    depth = config["depth"]
    try:
        res = _training.train(depth=depth, width=config["width"], activation=config["activation"],
                              init=init_value(config["init"]), bias_std=math.sqrt(config["sigma_b2"]),
                              batch=config["batch"], seed=config["seed"], eval_every=settings["steps"],
                              record_every=settings["steps"], stop=stop, **settings)
    except Exception as exc:   # noqa: BLE001 - a failed row is data, the sweep goes on
        return _journal.failed_row(config, exc, time.perf_counter() - t0)
    initial = {k: v[0, :depth] for k, v in res.layers.items() if k != "step"}
    scales = _theory_mod.depth_scales(config["activation"], sigma_w2_of(config), config["sigma_b2"]) \
        if math.isfinite(sigma_w2_of(config)) else None
    row = {k: config[k] for k in KEY}
    row.update(_journal.empty_result())
    row.update(res.summary())
    row.update(status="ok", error="", final_h_std=float(initial["h_std"][-1]),
               final_p_std=float(initial["p_std"][-1]), final_saturated_frac=float(initial["h_saturated_frac"][-1]),
               final_zero_frac=float(initial["h_zero_frac"][-1]), h_std_layers=np.array(initial["h_std"]),
               grad_ratio=float(initial["grad_h_std"][0] / initial["grad_h_std"][-1]),
               q_star=scales.q_star if scales else math.nan, chi_star=scales.chi_1 if scales else math.nan,
               xi_c=scales.xi_c if scales else math.nan, wall_s=time.perf_counter() - t0)
    return row


def fit(rows, threshold=0.5):
    """The depth-scale law tested on the training rows: trained (held-out accuracy > threshold) against
    "depth < k xi_c", with the one k for the whole grid that makes the most rows agree (the smallest such k).
    Returns {"k", "agree", "cells", "disagree": the rows that do not (depth, init, sigma_b2, seed,
    test_accuracy, xi_c, predicted)}; k is None without training rows that have a finite xi_c."""
    rows = [r for r in rows if r["status"] == "ok" and r["train"] and not math.isnan(r["xi_c"])]
    if not rows:
        return {"k": None, "agree": 0, "cells": 0, "disagree": []}
    ratio = np.array([r["depth"] / r["xi_c"] for r in rows])   # xi_c = inf: 0, always predicted trainable
    trained = np.array([bool(r["test_accuracy"] > threshold) for r in rows])
    cuts = np.unique(ratio)
    candidates = np.concatenate([[cuts[0] / 2], (cuts[1:] + cuts[:-1]) / 2, [cuts[-1] * 2 + 1]])
    agree = [int(np.sum((ratio < k) == trained)) for k in candidates]
    k = float(candidates[int(np.argmax(agree))])
    predicted = ratio < k
    disagree = [dict(depth=r["depth"], init=r["init"], sigma_b2=r["sigma_b2"], seed=r["seed"],
                     test_accuracy=r["test_accuracy"], xi_c=r["xi_c"], predicted=bool(p))
                for r, p, t in zip(rows, predicted, trained) if p != t]
    return {"k": k, "agree": max(agree), "cells": len(rows), "disagree": disagree}


def _edges(values):
    """Cell edges around sorted centre values (midpoints; the ends mirrored)."""
    v = np.asarray(values, float)
    if v.size == 1:
        return np.array([v[0] - 0.5, v[0] + 0.5])
    mid = (v[1:] + v[:-1]) / 2
    return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])


def plot_trainability(result, path=None, threshold=0.5):
    """Held-out accuracy after training over depth x sigma_w^2, one panel per (activation, sigma_b^2, training
    settings), averaged over seeds; on it the theory's 6 xi_c (the paper's boundary) and k xi_c with the k fitted
    to this grid (``SweepResult.trainability``), and the order-to-chaos boundary as a vertical line."""
    from ._plotting import FONT, finish, pyplot, style_axes

    plt = pyplot()
    rows = [r for r in result.rows if r["status"] == "ok" and r["train"]]
    if not rows:
        raise ValueError("nothing to plot: the sweep has no successful training rows")
    panels = sorted({(r["activation"], r["sigma_b2"], r["train"]) for r in rows})
    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 4.8), squeeze=False)
    fit_ = fit(result.rows, threshold)
    image = None
    for ax, (activation, sb2, train) in zip(axes[0], panels):
        mine = [r for r in rows if (r["activation"], r["sigma_b2"], r["train"]) == (activation, sb2, train)]
        sw2 = sorted({sigma_w2_of(r) for r in mine})
        depths = sorted({r["depth"] for r in mine})
        grid = np.full((len(depths), len(sw2)), np.nan)
        for i, d in enumerate(depths):
            for j, s in enumerate(sw2):
                acc = [r["test_accuracy"] for r in mine if r["depth"] == d and sigma_w2_of(r) == s]
                if acc:
                    grid[i, j] = np.nanmean(acc) if np.any(np.isfinite(acc)) else 0.0
        image = ax.pcolormesh(_edges(sw2), _edges(depths), np.ma.masked_invalid(grid), cmap="viridis", vmin=0,
                              vmax=1, shading="flat")
        fine = np.linspace(sw2[0], sw2[-1], 80)
        xi = np.array([_theory_mod.depth_scales(activation, s, sb2).xi_c for s in fine])
        top = _edges(depths)[-1]
        from matplotlib import patheffects

        outline = [patheffects.withStroke(linewidth=3.2, foreground="k")]   # readable on light and dark cells
        ax.plot(fine, np.minimum(6 * xi, 10 * top), color="w", ls="--", lw=1.8, path_effects=outline,
                label="6 $\\xi_c$ (the paper's)")
        k = fit_.get("k")
        if k is not None and math.isfinite(k):
            ax.plot(fine, np.minimum(k * xi, 10 * top), color="C1", lw=1.8,
                    label=f"{k:.2g} $\\xi_c$ (fitted: {fit_['agree']} of {fit_['cells']} cells agree)")
        critical = _theory_mod.critical_sigma_w2(activation, sb2)
        if math.isfinite(critical) and sw2[0] <= critical <= sw2[-1]:
            ax.axvline(critical, color="C3", ls=":", lw=1.6, label=f"order / chaos, $\\sigma_w^2$ = {critical:.3f}")
        ax.set_ylim(_edges(depths)[0], top)
        ax.set_xlabel("$\\sigma_w^2$", fontsize=FONT + 1)
        ax.set_ylabel("depth (hidden layers)", fontsize=FONT + 1)
        settings = train_settings(train)
        style_axes(ax, f"{activation}, $\\sigma_b^2$ = {sb2:g}, {settings['steps']} steps, lr {settings['lr']:g}, "
                   f"{settings['data']}")
        ax.legend(fontsize=FONT - 1, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, frameon=False)
    bar = fig.colorbar(image, ax=list(axes[0]))
    bar.set_label("held-out accuracy after training" + (" (mean over seeds)" if len({r["seed"] for r in rows}) > 1
                                                         else ""), fontsize=FONT)
    bar.ax.tick_params(labelsize=FONT - 1)
    return finish(plt, fig, path)
