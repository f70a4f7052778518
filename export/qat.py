"""Quantization-aware fine-tuning of a trained float kvid model.

tfmot's default 8-bit scheme through :func:`kvid.ops.quantize_model`: Conv+BN folded,
per-channel symmetric int8 weights, per-tensor asymmetric int8 activations - what TFLite's
int8 kernels expect - and the input range pinned to raw pixels (int8 scale 1, zero point -128).
"""

from __future__ import annotations

from kvid.keras import keras


def compile_for_training(model, lr):
    """Adam, not the float run's SGD: with BN folded, a conv's kernel is ``k * gamma / sigma``
    per output channel, so plain SGD steps are ``(sigma / gamma)^2`` times larger, relative to
    the weights, than in the float run - even 0.1% of the float learning rate wrecked a
    trained small SEVNet in one epoch (96% -> 88% top-1). Adam's per-parameter step does not
    depend on that scale (1e-5 and 1e-4 both kept it at its calibrated 97%)."""
    model.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="top1")],
    )
    return model


def qat_finetune(model, train_ds, *, epochs=1, lr=1e-5, val_ds=None, steps_per_epoch=None,
                 callbacks=None, verbose=1, calibration_steps=20, ranges="minmax"):
    """Wrap ``model`` for QAT and fine-tune it on ``train_ds`` (batches of (clip, label)).

    BatchNormalization is folded into the convs first (as TFLite does; QAT then trains the
    very weights the int8 file holds); the fake-quant ranges are calibrated on
    ``calibration_steps`` batches before any gradient step, with the range method ``ranges``
    (``minmax``, ``percentile:P`` or ``mse``: :func:`kvid.ops.calibrate`); the fine-tuning
    uses Adam at ``lr`` (see :func:`compile_for_training`). Returns the QAT model.
    """
    from kvid.ops import calibrate, quantize_model

    qat = quantize_model(model)
    calibrate(qat, train_ds, calibration_steps, method=ranges)
    compile_for_training(qat, lr)
    if epochs > 0:
        qat.fit(train_ds, validation_data=val_ds, epochs=epochs, steps_per_epoch=steps_per_epoch,
                callbacks=callbacks or [], verbose=verbose)
    return qat
