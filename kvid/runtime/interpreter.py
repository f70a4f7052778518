"""Loading a TFLite interpreter and running one clip through it, TensorFlow-free."""

from __future__ import annotations

import os
import sys

import numpy as np

from kvid import KvidError


def _interpreter_class():
    """The best available Interpreter class: ai_edge_litert, tflite_runtime, tf.lite."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, "ai_edge_litert"
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter

        return Interpreter, "tflite_runtime"
    except ImportError:
        pass
    try:
        import tensorflow as tf

        return tf.lite.Interpreter, "tensorflow"
    except ImportError:
        from kvid.environment import needs_extra

        raise KvidError("no TFLite interpreter: " + needs_extra("kvid.runtime", "runtime", ["ai_edge_litert"])) from None


def load_interpreter(path, threads: int | None = None, xnnpack: bool = True):
    """An allocated interpreter for ``path``; XNNPACK on unless ``xnnpack=False``."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise KvidError(f"{path}: no such file")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if len(head) < 8 or head[4:8] != b"TFL3":
        raise KvidError(f"{path}: not a TFLite model (no TFL3 identifier)")
    cls, _ = _interpreter_class()
    kwargs = {"model_path": path, "num_threads": threads}
    if not xnnpack:
        # Builtin reference/optimized kernels without the default XNNPACK delegate.
        try:
            from ai_edge_litert.interpreter import OpResolverType
        except ImportError:
            from tflite_runtime.interpreter import OpResolverType  # type: ignore
        kwargs["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    try:
        interpreter = cls(**kwargs)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise KvidError(f"{path}: cannot load TFLite model: {first}") from None
    if xnnpack and xnnpack_active(interpreter) is False and not _said["no_xnnpack"]:
        _said["no_xnnpack"] = True
        print(f"kvid: warning: XNNPACK took none of {path}'s ops ({runtime_name()} here has no XNNPACK, or it "
              "refused them): it runs on TFLite's builtin kernels, where grouped convolutions are ~50x slower",
              file=sys.stderr)
    return interpreter


_said = {"no_xnnpack": False}  # what the runtime has said once in this process


def xnnpack_active(interpreter) -> bool | None:
    """Whether XNNPACK runs any op of an allocated ``interpreter``: the default delegate
    replaces the ops it takes by ``DELEGATE`` nodes. None where the interpreter does not list
    its nodes."""
    try:
        nodes = interpreter._get_ops_details()  # private, but tf.lite, ai_edge_litert and tflite_runtime all have it
    except (AttributeError, RuntimeError, ValueError):
        return None
    return any(node.get("op_name") == "DELEGATE" for node in nodes)


def quantize(x, dtype, scale, zero_point) -> np.ndarray:
    """Float values -> the integer tensor TFLite expects: ``round(x / scale) + zero_point``,
    saturated (round half to even, in float32 - the Android core does the same)."""
    dtype = np.dtype(dtype)
    if dtype == np.float32:
        return np.asarray(x, np.float32)
    info = np.iinfo(dtype)
    q = np.round(np.asarray(x, np.float32) / np.float32(scale)) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(q, scale, zero_point) -> np.ndarray:
    """An output tensor -> float32 values: ``(q - zero_point) * scale``."""
    q = np.asarray(q)
    if q.dtype == np.float32:
        return q
    return (q.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)


def quantize_for(x, details) -> np.ndarray:
    """:func:`quantize` for the tensor an interpreter describes with ``details`` (its
    ``dtype`` and ``quantization``; a float32 tensor takes the floats as they are)."""
    return quantize(x, details["dtype"], *details["quantization"])


def dequantize_from(q, details) -> np.ndarray:
    """:func:`dequantize` of a tensor an interpreter describes with ``details``."""
    if np.dtype(details["dtype"]) == np.float32:
        return np.asarray(q, np.float32)
    return dequantize(q, *details["quantization"])


def runtime_name() -> str:
    """Which interpreter package kvid.runtime uses here."""
    return _interpreter_class()[1]


class ClipModel:
    """A single-input, single-output kvid TFLite model: clip in, scores out.

    ``__call__`` takes a float clip ``(T, H, W, 3)`` of raw pixels 0..255 and returns float32
    logits ``(num_classes,)``; int8 inputs are quantized with the model's own scale and zero
    point (for kvid int8 exports scale 1, zero point -128: ``round(p) - 128``), int8 outputs
    dequantized.
    """

    def __init__(self, path, threads: int | None = None, xnnpack: bool = True):
        self.path = os.fspath(path)
        self.interpreter = load_interpreter(path, threads=threads, xnnpack=xnnpack)
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        # True/False: XNNPACK runs (some of) the ops or not; None: the runtime does not say
        self.xnnpack = xnnpack_active(self.interpreter) if xnnpack else False

    @property
    def input_shape(self):
        return tuple(int(d) for d in self.input["shape"])

    def quantize_input(self, clip) -> np.ndarray:
        """The exact input tensor this model gets for ``clip`` (raw pixels 0..255)."""
        clip = np.asarray(clip, dtype=np.float32)
        if clip.shape != self.input_shape:
            raise KvidError(
                f"{self.path}: clip shape {clip.shape} does not match the model input "
                f"{self.input_shape}"
            )
        return quantize(clip, self.input["dtype"], *self.input["quantization"])

    def run_tensor(self, tensor: np.ndarray) -> np.ndarray:
        self.interpreter.set_tensor(self.input["index"], tensor)
        self.interpreter.invoke()
        out = self.interpreter.get_tensor(self.output["index"])
        return dequantize(out, *self.output["quantization"]).reshape(-1)

    def __call__(self, clip) -> np.ndarray:
        return self.run_tensor(self.quantize_input(clip))

    def predict(self, clips) -> np.ndarray:
        """Logits ``(N, num_classes)`` of the clips ``(N, T, H, W, 3)``, one invoke each."""
        return np.stack([self(clip) for clip in clips])
