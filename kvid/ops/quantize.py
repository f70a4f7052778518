"""QuantizeConfigs for kvid's custom layers, and the one quantize scope.

tfmot's default 8-bit scheme knows Keras' builtin layers; kvid's own layers
(:mod:`kvid.ops.layers`) say here how they quantize:

* reshaping layers (FoldTime, UnfoldTime, SplitTime, MergeTime, TemporalNeighbours) move
  values without computing: :class:`PassThroughQuantizeConfig` adds no quantizer, and the
  TFLite RESHAPE / PAD / STRIDED_SLICE / CONCATENATION they lower to keep their input's scale;
* computing layers (Gate, TemporalMean) quantize their output with an
  8-bit asymmetric moving-average range (:class:`OutputQuantizeConfig`), as tfmot does for Add.

:func:`quantize_model` annotates a model (custom layers with these configs, builtin layers
with tfmot's defaults, Conv+BN folding included) and applies QAT; :func:`quantize_scope` is
the scope that loads any kvid QAT model.
"""

from __future__ import annotations

from kvid import KvidError
from kvid.keras import keras, tfmot
from kvid.ops import layers as L

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


def register_layer(layer_class, quantize_config_class):
    """Add a layer class (e.g. from kvid.blocks) and its QuantizeConfig to the scope."""
    QUANTIZE_CONFIGS[layer_class] = quantize_config_class


def custom_objects() -> dict:
    """Every kvid layer and QuantizeConfig, by class name (for loading models)."""
    objects = {cls.__name__: cls for cls in QUANTIZE_CONFIGS}
    objects.update({cls.__name__: cls for cls in QUANTIZE_CONFIGS.values()})
    return objects


def quantize_scope():
    """The one scope to load or clone kvid QAT models in (tfmot's, plus kvid's objects)."""
    return _qk.quantize_scope(custom_objects())


def _annotate(layer):
    config_class = QUANTIZE_CONFIGS.get(type(layer))
    if config_class is not None:
        return _qk.quantize_annotate_layer(layer, quantize_config=config_class())
    if type(layer).__module__.startswith("kvid"):
        raise KvidError(f"{layer.name}: kvid layer {type(layer).__name__} has no QuantizeConfig")
    return layer


def quantize_model(model, fold_bn=True):
    """Wrap a float kvid model for quantization-aware training (weights are kept).

    BatchNormalization is first folded into the conv before it (:mod:`kvid.ops.fold`), as
    TFLite folds it. Custom layers get their kvid QuantizeConfig, builtin layers tfmot's
    default 8-bit scheme (per-channel symmetric int8 weights, per-tensor asymmetric int8
    activations), as the TFLite int8 kernels expect.
    """
    if fold_bn:
        from kvid.ops.fold import fold_batch_norm

        model = fold_batch_norm(model)
    with quantize_scope():
        annotated = keras.models.clone_model(model, clone_function=_annotate)
        annotated.set_weights(model.get_weights())
        annotated = _qk.quantize_annotate_model(annotated)
        quantized = _qk.quantize_apply(annotated)
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


__all__ = [
    "PassThroughQuantizeConfig",
    "OutputQuantizeConfig",
    "QUANTIZE_CONFIGS",
    "register_layer",
    "custom_objects",
    "quantize_scope",
    "quantize_model",
]
