"""Export a FASTER run: three int8 TFLite models and one sidecar (docs/INTERFACES.md).

``export_faster(out, expensive, cheap, step, ...)`` writes, for ``out = DIR/NAME.tflite``:

* ``NAME_expensive.tflite`` / ``NAME_cheap.tflite`` - the clip backbones as feature extractors:
  clip ``(L, H, W, 3)`` int8 (scale 1, zero point -128) in, res5 map ``(L/8, h, w, C)`` int8
  out (converted with kvid.export.convert, the single-clip path);
* ``NAME.tflite`` - the aggregator step (kvid.blocks.fast_gru), signature inputs ``feature
  (1, L/8, h*w, C)``, the state(s), ``control (1, 1, 1, 6)``; outputs the state(s) and
  ``logits (1, K)``; every tensor int8, rank <= 4, static shapes;
* ``NAME.json`` - the sidecar (kvid.export.metadata: input, frames and crop of the clip models,
  ``output`` the step's logits), with the ``faster`` field naming the two clip models, L, N,
  the pattern, the states, the step's feature input and the control fields.

All three are audited (kvid.export.audit). :func:`tflite_logits` is the step-by-step int8 TFLite
reference (tf.lite's interpreter, tensors by index) the streaming runtime is checked against.
"""

from __future__ import annotations

import copy
import json
import os

import numpy as np

from kvid.export import audit as audit_mod
from kvid.export import convert as convert_mod
from kvid.export import metadata
from kvid import KvidError
from kvid.keras import keras, tf
from kvid.ops import quantize_scope
from kvid.runtime.faster import CONTROL_FIELDS, control_vector, parse_pattern, schedule
from kvid.runtime.faster import _dequantize as _dq
from kvid.runtime.faster import _quantize as _q


def step_deploy_model(step):
    """The step with a static batch of 1 on every input, same weights."""
    with quantize_scope():
        config = copy.deepcopy(step.get_config())
        for layer in config["layers"]:
            if layer["class_name"] == "InputLayer":
                shape = list(layer["config"]["batch_input_shape"])
                layer["config"]["batch_input_shape"] = (1, *shape[1:])
        deployed = keras.Model.from_config(config)
        convert_mod.copy_weights(step, deployed)
    return deployed


def _names(model):
    inputs = [t.name.split(":")[0] for t in model.inputs]
    states = inputs[1:-1]
    return inputs, states


def convert_step(step, mode="int8") -> bytes:
    """Convert an aggregator step (QAT for int8) to TFLite bytes with one signature whose
    inputs and outputs carry the step's names (``feature``, ``state``..., ``control`` ->
    ``state``..., ``logits``)."""
    if mode not in ("int8", "float32"):
        raise KvidError(f"--to {mode}: a FASTER step exports to int8 or float32")
    qat = convert_mod.is_qat(step)
    if mode == "int8" and not qat:
        raise KvidError(f"{step.name}: int8 export of a step needs its QAT model (kvid.models.faster.quantize_step)")
    deployed = step_deploy_model(step)
    inputs, states = _names(deployed)
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


def _tensor_spec(details, name):
    scale, zero_point = details["quantization"]
    return {"name": name, "shape": [int(d) for d in details["shape"]],
            "dtype": np.dtype(details["dtype"]).name, "scale": float(scale),
            "zero_point": int(zero_point)}


def export_faster(out, expensive, cheap, step, *, clip_frames, clips, pattern, labels=None,
                  aggregator=None, model_name=None) -> dict:
    """Write the FASTER export for ``out`` (``DIR/NAME.tflite``, see the module text).

    ``expensive`` / ``cheap``: QAT backbone classifiers or feature extractors; ``step``: the
    QAT aggregator step. Returns ``{"paths": {...}, "audits": {...}, "sidecar": path,
    "ok": all audits ok}``.
    """
    from kvid.models.faster import feature_model
    from kvid.runtime.faster import _Runner

    out = os.fspath(out)
    if not out.endswith(".tflite"):
        raise KvidError(f"{out}: the FASTER step's file name must end in .tflite")
    base = out[:-len(".tflite")]
    paths = {"expensive": f"{base}_expensive.tflite", "cheap": f"{base}_cheap.tflite", "step": out}
    e_features, c_features = feature_model(expensive), feature_model(cheap)
    if tuple(e_features.outputs[0].shape[1:]) != tuple(c_features.outputs[0].shape[1:]):
        raise KvidError(f"expensive {tuple(e_features.outputs[0].shape[1:])} and cheap "
                        f"{tuple(c_features.outputs[0].shape[1:])} feature maps differ")
    convert_mod.write(convert_mod.convert(e_features, "int8"), paths["expensive"])
    convert_mod.write(convert_mod.convert(c_features, "int8"), paths["cheap"])
    convert_mod.write(convert_step(step, "int8"), paths["step"])
    audits = {k: audit_mod.audit(p, expect="int8") for k, p in paths.items()}

    step_runner = _Runner(paths["step"])
    _, states = _names(step)
    logits = step_runner.outputs["logits"]
    num_classes = int(logits["shape"][-1])
    labels = list(labels) if labels is not None else [f"class_{i}" for i in range(num_classes)]
    if len(labels) != num_classes:
        raise KvidError(f"{out}: {len(labels)} labels for a model with {num_classes} outputs")
    # the clip side (input, frames, crop) is the clip models'; the output is the step's logits
    sidecar = metadata.make_sidecar(
        paths["expensive"], model_name=model_name or os.path.basename(base), labels=None,
        sampling={"scheme": "dense", "stride": 1, "clips": int(clips), "window": None})
    state_specs = [_tensor_spec(step_runner.inputs[n], n) for n in states]
    sidecar.update({
        "labels": labels,
        "output": _tensor_spec(logits, "logits"),
        "faster": {
            "clip_frames": int(clip_frames), "clips": int(clips),
            "pattern": list(parse_pattern(pattern)),
            "expensive": os.path.basename(paths["expensive"]),
            "cheap": os.path.basename(paths["cheap"]),
            "step": os.path.basename(paths["step"]),
            "aggregator": aggregator or step.name.replace("_step", ""),
            "state_shape": state_specs[0]["shape"],
            "states": state_specs,
            "feature": _tensor_spec(step_runner.inputs["feature"], "feature"),
            "control": list(CONTROL_FIELDS),
        },
    })
    sidecar_path = metadata.write_sidecar(paths["step"], sidecar)
    return {"paths": paths, "audits": audits, "sidecar": sidecar_path,
            "ok": all(a["ok"] for a in audits.values())}


# ------------------------------------------------------- step-by-step int8 TFLite reference

class _Tfl:
    """tf.lite's interpreter on one file, inputs/outputs by the signature's tensor indices."""

    def __init__(self, path):
        self.it = tf.lite.Interpreter(model_path=os.fspath(path), num_threads=1)
        self.it.allocate_tensors()
        sig = self.it.get_signature_list()
        key = next(iter(sig))
        runner = self.it.get_signature_runner(key)
        self.inputs = {n: d for n, d in runner.get_input_details().items()}
        self.outputs = {n: d for n, d in runner.get_output_details().items()}

    def run(self, **tensors):
        for name, value in tensors.items():
            self.it.set_tensor(self.inputs[name]["index"], value)
        self.it.invoke()
        return {n: self.it.get_tensor(d["index"]) for n, d in self.outputs.items()}


def tflite_logits(sidecar, clips) -> np.ndarray:
    """Logits after every clip, ``(N, K)``, of the exported int8 models on the clips
    ``(N, L, H, W, 3)`` of one video, run step by step with tf.lite's interpreter."""
    with open(sidecar, encoding="utf-8") as fh:
        spec = json.load(fh)["faster"]
    root = os.path.dirname(os.path.abspath(sidecar))
    models = {k: _Tfl(os.path.join(root, spec[k])) for k in ("expensive", "cheap", "step")}
    step = models["step"]
    names = [s["name"] for s in spec["states"]]
    states = {n: _q(np.zeros(step.inputs[n]["shape"], np.float32), step.inputs[n]) for n in names}
    out = []
    for t, (clip, expensive) in enumerate(zip(clips, schedule(len(clips), spec["pattern"]))):
        model = models["expensive" if expensive else "cheap"]
        (cin, cd), = model.inputs.items()
        (feat_q,) = model.run(**{cin: _q(clip, cd)}).values()
        (od,) = model.outputs.values()
        fd = step.inputs["feature"]
        cdet = step.inputs["control"]
        result = step.run(feature=_q(_dq(feat_q, od).reshape(fd["shape"]), fd),
                          control=_q(control_vector(t, expensive).reshape(cdet["shape"]), cdet),
                          **states)
        for n in names:
            value = result[n]
            if step.outputs[n]["quantization"] != step.inputs[n]["quantization"]:
                value = _q(_dq(value, step.outputs[n]), step.inputs[n])
            states[n] = value
        out.append(_dq(result["logits"], step.outputs["logits"]).reshape(-1))
    return np.stack(out)


__all__ = ["step_deploy_model", "convert_step", "export_faster", "tflite_logits"]
