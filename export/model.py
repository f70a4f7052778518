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


def export_model(model, out, *, mode="int8", model_name=None, labels=None, clip=None,
                 representative=None, float_output=False, allow_float_fallback=False) -> dict:
    """Convert ``model`` to ``out`` (+ sidecar with ``labels`` and ``clip``, the
    :class:`kvid.contract.ClipSpec` the model was trained and is tested with). An int8 export
    that the audit rejects is refused (KvidError, nothing written) unless
    ``allow_float_fallback``.

    ``model`` may be a QAT model (int8 with its learned ranges) or a float model (int8 by
    post-training quantisation over ``representative`` clips, or float32/float16/dynamic).
    """
    out = os.fspath(out)
    data = convert_mod.convert(model, mode, representative=representative,
                               float_output=float_output)
    with tempfile.TemporaryDirectory() as tmp:
        probe = os.path.join(tmp, "probe.tflite")
        convert_mod.write(data, probe)
        report = audit_mod.audit(probe, expect=audit_mod.expectation(mode))
    if not report["ok"] and not allow_float_fallback:
        raise KvidError(
            f"{out}: not written - the {mode} model fails the audit: {'; '.join(report['problems'])} "
            f"(--allow-float-fallback writes it anyway)"
        )
    path = convert_mod.write(data, out)
    sidecar = metadata.write_sidecar_for(path, model_name=model_name or model.name, labels=labels,
                                         clip=clip, mode=mode)
    return {"path": path, "bytes": len(data), "audit": report, "sidecar": sidecar}


def logits_on_views(sources: dict, views) -> dict:
    """Logits ``(N, C)`` of each source on the identical ``views`` (float32 ``(N, T, H, W,
    3)``): a source is a Keras model, or the path of a ``.tflite`` file (run by kvid.runtime)."""
    from kvid.runtime import ClipModel

    return {name: ClipModel(src).predict(views) if isinstance(src, (str, os.PathLike))
            else src.predict(views, batch_size=8, verbose=0) for name, src in sources.items()}


def parity_on_views(keras_models: dict, tflite_path, views, labels=None) -> dict:
    """The TFLite file against the Keras model(s) it came from, on identical views: with
    ``labels`` (``(N,)``) the top-1 of each Keras model and of the file, and the argmax
    agreement and logits SQNR of the file against the last Keras model (the one it was
    converted from) - :func:`kvid.runtime.agreement.compare_logits`.

    ``views``: float32 ``(N, T, H, W, 3)``.
    """
    from kvid.runtime.agreement import compare_logits, top1

    logits = logits_on_views({**keras_models, "tflite": tflite_path}, views)
    got = logits.pop("tflite")
    result = {}
    if labels is not None:
        result.update({f"{name}_top1": top1(value, labels) for name, value in logits.items()})
        result["tflite_top1"] = top1(got, labels)
    if logits:
        compared = compare_logits(list(logits.values())[-1], got)
        result["agreement"], result["sqnr_db"] = compared["agreement"], compared["sqnr_db"]
    result["views"] = int(len(views))
    return result
