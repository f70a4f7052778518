"""Sensitivity: one block at a time at another precision, and what it does to the logits.

From a float32 file and a base recipe (default: ai-edge-quantizer int8, min/max ranges), for
each block of the network (kvid layers are named ``<block>__<part>``; a layer without ``__``
is its own block) one file per change:

- ``float``: that block kept in float (ai-edge-quantizer's ``no_quantize``: the file is
  labelled "float fallback at ..." by the audit);
- ``int16``: that block with int16 activations, the rest int8 ("mixed: int8 + int16 at ...");
- ``only``: only that block quantized, the rest float (the reverse view).

Each is run by ai-edge-litert on the same clips: logits SQNR against the float file and its
change against the base file (``delta_sqnr_db``), top-1 and its change when labels are given.
``float``/``int16`` rank by the dB gained (the block whose precision matters most first),
``only`` by the dB lost when that block alone is quantized. The calibration is done once and
shared by every file, so the files differ only in precision. A range belongs to a tensor: a
block kept in float still hands its output to the next (int8) op through that tensor's range,
so a wrong *range* shows in the ``only`` view - at the tensor's producer and at its consumers,
which read it through the same range - and the per-layer table says which of them it is,
while ``float`` and ``int16`` show where precision itself is short. TensorFlow-free.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile

import numpy as np

from kvid.quant.graph import activation_tensors
from kvid.quant.layers import CAP_DB, markdown_table, write_rows_csv
from kvid.quant.variants import Recipe, aeq_quantize, calibration_result

CHANGES = ("float", "int16", "only")


def blocks_of(float_path) -> list[str]:
    """The blocks of a float file in depth order."""
    seen = []
    for t in activation_tensors(float_path):
        if t.op != "INPUT" and t.block not in seen and "/" not in t.block:
            seen.append(t.block)
    return seen


def block_pattern(block: str) -> str:
    return re.escape(block) + "(__[^/;]*)?"


def _logits(path, clips):
    from kvid.runtime import ClipModel

    model = ClipModel(path)
    return np.stack([model(c) for c in clips])


def _scores(logits, reference, labels):
    from kvid.runtime.agreement import compare_logits, top1

    compared = compare_logits(reference, logits)
    out = {"sqnr_db": min(CAP_DB, compared["sqnr_db"]), "agreement": compared["agreement"]}
    if labels is not None:
        out["top1"] = top1(logits, labels)
    return out


def sensitivity(float_path, calibration_clips, clips, labels=None, base: Recipe | None = None,
                changes=CHANGES, blocks=None, keep_dir=None) -> dict:
    """The sensitivity table (module text): ``{"base", "blocks", "rows"}``; each row
    ``{"block", "change", "sqnr_db", "delta_sqnr_db", "agreement", "top1", "delta_top1",
    "precision"}``. ``keep_dir``: keep every file made there (else a temporary folder)."""
    from kvid.export.audit import audit

    base = base or Recipe("base", "aeq", "int8")
    clips = list(clips)
    calibration = calibration_result(base, float_path, list(calibration_clips)[:base.calibration_clips])
    reference = _logits(float_path, clips)
    blocks = list(blocks or blocks_of(float_path))
    with tempfile.TemporaryDirectory() as tmp:
        folder = keep_dir or tmp
        os.makedirs(folder, exist_ok=True)

        def run(recipe):
            path = os.path.join(folder, f"{recipe.name}.tflite")
            with open(path, "wb") as fh:
                fh.write(aeq_quantize(recipe, float_path, None, calibration=calibration))
            return _scores(_logits(path, clips), reference, labels), audit(path, expect="mixed")["precision"]

        base_scores, base_precision = run(base)
        rows = []
        for block in blocks:
            pattern = block_pattern(block)
            for change in changes:
                field = {"float": "float_layers", "int16": "int16_layers", "only": "only_layers"}[change]
                mode = "int8" if change == "only" and base.mode == "int8" else "mixed"
                recipe = dataclasses.replace(base, name=f"{change}_{block}", mode=mode, **{field: pattern})
                scores, precision = run(recipe)
                row = {"block": block, "change": change, "precision": precision, **scores,
                       "delta_sqnr_db": scores["sqnr_db"] - base_scores["sqnr_db"]}
                if labels is not None:
                    row["delta_top1"] = scores["top1"] - base_scores["top1"]
                rows.append(row)
    return {"float": os.fspath(float_path), "base": {"recipe": base.to_dict(), "precision": base_precision,
                                                      **base_scores},
            "blocks": blocks, "clips": len(clips), "rows": rows}


def ranked(rows, change) -> list[dict]:
    """Rows of one change, most sensitive block first."""
    mine = [r for r in rows if r["change"] == change]
    if change == "only":
        return sorted(mine, key=lambda r: r["sqnr_db"])
    return sorted(mine, key=lambda r: -r["delta_sqnr_db"])


def write_report(result, out_dir, title=None) -> dict:
    """``sensitivity.json``, ``sensitivity.csv``, ``sensitivity.md`` (ranked per change) and
    ``sensitivity.png`` in ``out_dir``."""
    import json

    from kvid.quant.plots import sensitivity_bars

    os.makedirs(out_dir, exist_ok=True)
    rows = result["rows"]
    paths = {"json": os.path.join(out_dir, "sensitivity.json"), "csv": os.path.join(out_dir, "sensitivity.csv"),
             "md": os.path.join(out_dir, "sensitivity.md")}
    with open(paths["json"], "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=1)
    columns = ["block", "change", "sqnr_db", "delta_sqnr_db", "agreement", "top1", "delta_top1", "precision"]
    write_rows_csv(rows, paths["csv"], columns)
    b = result["base"]
    text = [f"# Sensitivity: {os.path.basename(result['float'])}", "",
            f"Base: `{json.dumps(b['recipe'])}` -> {b['precision']}, logits SQNR {b['sqnr_db']:.1f} dB"
            + (f", top-1 {b['top1']:.1%}" if "top1" in b else "") + f" on {result['clips']} clips "
            f"(SQNR capped at {CAP_DB:.0f} dB).", ""]
    present = [c for c in CHANGES if any(r["change"] == c for r in rows)]
    for change in present:
        text += [f"## {change}", "", markdown_table(ranked(rows, change), [c for c in columns if c != "change"]), ""]
    with open(paths["md"], "w", encoding="utf-8") as fh:
        fh.write("\n".join(text))
    order = [r["block"] for r in ranked(rows, present[0])] if present else []
    png = sensitivity_bars(sorted(rows, key=lambda r: order.index(r["block"])),
                           os.path.join(out_dir, "sensitivity.png"),
                           title=title or os.path.basename(result["float"]))
    if png:
        paths["png"] = png
    return paths
