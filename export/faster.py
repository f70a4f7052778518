"""FASTER to int8: QAT of the aggregator step, and the three-model export (docs/INTERFACES.md).

QAT of the step (the clip backbones go through kvid.ops.quantize_model like any classifier):

* :func:`quantize_step` - kvid.ops.quantize_model with input ranges fit for a step: ``control``
  on [0, 1], features and states learned from data;
* :func:`calibrate_step` - ranges and BN statistics from feature sequences run through the
  step in training mode, then :func:`tie_state_ranges`: each state input takes the range of the
  state output that feeds it back, so the int8 state passes from one step to the next as is.

``export_faster(out, expensive, cheap, step, ...)`` writes, for ``out = DIR/NAME.tflite``:

* ``NAME_expensive.tflite`` / ``NAME_cheap.tflite`` - the clip backbones as feature extractors:
  clip ``(L, H, W, 3)`` int8 (scale 1, zero point -128) in, res5 map ``(L/8, h, w, C)`` int8
  out (converted with kvid.export.convert, the single-clip path);
* ``NAME.tflite`` - the aggregator step (kvid.blocks.fast_gru), signature inputs ``feature
  (1, L/8, h*w, C)``, the state(s), ``control (1, 1, 1, 6)``; outputs the state(s) and
  ``logits (1, K)``; every tensor int8, rank <= 4, static shapes;
* ``NAME.json`` - the sidecar (kvid.export.metadata: input, frames and crop of the clip models,
  ``output`` the step's logits) with the ``faster`` object
  (:class:`kvid.contract.faster.FasterSpec`): L, N, the pattern, the three files, the step's
  states, feature input and control fields.

All three are audited (kvid.export.audit); the tensor specs are read back with kvid.runtime, as
a consumer sees them. tests/faster_reference.py replays an export step by step with tf.lite's
interpreter, the reference the streaming runtime (kvid.runtime.faster) is checked against.
"""

from __future__ import annotations

import os

import numpy as np

from kvid import KvidError, ops
from kvid.blocks import fast_gru
from kvid.contract.faster import FasterSpec
from kvid.export import audit as audit_mod
from kvid.export import convert as convert_mod
from kvid.export import metadata
from kvid.keras import keras, tf
from kvid.models.faster import FasterSequence, feature_model
from kvid.ops import quantize_scope
from kvid.runtime.faster import SignatureModel


# ----------------------------------------------------------------------------------------- QAT

def _input_quantizers(q):
    """``{input name: QuantizeLayer}`` of a QAT model."""
    found = {}
    for layer in q.layers:
        if type(layer).__name__ == "QuantizeLayer":
            source = layer.inbound_nodes[0].inbound_layers
            found[source.name] = layer
    return found


def _set_range(layer, lo, hi):
    for w in layer.weights:
        if w.name.endswith("_min:0"):
            w.assign(float(lo))
        elif w.name.endswith("_max:0"):
            w.assign(float(hi))


def quantize_step(step):
    """QAT-wrap an aggregator step (kvid.ops.quantize_model) with input ranges fit for it:
    ``control`` on [0, 1], features and states learned from data (kvid.ops pins every input to
    raw pixels [0, 255], right only for clips)."""
    q = ops.quantize_model(step)
    for name, layer in _input_quantizers(q).items():
        _set_range(layer, 0.0, 1.0 if name == "control" else 0.0)
    return q


def _output_range(q, tensor):
    """min/max variables of the fake-quant that produced ``tensor``."""
    layer = tensor.node.layer
    lo = [w for w in layer.weights if w.name.endswith(("output_min:0", "_min:0")) and "kernel" not in w.name]
    hi = [w for w in layer.weights if w.name.endswith(("output_max:0", "_max:0")) and "kernel" not in w.name]
    if len(lo) != 1 or len(hi) != 1:
        raise KvidError(f"{layer.name}: cannot find its output range")
    return lo[0], hi[0]


def tie_state_ranges(q):
    """Give each state input the quantization range of the state output that feeds it back, so
    the int8 state passes from one step to the next unchanged (no requantization)."""
    quantizers = _input_quantizers(q)
    for name, tensor in zip(fast_gru.step_state_names(q), q.outputs[:-1]):
        lo, hi = _output_range(q, tensor)
        _set_range(quantizers[name], lo.numpy(), hi.numpy())


def calibrate_step(q, data, batches=None):
    """Run feature sequences (batches ``(inputs, labels)`` of
    ``{"features", "expensive"}``, e.g. kvid.train.faster.FeatureSequences) through a QAT step
    in training mode (ranges, BN statistics), then tie the state ranges
    (:func:`tie_state_ranges`)."""
    model = FasterSequence(q)
    ops.calibrate(model, (data[i] for i in range(len(data) if batches is None else min(batches, len(data)))))
    tie_state_ranges(q)
    return q


# -------------------------------------------------------------------------------- conversion

def step_deploy_model(step):
    """The step with a static batch of 1 on every input, same weights."""
    from kvid.ops.rebuild import rebuild

    def batch_of_one(config):
        for layer in config["layers"]:
            if layer["class_name"] == "InputLayer":
                shape = list(layer["config"]["batch_input_shape"])
                layer["config"]["batch_input_shape"] = (1, *shape[1:])

    return rebuild(step, batch_of_one)


def convert_step(step, mode="int8") -> bytes:
    """Convert an aggregator step (QAT for int8) to TFLite bytes with one signature whose
    inputs and outputs carry the step's names (``feature``, ``state``..., ``control`` ->
    ``state``..., ``logits``)."""
    if mode not in ("int8", "float32"):
        raise KvidError(f"--to {mode}: a FASTER step exports to int8 or float32")
    qat = convert_mod.is_qat(step)
    if mode == "int8" and not qat:
        raise KvidError(f"{step.name}: int8 export of a step needs its QAT model (kvid.export.faster.quantize_step)")
    deployed = step_deploy_model(step)
    inputs = [t.name.split(":")[0] for t in deployed.inputs]
    states = fast_gru.step_state_names(deployed)
    specs = [tf.TensorSpec(tuple(int(d) for d in t.shape), tf.float32, name=n)
             for t, n in zip(deployed.inputs, inputs)]

    def run(*args):
        outs = deployed(list(args), training=False)
        return {**{n: o for n, o in zip(states, outs[:-1])}, "logits": outs[-1]}

    with quantize_scope():
        fn = tf.function(run, input_signature=specs)
        converter = convert_mod.tflite_converter(fn, deployed)
        if mode == "int8":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
        return converter.convert()


# ------------------------------------------------------------------------------------ export

def _tensor_spec(details, name):
    scale, zero_point = details["quantization"]
    return {"name": name, "shape": [int(d) for d in details["shape"]],
            "dtype": np.dtype(details["dtype"]).name, "scale": float(scale),
            "zero_point": int(zero_point)}


def export_paths(out) -> dict:
    """The three files of a FASTER export named ``out`` (``DIR/NAME.tflite``, the step):
    ``{"expensive": DIR/NAME_expensive.tflite, "cheap": DIR/NAME_cheap.tflite, "step": out}``."""
    out = os.fspath(out)
    if not out.endswith(".tflite"):
        raise KvidError(f"{out}: the FASTER step's file name must end in .tflite")
    base = out[:-len(".tflite")]
    return {"expensive": f"{base}_expensive.tflite", "cheap": f"{base}_cheap.tflite", "step": out}


def export_faster(out, expensive, cheap, step, *, clip_frames, clips, pattern, labels=None,
                  aggregator=None, model_name=None) -> dict:
    """Write the FASTER export for ``out`` (``DIR/NAME.tflite``, see the module text).

    ``expensive`` / ``cheap``: QAT backbone classifiers or feature extractors; ``step``: the
    QAT aggregator step. Returns ``{"paths": {...}, "audits": {...}, "sidecar": path,
    "ok": all audits ok}``.
    """
    paths = export_paths(out)
    e_features, c_features = feature_model(expensive), feature_model(cheap)
    if tuple(e_features.outputs[0].shape[1:]) != tuple(c_features.outputs[0].shape[1:]):
        raise KvidError(f"expensive {tuple(e_features.outputs[0].shape[1:])} and cheap "
                        f"{tuple(c_features.outputs[0].shape[1:])} feature maps differ")
    convert_mod.write(convert_mod.convert(e_features, "int8"), paths["expensive"])
    convert_mod.write(convert_mod.convert(c_features, "int8"), paths["cheap"])
    convert_mod.write(convert_step(step, "int8"), paths["step"])
    audits = {k: audit_mod.audit(p, expect="int8") for k, p in paths.items()}

    step_model = SignatureModel(paths["step"])
    logits = step_model.outputs["logits"]
    num_classes = int(logits["shape"][-1])
    labels = list(labels) if labels is not None else [f"class_{i}" for i in range(num_classes)]
    if len(labels) != num_classes:
        raise KvidError(f"{paths['step']}: {len(labels)} labels for a model with {num_classes} outputs")
    spec = FasterSpec(
        clip_frames=clip_frames, clips=clips, pattern=pattern,
        **{k: os.path.basename(p) for k, p in paths.items()},
        aggregator=aggregator or step.name.replace("_step", ""),
        states=[_tensor_spec(step_model.inputs[n], n) for n in fast_gru.step_state_names(step)],
        feature=_tensor_spec(step_model.inputs["feature"], "feature"))
    # the clip side (input, frames, crop) is the clip models'; the output is the step's logits
    from kvid.contract import ClipSpec
    from kvid.contract.sidecar import write_sidecar

    size = int(e_features.inputs[0].shape[-2])
    sidecar = metadata.sidecar_for(
        paths["expensive"], model_name=model_name or os.path.basename(paths["step"])[:-len(".tflite")],
        labels=labels, clip=ClipSpec(scheme="dense", frames=clip_frames, crop=size, clips=spec.clips),
        output=_tensor_spec(logits, "logits"), faster=spec.to_dict())
    sidecar_path = write_sidecar(paths["step"], sidecar)
    return {"paths": paths, "audits": audits, "sidecar": sidecar_path,
            "ok": all(a["ok"] for a in audits.values())}


__all__ = ["calibrate_step", "convert_step", "export_faster", "export_paths", "quantize_step",
           "step_deploy_model", "tie_state_ranges"]
