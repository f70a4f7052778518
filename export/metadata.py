"""The sidecar of an exported file: what the file itself says (input/output tensors and their
quantisation, read with the TF-free runtime) joined with what kvid knows (labels, model, the
clip spec). The format, its one reader and its one writer are the contract's
(:mod:`kvid.contract.sidecar`); this module only fills it in for a ``.tflite`` on disk.
"""

from __future__ import annotations

from kvid.contract import ClipSpec
from kvid.contract import sidecar as contract


def tensor_spec(detail) -> dict:
    """A TFLite tensor detail -> the sidecar's ``{"name", "shape", "dtype", "scale", "zero_point"}``."""
    scale, zero_point = detail["quantization"]
    dtype = getattr(detail["dtype"], "__name__", str(detail["dtype"]))
    is_float = dtype.startswith("float")
    return {
        "name": detail["name"],
        "shape": [int(d) for d in detail["shape"]],
        "dtype": dtype,
        "scale": None if is_float else float(scale),
        "zero_point": None if is_float else int(zero_point),
    }


def sidecar_for(tflite_path, *, model_name, labels=None, clip: ClipSpec | None = None,
                mode="int8", faster=None, output=None, extra=None) -> dict:
    """The sidecar of ``tflite_path``: its input/output tensors, ``labels`` (None:
    ``class_0``...), ``clip`` (None: one centred dense clip of the model's input) and ``mode``.
    FASTER: ``tflite_path`` is a clip model (the input side), ``output`` the step's logits
    tensor spec and ``faster`` the protocol (:mod:`kvid.contract.faster`)."""
    from kvid.runtime.interpreter import load_interpreter

    interpreter = load_interpreter(tflite_path)
    inp = tensor_spec(interpreter.get_input_details()[0])
    out = dict(output) if output is not None else tensor_spec(interpreter.get_output_details()[0])
    t, h = inp["shape"][0], inp["shape"][1]
    classes = 1
    for d in out["shape"]:
        classes *= int(d)
    labels = list(labels) if labels is not None else [f"class_{i}" for i in range(classes)]
    clip = clip if clip is not None else ClipSpec(frames=t, crop=h)
    return contract.make_sidecar(model=model_name, labels=labels, clip=clip, input_tensor=inp,
                                 output_tensor=out, mode=mode, faster=faster, extra=extra,
                                 where=str(tflite_path))


def write_sidecar_for(tflite_path, **kwargs) -> dict:
    """:func:`sidecar_for` written beside the file (``F.tflite`` -> ``F.json``); returns it."""
    sidecar = sidecar_for(tflite_path, **kwargs)
    contract.write_sidecar(tflite_path, sidecar)
    return sidecar


__all__ = ["sidecar_for", "tensor_spec", "write_sidecar_for"]
