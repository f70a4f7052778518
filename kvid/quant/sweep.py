"""The sweep: a set of recipes on one trained run, one matrix.

For every recipe (:mod:`kvid.quant.variants`) the sweep makes the file in ``OUT/<name>/``
(``model.tflite`` + sidecar, ``recipe.json``, ``result.json``), audits it for its declared
mode, runs it with the TensorFlow-free runtime on the run's validation views - top-1,
argmax agreement and logits SQNR against the float Keras model - and times it (XNNPACK, 1 and
2 threads, :func:`kvid.runtime.bench.bench_one`). Integer variants also get the per-layer
table (:mod:`kvid.quant.layers`) on a few views. The matrix goes to ``sweep.md``,
``sweep.csv``, ``sweep.json`` with two Pareto plots (top-1 vs latency, top-1 vs size).

Calibration clips come from the run's training pipeline (as ``kvid export --ptq``); every
recipe takes its first ``calibration_clips`` of the same clips.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

from kvid import KvidError
from kvid.quant.layers import markdown_table, write_rows_csv
from kvid.quant.variants import Recipe, aeq_quantize, convert_recipe, float_of_qat, qat_simulation

MATRIX_COLUMNS = ("variant", "kind", "mode", "precision", "top1", "agreement", "sqnr_db", "size_kib",
                  "ms_1t", "ms_2t", "audit", "worst_layer", "note")


class Subject:
    """A trained run as the sweep sees it: models, calibration clips, validation views."""

    def __init__(self, run_dir, views_limit=None, calibration_clips=64):
        from kvid.contract import rundir
        from kvid.export.run import QAT_MODEL, _run_paths, training_clips, validation_views
        from kvid.keras import tf
        from kvid.ops import load_model

        self.run_dir = os.fspath(run_dir)
        self.config, best = _run_paths(run_dir)
        self.seed = int(self.config.get("seed", 0))
        tf.keras.utils.set_random_seed(self.seed)
        self.clip = rundir.clip_spec(self.config)
        self.model_name = self.config.get("model") or "model"
        self.float_model = load_model(best)
        qat_path = os.path.join(self.run_dir, QAT_MODEL)
        self.qat_model = load_model(qat_path) if os.path.isfile(qat_path) else None
        self.views, self.labels, self.names, _ = validation_views(self.config, views_limit)
        batches = training_clips(self.config, 8, self.seed).take(max(1, -(-calibration_clips // 8)))
        self.calibration = np.concatenate([x for x, _ in batches.as_numpy_iterator()])[:calibration_clips]
        self.train_ds = lambda: training_clips(self.config, int(self.config.get("batch", 8)), self.seed)

    def keras_logits(self, model):
        return model.predict(self.views, batch_size=8, verbose=0)


def _write(data: bytes, path) -> str:
    from kvid.export.convert import write

    return write(data, path)


def _scores(logits, reference, labels) -> dict:
    from kvid.runtime.agreement import compare_logits, top1

    compared = compare_logits(reference, logits)
    return {"top1": top1(logits, labels), "agreement": compared["agreement"],
            "sqnr_db": compared["sqnr_db"]}


def run_variant(recipe: Recipe, subject: Subject, out_dir, float_path, reference_logits,
                qat_float_path=None, bench_threads=(1, 2), repeats=10, layer_views=4) -> dict:
    """Make, audit, evaluate and time one variant; ``result.json`` in ``out_dir``."""
    from kvid.export.audit import audit
    from kvid.export.metadata import write_sidecar_for
    from kvid.runtime import ClipModel

    os.makedirs(out_dir, exist_ok=True)
    recipe.save(os.path.join(out_dir, "recipe.json"))
    t0 = time.perf_counter()
    row = {"variant": recipe.name, "kind": recipe.kind, "mode": recipe.mode, "note": recipe.note,
           "recipe": recipe.to_dict()}
    if not recipe.makes_file:
        model = qat_simulation(recipe, subject.float_model, subject.train_ds())
        row.update(_scores(subject.keras_logits(model), reference_logits, subject.labels))
        row.update({"precision": f"simulated w{recipe.weight_bits}a{recipe.activation_bits} (Keras, no file)",
                    "audit": "no file", "audit_ok": None})
    else:
        path = os.path.join(out_dir, "model.tflite")
        if recipe.name == "float32" and recipe.kind == "convert" and os.path.isfile(float_path):
            data = open(float_path, "rb").read()
        elif recipe.kind == "aeq":
            data = aeq_quantize(recipe, float_path, subject.calibration)
        else:
            data = convert_recipe(recipe, subject.float_model, subject.qat_model, subject.calibration)
        _write(data, path)
        write_sidecar_for(path, model_name=subject.model_name, labels=subject.names, clip=subject.clip,
                          mode=recipe.mode)
        report = audit(path, expect=recipe.expect)
        runner = ClipModel(path)
        logits = np.stack([runner(v) for v in subject.views])
        row.update(_scores(logits, reference_logits, subject.labels))
        row.update({"path": path, "size_kib": os.path.getsize(path) / 1024, "precision": report["precision"],
                    "audit": "ok" if report["ok"] else "; ".join(report["problems"]), "audit_ok": report["ok"],
                    "ops": report["ops"]})
        from kvid.runtime.bench import bench_one

        for threads in bench_threads:
            row[f"ms_{threads}t"] = bench_one(path, threads=threads, xnnpack=True, repeats=repeats)["median_ms"]
        reference = qat_float_path if recipe.kind == "qat" else float_path
        if layer_views and recipe.expect in ("int8", "int16x8", "mixed") and reference:
            from kvid.quant.layers import layer_errors, ranked, write_report

            layers = layer_errors(path, reference, subject.views[:layer_views])
            write_report(layers, os.path.join(out_dir, "layers"), title=f"{subject.model_name} {recipe.name}")
            top = ranked(layers["rows"])
            if top:
                worst = top[0]
                row["worst_layer"] = f"{worst['layer']} ({worst['op']}, +{worst['added_steps']:.3g} steps)"
    row["seconds"] = round(time.perf_counter() - t0, 1)
    with open(os.path.join(out_dir, "result.json"), "w", encoding="utf-8") as fh:
        json.dump({k: v for k, v in row.items()}, fh, indent=1, default=float)
    return row


def sweep(run_dir, out_dir, recipes, *, views_limit=None, bench_threads=(1, 2), repeats=10,
          layer_views=4, verbose=True) -> dict:
    """Run ``recipes`` on the run; returns ``{"rows", "paths", "seconds", ...}``."""
    from kvid.export.convert import convert

    t0 = time.perf_counter()
    recipes = list(recipes)
    names = [r.name for r in recipes]
    if len(set(names)) != len(names):
        raise KvidError(f"sweep: recipe names must be unique (got {names})")
    if any(r.kind == "qat" for r in recipes):
        from kvid.export.run import QAT_MODEL

        if not os.path.isfile(os.path.join(os.fspath(run_dir), QAT_MODEL)):
            raise KvidError(f"{run_dir}: no {QAT_MODEL} for the qat recipes; run `kvid qat {run_dir}` first")
    subject = Subject(run_dir, views_limit, max([r.calibration_clips for r in recipes] + [8]))
    os.makedirs(out_dir, exist_ok=True)
    float_path = _write(convert(subject.float_model, "float32"), os.path.join(out_dir, "reference_float32.tflite"))
    qat_float_path = None
    if subject.qat_model is not None and any(r.kind == "qat" for r in recipes):
        qat_float_path = _write(convert(float_of_qat(subject.qat_model), "float32"),
                                os.path.join(out_dir, "reference_qat_weights_float32.tflite"))
    reference = subject.keras_logits(subject.float_model)
    rows = [{"variant": "float Keras", "kind": "keras", "mode": "-", "precision": "float32 (Keras)",
             **_scores(reference, reference, subject.labels), "audit": "-", "note": "the reference"}]
    if subject.qat_model is not None:
        rows.append({"variant": "QAT Keras", "kind": "keras", "mode": "-", "precision": "fake-quant int8 (Keras)",
                     **_scores(subject.keras_logits(subject.qat_model), reference, subject.labels),
                     "audit": "-", "note": "RUN/qat.keras"})
    for recipe in recipes:
        if verbose:
            print(f"  {recipe.name} ...", flush=True)
        try:
            row = run_variant(recipe, subject, os.path.join(out_dir, recipe.name), float_path, reference,
                              qat_float_path, bench_threads, repeats, layer_views)
        except KvidError as exc:
            row = {"variant": recipe.name, "kind": recipe.kind, "mode": recipe.mode, "audit": f"failed: {exc}",
                   "audit_ok": False, "note": recipe.note, "recipe": recipe.to_dict()}
        rows.append(row)
        if verbose:
            print("    " + ", ".join(f"{k} {row[k]:.3g}" if isinstance(row.get(k), float) else f"{k} {row.get(k)}"
                                     for k in ("top1", "sqnr_db", "size_kib", "ms_2t", "precision", "audit")))
    seconds = time.perf_counter() - t0
    result = {"run": os.fspath(run_dir), "model": subject.model_name, "views": int(len(subject.views)),
              "calibration_clips": int(len(subject.calibration)), "bench_threads": list(bench_threads),
              "rows": rows, "seconds": round(seconds, 1)}
    result["paths"] = write_matrix(result, out_dir)
    return result


def matrix_markdown(result) -> str:
    rows = [dict(r, size_kib=r.get("size_kib"), top1=_pct(r.get("top1")), agreement=_pct(r.get("agreement")))
            for r in result["rows"]]
    return markdown_table(rows, MATRIX_COLUMNS)


def _pct(v):
    return None if v is None else f"{v:.1%}"


def write_matrix(result, out_dir) -> dict:
    from kvid.quant.plots import pareto

    paths = {"json": os.path.join(out_dir, "sweep.json"), "csv": os.path.join(out_dir, "sweep.csv"),
             "md": os.path.join(out_dir, "sweep.md")}
    with open(paths["json"], "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=1, default=float)
    write_rows_csv(result["rows"], paths["csv"], MATRIX_COLUMNS)
    threads = result["bench_threads"]
    text = [f"# Quantization sweep: {result['model']}", "",
            f"Run `{result['run']}`; {result['views']} validation views, {result['calibration_clips']} "
            f"calibration clips from the training pipeline; top-1, argmax agreement and logits SQNR "
            f"against the float Keras model; latency: median per clip, XNNPACK, "
            f"{' and '.join(str(t) for t in threads)} thread(s); size of the .tflite. "
            f"Each variant's recipe is `<variant>/recipe.json`. {result['seconds'] / 60:.1f} minutes.", "",
            matrix_markdown(result), ""]
    last = max(threads)
    for key, label, name in ((f"ms_{last}t", f"latency per clip, {last} thread(s) (ms)", "pareto_latency.png"),
                             ("size_kib", "size (KiB)", "pareto_size.png")):
        png = pareto(result["rows"], os.path.join(out_dir, name), key, "top1", title=f"{result['model']}: top-1 vs {label}",
                     xlabel=label)
        if png:
            paths[name] = png
            text.append(f"![{label}]({name})")
    with open(paths["md"], "w", encoding="utf-8") as fh:
        fh.write("\n".join(text) + "\n")
    return paths
