"""Audit a TFLite file: every op with its tensors' dtypes and ranks, and what breaks the
mobile-safe rule (DESIGN.md): float compute in an int8 model, Flex/custom ops, tensors of rank
> 4, dynamic shapes. Reads the flatbuffer directly (no TensorFlow, no interpreter, so files
with unresolvable ops can be audited too).

Every file is also labelled with its precision, read from the tensor types of its compute ops
(not from its name): ``int8``, ``int16x8`` (int16 activations, int8 weights), ``mixed: int8 +
int16 at <layers>``, ``float fallback at <layers>`` (an integer model with float compute at
those layers), or the float kinds (``float32``, ``float16 weights``, ``float activations, int8
weights`` = dynamic range, ``... int4 weights``). A selective-precision file fails the audit
when a fully int8 (or fully int16x8) file is expected.
"""

from __future__ import annotations

import os
from collections import Counter

from kvid import KvidError
from kvid.export.gpu import gpu_compatibility


def tflite_schema():
    """The TFLite flatbuffer schema module (ai-edge-litert's, tflite-runtime's or TensorFlow's)."""
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:
        try:
            from tflite_runtime import schema_py_generated as schema  # type: ignore
        except ImportError:
            from tensorflow.lite.python import schema_py_generated as schema  # type: ignore
    return schema


def enum_names(enum_class):
    """``{value: name}`` of a flatbuffer enum class (``BuiltinOperator``, ``TensorType``)."""
    return {v: k for k, v in vars(enum_class).items() if not k.startswith("_")}


# Ops that move or reinterpret values; all others compute.
_MOVE_OPS = {
    "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "TRANSPOSE", "PAD", "PADV2", "STRIDED_SLICE", "SLICE",
    "CONCATENATION", "SPLIT", "SPLIT_V", "PACK", "UNPACK", "GATHER", "SHAPE",
}


def read_model(path):
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise KvidError(f"{path}: no such file")
    with open(path, "rb") as fh:
        buf = fh.read()
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise KvidError(f"{path}: not a TFLite model (no TFL3 identifier)")
    schema = tflite_schema()
    try:
        return schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(buf, 0))
    except Exception as exc:  # a truncated or corrupt flatbuffer
        raise KvidError(f"{path}: corrupt TFLite file ({type(exc).__name__})") from None


#: what ``audit(expect=...)`` accepts: "int8" and "int16x8" are strict (every compute op at
#: that precision), "mixed" is any selective precision (int8, int16 and float compute side by
#: side, labelled), "float" any float model.
EXPECTATIONS = ("int8", "int16x8", "mixed", "float")
# Ops that only move quantized values between precisions or to/from float at the edges.
_CAST_OPS = {"QUANTIZE", "DEQUANTIZE"}
# Ops whose constant second input is the weight tensor.
_WEIGHT_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "BATCH_MATMUL"}


def expectation(mode: str) -> str:
    """The audit expectation of a file converted to ``mode`` (:data:`kvid.export.convert.MODES`):
    ``int8`` and ``int16x8`` exactly, any float model for the float modes."""
    return mode if mode in ("int8", "int16x8") else "float"


def layer_of(tensor_name) -> str:
    """The Keras layer a TFLite tensor name comes from: ``model/quant_res2_1__conv_a/Conv2D;...``
    -> ``res2_1__conv_a`` (tfmot's ``quant_`` prefix removed); the name itself when it has no
    ``model/layer/...`` form."""
    name = tensor_name.decode() if isinstance(tensor_name, bytes) else str(tensor_name)
    parts = name.split(";")[0].split("/")
    layer = parts[1] if len(parts) > 2 else parts[0]
    return layer[len("quant_"):] if layer.startswith("quant_") else layer


def _at(layers) -> str:
    layers = list(dict.fromkeys(layers))
    more = f" (+{len(layers) - 6} more)" if len(layers) > 6 else ""
    return ", ".join(layers[:6]) + more


def precision_label(op_list) -> dict:
    """The precision of a model from its ops (``audit``'s ``op_list``): ``{"label",
    "activations": {dtype: [layers]}, "weights": [dtypes]}``."""
    activations, weights = {}, set()
    for op in op_list:
        if op["op"] in _CAST_OPS or op["op"] in _MOVE_OPS or op["op"].startswith("CUSTOM"):
            continue
        outs = [t for t in op["outputs"] if not t["const"]]
        if not outs:
            continue
        activations.setdefault(outs[0]["dtype"], []).append(outs[0]["layer"])
        if op["op"] in _WEIGHT_OPS and len(op["inputs"]) > 1:
            weights.add(op["weight_dtype"])
    kinds = set(activations)
    floats = [layer for d in ("float32", "float16") for layer in activations.get(d, [])]
    ints = kinds & {"int8", "int16"}
    wbits = "/".join(sorted(weights - {"float32"})) or "float32"
    if not ints:
        label = "float32" if wbits == "float32" else f"float activations, {wbits} weights"
        if wbits == "float16":
            label = "float16 weights"
    elif floats:
        label = f"float fallback at {_at(floats)}"
    elif ints == {"int8", "int16"}:
        label = f"mixed: int8 + int16 at {_at(activations['int16'])}"
    elif ints == {"int16"}:
        label = "int16x8" if weights <= {"int8"} else f"int16 activations, {wbits} weights"
    else:
        label = "int8" if weights <= {"int8"} else f"int8 activations, {wbits} weights"
    return {"label": label, "activations": {k: sorted(set(v)) for k, v in activations.items()},
            "weights": sorted(weights)}


def audit(path, expect: str | None = None) -> dict:
    """Audit ``path``. ``expect``: one of :data:`EXPECTATIONS`, or None = infer (a model with
    int8 activations is meant to be fully int8, one with only int16 activations int16x8).

    Returns ``{"ok", "expect", "precision", "ops", "float_ops", "flex_ops", "custom_ops",
    "max_rank", "dynamic", "problems", "op_list"}``; ``precision`` is the label (module text).
    """
    if expect is not None and expect not in EXPECTATIONS:
        raise KvidError(f"expect={expect!r}: must be one of {', '.join(EXPECTATIONS)}")
    schema = tflite_schema()
    model = read_model(path)
    op_names = enum_names(schema.BuiltinOperator)
    type_names = enum_names(schema.TensorType)

    ops, float_ops, flex_ops, custom_ops, dynamic, op_list = Counter(), [], [], [], [], []
    max_rank, stored_type = 0, {}
    for sg_index, sg in enumerate(model.subgraphs or []):
        tensors = sg.tensors or []
        graph_inputs = set(int(i) for i in (sg.inputs if sg.inputs is not None else []))
        graph_outputs = set(int(i) for i in (sg.outputs if sg.outputs is not None else []))
        for t in tensors:
            shape = list(t.shape) if t.shape is not None else []
            max_rank = max(max_rank, len(shape))
            sig = t.shapeSignature
            if sig is not None and any(int(d) < 0 for d in sig):
                name = t.name.decode() if isinstance(t.name, bytes) else str(t.name)
                dynamic.append(name)
        for op_index, op in enumerate(sg.operators or []):
            code = model.operatorCodes[op.opcodeIndex]
            builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
            name = op_names.get(builtin, str(builtin))
            if name == "CUSTOM":
                custom = code.customCode.decode() if isinstance(code.customCode, bytes) else str(code.customCode)
                name = f"CUSTOM:{custom}"
                (flex_ops if custom.startswith("Flex") else custom_ops).append(custom)
            ops[name] += 1

            def describe(indices):
                out = []
                for i in indices if indices is not None else []:
                    if int(i) < 0:
                        continue
                    t = tensors[int(i)]
                    out.append(
                        {
                            "dtype": type_names.get(t.type, str(t.type)).lower(),
                            "layer": layer_of(t.name),
                            "shape": [int(d) for d in (t.shape if t.shape is not None else [])],
                            "const": model.buffers[t.buffer].data is not None
                            if t.buffer < len(model.buffers) else False,
                            "index": int(i),
                        }
                    )
                return out

            ins, outs = describe(op.inputs), describe(op.outputs)
            entry = {"subgraph": sg_index, "index": op_index, "op": name, "inputs": ins, "outputs": outs}
            if len(ins) > 1:  # the weights' storage type (a DEQUANTIZEd constant counts as stored)
                entry["weight_dtype"] = stored_type.get(ins[1]["index"], ins[1]["dtype"])
            for t_in, t_out in zip(ins, outs):
                if name == "DEQUANTIZE" and t_in["const"]:
                    stored_type[t_out["index"]] = t_in["dtype"]
            op_list.append(entry)
            floats = [t for t in ins + outs if t["dtype"] in ("float32", "float16") and not (
                t["const"] and name == "DEQUANTIZE")]
            edge_quantize = name == "QUANTIZE" and all(t["index"] in graph_inputs for t in ins if t["dtype"] == "float32")
            edge_dequantize = name == "DEQUANTIZE" and all(t["index"] in graph_outputs for t in outs)
            if floats and not edge_quantize and not edge_dequantize:
                float_ops.append(f"{name}#{op_index}")

    precision = precision_label(op_list)
    kinds = set(precision["activations"])
    if expect is None:
        expect = "int8" if "int8" in kinds else "int16x8" if "int16" in kinds else "float"
    problems = []
    if expect in ("int8", "int16x8") and precision["label"] != expect:
        problems.append(f"not {'fully int8' if expect == 'int8' else 'int16x8'}: {precision['label']}")
    if expect == "int8" and float_ops:
        problems.append(f"{len(float_ops)} float op(s) in an int8 model: {', '.join(float_ops[:8])}")
    if flex_ops:
        problems.append(f"Flex ops (need TensorFlow select ops): {', '.join(sorted(set(flex_ops)))}")
    if custom_ops:
        problems.append(f"custom ops: {', '.join(sorted(set(custom_ops)))}")
    if max_rank > 4:
        problems.append(f"tensor of rank {max_rank} (> 4)")
    if dynamic:
        problems.append(f"dynamic shapes: {', '.join(dynamic[:4])}")
    return {
        "ok": not problems,
        "expect": expect,
        "precision": precision["label"],
        "ops": dict(sorted(ops.items())),
        "float_ops": float_ops if expect in ("int8", "int16x8", "mixed") else [],
        "flex_ops": sorted(set(flex_ops)),
        "custom_ops": sorted(set(custom_ops)),
        "max_rank": max_rank,
        "dynamic": dynamic,
        "problems": problems,
        "op_list": op_list,
        "gpu": gpu_compatibility(model, op_list),
    }


def format_report(path, report: dict) -> str:
    lines = [f"{path}: {'OK' if report['ok'] else 'NOT OK'} (expected {report['expect']}, max rank {report['max_rank']})",
             f"  precision: {report['precision']}"]
    for name, count in report["ops"].items():
        dtypes = set()
        for op in report["op_list"]:
            if op["op"] == name:
                dtypes.add(
                    "(" + ",".join(t["dtype"] for t in op["inputs"]) + ")->("
                    + ",".join(t["dtype"] for t in op["outputs"]) + ")"
                )
        lines.append(f"  {name:<24} x{count:<4} {' '.join(sorted(dtypes))}")
    for problem in report["problems"]:
        lines.append(f"  problem: {problem}")
    gpu = report.get("gpu")
    if gpu is not None:
        lines.append("  GPU delegate (its per-op rules, kvid.export.gpu): " + (
            f"every op accepted ({gpu['ops_checked']})" if gpu["ok"] else "; ".join(gpu["problems"][:8])))
    return "\n".join(lines)
