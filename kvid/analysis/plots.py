"""Plots a person would rather look at than read (matplotlib, Agg backend; no TensorFlow).

- :func:`training_curves`: loss, top-1 (train and validation) and learning rate per epoch,
  from a run's ``log.csv``;
- :func:`confusion_matrix`: row-normalised confusion matrix with class names;
- :func:`accuracy_vs_gmacs`: accuracy against GMACs per clip for several runs or models, in
  the style of SEVNet's Figure 1 / MF-Net's Figure 1 (log-scaled x, one marker per model,
  labelled), from points or from run directories (:func:`run_points`).

Each function returns the path it wrote, or None when matplotlib is not installed (a
runtime-only install).
"""

from __future__ import annotations

import os

import numpy as np


def pyplot():
    """matplotlib's pyplot on the Agg backend, or None when matplotlib is not installed."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, plt, path) -> str:
    """Write ``fig`` to the PNG ``path`` (folders made, written whole or not at all), close it."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".partial.png"
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)
    return path


def training_curves(log, path, title=None) -> str | None:
    """Draw loss / accuracy / learning-rate panels from ``log`` (a ``log.csv`` path, a run
    directory, or a list of row dicts with ``epoch`` and Keras' log keys)."""
    from kvid.contract import rundir

    rows = rundir.read_log(log) if isinstance(log, (str, os.PathLike)) else list(log)
    plt = pyplot()
    if plt is None or not rows:
        return None
    epochs = np.array([r.get("epoch", i) + 1 for i, r in enumerate(rows)])

    def series(key):
        return np.array([r.get(key, np.nan) for r in rows], dtype=float)

    panels = [("loss", ["loss", "val_loss"]), ("top-1 accuracy", ["top1", "val_top1"]),
              ("learning rate", ["lr"])]
    panels = [(t, [k for k in keys if np.isfinite(series(k)).any()]) for t, keys in panels]
    panels = [(t, keys) for t, keys in panels if keys]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    for ax, (name, keys) in zip(axes[0], panels):
        for key in keys:
            ax.plot(epochs, series(key), marker="o", markersize=3,
                    label="validation" if key.startswith("val_") else "train")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if name == "top-1 accuracy":
            ax.set_ylim(0, 1)
        if len(keys) > 1:
            ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, plt, path)


def confusion_matrix(matrix, labels, path, title=None) -> str | None:
    """``matrix[i, j]`` = videos of true class ``i`` predicted as ``j``; drawn row-normalised
    (recall per class on the diagonal) with the counts written in small classes."""
    plt = pyplot()
    if plt is None:
        return None
    m = np.asarray(matrix, dtype=float)
    k = len(m)
    rows = m.sum(axis=1, keepdims=True)
    norm = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    side = min(max(4.0, 0.42 * k + 2.0), 40.0)
    fig, ax = plt.subplots(figsize=(side + 1.2, side))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    if k <= 40:
        names = [str(n) for n in labels]
        ax.set_xticks(range(k), names, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(k), names, fontsize=8)
    if k <= 20:
        for i in range(k):
            for j in range(k):
                if m[i, j]:
                    ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return save_figure(fig, plt, path)


def accuracy_vs_gmacs(points, path, metric="top1", title=None) -> str | None:
    """``points``: dicts with ``label``, ``gmacs``, ``metric`` (a fraction) and optionally
    ``family`` (one colour per family) and ``params`` (marker area ~ parameters)."""
    plt = pyplot()
    points = [p for p in points if p.get("gmacs") and p.get(metric) is not None]
    if plt is None or not points:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    families = sorted({p.get("family") or p["label"] for p in points})
    colours = {f: plt.cm.tab10(i % 10) for i, f in enumerate(families)}
    params = [p.get("params") for p in points if p.get("params")]
    pmax = max(params) if params else None
    for p in points:
        fam = p.get("family") or p["label"]
        size = 40 + 400 * (p["params"] / pmax) ** 0.5 if pmax and p.get("params") else 60
        ax.scatter(p["gmacs"], 100 * p[metric], s=size, color=colours[fam], alpha=0.8,
                   edgecolors="black", linewidths=0.5, label=fam)
        ax.annotate(p["label"], (p["gmacs"], 100 * p[metric]), textcoords="offset points",
                    xytext=(6, 4), fontsize=8)
    handles, names = ax.get_legend_handles_labels()
    unique = dict(zip(names, handles))
    if len(unique) < len(points):  # some family has several points: say which colour is which
        ax.legend(unique.values(), unique.keys(), fontsize=8, loc="best", markerscale=0.5)
    gm = [p["gmacs"] for p in points]
    if max(gm) / min(gm) > 10:
        ax.set_xscale("log")
    ax.margins(x=0.25, y=0.15)
    ax.set_xlabel("GMACs per clip")
    ax.set_ylabel(f"{metric} accuracy (%)")
    ax.grid(alpha=0.3)
    ax.set_title(title or "accuracy vs. compute")
    fig.tight_layout()
    return save_figure(fig, plt, path)


def run_points(runs, metric="top1") -> list[dict]:
    """One point per run directory: label (its folder name), family, GMACs and params from
    ``config.json``, and ``metric`` from the newest ``eval-*/metrics.json`` if the run was
    evaluated, else the best validation value of ``state.json``."""
    from kvid.contract import rundir

    points = []
    for run in runs:
        config = rundir.read_config(run)
        state = rundir.read_state(run)
        value = None
        evals = sorted(
            (os.path.join(run, d, "metrics.json") for d in os.listdir(run) if d.startswith("eval")),
            key=lambda f: os.path.getmtime(f) if os.path.isfile(f) else -1,
        )
        evals = [f for f in evals if os.path.isfile(f)]
        if evals:
            value = rundir.read_json(evals[-1]).get(metric)
        elif (state.get("best") or {}).get("monitor") == f"val_{metric}":
            value = state["best"]["value"]
        summary = config.get("summary", {})
        points.append({
            "label": os.path.basename(os.path.normpath(run)), "family": config.get("family"),
            "gmacs": summary.get("gmacs"), "params": summary.get("params"), metric: value,
        })
    return points
