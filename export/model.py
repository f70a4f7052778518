"""Export a trained kvid Keras model: convert, audit (refuse what is not fully int8), sidecar,
parity on real clips."""

from __future__ import annotations

import os
import tempfile

import numpy as np

from kvid.export import audit as audit_mod
from kvid.export import convert as convert_mod
from kvid.export import metadata
from kvid import KvidError


def export_model(model, out, *, mode="int8", model_name=None, labels=None, sampling=None,
                 resize=None, representative=None, float_output=False,
                 allow_float_fallback=False) -> dict:
    """Convert ``model`` to ``out`` (+ sidecar). An int8 export that the audit rejects is
    refused (KvidError, nothing written) unless ``allow_float_fallback``.

    ``model`` may be a QAT model (int8 with its learned ranges) or a float model (int8 by
    post-training quantisation over ``representative`` clips, or float32/float16/dynamic).
    """
    out = os.fspath(out)
    data = convert_mod.convert(model, mode, representative=representative,
                               float_output=float_output)
    with tempfile.TemporaryDirectory() as tmp:
        probe = os.path.join(tmp, "probe.tflite")
        convert_mod.write(data, probe)
        report = audit_mod.audit(probe, expect="int8" if mode == "int8" else "float")
    if not report["ok"] and not allow_float_fallback:
        raise KvidError(
            f"{out}: not written - the {mode} model fails the audit: {'; '.join(report['problems'])} "
            f"(--allow-float-fallback writes it anyway)"
        )
    path = convert_mod.write(data, out)
    sidecar = metadata.make_sidecar(path, model_name=model_name or model.name, labels=labels,
                                    sampling=sampling, resize=resize, mode=mode)
    metadata.write_sidecar(path, sidecar)
    return {"path": path, "bytes": len(data), "audit": report, "sidecar": sidecar}


def parity_on_views(keras_models: dict, tflite_path, views, labels) -> dict:
    """Top-1 of each Keras model and of the TFLite file on identical views, and the argmax
    agreement of the TFLite file with the last Keras model (the one it was converted from).

    ``views``: float32 ``(N, T, H, W, 3)``; ``labels``: ``(N,)``.
    """
    from kvid.export.preset import sqnr_db
    from kvid.runtime import ClipModel

    labels = np.asarray(labels)
    result, ref = {}, None
    for name, model in keras_models.items():
        logits = model.predict(views, batch_size=8, verbose=0)
        result[f"{name}_top1"] = float(np.mean(logits.argmax(-1) == labels))
        ref = logits
    runner = ClipModel(tflite_path)
    got = np.stack([runner(v) for v in views])
    result["tflite_top1"] = float(np.mean(got.argmax(-1) == labels))
    if ref is not None:
        result["agreement"] = float(np.mean(got.argmax(-1) == ref.argmax(-1)))
        result["sqnr_db"] = sqnr_db(ref, got)
    result["views"] = int(len(views))
    return result
