"""Export any preset with random weights: QAT-wrap, calibrate on random clips, convert.

So every model can be audited and timed before any training exists (issue: foundation).
"""

from __future__ import annotations

from kvid.export import audit as audit_mod
from kvid.export import convert as convert_mod
from kvid.runtime.agreement import kernel_agreement, random_clips


def export_preset(name, out, *, frames=None, size=None, num_classes=None, overrides=None,
                  mode="int8", calibration_clips=8, parity_clips=4, seed=0) -> dict:
    """Build preset ``name`` with random weights and export it to ``out``.

    int8: QAT-wrapped, calibrated on random clips, converted with the QAT ranges; the audit,
    the parity of the int8 file against the QAT Keras model on ``parity_clips`` other random
    clips and (``kernels``) its XNNPACK run against the reference kernels on the same clips are
    returned.
    """
    from kvid import models, ops
    from kvid.keras import tf

    tf.keras.utils.set_random_seed(seed)
    model = models.build(name, num_classes=num_classes, frames=frames, size=size,
                         **(overrides or {}))
    t, h, w, c = convert_mod.clip_shape(model)
    clips = random_clips(calibration_clips + parity_clips, (t, h, w, c), seed)
    if mode == "int8":
        model = ops.quantize_model(model)
        ops.calibrate(model, [clips[i:i + 2] for i in range(0, calibration_clips, 2)])
    data = convert_mod.convert(model, mode, representative=clips[:calibration_clips])
    path = convert_mod.write(data, out)
    report = audit_mod.audit(path, expect=audit_mod.expectation(mode))
    from kvid.export import metadata

    clip = models.get(name).data_protocol(frames=t, size=h).clip
    metadata.write_sidecar_for(path, model_name=name, clip=clip, mode=mode)
    result = {"path": path, "bytes": len(data), "audit": report}
    if parity_clips:
        from kvid.export.model import parity_on_views

        views = clips[calibration_clips:]
        p = parity_on_views({"keras": model}, path, views)
        result.update({"sqnr_db": p["sqnr_db"], "agreement": p["agreement"], "clips": p["views"]})
        if mode == "int8":
            result["kernels"] = kernel_agreement(path, views)
    return result
