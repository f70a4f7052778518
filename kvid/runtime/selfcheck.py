"""A self-check of the TFLite runtime that needs no TensorFlow and no model file.

``kvid doctor`` must also work on a runtime-only install, where nothing can convert a Keras
model. So this module writes a tiny int8 TFLite model itself, with the flatbuffer schema that
ships with the interpreter (ai-edge-litert's ``schema_py_generated`` and ``flatbuffers``, a
dependency of ai-edge-litert): one grouped ``CONV_2D`` - the op SEVNet, MF-Net and CT-Net stand
on, and the one that is ~50x slower without XNNPACK - with per-channel int8 weights, int32
bias, a fused ReLU and kvid's input convention (scale 1, zero point -128). The file is run on
XNNPACK and on the builtin reference kernels, and each output is compared with the same
convolution done in integer arithmetic in numpy (:func:`integer_conv`): TFLite's int8 kernels
requantise with fixed-point or float multipliers, so an output may be one step from the
exactly rounded value, never more.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from kvid import KvidError

# The model: a clip of T frames H x W with C channels, a 3x3 grouped conv with G groups to F.
T, H, W, C, G, F = 2, 8, 8, 4, 2, 8
INPUT_SCALE, INPUT_ZERO_POINT = 1.0, -128  # kvid's int8 input: raw pixel p -> p - 128
OUTPUT_SCALE, OUTPUT_ZERO_POINT = 8.0, -128  # ReLU output: 0 maps to -128


def _schema():
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:
        try:
            from tflite_runtime import schema_py_generated as schema  # type: ignore
        except ImportError:
            raise KvidError("no TFLite flatbuffer schema (ai-edge-litert) to write the self-check model") from None
    return schema


def parameters(seed: int = 0) -> dict:
    """The model's weights: int8 kernel ``(F, 3, 3, C // G)``, per-channel scales ``(F,)``,
    int32 bias ``(F,)``."""
    rng = np.random.default_rng(seed)
    kernel = rng.integers(-127, 128, (F, 3, 3, C // G)).astype(np.int8)
    scales = rng.uniform(0.002, 0.006, F).astype(np.float32)
    bias = rng.integers(-20000, 20000, F).astype(np.int32)
    return {"kernel": kernel, "scales": scales, "bias": bias}


def grouped_conv_model(params: dict) -> bytes:
    """The flatbuffer of the one-op model (module text) with ``params``."""
    import flatbuffers

    s = _schema()

    def tensor(shape, dtype, buffer, name, scale=None, zero_point=None):
        t = s.TensorT()
        t.shape, t.type, t.buffer, t.name = list(shape), dtype, buffer, name
        if scale is not None:
            q = s.QuantizationParametersT()
            q.scale = [float(v) for v in np.atleast_1d(scale)]
            q.zeroPoint = [int(v) for v in np.atleast_1d(zero_point)]
            q.quantizedDimension = 0
            t.quantization = q
        return t

    def buffer(data=None):
        b = s.BufferT()
        if data is not None:
            b.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
        return b

    kernel, scales, bias = params["kernel"], params["scales"], params["bias"]
    subgraph = s.SubGraphT()
    subgraph.tensors = [
        tensor((T, H, W, C), s.TensorType.INT8, 0, "clip", INPUT_SCALE, INPUT_ZERO_POINT),
        tensor(kernel.shape, s.TensorType.INT8, 1, "kernel", scales, np.zeros(F, np.int64)),
        tensor(bias.shape, s.TensorType.INT32, 2, "bias", scales * INPUT_SCALE, np.zeros(F, np.int64)),
        tensor((T, H, W, F), s.TensorType.INT8, 0, "output", OUTPUT_SCALE, OUTPUT_ZERO_POINT),
    ]
    subgraph.inputs, subgraph.outputs, subgraph.name = [0], [3], "main"
    options = s.Conv2DOptionsT()
    options.padding, options.strideH, options.strideW = s.Padding.SAME, 1, 1
    options.dilationHFactor = options.dilationWFactor = 1
    options.fusedActivationFunction = s.ActivationFunctionType.RELU
    op = s.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0, 1, 2], [3]
    op.builtinOptionsType, op.builtinOptions = s.BuiltinOptions.Conv2DOptions, options
    subgraph.operators = [op]
    code = s.OperatorCodeT()
    # version 6: grouped convolution (what the TFLite converter writes for kvid's grouped convs)
    code.builtinCode = code.deprecatedBuiltinCode = s.BuiltinOperator.CONV_2D
    code.version = 6
    model = s.ModelT()
    model.version, model.description = 3, "kvid runtime self-check: one grouped int8 CONV_2D"
    model.operatorCodes, model.subgraphs = [code], [subgraph]
    model.buffers = [buffer(), buffer(kernel), buffer(bias)]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def integer_conv(q_input: np.ndarray, params: dict) -> np.ndarray:
    """The model's output computed exactly: int32 accumulation of ``(x - zx) * w`` over each
    group's 3x3 window (SAME padding with the input's zero point), plus the bias, requantised
    with ``sx * sw / so`` (rounded to nearest), the output zero point added, ReLU and int8
    saturation."""
    kernel, scales, bias = params["kernel"], params["scales"], params["bias"]
    x = np.pad(q_input.astype(np.int64) - INPUT_ZERO_POINT, ((0, 0), (1, 1), (1, 1), (0, 0)))
    per_group_in, per_group_out = C // G, F // G
    acc = np.zeros((T, H, W, F), np.int64)
    for o in range(F):
        g = o // per_group_out
        window = x[..., g * per_group_in:(g + 1) * per_group_in]
        for dy in range(3):
            for dx in range(3):
                acc[..., o] += window[:, dy:dy + H, dx:dx + W, :] @ kernel[o, dy, dx].astype(np.int64)
    acc += bias.astype(np.int64)
    multiplier = INPUT_SCALE * scales.astype(np.float64) / OUTPUT_SCALE
    out = np.round(acc * multiplier) + OUTPUT_ZERO_POINT
    return np.clip(out, OUTPUT_ZERO_POINT, 127).astype(np.int8)  # fused ReLU: real 0 -> zero point


def _written(tmp: str, params: dict) -> str:
    path = os.path.join(tmp, "selfcheck_grouped_conv.tflite")
    with open(path, "wb") as fh:
        fh.write(grouped_conv_model(params))
    return path


def xnnpack_available(threads: int | None = None) -> bool | None:
    """Whether this runtime's XNNPACK takes a grouped int8 conv (None: it does not say)."""
    from kvid.runtime.interpreter import ClipModel

    with tempfile.TemporaryDirectory() as tmp:
        return ClipModel(_written(tmp, parameters()), threads=threads).xnnpack


def check_runtime(threads: int | None = None, seed: int = 0) -> dict:
    """Run the self-check model on XNNPACK and on the reference kernels against
    :func:`integer_conv`: ``{"ok", "runtime", "xnnpack", "max_steps": {"xnnpack",
    "reference"}, "problem"}``."""
    from kvid.runtime.interpreter import ClipModel, runtime_name

    params = parameters(seed)
    rng = np.random.default_rng(seed + 1)
    q_input = rng.integers(-128, 128, (T, H, W, C)).astype(np.int8)
    expected = integer_conv(q_input, params).astype(np.int32)
    with tempfile.TemporaryDirectory() as tmp:
        path = _written(tmp, params)
        steps, active = {}, None
        for name, xnnpack in (("xnnpack", True), ("reference", False)):
            model = ClipModel(path, threads=threads, xnnpack=xnnpack)
            model.interpreter.set_tensor(model.input["index"], q_input)
            model.interpreter.invoke()
            got = model.interpreter.get_tensor(model.output["index"]).astype(np.int32)
            steps[name] = int(np.max(np.abs(got - expected)))
            if xnnpack:
                active = model.xnnpack
    bad = [name for name, value in steps.items() if value > 1]
    problem = (f"grouped int8 CONV_2D on {' and '.join(bad)} is {max(steps[b] for b in bad)} output steps "
               "from integer arithmetic (at most 1 expected)") if bad else None
    return {"ok": not bad, "runtime": runtime_name(), "xnnpack": active, "max_steps": steps, "problem": problem}


__all__ = ["check_runtime", "grouped_conv_model", "integer_conv", "parameters", "xnnpack_available"]
