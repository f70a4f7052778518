"""The figures of ``kvid quant``: SQNR along the depth, sensitivity bars, Pareto fronts.
Each returns the PNG path, or None without matplotlib."""

from __future__ import annotations

from kvid.analysis.plots import pyplot, save_figure


def sqnr_along_depth(rows, path, title=None) -> str | None:
    """SQNR of every matched tensor against its depth, block names on the axis, the three
    layers adding the most error marked."""
    plt = pyplot()
    if plt is None or not rows:
        return None
    fig, ax = plt.subplots(figsize=(max(6, 0.06 * len(rows) + 4), 3.8))
    depth = [r["depth"] for r in rows]
    ax.plot(depth, [r["sqnr_db"] for r in rows], "o-", ms=3, lw=1)
    worst = sorted((r for r in rows if r["added_steps"] is not None), key=lambda r: -r["added_steps"])[:3]
    for r in worst:
        ax.annotate(f"{r['layer']} (+{r['added_steps']:.3g} steps)", (r["depth"], r["sqnr_db"]),
                    fontsize=7, color="C3", xytext=(3, -10), textcoords="offset points")
        ax.plot([r["depth"]], [r["sqnr_db"]], "o", color="C3", ms=5)
    starts, seen = [], set()
    for r in rows:
        if r["block"] not in seen:
            seen.add(r["block"])
            starts.append((r["depth"], r["block"]))
    step = max(1, len(starts) // 30)
    ax.set_xticks([d for d, _ in starts[::step]], [b for _, b in starts[::step]], rotation=60,
                  fontsize=7, ha="right")
    ax.set_xlabel("depth (op order), block names")
    ax.set_ylabel("SQNR vs float (dB)")
    ax.grid(alpha=0.3)
    ax.set_title(title or "per-layer SQNR", fontsize=9)
    return save_figure(fig, plt, path)


def sensitivity_bars(rows, path, title=None) -> str | None:
    """Change in logits SQNR per block for each kind of change, blocks in ranked order."""
    plt = pyplot()
    if plt is None or not rows:
        return None
    blocks = list(dict.fromkeys(r["block"] for r in rows))
    kinds = list(dict.fromkeys(r["change"] for r in rows))
    fig, ax = plt.subplots(figsize=(max(5, 0.35 * len(blocks) * len(kinds) + 2), 3.6))
    width = 0.8 / len(kinds)
    for k, kind in enumerate(kinds):
        values = {r["block"]: r["delta_sqnr_db"] for r in rows if r["change"] == kind}
        ax.bar([i + k * width for i in range(len(blocks))], [values.get(b, 0.0) for b in blocks],
               width, label=kind)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(blocks))], blocks, rotation=60, fontsize=7, ha="right")
    ax.set_ylabel("change in logits SQNR (dB)")
    ax.axhline(0, color="k", lw=0.5)
    ax.legend(fontsize=7)
    ax.set_title(title or "sensitivity", fontsize=9)
    return save_figure(fig, plt, path)


def pareto(rows, path, x, y="top1", title=None, xlabel=None, footer=None) -> str | None:
    """``y`` against ``x`` for every variant with a file, the Pareto front (lower x, higher y)
    drawn through; ``footer``: small text under the axes (e.g. the command and environment)."""
    plt = pyplot()
    points = [r for r in rows if r.get(x) is not None and r.get(y) is not None]
    if plt is None or not points:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, r in enumerate(sorted(points, key=lambda r: (r[x], r[y]))):  # labels alternate above / below
        ax.plot(r[x], r[y], "o", color="C0" if r.get("audit_ok", True) else "C3", ms=4)
        ax.annotate(r["variant"], (r[x], r[y]), fontsize=6, xytext=(3, 3 if i % 2 else -8),
                    textcoords="offset points")
    front, best = [], float("-inf")
    for r in sorted(points, key=lambda r: (r[x], -r[y])):
        if r[y] > best:
            front.append(r)
            best = r[y]
    ax.step([r[x] for r in front], [r[y] for r in front], where="post", color="C1", lw=1, marker="o", ms=7,
            mfc="none", label="Pareto front")
    values = [r[x] for r in points]
    if min(values) > 0 and max(values) / min(values) > 20:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(y)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(title or f"{y} vs {x}", fontsize=9)
    if footer:
        import textwrap

        lines = [w for line in str(footer).splitlines() for w in textwrap.wrap(line, 120)]
        fig.text(0.0, -0.02, "\n".join(lines), fontsize=5.5, va="top", ha="left", color="0.3")
    return save_figure(fig, plt, path)
