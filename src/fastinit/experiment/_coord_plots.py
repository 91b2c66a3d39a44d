"""The figure of a coordinate check: coordinate size against width, log-log, a panel per step."""
import math

import numpy as np

from ._plotting import FONT, finish, pyplot, style_axes


def plot_coord_check(result, path=None, modules=None):
    plt = pyplot()
    sizes = result.sizes()
    slopes = result.slopes()
    steps = sorted({s for _, s in sizes})
    names = list(dict.fromkeys(m for m, _ in sizes))
    if modules is not None:
        unknown = [m for m in modules if m not in names]
        if unknown:
            raise ValueError(f"modules: {unknown[:5]} were not recorded; recorded: {names[:10]}")
        names = [m for m in names if m in modules]
    if not steps or not names:
        raise ValueError("the coordinate check recorded nothing to plot (every run failed?)")
    fig, axes = plt.subplots(1, len(steps), figsize=(2.6 * len(steps) + 1.2, 3.2 + 0.16 * len(names)), sharey=True,
                             squeeze=False)
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(names)))
    types = {r["module"]: r["type"] for r in result.rows if r["status"] == "ok"}
    for ax, step in zip(axes[0], steps):
        for name, color in zip(names, colors):
            if (name, step) not in sizes:
                continue
            w, s = sizes[(name, step)]
            slope = slopes[(name, step)]
            label = f"{name or '(model)'} {types.get(name, '')}: " + (f"{slope:+.2f}" if math.isfinite(slope) else "-")
            ax.plot(w, s, "o-", color=color, lw=1.2, ms=3, label=label)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("width", fontsize=FONT)
        style_axes(ax, f"step {step}" + (" (init)" if step == 0 else ""))
        # below the panel: the slopes of this step, never over a line
        ax.legend(fontsize=FONT - 2, title="module: slope", title_fontsize=FONT - 2, loc="upper center",
                  bbox_to_anchor=(0.5, -0.22), frameon=False)
    axes[0][0].set_ylabel("coordinate size: mean |output|", fontsize=FONT)
    cfg = result.config
    fig.suptitle(f"coordinate check: {cfg.get('optimizer', '')}, lr {cfg.get('lr', '')}, "
                 f"{len(cfg.get('seeds', ()))} seed(s) (flat lines: the size does not depend on the width)",
                 fontsize=FONT + 1)
    fig.tight_layout()
    return finish(plt, fig, path)
