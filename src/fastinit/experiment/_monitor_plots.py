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


def _histograms_over_steps(fig, ax, result, name):
    """The "colourful dimension" view of one module output: its histogram at each recorded step side by side
    (x: step, y: value, colour: the fraction of the outputs in that bin, log), each step's counts moved onto one
    grid over the range of every step."""
    from matplotlib.colors import LogNorm

    picked = [(r["step"], i) for i, r in enumerate(result.rows) if r["name"] == name]
    lo = min(result.edges[i][0] for _, i in picked)
    hi = max(result.edges[i][-1] for _, i in picked)
    values = {v for _, i in picked for v in (result.rows[i]["min"], result.rows[i]["max"])}
    if len(values) == 1:   # (a dead layer: one value at every step)
        ax.text(0.5, 0.9, f"every value is {values.pop():.3g}", ha="center", va="center", fontsize=FONT,
                transform=ax.transAxes)
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    # fewer bins than each step's own, so that a step spanning the whole range leaves no bin empty by rebinning
    bins = max(8, int(result.hist.shape[1] * 0.75))
    grid_edges = np.linspace(lo, hi, bins + 1)
    image = np.full((bins, len(picked)), np.nan)
    for j, (_, i) in enumerate(picked):
        counts, edges = result.hist[i], result.edges[i]
        total = counts.sum()
        if total:
            moved, _ = np.histogram((edges[:-1] + edges[1:]) / 2, bins=grid_edges, weights=counts)
            image[:, j] = np.where(moved > 0, moved / total, np.nan)
    steps = [s for s, _ in picked]
    positive = image[np.isfinite(image)]
    if positive.size == 0:
        ax.text(0.5, 0.5, "no values", ha="center", va="center", fontsize=FONT, transform=ax.transAxes)
    else:
        shown = ax.imshow(image, aspect="auto", origin="lower", cmap="magma", interpolation="nearest",
                          norm=LogNorm(max(positive.min(), 1e-6), 1.0), extent=(-0.5, len(steps) - 0.5, lo, hi))
        bar = fig.colorbar(shown, ax=ax, fraction=0.05)
        bar.ax.tick_params(which="both", labelsize=FONT - 1)
    ticks = list(range(0, len(steps), max(1, math.ceil(len(steps) / 6))))
    ax.set_xticks(ticks, [str(steps[j]) for j in ticks])
    ax.set_xlabel("step", fontsize=FONT)
    kind = next(r["type"] for r in result.rows if r["name"] == name)
    style_axes(ax, f"{name if len(name) <= 24 else '...' + name[-22:]} {kind}: values over steps")


def _default_hist_layers(result, most=3):
    """Up to ``most`` module outputs spread over the depth: the activations where there are any (what dies or
    saturates), else any module."""
    names = list(dict.fromkeys(r["name"] for r in result.rows))
    acts = [n for n in names if not math.isnan(next(r["saturated_frac"] for r in result.rows if r["name"] == n))
            or next(r["type"] for r in result.rows if r["name"] == n) in ("ReLU", "GELU", "SiLU", "LeakyReLU")]
    pool = acts or names
    if len(pool) <= most:
        return pool
    return [pool[round(k * (len(pool) - 1) / (most - 1))] for k in range(most)]


def plot_monitor(result, path=None, hist_layers=None):
    plt = pyplot()
    ranks = sorted({r["rank"] for r in result.rows})
    if len(ranks) > 1:   # the panels show one rank: the first (each rank's activations are its own)
        keep = [i for i, r in enumerate(result.rows) if r["rank"] == ranks[0]]
        result = type(result)(rows=[result.rows[i] for i in keep], hist=result.hist[keep], edges=result.edges[keep],
                              params=[p for p in result.params if p["rank"] == ranks[0]], config=result.config)
    names = list(dict.fromkeys(r["name"] for r in result.rows))
    if hist_layers is None:
        hist_layers = _default_hist_layers(result)
    else:
        if isinstance(hist_layers, str) or not all(isinstance(n, str) for n in hist_layers):
            raise TypeError(f"hist_layers must be a list of module names, got {hist_layers!r}")
        unknown = [n for n in hist_layers if n not in names]
        if unknown:
            raise ValueError(f"hist_layers: {unknown[:5]} were not recorded; recorded: {names[:10]}")
    rows = 3 if hist_layers else 2
    fig = plt.figure(figsize=(11, 3.75 * rows))
    grid = fig.add_gridspec(rows, 6)
    axes = np.array([[fig.add_subplot(grid[r, 0:3]), fig.add_subplot(grid[r, 3:6])] for r in range(2)])
    _heatmap(fig, axes[0, 0], result, "std", "std of each module's output (log colour)")
    _heatmap(fig, axes[0, 1], result, "grad_std", "std of dL/d(output) (log colour)")
    if hist_layers:
        span = 6 // len(hist_layers) if len(hist_layers) <= 3 else 1
        for k, name in enumerate(hist_layers[:6]):
            _histograms_over_steps(fig, fig.add_subplot(grid[2, k * span:(k + 1) * span]), result, name)
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
    model, every = result.config.get("model", ""), result.config.get("every", "")
    fig.suptitle(f"fastinit.monitor: {model}" + (f", every {every} steps" if every else "") +
                 (f" (rank {ranks[0]} of ranks {ranks})" if len(ranks) > 1 else ""), fontsize=FONT + 2)
    fig.tight_layout()
    return finish(plt, fig, path)
