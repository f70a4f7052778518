"""A TFLite graph as kvid's profiler sees it: ops in execution order, the kvid block and op
kind of each, its multiply-adds, and sub-models cut out of it (TF-free).

Reads and writes the flatbuffer with the schema ai-edge-litert ships
(``ai_edge_litert.schema_py_generated``, object API) and the ``flatbuffers`` package it
depends on. Nothing here runs a model; :mod:`kvid.runtime.profile` times what this builds.

* :class:`Graph` - the ops of subgraph 0 with their kvid names: a kvid layer is named
  ``<block>__<part>`` (docs/INTERFACES.md, "Layer naming"), and the converter names each op's
  output tensor ``<model>/<layer>/<tf op>`` (``quant_<layer>`` in a QAT export), so every op
  knows its block;
* :func:`op_kind` - the op's kind for the per-type profile: dense / grouped / depthwise conv
  (1x1, spatial ``k x k`` or temporal ``k x 1``), data movement, element-wise, pooling;
* :meth:`Graph.submodel` - a model of any subset of the ops: tensors produced outside the
  subset become its inputs, tensors used after it (or graph outputs) its outputs, constants
  and quantisation parameters are kept, unused buffers dropped;
* :func:`conv_model` - a single large CONV_2D (int8 per-channel or float32) written from
  scratch: the machine's practical peak (the roofline of ``bench_latency.py``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from kvid import KvidError


def schema():
    """The TFLite flatbuffer schema module (ai-edge-litert's), or a clear error."""
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError:
        raise KvidError("profiling reads the TFLite flatbuffer with ai-edge-litert's schema: "
                        "pip install 'kvid[runtime]'") from None
    return schema_py_generated


def _names(enum_class) -> dict:
    return {v: k for k, v in vars(enum_class).items() if not k.startswith("_")}


def _text(name) -> str:
    return name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name or "")


def layer_of(tensor_name: str) -> str:
    """The Keras layer that produced a tensor, from the converter's tensor name.

    ``ctnet_r50/quant_res2_2__ct_1_spatial_relu/Relu;ctnet_r50/quant_res2_2__ct_1_spatial/Conv2D``
    -> ``res2_2__ct_1_spatial_relu``: the first ``/``-component after the model name (without
    QAT's ``quant_`` prefix) of the first ``;``-segment that names a kvid ``<block>__<part>``
    layer; otherwise that component of the first segment.
    """
    fallback = None
    for segment in tensor_name.split(";"):
        parts = segment.split("/")
        for comp in parts[1:] if len(parts) > 1 else parts:
            comp = comp[len("quant_"):] if comp.startswith("quant_") else comp
            if "__" in comp:
                return comp
            if fallback is None and comp:
                fallback = comp
    return fallback or tensor_name


def block_of(layer: str) -> str:
    """``res2_2__conv_a`` -> ``res2_2``; a layer outside any block is its own block."""
    return layer.split("__", 1)[0]


@dataclass
class Op:
    index: int
    type: str
    inputs: list
    outputs: list
    layer: str
    block: str
    kind: str
    macs: int
    shape: list = field(default_factory=list)  # first output's shape


class Graph:
    """The ops of a ``.tflite`` file's main subgraph (see the module docstring)."""

    def __init__(self, path_or_bytes):
        s = schema()
        if isinstance(path_or_bytes, (bytes, bytearray)):
            self.path, data = "<bytes>", bytes(path_or_bytes)
        else:
            self.path = os.fspath(path_or_bytes)
            if not os.path.isfile(self.path):
                raise KvidError(f"{self.path}: no such file")
            with open(self.path, "rb") as fh:
                data = fh.read()
        if len(data) < 8 or data[4:8] != b"TFL3":
            raise KvidError(f"{self.path}: not a TFLite model (no TFL3 identifier)")
        try:
            self.model = s.ModelT.InitFromObj(s.Model.GetRootAsModel(data, 0))
        except Exception as exc:  # a truncated or corrupt flatbuffer
            raise KvidError(f"{self.path}: corrupt TFLite file ({type(exc).__name__})") from None
        if not self.model.subgraphs:
            raise KvidError(f"{self.path}: no subgraph")
        self.subgraph = self.model.subgraphs[0]
        op_names, self.type_names = _names(s.BuiltinOperator), _names(s.TensorType)
        self.tensors = self.subgraph.tensors or []
        self.ops = []
        for index, op in enumerate(self.subgraph.operators or []):
            code = self.model.operatorCodes[op.opcodeIndex]
            builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
            kind_name = op_names.get(builtin, str(builtin))
            if kind_name == "CUSTOM":
                kind_name = f"CUSTOM:{_text(code.customCode)}"
            inputs = [int(i) for i in (op.inputs if op.inputs is not None else [])]
            outputs = [int(i) for i in (op.outputs if op.outputs is not None else [])]
            out_name = _text(self.tensors[outputs[0]].name) if outputs else ""
            layer = layer_of(out_name)
            entry = Op(index, kind_name, inputs, outputs, layer, block_of(layer), "", 0,
                       self.shape(outputs[0]) if outputs else [])
            entry.kind, entry.macs = op_kind(self, entry), op_macs(self, entry)
            self.ops.append(entry)

    def shape(self, tensor_index) -> list:
        t = self.tensors[tensor_index]
        return [int(d) for d in (t.shape if t.shape is not None else [])]

    def dtype(self, tensor_index) -> str:
        return self.type_names.get(self.tensors[tensor_index].type, "?").lower()

    def is_constant(self, tensor_index) -> bool:
        buffer = self.tensors[tensor_index].buffer
        return 0 < buffer < len(self.model.buffers) and self.model.buffers[buffer].data is not None

    @property
    def macs(self) -> int:
        return sum(op.macs for op in self.ops)

    @property
    def params(self) -> int:
        """Elements of the constant float / int8 tensors the ops use (weights and biases; BN
        is folded into them, shape constants are int32 and not counted)."""
        seen, total = set(), 0
        for op in self.ops:
            for t in op.inputs:
                if t >= 0 and t not in seen and self.is_constant(t) and self.dtype(t) in (
                        "float32", "float16", "int8"):
                    seen.add(t)
                    total += int(np.prod(self.shape(t) or [1]))
        return total

    def segments(self) -> list:
        """Runs of consecutive ops of the same block: ``[(block, [op indices])]``."""
        runs = []
        for op in self.ops:
            if runs and runs[-1][0] == op.block:
                runs[-1][1].append(op.index)
            else:
                runs.append((op.block, [op.index]))
        return runs

    def submodel(self, op_indices) -> bytes:
        """A model of the ops ``op_indices`` alone (module docstring), as flatbuffer bytes."""
        import copy

        import flatbuffers

        s = schema()
        chosen = sorted(set(int(i) for i in op_indices))
        if not chosen:
            raise KvidError(f"{self.path}: a sub-model needs at least one op")
        inside = set(chosen)
        produced, used = set(), []
        for i in chosen:
            op = self.ops[i]
            used += [t for t in op.inputs if t >= 0] + op.outputs
            produced.update(op.outputs)
        graph_outputs = set(int(i) for i in self.subgraph.outputs)
        needed_later = set(graph_outputs)
        for op in self.ops:
            if op.index not in inside:
                needed_later.update(t for t in op.inputs if t >= 0)
        inputs = []
        for i in chosen:
            for t in self.ops[i].inputs:
                if t >= 0 and t not in produced and not self.is_constant(t) and t not in inputs:
                    inputs.append(t)
        outputs = [t for i in chosen for t in self.ops[i].outputs if t in needed_later]
        if not outputs:
            outputs = list(self.ops[chosen[-1]].outputs)

        remap, tensors, buffers, new_buffer = {}, [], [s.BufferT()], {}
        for t in dict.fromkeys(used):
            tensor = copy.copy(self.tensors[t])
            if self.is_constant(t):
                if tensor.buffer not in new_buffer:
                    new_buffer[tensor.buffer] = len(buffers)
                    buffers.append(self.model.buffers[tensor.buffer])
                tensor.buffer = new_buffer[tensor.buffer]
            else:
                tensor.buffer = 0
            tensor.shapeSignature = None
            remap[t] = len(tensors)
            tensors.append(tensor)
        sub = s.SubGraphT()
        sub.tensors = tensors
        sub.inputs = [remap[t] for t in inputs]
        sub.outputs = [remap[t] for t in outputs]
        sub.operators = []
        for i in chosen:
            op = copy.copy(self.subgraph.operators[i])
            op.inputs = [remap[t] if t >= 0 else -1 for t in self.ops[i].inputs]
            op.outputs = [remap[t] for t in self.ops[i].outputs]
            op.intermediates = None
            sub.operators.append(op)
        sub.name = b"profile"
        model = s.ModelT()
        model.version = self.model.version
        model.operatorCodes = self.model.operatorCodes
        model.subgraphs = [sub]
        model.buffers = buffers
        model.description = b"kvid profile segment"
        return _pack(model, flatbuffers)


def _pack(model, flatbuffers) -> bytes:
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


CONVS = ("CONV_2D", "DEPTHWISE_CONV_2D", "CONV_3D", "TRANSPOSE_CONV")
MOVES = ("RESHAPE", "TRANSPOSE", "CONCATENATION", "PAD", "PADV2", "STRIDED_SLICE", "SLICE",
         "SPLIT", "SPLIT_V", "TILE", "SQUEEZE", "EXPAND_DIMS", "GATHER", "PACK", "UNPACK",
         "BROADCAST_TO")
ELEMENTWISE = ("ADD", "SUB", "MUL", "DIV", "ABS", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE")
POOLS = ("MAX_POOL_2D", "AVERAGE_POOL_2D", "MEAN", "SUM", "REDUCE_MAX")


def _kernel(graph, op):
    """``(kh, kw, cin_per_group)`` of a conv's filter, or None."""
    if len(op.inputs) < 2 or op.inputs[1] < 0:
        return None
    f = graph.shape(op.inputs[1])
    if op.type == "CONV_2D" and len(f) == 4:  # (F, kh, kw, C/g)
        return f[1], f[2], f[3]
    if op.type == "DEPTHWISE_CONV_2D" and len(f) == 4:  # (1, kh, kw, C*m)
        return f[1], f[2], 1
    return None


def op_kind(graph, op) -> str:
    """The op's kind for the per-type profile, e.g. ``CONV_2D grouped 3x3``, ``CONV_2D 1x1``,
    ``CONV_2D temporal 3x1``, ``RESHAPE``, ``MUL``; ops kvid has no finer kind for keep
    their TFLite name."""
    if op.type in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        k = _kernel(graph, op)
        if k is None:
            return op.type
        kh, kw, cin_g = k
        size = f"{kh}x{kw}"
        shape = "1x1" if (kh, kw) == (1, 1) else f"temporal {size}" if kw == 1 and kh > 1 else size
        if op.type == "DEPTHWISE_CONV_2D":
            return f"DEPTHWISE_CONV_2D {shape}"
        cin = graph.shape(op.inputs[0])[-1]
        return f"CONV_2D grouped {shape}" if cin != cin_g else f"CONV_2D {shape}"
    return op.type


def op_macs(graph, op) -> int:
    """Multiply-adds of an op (convs and dense layers only, as the papers count)."""
    if not op.outputs:
        return 0
    out = int(np.prod(graph.shape(op.outputs[0]) or [0]))
    if op.type in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        k = _kernel(graph, op)
        return out * k[0] * k[1] * k[2] if k else 0
    if op.type == "FULLY_CONNECTED" and len(op.inputs) > 1:
        return out * graph.shape(op.inputs[1])[-1]
    if op.type == "CONV_3D" and len(op.inputs) > 1:  # filter (kt, kh, kw, C/g, F)
        f = graph.shape(op.inputs[1])
        return out * f[0] * f[1] * f[2] * f[3]
    if op.type == "BATCH_MATMUL" and len(op.inputs) > 1:
        a = graph.shape(op.inputs[0])
        return out * (a[-1] if a else 0)
    return 0


def conv_model(height=56, width=56, cin=256, cout=256, kernel=3, batch=1, dtype="int8",
               seed=0) -> bytes:
    """One dense ``kernel x kernel`` CONV_2D, SAME padding, stride 1, written from scratch:
    int8 activations with per-channel int8 weights and int32 bias (what kvid's exports hold),
    or float32. Its MACs: ``batch*height*width*cout*kernel*kernel*cin``."""
    import flatbuffers

    s = schema()
    rng = np.random.default_rng(seed)
    kernel_shape = (cout, kernel, kernel, cin)

    def tensor(shape, ttype, buffer, name, quant=None):
        t = s.TensorT()
        t.shape, t.type, t.buffer, t.name, t.quantization = list(shape), ttype, buffer, name, quant
        return t

    def quant(scales, zero_points, axis=0):
        q = s.QuantizationParametersT()
        q.scale, q.zeroPoint, q.quantizedDimension = list(scales), list(zero_points), axis
        return q

    def buffer(array):
        b = s.BufferT()
        b.data = np.frombuffer(np.ascontiguousarray(array).tobytes(), np.uint8)
        return b

    act_shape = (batch, height, width, cin)
    out_shape = (batch, height, width, cout)
    if dtype == "int8":
        w_scales = rng.uniform(0.002, 0.02, cout).astype(np.float32)
        weights = rng.integers(-127, 128, kernel_shape, dtype=np.int8)
        bias = rng.integers(-1000, 1000, cout, dtype=np.int32)
        in_scale = 0.05
        tensors = [
            tensor(act_shape, s.TensorType.INT8, 0, b"input", quant([in_scale], [-3])),
            tensor(kernel_shape, s.TensorType.INT8, 1, b"filter", quant(w_scales, [0] * cout)),
            tensor((cout,), s.TensorType.INT32, 2, b"bias", quant(w_scales * in_scale, [0] * cout)),
            tensor(out_shape, s.TensorType.INT8, 0, b"output", quant([0.5], [5])),
        ]
        version = 3
    elif dtype == "float32":
        weights = rng.normal(0, 0.05, kernel_shape).astype(np.float32)
        bias = np.zeros(cout, np.float32)
        tensors = [
            tensor(act_shape, s.TensorType.FLOAT32, 0, b"input"),
            tensor(kernel_shape, s.TensorType.FLOAT32, 1, b"filter"),
            tensor((cout,), s.TensorType.FLOAT32, 2, b"bias"),
            tensor(out_shape, s.TensorType.FLOAT32, 0, b"output"),
        ]
        version = 1
    else:
        raise KvidError(f"conv_model: dtype must be int8 or float32, got {dtype!r}")
    options = s.Conv2DOptionsT()
    options.padding, options.strideH, options.strideW = s.Padding.SAME, 1, 1
    op = s.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0, 1, 2], [3]
    op.builtinOptionsType, op.builtinOptions = s.BuiltinOptions.Conv2DOptions, options
    code = s.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = s.BuiltinOperator.CONV_2D
    code.version = version
    sub = s.SubGraphT()
    sub.tensors, sub.inputs, sub.outputs, sub.operators = tensors, [0], [3], [op]
    sub.name = b"roofline"
    model = s.ModelT()
    model.version, model.operatorCodes, model.subgraphs = 3, [code], [sub]
    model.buffers = [s.BufferT(), buffer(weights), buffer(bias)]
    model.description = b"kvid roofline conv"
    return _pack(model, flatbuffers)


__all__ = ["Graph", "Op", "layer_of", "block_of", "op_kind", "op_macs", "conv_model", "schema"]
