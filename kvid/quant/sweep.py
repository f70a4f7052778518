"""The sweep: a set of recipes on one trained run, one matrix.

For every recipe (:mod:`kvid.quant.variants`) the sweep makes the file in ``OUT/<name>/``
(``model.tflite`` + sidecar, ``recipe.json``, ``result.json``), audits it for its declared
mode, runs it with the TensorFlow-free runtime on one centre view per video of the run's
test split (its validation split when the dataset has no test split; ``split`` chooses
another) - top-1, argmax agreement and logits SQNR against the float Keras model - and times
it (XNNPACK, 1 and 2 threads, :func:`kvid.runtime.bench.bench_one`). Integer variants also get
the per-layer table (:mod:`kvid.quant.layers`) on a few views. The matrix goes to
``sweep.md``, ``sweep.csv``, ``sweep.json`` with two Pareto plots (top-1 vs latency, top-1 vs
size).

Calibration clips come from the run's training pipeline (as ``kvid export --ptq``); every
converter and ai-edge-quantizer recipe takes its first ``calibration_clips`` of the same clips,
QAT recipes made here (``qat_from="float"``) their first batches of the same pipeline.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

from kvid import KvidError
from kvid.quant.layers import markdown_table, write_rows_csv
from kvid.quant.variants import (
    Recipe,
    aeq_quantize,
    convert_recipe,
    float_of_qat,
    qat_from_float,
    qat_simulation,
)

MATRIX_COLUMNS = ("variant", "kind", "mode", "precision", "top1", "agreement", "sqnr_db", "size_kib",
                  "ms_1t", "ms_2t", "audit", "worst_layer", "note")


class Subject:
    """A trained run as the sweep sees it: models, calibration clips, evaluation views (one
    centre view per video of ``split``; ``test`` falls back to the validation split)."""

    def __init__(self, run_dir, views_limit=None, calibration_clips=64, split="test"):
        from kvid.contract import rundir
        from kvid.data.layouts import load_dataset
        from kvid.export.run import QAT_MODEL, run_paths, training_clips, validation_views
        from kvid.keras import tf
        from kvid.ops import load_model

        self.run_dir = os.fspath(run_dir)
        self.config, best = run_paths(run_dir)
        self.seed = int(self.config.get("seed", 0))
        self.batch = int(self.config.get("batch", 8))
        tf.keras.utils.set_random_seed(self.seed)
        self.clip = rundir.clip_spec(self.config)
        self.model_name = self.config.get("model") or "model"
        self.float_model = load_model(best)
        qat_path = os.path.join(self.run_dir, QAT_MODEL)
        self.qat_model = load_model(qat_path) if os.path.isfile(qat_path) else None
        data = self.config["data"]
        self.split = load_dataset(data["root"], split, layout=data.get("layout", "auto")).split  # as served
        self.views, self.labels, self.names, _ = validation_views(self.config, views_limit, split=self.split)
        batches = training_clips(self.config, 8, self.seed).take(max(1, -(-calibration_clips // 8)))
        self.calibration = np.concatenate([x for x, _ in batches.as_numpy_iterator()])[:calibration_clips]
        self.train_ds = lambda: training_clips(self.config, self.batch, self.seed)

    def keras_logits(self, model):
        return model.predict(self.views, batch_size=8, verbose=0)


def make_variant(recipe: Recipe, subject: Subject, float_path) -> tuple[bytes, object]:
    """The file of ``recipe`` on ``subject`` (``float_path``: its float32 file) and the QAT
    Keras model it was converted from (None for other kinds)."""
    if recipe.kind == "aeq":
        return aeq_quantize(recipe, float_path, subject.calibration), None
    if recipe.kind == "qat":
        qat = subject.qat_model if recipe.qat_from == "run" else qat_from_float(
            recipe, subject.float_model, subject.train_ds(), subject.batch)
        if qat is None:
            raise KvidError(f"recipe {recipe.name!r}: {subject.run_dir} has no qat.keras; run `kvid qat` first")
        return convert_recipe(recipe, subject.float_model, qat), qat
    if recipe.name == "float32" and recipe.mode == "float32" and os.path.isfile(float_path):
        with open(float_path, "rb") as fh:
            return fh.read(), None
    return convert_recipe(recipe, subject.float_model, calibration=subject.calibration), None


def _write(data: bytes, path) -> str:
    from kvid.export.convert import write

    return write(data, path)


def _scores(logits, reference, labels) -> dict:
    from kvid.runtime.agreement import compare_logits, top1

    compared = compare_logits(reference, logits)
    return {"top1": top1(logits, labels), "agreement": compared["agreement"],
            "sqnr_db": compared["sqnr_db"]}


def run_variant(recipe: Recipe, subject: Subject, out_dir, float_path, reference_logits,
                qat_float_path=None, layer_views=4, prebuilt=None) -> dict:
    """Make, audit and evaluate one variant (latency: :func:`time_variants`); ``result.json``
    in ``out_dir``. ``prebuilt``: the path of a file this recipe already made elsewhere (the
    demo's exports), used instead of making it again."""
    from kvid.export.audit import audit
    from kvid.export.metadata import write_sidecar_for
    from kvid.runtime import ClipModel

    os.makedirs(out_dir, exist_ok=True)
    recipe.save(os.path.join(out_dir, "recipe.json"))
    t0 = time.perf_counter()
    row = {"variant": recipe.name, "kind": recipe.kind, "mode": recipe.mode, "note": recipe.note,
           "recipe": recipe.to_dict()}
    if not recipe.makes_file:
        model = qat_simulation(recipe, subject.float_model, subject.train_ds(), subject.batch)
        row.update(_scores(subject.keras_logits(model), reference_logits, subject.labels))
        row.update({"precision": f"simulated w{recipe.weight_bits}a{recipe.activation_bits} (Keras, no file)",
                    "audit": "no file", "audit_ok": None})
    else:
        path = os.path.join(out_dir, "model.tflite")
        if prebuilt:
            with open(prebuilt, "rb") as fh:
                data = fh.read()
            qat = subject.qat_model if recipe.kind == "qat" and recipe.qat_from == "run" else None
            row["source"] = os.fspath(prebuilt)
        else:
            data, qat = make_variant(recipe, subject, float_path)
        if qat is not None and qat is not subject.qat_model:  # a QAT model made here: its own reference
            from kvid.export.convert import convert

            row["qat_keras_top1"] = _scores(subject.keras_logits(qat), reference_logits, subject.labels)["top1"]
            qat_float_path = _write(convert(float_of_qat(qat), "float32"),
                                    os.path.join(out_dir, "reference_qat_weights_float32.tflite"))
        _write(data, path)
        write_sidecar_for(path, model_name=subject.model_name, labels=subject.names, clip=subject.clip,
                          mode=recipe.mode)
        report = audit(path, expect=recipe.expect)
        logits = ClipModel(path).predict(subject.views)
        row.update(_scores(logits, reference_logits, subject.labels))
        row.update({"path": path, "size_kib": os.path.getsize(path) / 1024, "precision": report["precision"],
                    "audit": "ok" if report["ok"] else "; ".join(report["problems"]), "audit_ok": report["ok"],
                    "ops": report["ops"]})
        reference = qat_float_path if recipe.kind == "qat" else float_path
        if layer_views and recipe.expect in ("int8", "int16x8", "mixed") and reference:
            from kvid.quant.layers import layer_errors, ranked, write_report

            layers = layer_errors(path, reference, subject.views[:layer_views])
            write_report(layers, os.path.join(out_dir, "layers"), title=f"{subject.model_name} {recipe.name}")
            top = ranked(layers["rows"])
            if top:
                worst = top[0]
                row["worst_layer"] = (f"{worst['layer']} ({worst['op']}, +{worst['added_steps']:.3g} "
                                      f"{worst['dtype']} steps)")
    row["seconds"] = round(time.perf_counter() - t0, 1)
    _save_row(row, out_dir)
    return row


def _save_row(row, out_dir):
    with open(os.path.join(out_dir, "result.json"), "w", encoding="utf-8") as fh:
        json.dump(row, fh, indent=1, default=float)


def time_variants(rows, bench_threads=(1, 2), repeats=10, rounds=1, warmup=3) -> None:
    """Latency of every row with a file (XNNPACK, each thread count: ``ms_<n>t``): ``rounds``
    rounds over all the files, each a fresh process timing ``repeats`` runs
    (:func:`kvid.runtime.bench.bench_one`); the median of the rounds' medians, and their range
    (``ms_<n>t_range``) - on a shared machine the rounds spread a burst of other work over
    every variant instead of onto one."""
    from kvid.runtime.bench import bench_one

    timed = [r for r in rows if r.get("path")]
    samples = {(id(r), t): [] for r in timed for t in bench_threads}
    for _ in range(max(1, int(rounds))):
        for row in timed:
            for threads in bench_threads:
                samples[(id(row), threads)].append(
                    bench_one(row["path"], threads=threads, xnnpack=True, warmup=warmup, repeats=repeats)["median_ms"])
    for row in timed:
        for threads in bench_threads:
            values = samples[(id(row), threads)]
            row[f"ms_{threads}t"] = float(np.median(values))
            row[f"ms_{threads}t_range"] = [float(min(values)), float(max(values))]
        _save_row(row, os.path.dirname(row["path"]))


def sweep(run_dir, out_dir, recipes, *, views_limit=None, bench_threads=(1, 2), repeats=10, rounds=1,
          layer_views=4, split="test", prebuilt=None, verbose=True) -> dict:
    """Run ``recipes`` on the run, evaluated on ``split`` (module text); latency
    (:func:`time_variants`) once every file is made. ``prebuilt``: ``{recipe name: path}`` of
    files those recipes already made (a float32 one is also the reference). Returns
    ``{"rows", "paths", "seconds", "split", ...}``."""
    from kvid.export.convert import convert

    t0 = time.perf_counter()
    recipes = list(recipes)
    prebuilt = dict(prebuilt or {})
    names = [r.name for r in recipes]
    if len(set(names)) != len(names):
        raise KvidError(f"sweep: recipe names must be unique (got {names})")
    for name, path in prebuilt.items():
        if name not in names or not os.path.isfile(path):
            raise KvidError(f"sweep: prebuilt {name!r}: {path} is not a file of a recipe in the set")
    run_qat = [r for r in recipes if r.kind == "qat" and r.qat_from == "run"]
    if run_qat:
        from kvid.export.run import QAT_MODEL

        if not os.path.isfile(os.path.join(os.fspath(run_dir), QAT_MODEL)):
            raise KvidError(f"{run_dir}: no {QAT_MODEL} for the qat recipes; run `kvid qat {run_dir}` first")
    ptq_clips = [r.calibration_clips for r in recipes if r.kind in ("convert", "aeq")]
    subject = Subject(run_dir, views_limit, max(ptq_clips + [8]), split=split)
    os.makedirs(out_dir, exist_ok=True)
    float_path = os.path.join(out_dir, "reference_float32.tflite")
    given = [prebuilt[r.name] for r in recipes if r.name in prebuilt and r.kind == "convert" and r.mode == "float32"]
    if given:
        with open(given[0], "rb") as fh:
            _write(fh.read(), float_path)
    else:
        _write(convert(subject.float_model, "float32"), float_path)
    qat_float_path = None
    if subject.qat_model is not None and run_qat:
        qat_float_path = _write(convert(float_of_qat(subject.qat_model), "float32"),
                                os.path.join(out_dir, "reference_qat_weights_float32.tflite"))
    reference = subject.keras_logits(subject.float_model)
    rows = [{"variant": "float Keras", "kind": "keras", "mode": "-", "precision": "float32 (Keras)",
             **_scores(reference, reference, subject.labels), "sqnr_db": None, "audit": "-",
             "note": "the reference"}]
    if subject.qat_model is not None:
        rows.append({"variant": "QAT Keras", "kind": "keras", "mode": "-", "precision": "fake-quant int8 (Keras)",
                     **_scores(subject.keras_logits(subject.qat_model), reference, subject.labels),
                     "audit": "-", "note": "RUN/qat.keras"})
    for recipe in recipes:
        if verbose:
            print(f"  {recipe.name} ...", flush=True)
        try:
            row = run_variant(recipe, subject, os.path.join(out_dir, recipe.name), float_path, reference,
                              qat_float_path, layer_views, prebuilt.get(recipe.name))
        except KvidError as exc:
            row = {"variant": recipe.name, "kind": recipe.kind, "mode": recipe.mode, "audit": f"failed: {exc}",
                   "audit_ok": False, "note": recipe.note, "recipe": recipe.to_dict()}
        rows.append(row)
        if verbose:
            print("    " + ", ".join(f"{k} {row[k]:.3g}" if isinstance(row.get(k), float) else f"{k} {row.get(k)}"
                                     for k in ("top1", "sqnr_db", "size_kib", "precision", "audit")))
    if verbose:
        print(f"  latency: {max(1, int(rounds))} round(s) x {len(bench_threads)} thread count(s) ...", flush=True)
    time_variants(rows, bench_threads, repeats, rounds)
    seconds = time.perf_counter() - t0
    result = {"run": os.fspath(run_dir), "model": subject.model_name, "split": subject.split,
              "views": int(len(subject.views)),
              "calibration_clips": int(len(subject.calibration)), "bench_threads": list(bench_threads),
              "bench": {"repeats": repeats, "rounds": max(1, int(rounds))},
              "rows": rows, "seconds": round(seconds, 1)}
    result["paths"] = write_matrix(result, out_dir)
    return result


def matrix_markdown(result) -> str:
    rows = [dict(r, size_kib=r.get("size_kib"), top1=_pct(r.get("top1")), agreement=_pct(r.get("agreement")))
            for r in result["rows"]]
    return markdown_table(rows, MATRIX_COLUMNS)


def _bench_text(result) -> str:
    bench = result.get("bench", {})
    rounds, repeats = bench.get("rounds", 1), bench.get("repeats")
    return (f"{repeats} runs per file" if rounds == 1 else
            f"the median of {rounds} rounds over all files of {repeats} runs each")


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
            f"Run `{result['run']}`; {result['views']} views (one centre view per video of the "
            f"{result.get('split', 'val')} split), {result['calibration_clips']} "
            f"calibration clips from the training pipeline; top-1, argmax agreement and logits SQNR "
            f"against the float Keras model; latency: median per clip, XNNPACK, "
            f"{' and '.join(str(t) for t in threads)} thread(s), {_bench_text(result)}; size of the .tflite; "
            "`worst_layer`: the op adding the most error, in its output's own quantisation steps (an int16 "
            "step is 1/256 of an int8 one). "
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
