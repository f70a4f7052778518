"""Video-level metrics from per-view scores (numpy only, no TensorFlow).

``scores``: ``(N, V, C)`` logits of ``V`` views per video (or ``(N, C)``); a video's score is
the mean of its views' logits (the runtime's ``kvid predict`` averages the same way).
``labels``: ``(N,)`` class indices, or ``(N, C)`` multi-hot for multi-label data.

- top-k: the true class among the k highest scores (multi-label: any true class);
- mean class accuracy: the mean over classes of per-class top-1 recall (FineGym's metric;
  classes without test videos are left out);
- mAP: the mean over classes of the average precision of the softmax (single-label) or
  sigmoid (multi-label) scores, classes without positives left out - the MMIT / Charades
  metric, also reported for single-label data;
- single view: the same top-k, averaged over the ``V`` views each scored alone.
"""

from __future__ import annotations

import numpy as np

from kvid.runtime.predict import softmax  # the one softmax (float64, as the Android core)


def _as_views(scores) -> np.ndarray:
    s = np.asarray(scores, np.float64)
    if s.ndim == 2:
        s = s[:, None, :]
    if s.ndim != 3:
        raise ValueError(f"scores of shape {s.shape}: expected (N, V, C) or (N, C)")
    return s


def topk_hits(scores2d, labels, k) -> np.ndarray:
    """Per video: whether a true class is among the ``k`` highest scores."""
    s = np.asarray(scores2d)
    k = min(int(k), s.shape[1])
    top = np.argsort(-s, axis=1, kind="stable")[:, :k]
    y = np.asarray(labels)
    if y.ndim == 2:
        return np.take_along_axis(y, top, axis=1).any(axis=1)
    return (top == y[:, None]).any(axis=1)


def average_precision(scores1d, positives) -> float:
    """AP of one class: mean precision at the rank of each positive (nan without positives)."""
    pos = np.asarray(positives, bool)
    if not pos.any():
        return float("nan")
    order = np.argsort(-np.asarray(scores1d), kind="stable")
    hits = pos[order]
    ranks = np.flatnonzero(hits) + 1
    return float(np.mean(np.arange(1, len(ranks) + 1) / ranks))


def confusion(pred, labels, num_classes) -> np.ndarray:
    m = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(m, (np.asarray(labels), np.asarray(pred)), 1)
    return m


def summarize(scores, labels, num_classes=None, k=5) -> dict:
    """Every metric of the module docstring, plus ``confusion`` and ``per_class`` rows."""
    views = _as_views(scores)
    n, v, c = views.shape
    num_classes = int(num_classes or c)
    y = np.asarray(labels)
    multi = y.ndim == 2
    if len(y) != n:
        raise ValueError(f"{len(y)} labels for {n} videos")
    video = views.mean(axis=1)
    k = min(k, c)
    out = {"videos": int(n), "views": int(v), "classes": num_classes, "multi_label": bool(multi)}
    if n == 0:
        return {**out, "top1": None, f"top{k}": None, "top5": None, "mean_class_acc": None,
                "mAP": None, "single_view": {"top1": None, "top5": None}, "per_class": [],
                "confusion": np.zeros((num_classes, num_classes), np.int64)}
    out["top1"] = float(topk_hits(video, y, 1).mean())
    out["top5"] = float(topk_hits(video, y, k).mean())
    out["single_view"] = {
        "top1": float(np.mean([topk_hits(views[:, i], y, 1).mean() for i in range(v)])),
        "top5": float(np.mean([topk_hits(views[:, i], y, k).mean() for i in range(v)])),
    }
    probs = 1 / (1 + np.exp(-video)) if multi else softmax(video)
    positives = y.astype(bool) if multi else (y[:, None] == np.arange(c)[None])
    ap = np.array([average_precision(probs[:, j], positives[:, j]) for j in range(c)])
    out["mAP"] = float(np.nanmean(ap)) if np.isfinite(ap).any() else None
    pred = video.argmax(axis=1)
    rows = []
    if multi:
        out["mean_class_acc"] = None
        out["confusion"] = None
        for j in range(c):
            rows.append({"index": j, "videos": int(positives[:, j].sum()), "ap": _f(ap[j])})
    else:
        cm = confusion(pred, y, num_classes)
        out["confusion"] = cm
        support = cm.sum(axis=1)
        recall = np.divide(np.diag(cm), support, out=np.full(num_classes, np.nan), where=support > 0)
        predicted = cm.sum(axis=0)
        precision = np.divide(np.diag(cm), predicted, out=np.full(num_classes, np.nan),
                              where=predicted > 0)
        out["mean_class_acc"] = float(np.nanmean(recall)) if (support > 0).any() else None
        for j in range(num_classes):
            off = cm[j].copy()
            off[j] = 0
            rows.append({
                "index": j, "videos": int(support[j]), "correct": int(cm[j, j]),
                "accuracy": _f(recall[j]), "precision": _f(precision[j]),
                "ap": _f(ap[j]) if j < c else None,
                "most_confused_with": int(off.argmax()) if off.any() else None,
            })
    out["per_class"] = rows
    return out


def _f(x):
    return None if x is None or not np.isfinite(x) else float(x)
