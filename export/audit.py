"""Audit a TFLite file: every op with its tensors' dtypes and ranks, and what breaks the
mobile-safe rule (DESIGN.md): float compute in an int8 model, Flex/custom ops, tensors of rank
> 4, dynamic shapes. Reads the flatbuffer directly (no TensorFlow, no interpreter, so files
with unresolvable ops can be audited too).
"""

from __future__ import annotations

import os
from collections import Counter

from kvid import KvidError


def _schema():
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:
        try:
            from tflite_runtime import schema_py_generated as schema  # type: ignore
        except ImportError:
            from tensorflow.lite.python import schema_py_generated as schema  # type: ignore
    return schema


def _enum_names(enum_class):
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
    schema = _schema()
    try:
        return schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(buf, 0))
    except Exception as exc:  # a truncated or corrupt flatbuffer
        raise KvidError(f"{path}: corrupt TFLite file ({type(exc).__name__})") from None


def audit(path, expect: str | None = None) -> dict:
    """Audit ``path``. ``expect``: "int8" (must be fully int8), "float", or None = infer
    (a model with any int8 tensor is meant to be int8).

    Returns ``{"ok", "expect", "ops", "float_ops", "flex_ops", "custom_ops", "max_rank",
    "dynamic", "problems", "op_list"}``.
    """
    schema = _schema()
    model = read_model(path)
    op_names = _enum_names(schema.BuiltinOperator)
    type_names = _enum_names(schema.TensorType)

    ops, float_ops, flex_ops, custom_ops, dynamic, op_list = Counter(), [], [], [], [], []
    max_rank, has_int8 = 0, False
    for sg_index, sg in enumerate(model.subgraphs or []):
        tensors = sg.tensors or []
        graph_inputs = set(int(i) for i in (sg.inputs if sg.inputs is not None else []))
        graph_outputs = set(int(i) for i in (sg.outputs if sg.outputs is not None else []))
        for t in tensors:
            shape = list(t.shape) if t.shape is not None else []
            max_rank = max(max_rank, len(shape))
            has_int8 |= type_names.get(t.type) == "INT8"
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
                            "shape": [int(d) for d in (t.shape if t.shape is not None else [])],
                            "const": model.buffers[t.buffer].data is not None
                            if t.buffer < len(model.buffers) else False,
                            "index": int(i),
                        }
                    )
                return out

            ins, outs = describe(op.inputs), describe(op.outputs)
            entry = {"subgraph": sg_index, "index": op_index, "op": name, "inputs": ins, "outputs": outs}
            op_list.append(entry)
            floats = [t for t in ins + outs if t["dtype"] in ("float32", "float16") and not (
                t["const"] and name == "DEQUANTIZE")]
            edge_quantize = name == "QUANTIZE" and all(t["index"] in graph_inputs for t in ins if t["dtype"] == "float32")
            edge_dequantize = name == "DEQUANTIZE" and all(t["index"] in graph_outputs for t in outs)
            if floats and not edge_quantize and not edge_dequantize:
                float_ops.append(f"{name}#{op_index}")

    if expect is None:
        expect = "int8" if has_int8 else "float"
    problems = []
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
        "ops": dict(sorted(ops.items())),
        "float_ops": float_ops if expect == "int8" else [],
        "flex_ops": sorted(set(flex_ops)),
        "custom_ops": sorted(set(custom_ops)),
        "max_rank": max_rank,
        "dynamic": dynamic,
        "problems": problems,
        "op_list": op_list,
    }


def format_report(path, report: dict) -> str:
    lines = [f"{path}: {'OK' if report['ok'] else 'NOT OK'} (expected {report['expect']}, max rank {report['max_rank']})"]
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
    return "\n".join(lines)
