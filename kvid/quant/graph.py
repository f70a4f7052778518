"""TFLite graphs tensor by tensor, TensorFlow-free: the activation tensors of a file with their
quantisation, their values for a clip, and which tensor of one file is which tensor of another
file of the same network (a quantized file against its float reference).

Values come from ai-edge-litert with ``experimental_preserve_all_tensors`` and the builtin
kernels (XNNPACK fuses ops and frees their intermediate tensors), so they are the builtin
kernels' numbers; ``kvid bench`` times the XNNPACK path.

Tensor names are the converter's (the TF op names that produced them, fused ones joined by
``;``); ai-edge-quantizer keeps the float file's names, and a QAT file's names differ from its
float reference only by tfmot's ``quant_`` layer prefix and its fake-quant op names, which
:func:`name_key` removes.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from kvid import KvidError
from kvid.export.audit import layer_of, read_model, enum_names, tflite_schema
from kvid.runtime.interpreter import dequantize, quantize

_FAKE_QUANT_PARTS = ("FakeQuant", "MovingAvgQuantize", "LastValueQuant", "AllValuesQuantize")


@dataclasses.dataclass
class Tensor:
    """One activation tensor: the graph input or an op's non-constant output."""

    index: int
    name: str
    layer: str  # the Keras layer it comes from (kvid.export.audit.layer_of)
    dtype: str  # "int8", "int16", "float32", ...
    shape: tuple
    scale: float | None  # per-tensor quantisation (None: float tensor)
    zero_point: int | None
    op: str  # producing op ("INPUT" for the graph input)
    depth: int  # the producing op's position in execution order (0: the input)
    inputs: tuple = ()  # indices of the activation tensors the producing op reads

    @property
    def block(self) -> str:
        """The paper block (layers are named ``<block>__<part>``)."""
        return self.layer.split("__")[0]

    @property
    def range_used(self) -> tuple[float, float] | None:
        """The real values the quantized type can hold: ``scale * (qmin - zp) .. scale * (qmax - zp)``."""
        if self.scale is None:
            return None
        info = np.iinfo(np.dtype(self.dtype))
        return (self.scale * (info.min - self.zero_point), self.scale * (info.max - self.zero_point))


def activation_tensors(path) -> list[Tensor]:
    """The activation tensors of ``path`` (subgraph 0) in execution order."""
    schema = tflite_schema()
    model = read_model(path)
    op_names = enum_names(schema.BuiltinOperator)
    type_names = enum_names(schema.TensorType)
    sg = model.subgraphs[0]
    tensors = sg.tensors or []

    def is_const(i):
        t = tensors[i]
        return t.buffer < len(model.buffers) and model.buffers[t.buffer].data is not None

    def make(i, op, depth, inputs=()):
        t = tensors[i]
        q = t.quantization
        scales = None if q is None or q.scale is None else list(q.scale)
        dtype = type_names.get(t.type, str(t.type)).lower()
        per_tensor = scales is not None and len(scales) == 1 and dtype not in ("float32", "float16")
        name = t.name.decode() if isinstance(t.name, bytes) else str(t.name)
        return Tensor(index=i, name=name, layer=layer_of(name), dtype=dtype,
                      shape=tuple(int(d) for d in (t.shape if t.shape is not None else [])),
                      scale=float(scales[0]) if per_tensor else None,
                      zero_point=int(q.zeroPoint[0]) if per_tensor else None,
                      op=op, depth=depth, inputs=tuple(inputs))

    out = [make(int(i), "INPUT", 0) for i in sg.inputs]
    for depth, op in enumerate(sg.operators or [], 1):
        code = model.operatorCodes[op.opcodeIndex]
        name = op_names.get(max(int(code.builtinCode), int(code.deprecatedBuiltinCode)), "CUSTOM")
        inputs = [int(i) for i in (op.inputs if op.inputs is not None else []) if int(i) >= 0 and not is_const(int(i))]
        for i in op.outputs if op.outputs is not None else []:
            if int(i) >= 0 and not is_const(int(i)):
                out.append(make(int(i), name, depth, inputs))
    return out


def name_key(name: str) -> frozenset:
    """A tensor name without what only a QAT graph has (``quant_`` prefixes, fake-quant ops)."""
    parts = []
    for part in name.split(";"):
        if not part or any(f in part for f in _FAKE_QUANT_PARTS):
            continue
        parts.append("/".join(p[len("quant_"):] if p.startswith("quant_") else p for p in part.split("/")))
    return frozenset(parts)


def match_tensors(quantized: list[Tensor], reference: list[Tensor]) -> dict[int, Tensor]:
    """Which reference tensor each quantized tensor is: ``{quantized index: reference Tensor}``.

    Same shape always; then, in this order, the same name, the same name without QAT parts
    (:func:`name_key`), the same producing op and layer, the same layer; each reference tensor
    is used once. The graph inputs match each other. Unmatched tensors are left out.
    """
    free = list(reference)
    matched = {}
    rules = (
        lambda q, r: q.op == "INPUT" and r.op == "INPUT",
        lambda q, r: q.name == r.name,
        lambda q, r: name_key(q.name) == name_key(r.name) and bool(name_key(q.name)),
        lambda q, r: q.op == r.op and q.layer == r.layer,
        lambda q, r: q.layer == r.layer,
    )
    for rule in rules:
        for q in quantized:
            if q.index in matched:
                continue
            for r in free:
                if r.shape == q.shape and rule(q, r):
                    matched[q.index] = r
                    free.remove(r)
                    break
    return matched


class TensorReader:
    """Runs a ``.tflite`` on a clip and returns every activation tensor's real values."""

    def __init__(self, path, threads: int = 2):
        try:
            from ai_edge_litert.interpreter import Interpreter, OpResolverType
        except ImportError:
            raise KvidError("kvid quant needs ai-edge-litert (pip install 'kvid[quant]')") from None
        self.path = os.fspath(path)
        self.tensors = activation_tensors(path)
        try:
            self.interpreter = Interpreter(
                model_path=self.path, num_threads=threads, experimental_preserve_all_tensors=True,
                experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise KvidError(f"{self.path}: cannot load TFLite model: {str(exc).strip().splitlines()[0]}") from None
        self.input = self.interpreter.get_input_details()[0]

    def run(self, clip, indices=None) -> dict[int, np.ndarray]:
        """``{tensor index: float32 values}`` for ``clip`` (raw pixels ``(T, H, W, 3)``)."""
        clip = np.asarray(clip, np.float32).reshape(tuple(self.input["shape"]))
        self.interpreter.set_tensor(self.input["index"], quantize(clip, self.input["dtype"], *self.input["quantization"]))
        self.interpreter.invoke()
        wanted = None if indices is None else set(indices)
        values = {}
        for t in self.tensors:
            if wanted is not None and t.index not in wanted:
                continue
            raw = self.interpreter.get_tensor(t.index)
            values[t.index] = (np.asarray(raw, np.float32) if t.scale is None
                               else dequantize(raw, t.scale, t.zero_point))
        return values


def dtype_summary(path) -> dict[str, int]:
    """How many activation tensors of each type ``path`` has (read from the file)."""
    counts = {}
    for t in activation_tensors(path):
        counts[t.dtype] = counts.get(t.dtype, 0) + 1
    return counts
