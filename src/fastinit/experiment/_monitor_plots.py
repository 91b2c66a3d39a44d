"""The figure of a MonitorResult: the layers over the training steps."""
import math

import numpy as np

from ._plotting import FONT, finish, pyplot, style_axes

UPDATE_RATIO_RULE = 1e-3   # cs231n's rule of thumb for |dW| / |W| per step


def _grid(result, field):
    """(names in forward order, steps, values[name, step]) of one module field; NaN where a step lacks a name."""
    names = list(dict.fromkeys(r["name"] for r in result.rows))
    steps = sorted({r["step"] for r in result.rows})
    grid = np.full((len(names), len(steps)), np.nan)
    at = {s: j for j, s in enumerate(steps)}
    row_of = {n: i for i, n in enumerate(names)}
    for r in result.rows:
        grid[row_of[r["name"]], at[r["step"]]] = r[field]
    return names, steps, grid


def _heatmap(fig, ax, result, field, title):
    import matplotlib
    from matplotlib.colors import LogNorm

    names, steps, grid = _grid(result, field)
    positive = grid[np.isfinite(grid) & (grid > 0)]
    if positive.size == 0:
        ax.text(0.5, 0.5, f"no {field} recorded", ha="center", va="center", fontsize=FONT, transform=ax.transAxes)
        style_axes(ax, title)
        return
    lo, hi = float(positive.min()), float(positive.max())
    if hi <= lo * 1.0001:
        lo, hi = lo / 2, hi * 2   # (one value everywhere: a visible band, not a degenerate norm)
    # a zero (a dead layer) has no place on a log scale: grey, and the title says so
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="0.85")
    image = ax.imshow(np.where(grid > 0, grid, np.nan), aspect="auto", cmap=cmap, norm=LogNorm(lo, hi),
                      interpolation="nearest")
    kinds = {r["name"]: r["type"] for r in result.rows}
    labels = [f"{n if len(n) <= 22 else '...' + n[-20:]} {kinds[n]}" for n in names]
    ax.set_yticks(range(len(names)), labels, fontsize=FONT - 1)
    ticks = list(range(0, len(steps), max(1, math.ceil(len(steps) / 8))))
    ax.set_xticks(ticks, [str(steps[j]) for j in ticks])
    ax.set_xlabel("step", fontsize=FONT)
    bar = fig.colorbar(image, ax=ax, fraction=0.05)
    bar.ax.tick_params(which="both", labelsize=FONT - 1)
    style_axes(ax, title + (" - grey: 0" if np.any(grid == 0) else ""))


def plot_monitor(result, path=None):
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    _heatmap(fig, axes[0, 0], result, "std", "std of each module's output (log colour)")
    _heatmap(fig, axes[0, 1], result, "grad_std", "std of dL/d(output) (log colour)")
    ax = axes[1, 0]
    names, steps, zero = _grid(result, "zero_frac")
    _, _, sat = _grid(result, "saturated_frac")
    drawn = 0
    for i, name in enumerate(names):
        for values, style, what in ((zero[i], "-", "zero"), (sat[i], "--", "saturated")):
            if np.nanmax(values, initial=0) > 0.01:   # (layers that never die or saturate would only add lines)
                ax.plot(steps, values, style, marker=".", label=f"{name}: {what}")
                drawn += 1
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("step", fontsize=FONT)
    if drawn:
        ax.legend(fontsize=FONT - 1, loc="best")
    else:
        ax.text(0.5, 0.5, "no module above 1% zeros or saturated", ha="center", va="center", fontsize=FONT,
                transform=ax.transAxes)
    style_axes(ax, "dead (zero) and saturated fractions")
    ax = axes[1, 1]
    by_name = {}
    for p in result.params:
        by_name.setdefault(p["name"], []).append((p["step"], p["update_ratio"]))
    for name, points in by_name.items():
        if name.endswith("weight"):
            xs, ys = zip(*points)
            ax.plot(xs, ys, marker=".", label=name)
    ax.axhline(UPDATE_RATIO_RULE, color="black", linestyle=":", linewidth=1, label="1e-3 (cs231n)")
    ratios = [p["update_ratio"] for p in result.params if p["update_ratio"] > 0]
    if ratios:
        ax.set_yscale("log")
    still = sorted({p["name"] for p in result.params if p["update_ratio"] == 0 and p["name"].endswith("weight")})
    ax.set_xlabel("step", fontsize=FONT)
    ax.legend(fontsize=FONT - 1, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    note = f"\n(0, not drawn: {', '.join(still[:4])}{', ...' if len(still) > 4 else ''})" if still else ""
    style_axes(ax, "update ratio |dW| / |W| of each weight" + note)
    fig.suptitle(f"fastinit.monitor: {result.config['model']}, every {result.config['every']} steps",
                 fontsize=FONT + 2)
    fig.tight_layout()
    return finish(plt, fig, path)
