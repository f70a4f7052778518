"""An independent step-by-step reference of a FASTER export (test helper, not product code).

:func:`tflite_logits` replays the three int8 TFLite models of a FASTER export
(kvid.export.faster.export_faster) clip by clip with TensorFlow's own ``tf.lite.Interpreter``,
tensors set and read by index - not through kvid.runtime.faster, whose streaming runtime
(ai-edge-litert, signature runners) it checks - with the bookkeeping written out here: the
schedule and control values of kvid.contract.faster, zero states, the clip model's int8
feature map requantized to the step's feature input, a state requantized only where the step's
output and input scales differ. tests/test_faster.py and benchmarks/faster_synth.py compare the
runtime with it bit for bit.
"""

from __future__ import annotations

import json
import os

import numpy as np

from kvid.contract.faster import control_vector, schedule
from kvid.keras import tf
from kvid.runtime.interpreter import dequantize_from, quantize_for


class TfliteModel:
    """tf.lite's interpreter on one file, inputs/outputs by the signature's tensor indices."""

    def __init__(self, path):
        self.it = tf.lite.Interpreter(model_path=os.fspath(path), num_threads=1)
        self.it.allocate_tensors()
        runner = self.it.get_signature_runner(next(iter(self.it.get_signature_list())))
        self.inputs = dict(runner.get_input_details())
        self.outputs = dict(runner.get_output_details())

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
    models = {k: TfliteModel(os.path.join(root, spec[k])) for k in ("expensive", "cheap", "step")}
    step = models["step"]
    names = [s["name"] for s in spec["states"]]
    states = {n: quantize_for(np.zeros(step.inputs[n]["shape"], np.float32), step.inputs[n]) for n in names}
    out = []
    for t, (clip, expensive) in enumerate(zip(clips, schedule(len(clips), spec["pattern"]))):
        model = models["expensive" if expensive else "cheap"]
        (cin, cd), = model.inputs.items()
        (feat_q,) = model.run(**{cin: quantize_for(clip, cd)}).values()
        (od,) = model.outputs.values()
        fd = step.inputs["feature"]
        cdet = step.inputs["control"]
        control = np.asarray(control_vector(t, expensive), np.float32).reshape(cdet["shape"])
        result = step.run(feature=quantize_for(dequantize_from(feat_q, od).reshape(fd["shape"]), fd),
                          control=quantize_for(control, cdet), **states)
        for n in names:
            value = result[n]
            if step.outputs[n]["quantization"] != step.inputs[n]["quantization"]:
                value = quantize_for(dequantize_from(value, step.outputs[n]), step.inputs[n])
            states[n] = value
        out.append(dequantize_from(result["logits"], step.outputs["logits"]).reshape(-1))
    return np.stack(out)
