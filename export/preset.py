"""Export any preset with random weights: QAT-wrap, calibrate on random clips, convert.

So every model can be audited and timed before any training exists (issue: foundation).
"""

from __future__ import annotations

import numpy as np

from kvid.export import audit as audit_mod
from kvid.export import convert as convert_mod


def random_clips(n, frames, size, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (n, frames, size, size, 3)).astype(np.float32)


def sqnr_db(reference, test) -> float:
    """Signal-to-quantisation-noise ratio of ``test`` against ``reference``, in dB."""
    reference = np.asarray(reference, np.float64)
    noise = np.sum((reference - np.asarray(test, np.float64)) ** 2)
    signal = np.sum(reference ** 2)
    if noise == 0:
        return float("inf")
    return float(10 * np.log10(signal / noise))


def parity(keras_model, tflite_path, clips) -> dict:
    """Logits of the Keras model vs the TFLite file on the same clips: SQNR and argmax
    agreement."""
    from kvid.runtime import ClipModel

    runner = ClipModel(tflite_path)
    ref = keras_model.predict(clips, batch_size=4, verbose=0)
    got = np.stack([runner(clip) for clip in clips])
    return {
        "sqnr_db": sqnr_db(ref, got),
        "agreement": float(np.mean(ref.argmax(-1) == got.argmax(-1))),
        "clips": int(len(clips)),
    }


def export_preset(name, out, *, frames=None, size=None, num_classes=None, overrides=None,
                  mode="int8", calibration_clips=8, parity_clips=4, seed=0) -> dict:
    """Build preset ``name`` with random weights and export it to ``out``.

    int8: QAT-wrapped, calibrated on random clips, converted with the QAT ranges; the audit
    and the parity of the int8 file against the QAT Keras model are returned.
    """
    from kvid import models, ops
    from kvid.keras import tf

    tf.keras.utils.set_random_seed(seed)
    model = models.build(name, num_classes=num_classes, frames=frames, size=size,
                         **(overrides or {}))
    t, h, _, _ = convert_mod.clip_shape(model)
    clips = random_clips(calibration_clips + parity_clips, t, h, seed)
    if mode == "int8":
        model = ops.quantize_model(model)
        ops.calibrate(model, [clips[i:i + 2] for i in range(0, calibration_clips, 2)])
    data = convert_mod.convert(model, mode, representative=clips[:calibration_clips])
    path = convert_mod.write(data, out)
    report = audit_mod.audit(path, expect="int8" if mode == "int8" else "float")
    from kvid.export import metadata

    metadata.write_sidecar(path, metadata.make_sidecar(path, model_name=name, labels=None, mode=mode))
    result = {"path": path, "bytes": len(data), "audit": report}
    if parity_clips:
        result.update(parity(model, path, clips[calibration_clips:]))
    return result
