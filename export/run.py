"""QAT and export of a ``kvid train`` run directory (RUN/config.json, RUN/best.keras).

``qat_run`` fine-tunes the run's best model with QAT on the run's own training data and clip
settings and writes ``RUN/qat.keras``; ``export_run`` converts it (int8) or the float model
(float32/float16/dynamic, or int8 by PTQ), writes the sidecar with the run's labels and
clip spec (the run's config.json ``"clip"``, unchanged), and measures parity on the run's validation views: top-1 of float Keras, QAT Keras
and the TFLite file on identical views, and the argmax agreement of TFLite with QAT Keras.
"""

from __future__ import annotations

import os

import numpy as np

from kvid import KvidError

QAT_MODEL = "qat.keras"
KERNEL_VIEWS = 8  # validation views the int8 file also runs on the reference kernels (slow ones)


def run_paths(run_dir):
    """``(config, model path)`` of a run directory: its config.json and its best model (the
    final one when there is no best yet); KvidError when it is not a run or holds no model."""
    from kvid.contract import rundir

    if not rundir.is_run(run_dir):
        raise KvidError(f"{run_dir}: not a kvid run directory (no {rundir.CONFIG})")
    config = rundir.read_json(rundir.path(run_dir, rundir.CONFIG))
    best = rundir.path(run_dir, rundir.BEST)
    if not os.path.isfile(best):
        final = rundir.path(run_dir, rundir.FINAL)
        if not os.path.isfile(final):
            raise KvidError(f"{run_dir}: no trained model yet ({rundir.BEST}); train or resume it first")
        best = final
    return config, best


def _split(config, which):
    data = config["data"]
    return data.get("val_split") or "val" if which == "val" else data.get("train_split", "train")


def qat_run(run_dir, *, epochs=2, lr=None, batch=None, out=None, verbose=1) -> str:
    """QAT-fine-tune the run's best model; returns the path of the saved QAT model."""
    from kvid.export.qat import qat_finetune
    from kvid.keras import tf
    from kvid.ops import load_model, save_model

    config, best = run_paths(run_dir)
    seed = int(config.get("seed", 0))
    tf.keras.utils.set_random_seed(seed)
    train = training_clips(config, int(batch or config.get("batch", 8)), seed)
    qat = qat_finetune(load_model(best), train, epochs=epochs, verbose=verbose,
                       **({} if lr is None else {"lr": lr}))
    return save_model(qat, out or os.path.join(os.fspath(run_dir), QAT_MODEL))


def training_clips(config, batch, seed):
    """The run's training pipeline (shuffled, augmented clips) as a ``tf.data.Dataset``."""
    from kvid.data.pipeline import make_dataset

    from kvid.contract import rundir

    data = config["data"]
    return make_dataset(data["root"], _split(config, "train"), batch_size=batch, training=True,
                        clip=rundir.clip_spec(config), seed=seed, layout=data.get("layout", "auto"))


def validation_views(config, limit=None, split=None):
    """The run's validation views (one centre view of the run's test clip per video),
    stacked: ``(views, labels, labels_list, skipped)``; at most about ``limit``. ``split``:
    those of another split of the run's dataset instead (e.g. ``"test"``)."""
    from kvid.contract import rundir
    from kvid.data.pipeline import make_eval_views

    data = config["data"]
    clip = rundir.clip_spec(config).replace(clips=1, crops=1)
    ds = make_eval_views(data["root"], split or _split(config, "val"), clip=clip,
                         layout=data.get("layout", "auto"))
    views, labels = [], []
    for v, y, _ in ds.as_numpy_iterator():
        views.append(v)
        labels.extend([int(y)] * len(v))
        if limit and len(labels) >= limit:
            break
    if not views:
        raise KvidError(f"{data['root']}: no readable {split or 'validation'} videos")
    return (np.concatenate(views), np.asarray(labels), ds.kvid_dataset.labels,
            ds.kvid_problems.errors)


def export_run(run_dir, out, *, mode="int8", ptq=False, float_output=False,
               allow_float_fallback=False, parity=True) -> dict:
    from kvid.export.model import export_model, parity_on_views
    from kvid.ops import load_model

    from kvid.contract import rundir

    config, best = run_paths(run_dir)
    clip = rundir.clip_spec(config)
    float_model = load_model(best)
    qat_path = os.path.join(os.fspath(run_dir), QAT_MODEL)
    views = labels = names = None
    if parity:
        views, labels, names, _ = validation_views(config)
    representative = None
    if ptq or mode == "int16x8":  # 64 representative clips from the training pipeline, not the parity views
        batches = training_clips(config, 8, int(config.get("seed", 0))).take(8)
        representative = np.concatenate([x for x, _ in batches.as_numpy_iterator()])
    if mode == "int8" and not ptq:
        if not os.path.isfile(qat_path):
            raise KvidError(f"{run_dir}: no {QAT_MODEL}; run `kvid qat {run_dir}` first (or --ptq)")
        model = load_model(qat_path)
    else:
        model = float_model
    from kvid.data.layouts import load_dataset

    names = names or load_dataset(config["data"]["root"], _split(config, "train")).labels
    result = export_model(model, out, mode=mode, model_name=config.get("model"), labels=names,
                          clip=clip, representative=representative,
                          float_output=float_output, allow_float_fallback=allow_float_fallback)
    if parity:
        keras_models = {"float": float_model}
        if model is not float_model:
            keras_models["qat"] = model
        result["parity"] = parity_on_views(keras_models, result["path"], views, labels)
        if mode == "int8":
            from kvid.runtime.agreement import kernel_agreement

            result["kernels"] = kernel_agreement(result["path"], views[:KERNEL_VIEWS])
    return result
