"""QuantizeConfigs for kvid's custom layers, and the one quantize scope.

tfmot's default 8-bit scheme knows Keras' builtin layers; kvid's own layers
(:mod:`kvid.ops.layers`) say here how they quantize:

* reshaping layers (FoldTime, UnfoldTime, SplitTime, MergeTime, TemporalNeighbours) move
  values without computing: :class:`PassThroughQuantizeConfig` adds no quantizer, and the
  TFLite RESHAPE / PAD / STRIDED_SLICE / CONCATENATION they lower to keep their input's scale;
* computing layers (Gate, TemporalMean) quantize their output with an
  8-bit asymmetric moving-average range (:class:`OutputQuantizeConfig`), as tfmot does for Add.

:func:`quantize_model` annotates a model (custom layers with these configs, builtin layers
with tfmot's defaults, Conv+BN folding included) and applies QAT; :func:`calibrate` fits its
activation ranges to data before any fine-tuning; :func:`quantize_scope` (:mod:`kvid.ops.scope`) is the
scope that loads any kvid QAT model.
"""

from __future__ import annotations

import contextlib

import numpy as np

from kvid import KvidError
from kvid.keras import keras, tfmot
from kvid.ops import layers as L
from kvid.ops.scope import custom_objects, quantize_scope, register_custom

_tfmot = tfmot()
_qk = _tfmot.quantization.keras
register = keras.utils.register_keras_serializable(package="kvid")


def _make_quantize_layer_build_once():
    """tfmot 0.8's QuantizeLayer.build never sets ``built``, so a QAT model re-created from a
    config (``.keras`` loading, cloning) builds its input range variables twice and cannot load
    its own saved weights. Mark it built after the first build."""
    from tensorflow_model_optimization.python.core.quantization.keras.quantize_layer import (
        QuantizeLayer,
    )

    if getattr(QuantizeLayer, "_kvid_build_once", False):
        return
    original = QuantizeLayer.build

    def build(self, input_shape):
        if self.built:
            return
        original(self, input_shape)
        self.built = True

    QuantizeLayer.build = build
    QuantizeLayer._kvid_build_once = True


_make_quantize_layer_build_once()


@register
class PassThroughQuantizeConfig(_qk.QuantizeConfig):
    """No quantizer: the layer only moves values, the output keeps the input's scale."""

    def get_weights_and_quantizers(self, layer):
        return []

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        pass

    def set_quantize_activations(self, layer, quantize_activations):
        pass

    def get_output_quantizers(self, layer):
        return []

    def get_config(self):
        return {}


@register
class OutputQuantizeConfig(PassThroughQuantizeConfig):
    """Quantize the output: 8-bit, per-tensor, asymmetric, moving-average range."""

    def get_output_quantizers(self, layer):
        return [
            _qk.quantizers.MovingAverageQuantizer(
                num_bits=8, per_axis=False, symmetric=False, narrow_range=False
            )
        ]


QUANTIZE_CONFIGS = {
    L.FoldTime: PassThroughQuantizeConfig,
    L.UnfoldTime: PassThroughQuantizeConfig,
    L.SplitTime: PassThroughQuantizeConfig,
    L.MergeTime: PassThroughQuantizeConfig,
    L.TemporalNeighbours: PassThroughQuantizeConfig,
    L.Gate: OutputQuantizeConfig,
    L.TemporalMean: OutputQuantizeConfig,
}


register_custom(*QUANTIZE_CONFIGS, *QUANTIZE_CONFIGS.values())


def register_layer(layer_class, quantize_config_class):
    """Add a layer class (e.g. from kvid.blocks) and its QuantizeConfig to the scope."""
    QUANTIZE_CONFIGS[layer_class] = quantize_config_class
    register_custom(layer_class, quantize_config_class)


def _annotate(layer):
    config_class = QUANTIZE_CONFIGS.get(type(layer))
    if config_class is not None:
        return _qk.quantize_annotate_layer(layer, quantize_config=config_class())
    if type(layer).__module__.startswith("kvid"):
        raise KvidError(f"{layer.name}: kvid layer {type(layer).__name__} has no QuantizeConfig")
    return layer


def quantize_model(model, fold_bn=True, scheme=None):
    """Wrap a float kvid model for quantization-aware training (weights are kept).

    BatchNormalization is first folded into the conv before it (:mod:`kvid.ops.fold`), as
    TFLite folds it. Custom layers get their kvid QuantizeConfig, builtin layers tfmot's
    default 8-bit scheme (per-channel symmetric int8 weights, per-tensor asymmetric int8
    activations), as the TFLite int8 kernels expect. ``scheme``: another tfmot quantize scheme
    for the builtin layers (e.g. its experimental n-bit scheme, for simulations - kvid.quant).
    """
    if fold_bn:
        from kvid.ops.fold import fold_batch_norm

        model = fold_batch_norm(model)
    with quantize_scope():
        annotated = keras.models.clone_model(model, clone_function=_annotate)
        annotated.set_weights(model.get_weights())
        annotated = _qk.quantize_annotate_model(annotated)
        quantized = _qk.quantize_apply(annotated) if scheme is None else _qk.quantize_apply(annotated, scheme)
    _fix_input_range(quantized)
    return quantized


def _fix_input_range(model):
    """Pin the input quantizer's range to raw pixels [0, 255]: int8 scale 1, zero point -128.

    The input quantizer keeps a running min/max, so starting it at [0, 255] keeps it there
    for clips of raw pixels; an app then feeds ``pixel - 128`` with no other arithmetic.
    """
    for layer in model.layers:
        if type(layer).__name__ == "QuantizeLayer":
            for w in layer.weights:
                if w.name.endswith("_min:0"):
                    w.assign(0.0)
                elif w.name.endswith("_max:0"):
                    w.assign(255.0)


MIN_RANGE = 1e-2  # the narrowest activation range calibration leaves (see fitted_ranges)


@contextlib.contextmanager
def fitted_ranges(method: str = "minmax"):
    """Within this context, training-mode calls set activation ranges from the data.

    tfmot's MovingAverageQuantizer starts every range at [-6, 6] and moves it with a fixed EMA
    decay of 0.999, so a few hundred QAT steps leave most ranges near [-6, 6]: activations
    above 6 clip, small ones use few int8 levels. Here the first call of each quantizer sets
    its range to the one ``method`` (:mod:`kvid.ranges`) fits to the batch and call n averages
    in with weight 1/(n+1) (the running mean of the batch ranges): ``minmax`` - the batch's
    min and max (tfmot's own statistic), ``percentile:P`` - its (100-P)th and Pth
    percentiles, ``mse`` - the clipping of its min/max with the least fake-quantisation error
    at the quantizer's bits. Eager calls only (what :func:`calibrate` makes). On leaving, a
    range narrower than ``MIN_RANGE`` (an activation that was constant on the data, such as
    a ReLU dead for every calibration clip) is widened to it: a zero-width range would give
    TFLite a zero scale, which no int8 kernel accepts.
    """
    from tensorflow_model_optimization.python.core.quantization.keras import quant_ops

    from kvid import ranges

    name, _ = ranges.parse(method)
    original, seen = quant_ops.MovingAvgQuantize, {}  # min_var ref -> [min_var, max_var, calls]

    def moving_avg_quantize(inputs, min_var, max_var, ema_decay=0.999, **kwargs):
        if not kwargs.get("is_training", True):
            return original(inputs, min_var, max_var, ema_decay=ema_decay, **kwargs)
        entry = seen.setdefault(min_var.ref(), [min_var, max_var, 0])
        n, entry[2] = entry[2], entry[2] + 1
        if name == "minmax":
            return original(inputs, min_var, max_var, ema_decay=n / (n + 1), **kwargs)
        lo, hi = _batch_range(inputs, method, kwargs)
        min_var.assign((min_var.numpy() * n + lo) / (n + 1))
        max_var.assign((max_var.numpy() * n + hi) / (n + 1))
        return original(inputs, min_var, max_var, ema_decay=ema_decay, **{**kwargs, "is_training": False})

    quant_ops.MovingAvgQuantize = moving_avg_quantize
    try:
        yield
    finally:
        quant_ops.MovingAvgQuantize = original
    for min_var, max_var, _ in seen.values():
        max_var.assign(np.maximum(max_var.numpy(), min_var.numpy() + MIN_RANGE))


def _batch_range(inputs, method, options):
    """The range ``method`` fits to one batch of a quantizer's input (per channel on the last
    axis for a per-channel quantizer), made symmetric as tfmot makes a symmetric one."""
    from kvid import ranges
    from kvid.keras import tf

    if not tf.executing_eagerly():
        raise KvidError(f"calibration method {method!r} needs eager calls (kvid.ops.calibrate makes them)")
    bits = int(options.get("num_bits", 8))
    values = inputs.numpy()
    if options.get("per_channel"):
        columns = values.reshape(-1, values.shape[-1])
        fitted = [ranges.fit(columns[:, i], method, bits) for i in range(columns.shape[1])]
        lo, hi = np.array([f[0] for f in fitted]), np.array([f[1] for f in fitted])
    else:
        lo, hi = (np.float64(x) for x in ranges.fit(values, method, bits))
    if options.get("symmetric"):
        ratio = -1.0 if options.get("narrow_range") else -((1 << bits) - 2) / (1 << bits)
        lo, hi = np.minimum(lo, hi / ratio), np.maximum(hi, lo * ratio)
    return lo.astype(np.float32), hi.astype(np.float32)


def calibrate(qat_model, batches, steps=None, method: str = "minmax"):
    """Fit a QAT model's activation ranges to ``batches`` (clips, or ``(clips, labels)``
    pairs; at most ``steps`` of them) with the range ``method`` (``minmax``,
    ``percentile:P``, ``mse``: :func:`fitted_ranges`, :mod:`kvid.ranges`): training-mode
    forward passes, no weight update. Run it before QAT fine-tuning or conversion."""
    with fitted_ranges(method):
        for i, batch in enumerate(batches):
            if steps is not None and i >= steps:
                break
            inputs = batch[0] if isinstance(batch, (tuple, list)) else batch
            qat_model(inputs, training=True)
    return qat_model


__all__ = [
    "calibrate",
    "fitted_ranges",
    "PassThroughQuantizeConfig",
    "OutputQuantizeConfig",
    "QUANTIZE_CONFIGS",
    "register_layer",
    "custom_objects",
    "quantize_scope",
    "quantize_model",
]
