"""What TensorFlow's ``tf.lite.experimental.QuantizationDebugger`` does with kvid's graphs: can its
converter be reused, and which names does ``denylisted_nodes`` (the nodes kept in float) take?

    python benchmarks/quant_debugger_check.py [--markdown benchmarks/results/quant_debugger.md]

On opscheck (every op kind kvid uses: grouped CONV_2D, depthwise, temporal convs, gates,
pooling; random weights, 4x32x32, width 4), int8 PTQ through the debugger:

1. the file without a denylist (fully int8?);
2. the debugger's converter converted a second time;
3. ``denylisted_nodes`` with each candidate name for the conv+ReLU op of ``full3d_relu``: the
   Keras layer name, its ``model/layer`` path, each TF op name the converter fused into the op
   (``.../Relu``, ``.../Conv2D``), and the op's whole location in the calibrated model (its
   output tensor name, the fused TF op names joined by ``;``) - each with a fresh converter, the
   file audited (``kvid.export.audit``, the float ops and precision label read from the file);
4. the same through the debugger's ``options`` setter, which re-quantizes its calibrated model
   without converting again (the names read from that model first).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

LAYER = "full3d_relu"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown")
    args = parser.parse_args(argv)

    from kvid import environment, models
    from kvid.export.audit import audit, layer_of
    from kvid.export.convert import clip_shape, deploy_model, tflite_converter
    from kvid.keras import tf
    from kvid.ops import quantize_scope
    from kvid.quant.graph import activation_tensors
    from kvid.runtime.agreement import random_clips

    tf.keras.utils.set_random_seed(0)
    deployed = deploy_model(models.build("opscheck", num_classes=4, frames=4, size=32, width=4))
    t, h, w, c = clip_shape(deployed)
    clips = np.round(random_clips(8, (t, h, w, c), seed=1))
    tmp = tempfile.mkdtemp(prefix="kvid_debugger_")

    def dataset():
        for x in clips:
            yield [x.astype(np.float32)]

    def converter():
        with quantize_scope():
            spec = tf.TensorSpec((t, h, w, c), tf.float32, name="clip")
            fn = tf.function(lambda x: deployed(x, training=False), input_signature=[spec])
            conv = tflite_converter(fn, deployed)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = dataset
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        return conv

    def audited(data, tag):
        path = os.path.join(tmp, f"{tag}.tflite")
        with open(path, "wb") as fh:
            fh.write(data)
        report = audit(path, expect="mixed")
        return f"{report['precision']} (float ops: {', '.join(report['float_ops']) or 'none'})"

    def debugger(nodes=()):
        options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=list(nodes), fully_quantize=False)
        return tf.lite.experimental.QuantizationDebugger(converter=converter(), debug_dataset=dataset,
                                                         debug_options=options)

    lines = []
    base = debugger()
    lines.append(f"1. no denylist: {audited(base.get_nondebug_quantized_model(), 'base')}")
    try:
        base.converter.convert()
        reuse = "converts again"
    except Exception as exc:  # noqa: BLE001 - what it raises is the finding
        reuse = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:160]}"
    lines.append(f"2. the debugger's converter converted again: {reuse}")
    calibrated = os.path.join(tmp, "calibrated.tflite")
    with open(calibrated, "wb") as fh:
        fh.write(base.calibrated_model)
    target = [x.name for x in activation_tensors(calibrated) if layer_of(x.name) == LAYER and x.op == "CONV_2D"]
    whole = target[0]
    candidates = {"Keras layer name": [LAYER], "model/layer": [f"{deployed.name}/{LAYER}"]}
    for part in whole.split(";"):
        candidates[f"TF op name `{part}`"] = [part]
    candidates["the op's whole location (output tensor name)"] = [whole]
    lines.append(f"3. denylisted_nodes for the conv+ReLU of `{LAYER}` (calibrated model's tensor: `{whole}`), "
                 "a fresh converter each:")
    for label, nodes in candidates.items():
        lines.append(f"   - {label}: {audited(debugger(nodes).get_nondebug_quantized_model(), 'deny')}")
    names = [x.name for x in activation_tensors(calibrated) if x.op not in ("INPUT", "QUANTIZE", "DEQUANTIZE")
             and layer_of(x.name) == LAYER]
    base.options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=names, fully_quantize=False)
    lines.append(f"4. the same debugger, options set to the names read from its calibrated model ({names}): "
                 f"{audited(base.get_nondebug_quantized_model(), 'setter')}")

    env = environment.line()
    command = ("python benchmarks/quant_debugger_check.py " + " ".join(argv if argv is not None else sys.argv[1:])).strip()
    text = "\n".join(["# QuantizationDebugger on kvid's ops", "", f"Command: `{command}`", "", env, "", *lines, ""])
    print(text)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
