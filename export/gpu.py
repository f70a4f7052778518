"""Static GPU-delegate compatibility of a TFLite file: the delegate's own per-op rules.

TFLite's GPU delegate decides node by node whether it takes an op with
``CheckGpuDelegateCompatibility`` (tensorflow/lite/tools/versioning/gpu_compatibility.cc; its
comment: the logic "used to be in TFLiteOperationParser::IsSupported() of
delegates/gpu/common/model_builder.cc but they're all migrated into here"). The analyzer that
used to print those verdicts (``tf.lite.experimental.Analyzer.analyze(...,
gpu_compatibility=True)``, and ai-edge-litert's ``_pywrap_analyzer_wrapper``) stopped calling
them (tensorflow/tensorflow#77042): in TensorFlow 2.21 and ai-edge-litert 2.3 it answers "Your
model looks compatible with GPU delegate" for any file - measured here for files holding
TOPK_V2, UNIQUE, GATHER_ND or CONV_3D, which those rules reject. So kvid applies the rules
itself: this module is a port of that function (TensorFlow master, 2025) for the ops it lists
in ``_RULES``; an op without a rule is reported as not supported, which is what the delegate's
``default:`` branch answers for every op it does not know.

What this does not check: op versions (the delegate's ``CheckMaxSupportedOpVersion``), the
delegate's whole-graph limits (e.g. tensor ranks, which ``kvid.export.audit`` keeps at <= 4),
and anything a real device decides at run time (OpenCL/OpenGL support, memory). Only a phone
answers those.

numpy-free, TensorFlow-free: reads the flatbuffer that :func:`kvid.export.audit.read_model`
parsed.
"""

from __future__ import annotations

# tflite::ActivationFunctionType: NONE, RELU, RELU_N1_TO_1, RELU6, TANH are supported;
# SIGN_BIT (5) is not (IsActivationSupported).
_SUPPORTED_ACTIVATIONS = {0, 1, 2, 3, 4}

_UNARY = {"ABS", "CEIL", "COS", "ELU", "EXP", "FLOOR", "GELU", "LOG", "LOGISTIC", "NEG", "RSQRT",
          "SIGN", "SIN", "SQRT", "SQUARE", "TANH"}
_BINARY = {"ATAN2", "DIV", "EQUAL", "FLOOR_DIV", "FLOOR_MOD", "GREATER", "GREATER_EQUAL",
           "LOGICAL_AND", "LESS", "LESS_EQUAL", "MAXIMUM", "MINIMUM", "NOT_EQUAL", "POW",
           "SQUARED_DIFFERENCE", "SUB"}
_FLOATS = ("float32", "float16")


class _Op:
    """The parts of gpu_compatibility.cc's OpSignature the rules read."""

    def __init__(self, name, inputs, outputs, options):
        self.name, self.inputs, self.outputs, self.options = name, inputs, outputs, options

    def option(self, field, default=None):
        return getattr(self.options, field, default) if self.options is not None else default

    def runtime_inputs(self) -> int:
        return sum(1 for t in self.inputs if t is not None and not t["const"])

    def const_inputs(self) -> int:
        return sum(1 for t in self.inputs if t is not None and t["const"])


def _io(op: _Op, runtime_inputs: int, outputs: int) -> str | None:
    if op.runtime_inputs() != runtime_inputs:
        return f"Expected {runtime_inputs} runtime input tensor(s), but node has {op.runtime_inputs()} runtime input(s)."
    if len(op.outputs) != outputs:
        return f"Expected {outputs} output tensor(s), but node has {len(op.outputs)} output(s)."
    return None


def _io_consts(op: _Op, runtime_inputs: int, consts: int, outputs: int) -> str | None:
    if op.const_inputs() != consts:
        return f"Expected {consts} const input tensor(s), but node has {op.const_inputs()} const input(s)."
    return _io(op, runtime_inputs, outputs)


def _activation(op: _Op) -> str | None:
    act = op.option("fusedActivationFunction", 0)
    return None if act in _SUPPORTED_ACTIVATIONS else f"fused activation {act} (SIGN_BIT) is not supported"


def _positive(op: _Op, *fields) -> str | None:
    for field in fields:
        value = op.option(field, 1)
        if value is None or value <= 0:
            return f"Incorrect {field} = {value}"
    return None


def _first(*checks):
    for check in checks:
        problem = check() if callable(check) else check
        if problem:
            return problem
    return None


def _convolution_io(op: _Op) -> str | None:
    if op.runtime_inputs() > 2:
        return f"Expected 1 or 2 input tensor(s), but node has {op.runtime_inputs()} runtime inputs."
    if len(op.outputs) != 1:
        return f"Expected 1 output tensor(s), but node has {len(op.outputs)} runtime outputs."
    if op.runtime_inputs() == 1 and len(op.inputs) < 2:
        return "the weights input is missing"
    return None


def _conv2d(op):
    return _first(lambda: _convolution_io(op),
                  lambda: _positive(op, "strideH", "strideW", "dilationHFactor", "dilationWFactor"),
                  lambda: _activation(op))


def _depthwise(op):
    problem = _first(lambda: _convolution_io(op),
                     lambda: _positive(op, "strideH", "strideW", "dilationHFactor", "dilationWFactor"),
                     lambda: _activation(op))
    if problem:
        return problem
    x, w, out = op.inputs[0], op.inputs[1], op.outputs[0]
    bias = op.inputs[2] if len(op.inputs) > 2 else None
    for what, t in (("input", x), ("filter", w), ("output", out)):
        if len(t["shape"]) != 4:
            return f"{what}.dims.size != 4"
    multiplier = op.option("depthMultiplier", 1)
    if x["shape"][0] != out["shape"][0]:
        return "input.b != output.b"
    if w["shape"][3] != out["shape"][3]:
        return "filter.i != output.c"
    if out["shape"][3] != x["shape"][3] * multiplier:
        return "output.c != input.c * depth_multiplier"
    if bias is not None and _elements(bias["shape"]) != out["shape"][3]:
        return "bias.size != output.c"
    if multiplier != 1 and x["shape"][3] != 1:
        return "depth_multiplier != 1 && input.c != 1"
    return None


def _pool(op):
    return _first(lambda: _io(op, 1, 1),
                  lambda: _positive(op, "filterHeight", "filterWidth", "strideH", "strideW"),
                  lambda: _activation(op))


def _elements(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _broadcastable(a, b) -> bool:
    """CheckIsBroadcastable (kEnhancedBroadcast: what the offline check assumes)."""
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x != y and x != 1 and y != 1:
            return False
    return True


def _add_mul_broadcast(op) -> str | None:
    a, b = op.inputs[0]["shape"], op.inputs[1]["shape"]
    if len(a) > 1 and len(b) > 1 and len(a) != len(b) and not _broadcastable(a, b):
        return f"Doesn't support broadcasting - input0: {a}, input1: {b}"
    return None


def _add(op):
    if len(op.inputs) != 2:
        return "ADD requires two input tensors."
    return _add_mul_broadcast(op)


def _mul(op):
    if len(op.inputs) != 2:
        return "MUL requires two input tensors."
    a, b = op.inputs[0]["shape"], op.inputs[1]["shape"]
    if len(a) == len(b):
        if any(x < y for x, y in zip(a, b)) and any(y < x for x, y in zip(a, b)):
            return "MUL requires one tensor that not less than second in all dimensions."
    else:
        problem = _add_mul_broadcast(op)
        if problem:
            return problem
    return _activation(op)


def _axes_const(op, index=1) -> str | None:
    axes = op.inputs[index]
    if not axes["const"]:
        return f"{op.name} is only supported with constant axes."
    if axes["dtype"] != "int32":
        return f"{op.name} supports int32 tensor for axes. But node has {axes['dtype']}"
    return None


def _mean(op):
    return _first(lambda: _io_consts(op, 1, 1, 1), lambda: _axes_const(op))


def _reduce(op):
    return _first(lambda: _io(op, 1, 1), lambda: _axes_const(op))


def _fully_connected(op):
    if op.option("weightsFormat", 0) != 0:
        return f"Unsupported FullyConnected weights format: {op.option('weightsFormat')}"
    if op.runtime_inputs() > 2:
        return "FullyConnected doesn't support more than 2 runtime inputs."
    if op.inputs[0]["const"]:
        return "FullyConnected doesn't support constant input."
    if op.option("keepNumDims", False) and len(op.inputs[0]["shape"]) != len(op.outputs[0]["shape"]):
        return "Input and output dimensions different and FullyConnected doesn't support keep_num_dims."
    return None


def _strided_slice(op):
    for mask, what in (("ellipsisMask", "ellipsis_mask"), ("newAxisMask", "new_axis_mask"),
                       ("shrinkAxisMask", "shrink_axis_mask")):
        if op.option(mask, 0):
            return f"Slice does not support {what}."
    if len(op.inputs) < 4:
        return "STRIDED_SLICE requires 4 inputs."
    if len(op.inputs[0]["shape"]) not in (3, 4):
        return "STRIDED_SLICE supports for 3 or 4 dimensional tensors only."
    return None


def _slice(op):
    if len(op.inputs) < 3:
        return f"SLICE requires 3 inputs, but node has {len(op.inputs)} inputs."
    if len(op.inputs[0]["shape"]) not in (3, 4):
        return f"SLICE supports for 3 or 4 dimensional tensors only, but node has {len(op.inputs[0]['shape'])} dimensional tensors."
    return None


def _pad(op):
    if op.name == "MIRROR_PAD" and op.option("mode", 0) != 0:  # MirrorPadMode.REFLECT == 0
        return "Only Reflective padding is supported for Mirror Pad operation."
    problem = _io(op, 1, 1)
    if problem:
        return problem
    if len(op.inputs) < 2:
        return "the paddings input is missing"
    shape = op.inputs[1]["shape"]
    if len(shape) != 2:
        return f"Invalid paddings tensor dimension: expected 2 dim, got {len(shape)} dim"
    if shape[0] not in (3, 4) or shape[1] != 2:
        return f"Invalid paddings tensor shape: expected 4x2 or 3x2, got {shape[0]}x{shape[1]}"
    return None


def _dequantize(op):
    if len(op.inputs) != 1 or len(op.outputs) != 1:
        return "Expected 1 input & output each from Dequantize"
    return "Unsupported dequantization type." if op.inputs[0]["dtype"] == "int16" else None


def _cast(op):
    problem = _io(op, 1, 1)
    if problem:
        return problem
    a, b = op.inputs[0]["dtype"], op.outputs[0]["dtype"]
    if (a == "bool" and b in _FLOATS) or (a in _FLOATS and b == "bool") or (
            a in ("float32", "int32") and b in ("float32", "int32")):
        return None
    return f"Not supported Cast case. Input type: {a} and output type: {b}"


def _gather(op):
    if _io_consts(op, 2, 0, 1) and _io_consts(op, 1, 1, 1):
        return "Op can only handle 1 or 2 operand(s)."
    if op.inputs[0]["dtype"] == "int32":
        return "Does not accept INT32 input."
    if len(op.inputs[1]["shape"]) != 1:
        return "Only support 1D indices"
    return None if op.inputs[1]["dtype"] == "int32" else "Only accept INT32 indices"


def _softmax(op):
    return None if op.option("beta", 1.0) == 1 else "Softmax.beta != 1 is not supported."


def _block(op):
    size = op.option("blockSize", 0)
    if size == 1:
        return f"{op.name} block_size = 1 is a no-op."
    return f"{op.name} block_size must be > 1." if size < 1 else _io(op, 1, 1)


def _binary(op):
    if _io_consts(op, 2, 0, 1) and _io_consts(op, 1, 1, 1):
        return "Op can only handle 1 or 2 operand(s)."
    return _activation(op) if op.name in ("SUB", "DIV") else None


_RULES = {
    "ADD": _add, "MUL": _mul,
    "AVERAGE_POOL_2D": _pool, "MAX_POOL_2D": _pool,
    "BATCH_MATMUL": lambda op: None if (len(op.inputs), len(op.outputs)) == (2, 1) else "Expected 2 inputs and 1 output",
    "CAST": _cast,
    "CONCATENATION": lambda op: None,
    "CONV_2D": _conv2d, "DEPTHWISE_CONV_2D": _depthwise,
    "TRANSPOSE_CONV": lambda op: _first(lambda: _convolution_io(op), lambda: _positive(op, "strideH", "strideW")),
    "DEPTH_TO_SPACE": _block, "SPACE_TO_DEPTH": _block,
    "DEQUANTIZE": _dequantize, "QUANTIZE": lambda op: _io(op, 1, 1),
    "FULLY_CONNECTED": _fully_connected,
    "GATHER": _gather,
    "HARD_SWISH": lambda op: _io(op, 1, 1),
    "MEAN": _mean, "REDUCE_MAX": _reduce, "REDUCE_MIN": _reduce, "REDUCE_PROD": _reduce, "SUM": _reduce,
    "PACK": lambda op: None, "SPLIT": lambda op: None, "SPLIT_V": lambda op: None,
    "RELU": lambda op: None, "RELU6": lambda op: None, "LEAKY_RELU": lambda op: None,
    "RELU_N1_TO_1": lambda op: None, "PRELU": lambda op: None,
    "RESHAPE": lambda op: _io(op, 1, 1),
    "RESIZE_BILINEAR": lambda op: _io(op, 1, 1) or (
        "If half_pixel_centers is True, align_corners must be False."
        if op.option("alignCorners") and op.option("halfPixelCenters") else None),
    "RESIZE_NEAREST_NEIGHBOR": lambda op: _io(op, 1, 1),
    "SLICE": _slice, "STRIDED_SLICE": _strided_slice,
    "SOFTMAX": _softmax,
    "TILE": lambda op: _io(op, 1, 1), "TRANSPOSE": lambda op: _io(op, 1, 1),
    "PAD": _pad, "PADV2": _pad, "MIRROR_PAD": _pad,
    **{name: (lambda op: _io_consts(op, 1, 0, 1)) for name in _UNARY},
    **{name: _binary for name in _BINARY},
}
# Ops gpu_compatibility.cc has rules for that this port leaves out (kvid's graphs have none of
# them); counted as not supported, and said so.
_NOT_PORTED = {"ADD_N", "CUMSUM", "DENSIFY", "EMBEDDING_LOOKUP", "DYNAMIC_UPDATE_SLICE", "LSTM",
               "ONE_HOT", "SELECT", "SELECT_V2", "STABLEHLO_CLAMP"}


def gpu_compatibility(model, op_list) -> dict:
    """The rules on every op of ``op_list`` (:func:`kvid.export.audit.audit`'s, in the order of
    ``model``'s subgraphs and operators; ``model``: the parsed flatbuffer, for each op's builtin
    options): ``{"ok", "problems": ["OP#i: why"], "ops_checked"}``."""
    options = [op.builtinOptions for sg in (model.subgraphs or []) for op in (sg.operators or [])]
    if len(options) != len(op_list):
        raise ValueError(f"{len(op_list)} ops listed for a model of {len(options)} operators")
    problems = []
    for entry, opts in zip(op_list, options):
        name = entry["op"]
        op = _Op(name, entry["inputs"], entry["outputs"], opts)
        if name.startswith("CUSTOM:"):
            problem = f"Not supported custom op {name[len('CUSTOM:'):]}"
        elif name in _RULES:
            problem = _RULES[name](op)
        elif name in _NOT_PORTED:
            problem = f"Not checked: kvid does not port the GPU delegate's rule for {name}"
        else:
            problem = f"Not supported op {name}"
        if problem:
            problems.append(f"{name}#{entry['index']}: {problem}")
    return {"ok": not problems, "problems": problems, "ops_checked": len(op_list)}


__all__ = ["gpu_compatibility"]
