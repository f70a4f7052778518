"""Keras -> TFLite: the deploy graph (static batch 1, clip as ``(T, H, W, 3)``) and conversion.

A kvid model's Keras input is ``(B, T, H, W, 3)`` and its first layer folds time into the
batch (:class:`kvid.ops.FoldTime`), which passes an already-folded 4-D input through. So the
deploy graph is the same model re-instantiated from its config with the input changed to
``(T, H, W, 3)`` - a static batch of T frames, i.e. one clip - and the same weights. Every
shape is then static: no SHAPE/PACK ops, every tensor rank <= 4.
"""

from __future__ import annotations

import os

import numpy as np

from kvid import KvidError
from kvid.keras import keras, tf
from kvid.ops import grouped, quantize_scope
from kvid.ops.rebuild import input_layer, rebuild

MODES = ("int8", "float32", "float16", "dynamic", "int16x8")
#: modes whose activations are integer (post-training quantisation needs representative clips)
INTEGER_MODES = ("int8", "int16x8")


def clip_shape(model):
    """(T, H, W, 3) of a kvid model's clip input."""
    shape = model.inputs[0].shape
    if shape.rank == 5:
        return tuple(int(d) for d in shape[1:])
    if shape.rank == 4 and shape[0] is not None:
        return tuple(int(d) for d in shape)
    raise KvidError(f"{model.name}: input {tuple(shape)} is not a clip (B, T, H, W, 3)")


def deploy_model(model):
    """The same model (same weights) taking one clip ``(T, H, W, 3)`` with a static batch."""
    t, h, w, c = clip_shape(model)

    def static_clip(config):
        input_layer(config)["config"]["batch_input_shape"] = (t, h, w, c)

    return rebuild(model, static_clip)


def is_qat(model) -> bool:
    return any(type(layer).__name__ in ("QuantizeWrapperV2", "QuantizeWrapper", "QuantizeLayer")
               for layer in model.layers)


def convert(model, mode="int8", *, representative=None, float_output=False,
            per_channel=True) -> bytes:
    """Convert a kvid Keras model to TFLite bytes.

    mode "int8": a QAT model converts with its learned ranges; a float model needs
    ``representative`` (an iterable of clips ``(T, H, W, 3)``) for post-training quantisation.
    int8 input is the raw clip (scale 1, zero point -128 after QAT); output int8 unless
    ``float_output``. mode "int16x8": the converter's 16x8 op set (int16 activations, int8
    weights, int16 input and output), post-training from a float model only.
    ``per_channel=False``: one weight scale per tensor instead of per output channel (PTQ).
    """
    if mode not in MODES:
        raise KvidError(f"--to {mode}: must be one of {', '.join(MODES)}")
    deployed = deploy_model(model)
    qat = is_qat(model)
    if mode != "int8" and qat:
        raise KvidError(f"{model.name}: a QAT model exports to int8 only (got --to {mode})")
    with quantize_scope():
        t, h, w, c = clip_shape(deployed)
        spec = tf.TensorSpec((t, h, w, c), tf.float32, name="clip")
        fn = tf.function(lambda x: deployed(x, training=False), input_signature=[spec])
        converter = tflite_converter(fn, deployed)
        if mode == "float16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        elif mode == "dynamic":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        elif mode in INTEGER_MODES:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            if not qat:
                if representative is None:
                    raise KvidError(f"{model.name}: {mode} from a float model needs representative clips")
                clips = list(representative)

                def gen():
                    for clip in clips:
                        yield [np.asarray(clip, np.float32).reshape(t, h, w, c)]

                converter.representative_dataset = gen
                converter.target_spec.supported_ops = [
                    tf.lite.OpsSet.TFLITE_BUILTINS_INT8 if mode == "int8" else
                    tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
                converter._experimental_disable_per_channel = not per_channel
            dtype = tf.int8 if mode == "int8" else tf.int16
            converter.inference_input_type = dtype
            converter.inference_output_type = tf.float32 if float_output else dtype
        return converter.convert()


def tflite_converter(function, model):
    """A TFLite converter for ``function`` (a ``tf.function`` with an input signature that
    calls ``model``).

    The converter gets a light trackable holding the model's variables, not the Keras model:
    handed the model, it saves it as a Keras SavedModel first, tracing every layer's call
    (thousands of traces for a deep net, most of the conversion time); the graph it converts
    is the same.
    """
    holder = tf.Module()
    holder.model_variables = list(model.variables)
    with grouped.inline_for_export():
        concrete = function.get_concrete_function()
    return tf.lite.TFLiteConverter.from_concrete_functions([concrete], holder)


def write(data: bytes, out) -> str:
    out = os.fspath(out)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "wb") as fh:
        fh.write(data)
    return out
