"""Per-layer error of a quantized ``.tflite`` against its float reference, on real clips.

For every activation tensor of the quantized file that has a counterpart in the float file
(:func:`kvid.quant.graph.match_tensors`), over all clips:

- ``sqnr_db``: ``10 log10(sum ref^2 / sum (ref - q)^2)``, the error accumulated up to here
  (capped at :data:`CAP_DB`, about float32's own noise floor);
- ``db_lost``: the SQNR of the op's inputs minus its output's (None for the graph input);
- ``rmse_over_scale``: the RMS error in quantisation steps (TensorFlow's
  QuantizationDebugger's ``sqrt(mean_squared_error) / scale``); about 0.29 is rounding alone;
- ``added_steps``: the RMS error this op *adds*, in its own quantisation steps - the output's
  noise power minus what its inputs' relative noise (their SQNR) carries through, the estimate
  of the debugger's local error (which runs the float op on the quantized inputs). The column
  to rank by: a corrupted range adds hundreds of steps where it is, the layers after it add
  their usual rounding; None for float tensors and the graph input;
- ``cosine`` of the flattened values;
- ``range_used`` (what the integer type can hold) vs ``range_seen`` (the float values' min and
  max), and ``clipped``: the fraction of float values outside the range used.

The same function serves PTQ files (reference: the float32 file they were quantized from) and
QAT exports (reference: the float32 file of the QAT model's own weights without fake quant,
:func:`kvid.quant.variants.float_of_qat`). TensorFlow-free.
"""

from __future__ import annotations

import csv
import json
import os

import numpy as np

from kvid import KvidError
from kvid.quant.graph import TensorReader, match_tensors

CAP_DB = 120.0
COLUMNS = ("depth", "op", "layer", "block", "dtype", "shape", "sqnr_db", "db_lost", "added_steps", "rmse_over_scale",
           "cosine", "range_used", "range_seen", "clipped", "name")


def _sqnr(signal, noise) -> float:
    if noise <= 0:
        return CAP_DB
    if signal <= 0:
        return 0.0
    return float(min(CAP_DB, 10 * np.log10(signal / noise)))


def _added_steps(s, input_sqnr_db, scale) -> float:
    carried = s["signal"] * 10 ** (-input_sqnr_db / 10)
    return float(np.sqrt(max(0.0, s["noise"] - carried) / s["n"]) / scale)


def layer_errors(quantized_path, float_path, clips, threads: int = 2) -> dict:
    """The per-layer table of ``quantized_path`` against ``float_path`` on ``clips``.

    Returns ``{"quantized", "reference", "clips", "rows", "unmatched"}``; ``rows`` in depth
    order, one per matched activation tensor (module text for the columns).
    """
    clips = list(clips)
    if not clips:
        raise KvidError(f"{quantized_path}: per-layer error needs at least one clip")
    q_reader, f_reader = TensorReader(quantized_path, threads), TensorReader(float_path, threads)
    matched = match_tensors(q_reader.tensors, f_reader.tensors)
    stats = {i: {"signal": 0.0, "noise": 0.0, "dot": 0.0, "qq": 0.0, "n": 0, "clipped": 0,
                 "min": np.inf, "max": -np.inf} for i in matched}
    by_index = {t.index: t for t in q_reader.tensors}
    for clip in clips:
        q_values = q_reader.run(clip, matched)
        f_values = f_reader.run(clip, [r.index for r in matched.values()])
        for i, ref_t in matched.items():
            ref = f_values[ref_t.index].astype(np.float64).ravel()
            got = q_values[i].astype(np.float64).ravel()
            s = stats[i]
            s["signal"] += float(ref @ ref)
            s["noise"] += float(((ref - got) ** 2).sum())
            s["dot"] += float(ref @ got)
            s["qq"] += float(got @ got)
            s["n"] += ref.size
            s["min"], s["max"] = min(s["min"], float(ref.min())), max(s["max"], float(ref.max()))
            used = by_index[i].range_used
            if used is not None:
                s["clipped"] += int(np.count_nonzero((ref < used[0]) | (ref > used[1])))
    sqnr = {i: _sqnr(s["signal"], s["noise"]) for i, s in stats.items()}
    rows = []
    for i in sorted(matched, key=lambda i: (by_index[i].depth, i)):
        t, s = by_index[i], stats[i]
        ins = [sqnr[j] for j in t.inputs if j in sqnr]
        used = t.range_used
        rows.append({
            "depth": t.depth, "op": t.op, "layer": t.layer, "block": t.block, "dtype": t.dtype,
            "shape": "x".join(str(d) for d in t.shape),
            "sqnr_db": round(sqnr[i], 3),
            "db_lost": round(min(ins) - sqnr[i], 3) if ins else None,
            "rmse_over_scale": round(float(np.sqrt(s["noise"] / s["n"]) / t.scale), 4) if t.scale else None,
            "added_steps": round(_added_steps(s, min(ins), t.scale), 4) if ins and t.scale else None,
            "cosine": round(s["dot"] / np.sqrt(s["signal"] * s["qq"]), 6) if s["signal"] > 0 and s["qq"] > 0 else None,
            "range_used": [round(used[0], 5), round(used[1], 5)] if used else None,
            "range_seen": [round(s["min"], 5), round(s["max"], 5)],
            "clipped": round(s["clipped"] / s["n"], 6) if used else None,
            "name": t.name,
        })
    unmatched = [t.name for t in q_reader.tensors if t.index not in matched]
    return {"quantized": os.fspath(quantized_path), "reference": os.fspath(float_path),
            "clips": len(clips), "rows": rows, "unmatched": unmatched}


def ranked(rows, key="added_steps") -> list[dict]:
    """Rows by the error they add, worst first (ties: lower SQNR first); rows without a value
    (float tensors, the input) are left out."""
    return sorted((r for r in rows if r[key] is not None), key=lambda r: (-r[key], r["sqnr_db"]))


def write_rows_csv(rows, path, columns=None) -> str:
    """Rows as CSV (lists joined by ``..``)."""
    columns = list(columns or (rows[0].keys() if rows else []))
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["..".join(str(v) for v in row[c]) if isinstance(row.get(c), (list, tuple))
                             else ("" if row.get(c) is None else row[c]) for c in columns])
    return path


def markdown_table(rows, columns) -> str:
    def cell(v):
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1e-2 and v else f"{v:.2f}"
        if isinstance(v, (list, tuple)):
            return " .. ".join(cell(x) for x in v)
        return str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


SHORT_COLUMNS = ("depth", "op", "layer", "dtype", "sqnr_db", "db_lost", "added_steps", "rmse_over_scale", "cosine",
                 "range_used", "range_seen", "clipped")


def write_report(result, out_dir, title=None) -> dict:
    """``layers.json``, ``layers.csv`` (depth order), ``layers_ranked.csv``, ``layers.md``
    (worst 15 by steps added, then all by depth) and ``layers.png`` in ``out_dir``."""
    from kvid.quant.plots import sqnr_along_depth

    os.makedirs(out_dir, exist_ok=True)
    rows = result["rows"]
    paths = {"json": os.path.join(out_dir, "layers.json"), "csv": os.path.join(out_dir, "layers.csv"),
             "ranked_csv": os.path.join(out_dir, "layers_ranked.csv"), "md": os.path.join(out_dir, "layers.md")}
    with open(paths["json"], "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=1)
    write_rows_csv(rows, paths["csv"], COLUMNS)
    write_rows_csv(ranked(rows), paths["ranked_csv"], COLUMNS)
    worst = ranked(rows)[:15]
    text = [f"# Per-layer error: {os.path.basename(result['quantized'])}", "",
            f"Against `{os.path.basename(result['reference'])}` on {result['clips']} clips; "
            f"{len(rows)} tensors matched, {len(result['unmatched'])} unmatched. "
            "`added_steps`: the RMS error the op adds, in its own quantisation steps (about 0.3 is "
            "rounding alone); `db_lost`: SQNR of its inputs minus its output's.", "",
            "## Worst by steps added", "", markdown_table(worst, SHORT_COLUMNS), "",
            "## Along the depth", "", markdown_table(rows, SHORT_COLUMNS), ""]
    with open(paths["md"], "w", encoding="utf-8") as fh:
        fh.write("\n".join(text))
    png = sqnr_along_depth(rows, os.path.join(out_dir, "layers.png"),
                           title=title or os.path.basename(result["quantized"]))
    if png:
        paths["png"] = png
    return paths
