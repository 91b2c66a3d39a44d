"""Figures of simulation results (matplotlib: the optional ``fastinit-philox[plot]`` extra)."""
import numpy as np

from .._optional import require


def pyplot():
    matplotlib = require("matplotlib", "plotting")
    matplotlib.use("Agg", force=False)   # (no display needed; a backend the user chose stays)
    import matplotlib.pyplot as plt

    return plt


def finish(plt, fig, path):
    """Save the figure to path when given (and close it; bbox tight keeps every label inside), return it."""
    if path is not None:
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
    return fig


def _label(c):
    """'activation, init[ + BN]' of a simulation config or a sweep row."""
    return f"{c['activation']}, {c['init']}" + (" + BN" if c["batchnorm"] else "")


FONT = 8   # points: tick labels and legends readable at the saved size (110 dpi)


def style_axes(ax, title=None):
    ax.tick_params(which="both", labelsize=FONT - 1)
    if title is not None:
        ax.set_title(title, fontsize=FONT + 1)


def _curve_legend(ax, results, with_theory, with_grads=False):
    """One legend: a colour per result, then what the line styles mean."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=f"C{i}", lw=2, label=_label(r.config)) for i, r in enumerate(results)]
    handles.append(Line2D([], [], color="k", marker="o", ms=4.5, lw=0.8, alpha=0.55, label="measured"))
    if with_theory:
        handles.append(Line2D([], [], color="k", ls="--", lw=1.8, label="mean-field theory"))
    # below the panel, not on it: "best" still covered the curves a figure is about (xavier's gradient, layers 1-5)
    ax.legend(handles=handles, fontsize=FONT, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2,
              frameon=False)


def _histogram(ax, counts, edges, color):
    """Bars of the fractions in each bin. A bin that dwarfs the rest (relu's exact zeros, more than 4 times the
    next bin) is cut at the panel's top with its fraction written on it: left to set the scale, it flattened every
    other bin to nothing."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    fractions = counts / max(counts.sum(), 1)
    # few ticks, written short ("-0.001", "0"): a narrow panel's default labels ran into each other
    ax.xaxis.set_major_locator(MaxNLocator(nbins=3))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}" if v else "0"))
    ax.bar(edges[:-1], fractions, width=np.diff(edges), align="edge", color=color)
    ordered = np.sort(fractions)
    if len(ordered) > 1 and ordered[-2] > 0 and ordered[-1] > 4 * ordered[-2]:
        top = 1.3 * ordered[-2]
        ax.set_ylim(0, top)
        peak = int(np.argmax(fractions))
        ax.text(edges[peak], 0.97 * top, f" this bin: {ordered[-1]:.0%}", fontsize=FONT - 1, va="top", ha="left")


def _share_x(columns):
    """One x-range per column (each row's own range would make different inits look alike), except for a panel
    whose data spans under a fifth of it: drawn on its own range, marked with the zoom, where it was a sliver."""
    for axs in columns.values():
        lo, hi = min(ax.get_xlim()[0] for ax in axs), max(ax.get_xlim()[1] for ax in axs)
        for ax in axs:
            own_lo, own_hi = ax.get_xlim()
            if own_hi - own_lo < (hi - lo) / 5 and ax.get_title():
                ax.set_title(f"{ax.get_title()}\nx zoomed {(hi - lo) / (own_hi - own_lo):.0f}x",
                             fontsize=ax.title.get_fontsize())
            else:
                ax.set_xlim(lo, hi)


# A log axis over values that span less than this ratio draws rounding noise as a trend (batch norm's std
# 0.6278-0.6295 filled a panel): such a panel is linear, its range at least MIN_SPAN of the values' size.
FLAT_RATIO = 1.5
MIN_SPAN = 0.2


def _log_unless_flat(ax):
    """After the curves are drawn: linear y with a floor on the range when every drawn value lies within
    FLAT_RATIO of the others, else log y."""
    ys = np.concatenate([np.asarray(line.get_ydata(), float) for line in ax.get_lines()] or [np.zeros(0)])
    ys = ys[np.isfinite(ys) & (ys > 0)]
    if ys.size and ys.max() / ys.min() < FLAT_RATIO:
        ax.set_yscale("linear")
        mid, half = (ys.max() + ys.min()) / 2, max((ys.max() - ys.min()) / 2 * 1.2, MIN_SPAN / 2 * ys.max())
        ax.set_ylim(mid - half, mid + half)
    else:
        ax.set_yscale("log")


def _measured_and_theory(ax, layers, measured, predicted, color):
    """Measured values as dots (on a faint line), the theory as a dashed line over them: both stay visible where
    they agree."""
    ax.plot(layers, measured, "o-", color=color, ms=4.5, lw=0.8, alpha=0.55, zorder=2)
    if np.all(np.isfinite(predicted)) and np.all(predicted > 0):
        ax.plot(layers, predicted, "--", color=color, lw=1.8, zorder=3)


def plot_results(results, path=None, max_layers=10):
    """The classic figure for simulation results: on top, one row per result with the histogram of the
    activations H at up to ``max_layers`` evenly chosen layers (columns share their x-axis, so that two
    initializations are compared on one scale, except a panel under a fifth of that range: its own, marked
    "x zoomed"; a bin over 4 times the next, such as relu's zeros, is cut with its share written); below, the std
    of H per layer and, when recorded, the std of dL/dH per layer, for all results together, measured (solid, dots)
    and predicted by the mean-field theory (dashed, drawn over the measurement), legends under the panels. Saves to
    path when given; returns the figure."""
    plt = pyplot()
    depth = max(r.depth for r in results)
    shown = sorted(set(np.linspace(1, depth, min(depth, max_layers)).round().astype(int)))
    grads = any(r.grads is not None for r in results)
    ncols = len(shown) if len(shown) <= 6 else 5    # wider than 6 panels: wrap, so the figure stays readable
    per_result = -(-len(shown) // ncols)
    nrows = len(results) * per_result
    fig = plt.figure(figsize=(max(7.5, 1.5 * ncols + 1.4), 1.35 * nrows + 3.4))
    gs = fig.add_gridspec(nrows + 1, ncols, height_ratios=[1] * nrows + [max(2.4, 0.8 * nrows)], hspace=0.65,
                          wspace=0.25)
    columns = {}   # the axes of each shown layer, to share its x-range across results
    for r_i, res in enumerate(results):
        for k, layer in enumerate(shown):
            row, col = r_i * per_result + k // ncols, k % ncols
            ax = fig.add_subplot(gs[row, col])
            columns.setdefault(layer, []).append(ax)
            if layer <= res.depth:
                counts, edges = res.h_hist[layer - 1], res.h_edges[layer - 1]
                _histogram(ax, counts, edges, f"C{r_i}")
                ax.set_title(f"layer {layer}: std {res.layers['h_std'][layer - 1]:.2g}", fontsize=FONT)
            ax.set_yticks([])
            style_axes(ax)
            if col == 0 and k == 0:
                ax.set_ylabel(_label(res.config).replace(", ", ",\n"), fontsize=FONT, rotation=0, ha="right",
                              va="center")
    _share_x(columns)
    bottom = gs[nrows, :].subgridspec(1, 2 if grads else 1, wspace=0.28)
    panels = [("std of the activations H", lambda r: r.layers["h_std"], lambda r: r.theory.h_std, results)]
    if grads:
        panels.append(("std of dL/dH (gradient)", lambda r: r.grads["grad_h_std"], lambda r: r.theory.grad_h_std,
                       [r for r in results if r.grads is not None]))
    for p_i, (label, measured, predicted, shown_results) in enumerate(panels):
        ax = fig.add_subplot(bottom[0, p_i])
        theory_drawn = False
        for res in shown_results:
            colour = f"C{results.index(res)}"
            _measured_and_theory(ax, np.arange(1, res.depth + 1), measured(res), predicted(res), colour)
            theory_drawn |= bool(np.all(np.isfinite(predicted(res))))
        _log_unless_flat(ax)
        ax.set_xlabel("layer", fontsize=FONT)
        ax.set_ylabel(label, fontsize=FONT)
        style_axes(ax)
        _curve_legend(ax, shown_results, theory_drawn)
    return finish(plt, fig, path)


def plot_sweep(result, path=None):
    """Heatmaps of log10 of the final activation std over depth x width, one per (activation, init[, batch
    norm]), averaged over the seeds, on one shared colour scale (a diverging map centred on std 1: blue shrinks,
    red grows), each cell labelled with its std where the grid is small enough to read them, then one panel of
    std vs depth per pair at every width (the deepest run of each; line style per width) with the mean-field
    prediction as a wide pale band behind it (one band where it is the same at every width, as it is unless the
    scheme's variance depends on the width, like small_normal's sigma_w^2 = 1e-4 width). Saves to path when given;
    returns the figure."""
    from matplotlib.colors import TwoSlopeNorm

    plt = pyplot()
    rows = [r for r in result.rows if r["status"] == "ok"]
    if not rows:
        raise ValueError("nothing to plot: the sweep has no successful rows")
    pairs = sorted({_label(r) for r in rows})
    depths = sorted({r["depth"] for r in rows})
    widths = sorted({r["width"] for r in rows})
    seeds = sorted({r["seed"] for r in rows})
    finals = {}   # (pair, depth, width) -> final h_std of each seed, positive and finite
    for r in rows:
        if np.isfinite(r["final_h_std"]) and r["final_h_std"] > 0:
            finals.setdefault((_label(r), r["depth"], r["width"]), []).append(r["final_h_std"])
    grids = {}
    for pair in pairs:
        grid = np.full((len(depths), len(widths)), np.nan)
        for i, d in enumerate(depths):
            for j, w in enumerate(widths):
                if (pair, d, w) in finals:
                    grid[i, j] = np.log10(np.mean(finals[pair, d, w]))
        grids[pair] = grid
    values = np.concatenate([g[np.isfinite(g)] for g in grids.values()] + [np.zeros(1)])
    # one scale for every panel, centred on std 1, reaching as far as the data does on each side (a fixed range
    # made panels that collapsed to 1e-5 and to 1e-8 one colour)
    low, high = min(-1.0, float(np.min(values))), max(1.0, float(np.max(values)))
    norm = TwoSlopeNorm(vcenter=0.0, vmin=low, vmax=high)
    # grey: no finite positive std (it underflowed to 0, or the configuration failed)
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="0.82")
    n = len(pairs)
    # no empty panel slots where a shape avoids them (two pairs in three columns left one blank; four, two)
    ncols = 2 if n in (2, 4) else min(3, n)
    nrows = -(-n // ncols) + 1   # the heatmaps, then a row for the curves
    fig = plt.figure(figsize=(4.0 * ncols + 1.0, 3.3 * nrows + 0.6))
    fig.suptitle("std of the last layer's activations of the random networks, per depth and width",
                 fontsize=FONT + 2)
    gs = fig.add_gridspec(nrows, ncols + 1, width_ratios=[1] * ncols + [0.06], hspace=0.55, wspace=0.35)
    image = None
    for k, pair in enumerate(pairs):
        ax = fig.add_subplot(gs[k // ncols, k % ncols])
        image = ax.imshow(np.ma.masked_invalid(grids[pair]), aspect="auto", origin="lower", cmap=cmap, norm=norm,
                          interpolation="nearest")
        ax.set_xticks(range(len(widths)), [str(w) for w in widths], rotation=45 if len(widths) > 6 else 0)
        if len(depths) <= _CELL_LABELS[0] and len(widths) <= _CELL_LABELS[1]:
            _label_cells(ax, grids[pair], norm)
        step = max(1, len(depths) // 8)
        ax.set_yticks(range(0, len(depths), step), [str(d) for d in depths[::step]])
        ax.set_xlabel("width", fontsize=FONT)
        ax.set_ylabel("depth", fontsize=FONT)
        style_axes(ax, pair)
    cax = fig.add_subplot(gs[0:nrows - 1, ncols])
    bar = fig.colorbar(image, cax=cax)
    bar.set_label("log10 std of the last layer's activations" + (f" (mean of {len(seeds)} seeds)"
                                                                   if len(seeds) > 1 else "")
                  + "; grey: std 0 (underflow) or failed", fontsize=FONT)
    bar.ax.tick_params(labelsize=FONT - 1)
    # the curves: every pair, every width (line style per width), the deepest run of each
    curve = fig.add_subplot(gs[nrows - 1, :ncols])
    styles = ["-", "--", "-.", ":"]
    from matplotlib.lines import Line2D

    with_theory = False
    for k, pair in enumerate(pairs):
        drawn = []   # theory curves of this pair already drawn (the same at every width)
        for j, w in enumerate(widths):
            cands = [r for r in rows if _label(r) == pair and r["width"] == w]
            if not cands:
                continue
            best = max(cands, key=lambda r: (r["depth"], -r["seed"]))
            measured = np.asarray(best["h_std_layers"])
            curve.semilogy(np.arange(1, measured.size + 1), measured, styles[j % len(styles)], color=f"C{k}",
                           lw=1.3)
            predicted = np.asarray(best.get("theory_h_std_layers", ()), dtype=float)
            if predicted.size and np.all(np.isfinite(predicted) & (predicted > 0)) and not any(
                    d.shape == predicted.shape and np.allclose(d, predicted) for d in drawn):
                curve.semilogy(np.arange(1, predicted.size + 1), predicted, "-", color=f"C{k}", lw=6, alpha=0.25,
                               solid_capstyle="butt", zorder=1)
                drawn.append(predicted)
                with_theory = True
    curve.set_xlabel("layer", fontsize=FONT)
    curve.set_ylabel("std of the activations (seed " + str(seeds[0]) + ")", fontsize=FONT)
    style_axes(curve, "std vs depth, the deepest run of every pair and width")
    handles = [Line2D([], [], color=f"C{k}", lw=2, label=p) for k, p in enumerate(pairs)]
    handles += [Line2D([], [], color="k", ls=styles[j % len(styles)], label=f"width {w}")
                for j, w in enumerate(widths)]
    if with_theory:
        handles.append(Line2D([], [], color="0.5", lw=6, alpha=0.35, label="mean-field theory"))
    curve.legend(handles=handles, fontsize=FONT - 1, ncol=2, loc="best", framealpha=0.85)
    return finish(plt, fig, path)


# the largest (depths, widths) grid whose cells carry their std as text: more cells than that make unreadable text
_CELL_LABELS = (16, 8)


def _label_cells(ax, grid, norm):
    """Write each cell's std (10**grid) in it, white on the dark ends of the colour scale, black elsewhere."""
    for (i, j), value in np.ndenumerate(grid):
        if np.isfinite(value):
            dark = abs(float(norm(value)) - 0.5) > 0.3
            ax.text(j, i, f"{10.0 ** value:.2g}", ha="center", va="center", fontsize=FONT - 1,
                    color="white" if dark else "black")


_KINDS = (("conv / linear", ("Conv", "Linear")), ("normalization", ("Norm",)),
          ("activation", ("ReLU", "GELU", "Tanh", "Sigmoid", "SiLU", "ELU", "Activation", "Hard", "Softplus", "Mish")),
          ("attention", ("Attention",)), ("embedding", ("Embedding",)))


def _kind(module_type):
    for kind, words in _KINDS:
        if any(w in module_type for w in words):
            return kind
    return "other"


def _wrapped(name, width=24):
    """A module's whole dotted name on lines of about width characters, broken after dots: cut to its last
    characters, two modules read the same."""
    lines = [""]
    for part in name.replace(".", ".\0").split("\0"):
        if lines[-1] and len(lines[-1]) + len(part) > width:
            lines.append("")
        lines[-1] += part
    return "\n".join(lines)


def plot_probes(results, path=None, max_layers=6):
    """The classic figure for a real network (``fastinit.probe``): on top, per result, the histograms of the
    outputs of up to ``max_layers`` module calls evenly spread over the forward pass (each column on one x-range,
    zoomed panels marked as in ``plot_results``; module names over the top row); below, the std of every recorded
    output against its position in the forward pass, and with backward the std of the gradient dL/d(output). One
    result: points coloured by kind of module; several (inits): one colour per init. Saves to path when given;
    returns the figure."""
    from matplotlib.lines import Line2D

    plt = pyplot()
    results = [r for r in results if r.rows]
    if not results:
        raise ValueError("nothing to plot: no module output was recorded")
    n_calls = max(len(r.rows) for r in results)
    shown = sorted(set(np.linspace(0, n_calls - 1, min(n_calls, max_layers)).round().astype(int)))
    ncols = len(shown)
    grads = any(r.config.get("backward") for r in results)
    nrows = len(results)
    fig = plt.figure(figsize=(max(8.0, 1.7 * ncols + 1.6), 1.45 * nrows + 3.6))
    gs = fig.add_gridspec(nrows + 1, ncols, height_ratios=[1] * nrows + [max(2.6, 0.8 * nrows)], hspace=0.75,
                          wspace=0.3)
    columns = {}
    for r_i, res in enumerate(results):
        for col, idx in enumerate(shown):
            ax = fig.add_subplot(gs[r_i, col])
            columns.setdefault(col, []).append(ax)
            if idx < len(res.rows):
                row, counts, edges = res.rows[idx], res.hist[idx], res.edges[idx]
                _histogram(ax, counts, edges, f"C{r_i}" if nrows > 1 else "C0")
                # the whole name over the top row only: the same model runs in every row
                name = f"{_wrapped(row['name'])}\n" if r_i == 0 else ""
                ax.set_title(f"{name}{row['type']}, std {row['std']:.2g}", fontsize=FONT - 1)
            ax.set_yticks([])
            style_axes(ax)
            if col == 0 and nrows > 1:
                ax.set_ylabel(res.config["init"], fontsize=FONT, rotation=0, ha="right", va="center")
    _share_x(columns)
    bottom = gs[nrows, :].subgridspec(1, 2 if grads else 1, wspace=0.28)
    panels = [("std", "std of the module's output")] + ([("grad_std", "std of dL/d(output)")] if grads else [])
    for p_i, (field, label) in enumerate(panels):
        ax = fig.add_subplot(bottom[0, p_i])
        handles = []
        for r_i, res in enumerate(results):
            y = res.column(field).astype(float)
            x = np.arange(1, len(y) + 1)
            ok = np.isfinite(y) & (y > 0)
            if nrows > 1:
                ax.semilogy(x[ok], y[ok], "-", color=f"C{r_i}", lw=1.2)
                handles.append(Line2D([], [], color=f"C{r_i}", lw=2, label=res.config["init"]))
            else:
                ax.semilogy(x[ok], y[ok], "-", color="0.6", lw=0.8, zorder=1)
                kinds = [_kind(t) for t in res.column("type")]
                for k_i, (kind, _) in enumerate(_KINDS + (("other", ()),)):
                    sel = ok & np.array([k == kind for k in kinds])
                    if sel.any():
                        ax.scatter(x[sel], y[sel], s=12, color=f"C{k_i}", zorder=2)
                        handles.append(Line2D([], [], color=f"C{k_i}", marker="o", ls="", label=kind))
        ax.set_xlabel("module call, in forward order", fontsize=FONT)
        ax.set_ylabel(label, fontsize=FONT)
        style_axes(ax)
        if handles:   # under the panel: inside it, "best" still covered points of a long model (GPT-2)
            ax.legend(handles=handles, fontsize=FONT - 1, loc="upper center", bbox_to_anchor=(0.5, -0.22),
                      ncol=min(len(handles), 4), frameon=False)
    # just above the top row's titles (module names and the zoom take up to four lines there; at y = 0.98 it
    # overlapped them): the axes' top plus those lines at the titles' font size, plus a little air
    title_lines = max((len(axs[0].get_title().splitlines()) for axs in columns.values()), default=1)
    title_y = fig.subplotpars.top + (title_lines * 1.3 * (FONT - 1) / 72 + 0.12) / fig.get_figheight()
    fig.suptitle(f"{results[0].config['model']}: {len(results[0].rows)} module outputs"
                 + (", gradients from L = sum(output * N(0, 1))" if grads else "")
                 + ("" if results[0].config.get("training", True) else
                    " (eval mode: dropout off, batch norm on its running statistics)"),
                 fontsize=FONT + 1, y=title_y, va="bottom")
    return finish(plt, fig, path)
