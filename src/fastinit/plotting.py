"""Figures of simulation results (matplotlib: the optional ``fastinit-philox[plot]`` extra)."""
import numpy as np

from .journal import floats_parse


def pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install 'fastinit-philox[plot]' (or pip install matplotlib)") from None
    return plt


def finish(plt, fig, path):
    """Lay the figure out, save it to path when given (and close it), return it."""
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig


def _label(c):
    """'activation, init[ + BN]' of a simulation config or a sweep row."""
    return f"{c['activation']}, {c['init']}" + (" + BN" if c["batchnorm"] else "")


def plot_results(results, path=None, max_layers=10):
    """One row per result: the activation histogram of each layer (up to max_layers, evenly chosen), then
    std vs depth for all results together (and the gradient std when recorded). Saves to path when given;
    returns the figure."""
    plt = pyplot()
    depth = max(r.depth for r in results)
    shown = sorted(set(np.linspace(1, depth, min(depth, max_layers)).round().astype(int)))
    ncols = len(shown) + 1
    fig, axes = plt.subplots(len(results), ncols, figsize=(2.1 * ncols + 4, 2.0 * len(results) + 1.2), squeeze=False,
                             gridspec_kw={"width_ratios": [1] * len(shown) + [3]})
    for row, res in enumerate(results):
        for col, layer in enumerate(shown):
            ax = axes[row, col]
            if layer <= res.depth:
                counts, edges = res.h_hist[layer - 1], res.h_edges[layer - 1]
                ax.bar(edges[:-1], counts / max(counts.sum(), 1), width=np.diff(edges), align="edge", color="C0")
                ax.set_title(f"layer {layer}\nstd {res.layers['h_std'][layer - 1]:.3g}", fontsize=8)
            ax.tick_params(labelsize=6)
            ax.set_yticks([])
        axes[row, 0].set_ylabel(_label(res.config), fontsize=7)
    gs = axes[0, -1].get_gridspec()
    for ax in axes[:, -1]:
        ax.remove()
    curve = fig.add_subplot(gs[:, -1])
    for i, res in enumerate(results):
        layers = np.arange(1, res.depth + 1)
        curve.semilogy(layers, res.layers["h_std"], "o-", color=f"C{i}", label=_label(res.config), ms=3)
        predicted = res.theory.h_std
        if np.all(np.isfinite(predicted)) and np.all(predicted > 0):
            curve.semilogy(layers, predicted, ":", color=f"C{i}", lw=1)
        if res.grads is not None:
            curve.semilogy(layers, res.grads["grad_h_std"], "x--", color=f"C{i}", ms=3)
    curve.set_xlabel("layer")
    curve.set_ylabel("activation std (o; dotted: mean-field theory), gradient std (x)")
    curve.legend(fontsize=6)
    return finish(plt, fig, path)


def plot_sweep(result, path=None):
    """Heatmaps of log10 final activation std over depth x width, one per (activation, init[, batch norm]) averaged
    over seeds, and one panel of std vs depth for the widest, deepest network of each pair with the mean-field
    prediction dashed. Saves to path when given; returns the figure."""
    plt = pyplot()
    rows = [r for r in result.rows if r["status"] == "ok"]
    if not rows:
        raise ValueError("nothing to plot: the sweep has no successful rows")
    pairs = sorted({_label(r) for r in rows})
    depths = sorted({r["depth"] for r in rows})
    widths = sorted({r["width"] for r in rows})
    finals = {}   # (pair, depth, width) -> final h_std of each seed, positive and finite
    for r in rows:
        if np.isfinite(r["final_h_std"]) and r["final_h_std"] > 0:
            finals.setdefault((_label(r), r["depth"], r["width"]), []).append(r["final_h_std"])
    n = len(pairs) + 1
    ncols = min(4, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows), squeeze=False)
    flat = axes.ravel()
    for ax, pair in zip(flat, pairs):
        grid = np.full((len(depths), len(widths)), np.nan)
        for i, d in enumerate(depths):
            for j, w in enumerate(widths):
                if (pair, d, w) in finals:
                    grid[i, j] = np.log10(np.mean(finals[pair, d, w]))
        im = ax.imshow(grid, aspect="auto", origin="lower", cmap="viridis", interpolation="nearest")
        ax.set_xticks(range(len(widths)), [str(w) for w in widths], fontsize=7, rotation=45)
        step = max(1, len(depths) // 8)
        ax.set_yticks(range(0, len(depths), step), [str(d) for d in depths[::step]], fontsize=7)
        ax.set_xlabel("width", fontsize=8)
        ax.set_ylabel("depth", fontsize=8)
        ax.set_title(pair, fontsize=9)
        fig.colorbar(im, ax=ax, label="log10 final h std")
    curve = flat[len(pairs)]
    for k, pair in enumerate(pairs):
        best = max((r for r in rows if _label(r) == pair), key=lambda r: (r["width"], r["depth"], -r["seed"]))
        measured, predicted = floats_parse(best["h_std_layers"]), floats_parse(best["theory_h_std_layers"])
        layers = np.arange(1, measured.size + 1)
        curve.semilogy(layers, measured, "-", color=f"C{k}", label=f"{pair} (w {best['width']})")
        if np.all(np.isfinite(predicted)) and np.all(predicted > 0):
            curve.semilogy(layers, predicted, "--", color=f"C{k}", lw=1)
    curve.set_xlabel("layer")
    curve.set_ylabel("h std (dashed: mean-field theory)")
    curve.legend(fontsize=6)
    for ax in flat[n:]:
        ax.remove()
    return finish(plt, fig, path)
