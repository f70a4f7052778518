"""``kvid evaluate``: accuracy of a run, a ``.keras`` model or a ``.tflite`` file on a dataset split.

Every source is scored on the same test views - ``kvid.data.clips.load_views``: ``clips``
temporal clips x ``crops`` spatial crops per video, clip-major - so float Keras, QAT Keras and
int8 TFLite are compared on identical inputs. A video's score is the mean of its views'
logits. Metrics (:mod:`kvid.train.metrics`): top-1, top-5, mean class accuracy, mAP, the
single-view accuracies, a confusion matrix and per-class rows; videos that cannot be read are
counted (``skipped``) and left out.

Sources:

- a run directory (``kvid train``'s ``RUN``): its ``best.keras`` (else ``final.keras``), with the
  run's clip sampling, labels and - unless ``data`` is given - its dataset;
- a ``.keras`` file (float or QAT; a ``config.json`` of a run beside it supplies the sampling);
- a ``.tflite`` file, run through :class:`kvid.runtime.ClipModel` without TensorFlow, with the
  sampling and labels of its sidecar ``F.json`` when there is one.

Written to ``out_dir`` (default ``RUN/eval-<split>-<clips>x<crops>`` or
``<file>-eval-<split>-<clips>x<crops>/`` beside a model file): ``metrics.json``,
``per_class.csv``, ``confusion.png``, ``predictions.npz`` (per-view logits, labels, video index).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import time

import numpy as np

from kvid import KvidError
from kvid.contract import rundir
from kvid.train.metrics import summarize
from kvid.train.progress import Progress


@dataclasses.dataclass
class Source:
    path: str
    kind: str  # run | keras | tflite
    model_file: str
    config: dict | None = None  # the run's config.json
    sidecar: dict | None = None

    @property
    def name(self) -> str:
        if self.kind == "run":
            return os.path.basename(os.path.normpath(self.path))
        return os.path.basename(self.path)

    def default_out(self, split, clips, crops) -> str:
        tag = f"eval-{split}-{clips}x{crops}"
        if self.kind == "run":
            return rundir.path(self.path, tag)
        stem, _ = os.path.splitext(self.path)
        return f"{stem}-{tag}"


def open_source(path) -> Source:
    path = os.fspath(path)
    if os.path.isdir(path):
        if not rundir.is_run(path):
            raise KvidError(f"{path}: not a kvid run directory (no {rundir.CONFIG})")
        return Source(path, "run", rundir.model_file(path), config=rundir.read_config(path))
    if not os.path.isfile(path):
        raise KvidError(f"{path}: no such file or run directory")
    if path.endswith(".keras"):
        folder = os.path.dirname(os.path.abspath(path))
        config = rundir.read_config(folder) if rundir.is_run(folder) else None
        return Source(path, "keras", path, config=config)
    if path.endswith(".tflite"):
        from kvid.contract.sidecar import read_sidecar  # no TensorFlow

        return Source(path, "tflite", path, sidecar=read_sidecar(path))
    raise KvidError(f"{path}: expected a run directory, a .keras or a .tflite file")


def clip_spec_of(source: Source, frames: int, size: int, model_name: str | None = None, **overrides):
    """The test views of ``source``: the sidecar's clip spec, else the run's, else the paper
    protocol of the preset ``model_name`` names, else ``ClipSpec()``; at the model's
    ``frames`` x ``size``, with the given (not None) ``overrides`` (scheme, stride, clips, ...)."""
    from kvid.contract import ClipSpec
    from kvid.contract.sidecar import clip_spec

    if source.sidecar:
        base = clip_spec(source.sidecar)
    elif source.config and source.config.get("clip"):
        base = rundir.clip_spec(source.config)
    elif model_name and source.kind != "tflite":  # a Keras model: TensorFlow is here anyway
        from kvid.models import clip_spec_for

        base = clip_spec_for(model_name, frames, size)
    else:
        base = ClipSpec()
    return base.at(frames=int(frames), crop=int(size)).replace(**overrides)


def _source_labels(source: Source):
    if source.config and source.config.get("labels"):
        return list(source.config["labels"])
    if source.sidecar and source.sidecar.get("labels"):
        labels = list(source.sidecar["labels"])
        if not all(lab == f"class_{i}" for i, lab in enumerate(labels)):
            return labels
    return None


# -- predictions --------------------------------------------------------------------------------
def _keras_scores(model, dataset, spec, batch_size, problems, progress):
    from kvid.data.pipeline import make_eval_views
    from kvid.keras import tf

    ds = make_eval_views(dataset, dataset.split, clip=spec, problems=problems)
    per_batch = max(1, int(batch_size) // spec.views)
    call = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    scores, labels, index = [], [], []
    for views, y, i in ds.batch(per_batch):
        b = int(views.shape[0])
        flat = tf.reshape(views, [-1, *views.shape[2:]])
        logits = tf.cast(call(flat), tf.float32).numpy().reshape(b, spec.views, -1)
        scores.append(logits)
        labels.append(y.numpy())
        index.append(i.numpy())
        progress.update(b)
    return scores, labels, index


def _tflite_scores(path, dataset, spec, problems, progress, threads):
    from kvid.data.clips import iter_views
    from kvid.runtime import ClipModel

    model = ClipModel(path, threads=threads)
    t, h, w, _ = model.input_shape
    if (t, h, w) != (spec.frames, spec.crop, spec.crop):
        raise KvidError(f"{path}: input {t}x{h}x{w} does not match the views "
                        f"{spec.frames}x{spec.crop}x{spec.crop}")
    scores, labels, index = [], [], []
    for views, y, i in iter_views(dataset, spec, problems):
        scores.append(np.stack([model(v) for v in views])[None])
        labels.append(np.array([y]))
        index.append(np.array([i]))
        progress.update(1)
    return scores, labels, index


def _model_shape(model):
    shape = model.input_shape
    if isinstance(shape, list):
        shape = shape[0]
    if len(shape) != 5 or shape[2] != shape[3]:
        raise KvidError(f"{model.name}: expected a clip input (B, T, S, S, 3), got {shape}")
    return int(shape[1]), int(shape[2]), int(model.output_shape[-1])


def evaluate(source, data=None, *, split="test", clips=None, crops=None, batch_size=8, out_dir=None,
             layout="auto", scheme=None, stride=None, window=None, threads=None, write=True,
             verbose=True) -> dict:
    """Evaluate ``source`` (run directory, ``.keras`` or ``.tflite`` path, or a ``Source``) on
    the ``split`` of dataset ``data`` (default: the run's dataset). Returns the metrics dict
    (``top1``, ``top5``, ``mean_class_acc``, ``mAP``, ``views``, ``videos``, ``skipped``,
    ``single_view``, ``per_class``, ...) and, with ``write``, writes the report files.
    The views are the source's clip spec (:func:`clip_spec_of`) unless ``clips``, ``crops``,
    ``scheme``, ``stride`` or ``window`` say otherwise."""
    from kvid.data.clips import ProblemLog
    from kvid.data.layouts import load_dataset

    src = source if isinstance(source, Source) else open_source(source)
    if data is None:
        if src.config and (src.config.get("data") or {}).get("root"):
            data = src.config["data"]["root"]
            layout = layout if layout != "auto" else src.config["data"].get("layout", "auto")
        else:
            raise KvidError(f"{src.path}: give the dataset to evaluate on (--data D)")
    dataset = load_dataset(data, split, layout=layout)
    t0 = time.perf_counter()
    model = None
    if src.kind == "tflite":
        from kvid.runtime import ClipModel

        probe = ClipModel(src.model_file, threads=threads)
        frames, size = probe.input_shape[:2]
        num_out = int(probe.output["shape"][-1])
        del probe
    else:
        from kvid.ops import load_model

        model = load_model(src.model_file)
        frames, size, num_out = _model_shape(model)
    spec = clip_spec_of(src, frames, size, _model_name(src, model), scheme=scheme, stride=stride,
                        window=window, clips=clips, crops=crops)
    if num_out != len(dataset.labels):
        raise KvidError(f"{src.path}: the model has {num_out} outputs but {data} has "
                        f"{len(dataset.labels)} classes")
    known = _source_labels(src)
    if known is not None and list(known) != list(dataset.labels):
        raise KvidError(f"{src.path}: trained on classes {known[:3]}... which differ from the "
                        f"classes of {data} ({dataset.labels[:3]}...)")
    problems = ProblemLog(echo=verbose)
    problems.extend(dataset.problems)  # listed but missing / unlabelled videos count as skipped
    progress = Progress(len(dataset.items), f"evaluate {src.name}", enabled=verbose)
    if src.kind == "tflite":
        scores, labels, index = _tflite_scores(src.model_file, dataset, spec, problems, progress, threads)
    else:
        scores, labels, index = _keras_scores(model, dataset, spec, batch_size, problems, progress)
    progress.close()
    c = len(dataset.labels)
    scores = np.concatenate(scores) if scores else np.zeros((0, spec.views, c), np.float32)
    labels = np.concatenate(labels) if labels else np.zeros((0,), np.int64)
    index = np.concatenate(index) if index else np.zeros((0,), np.int64)
    result = summarize(scores, labels, num_classes=c)
    confusion = result.pop("confusion")
    per_class = result.pop("per_class")
    for row in per_class:
        row["class"] = dataset.labels[row["index"]]
        if row.get("most_confused_with") is not None:
            row["most_confused_with"] = dataset.labels[row["most_confused_with"]]
    result.update({
        "source": src.path, "kind": src.kind, "model": _model_name(src, model),
        "data": os.path.abspath(data), "split": dataset.split, "clips": spec.clips,
        "crops": spec.crops, "frames": spec.frames, "size": spec.crop, "scheme": spec.scheme,
        "stride": spec.stride, "clip": spec.to_dict(), "skipped": int(problems.errors),
        "listed": len(dataset.items) + sum(p.severity == "error" for p in dataset.problems),
        "seconds": round(time.perf_counter() - t0, 2),
    })
    result.update(_cost(src, model))
    if write:
        out = out_dir or src.default_out(dataset.split, spec.clips, spec.crops)
        result["out_dir"] = out
        _write_report(out, result, per_class, confusion, dataset.labels, scores, labels, index)
    result["per_class"] = per_class
    return result


def _model_name(src: Source, model) -> str:
    if src.config and src.config.get("model"):
        return src.config["model"]
    if src.sidecar and src.sidecar.get("model"):
        return src.sidecar["model"]
    return model.name if model is not None else src.name


def _cost(src: Source, model) -> dict:
    summary = (src.config or {}).get("summary") or {}
    if summary.get("gmacs") is not None:
        return {"gmacs": summary["gmacs"], "params": summary.get("params"),
                "family": (src.config or {}).get("family")}
    if model is not None:
        from kvid.analysis.count import count

        counted = count(model)
        return {"gmacs": counted["gmacs"], "params": counted["params"], "family": None}
    return {"gmacs": None, "params": None, "family": None}


def _write_report(out, result, per_class, confusion, labels, scores, y, index) -> None:
    from kvid.analysis.plots import confusion_matrix

    os.makedirs(out, exist_ok=True)
    rundir.write_json(os.path.join(out, "metrics.json"), {**result, "per_class": per_class})
    with open(os.path.join(out, "per_class.csv"), "w", newline="", encoding="utf-8") as f:
        keys = ["index", "class", "videos", "correct", "accuracy", "precision", "ap",
                "most_confused_with"]
        w = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        for row in per_class:
            w.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in keys})
    np.savez_compressed(os.path.join(out, "predictions.npz"), scores=scores.astype(np.float32),
                        labels=y, index=index, classes=np.array(labels))
    if confusion is not None:
        title = f"{result['model']} - {result['split']} - top-1 {100 * (result['top1'] or 0):.1f}%"
        confusion_matrix(confusion, labels, os.path.join(out, "confusion.png"), title=title)


PUBLIC_KEYS = ("top1", "top5", "mean_class_acc", "mAP", "views", "videos", "skipped",
               "single_view", "source", "kind", "model", "split", "clips", "crops", "gmacs",
               "params", "out_dir")


def public(result: dict) -> dict:
    """The JSON ``kvid evaluate --json`` prints."""
    return {k: result.get(k) for k in PUBLIC_KEYS if k in result}


def format_result(result: dict) -> str:
    def pct(x):
        return "  n/a" if x is None else f"{100 * x:5.1f}%"

    lines = [
        f"{result['source']} ({result['kind']}, {result['model']}) on {result['data']} "
        f"[{result['split']}]: {result['videos']} videos, {result['views']} view(s) each "
        f"({result['clips']} clip(s) x {result['crops']} crop(s), {result['scheme']}), "
        f"{result['skipped']} skipped",
        f"  top-1 {pct(result['top1'])}   top-5 {pct(result['top5'])}   mean class acc "
        f"{pct(result['mean_class_acc'])}   mAP {pct(result['mAP'])}",
    ]
    if result["views"] > 1:
        sv = result["single_view"]
        lines.append(f"  single view: top-1 {pct(sv['top1'])}   top-5 {pct(sv['top5'])}")
    if result.get("out_dir"):
        lines.append(f"  report: {result['out_dir']} (metrics.json, per_class.csv, confusion.png)")
    return "\n".join(lines)


def dumps(obj) -> str:
    return json.dumps(obj, indent=2)
