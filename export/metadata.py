"""The sidecar JSON that travels with every exported ``.tflite`` (``F.tflite`` -> ``F.json``).

One documented choice (docs/INTERFACES.md): a sidecar file rather than TFLite metadata, so
that the TensorFlow-free runtime and the Android core read it with a JSON parser and nothing
else. It holds what a consumer needs to feed the model exactly as kvid's evaluation does:
class names, T/H/W, the sampling scheme and crop, input/output quantisation, model name and
kvid version. Reading it needs no TensorFlow.
"""

from __future__ import annotations

import json
import os

from kvid import KvidError, __version__

FORMAT = "kvid-tflite-sidecar"


def sidecar_path(tflite_path) -> str:
    base, _ = os.path.splitext(os.fspath(tflite_path))
    return base + ".json"


def default_sampling(frames: int) -> dict:
    return {"scheme": "dense", "stride": 1, "clips": 1, "window": None}


def _tensor(detail) -> dict:
    scale, zero_point = detail["quantization"]
    dtype = getattr(detail["dtype"], "__name__", str(detail["dtype"]))
    return {
        "name": detail["name"],
        "shape": [int(d) for d in detail["shape"]],
        "dtype": dtype,
        "scale": float(scale) if dtype != "float32" else None,
        "zero_point": int(zero_point) if dtype != "float32" else None,
    }


def make_sidecar(tflite_path, *, model_name, labels, sampling=None, resize=None,
                 mode="int8", extra=None) -> dict:
    """Describe ``tflite_path`` (read with the TF-free runtime) for the runtime and the app."""
    from kvid.data.transforms import default_resize
    from kvid.runtime.interpreter import load_interpreter

    interpreter = load_interpreter(tflite_path)
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    t, h, w, _ = (int(d) for d in inp["shape"])
    num_outputs = int(out["shape"][-1])
    labels = list(labels) if labels is not None else [f"class_{i}" for i in range(num_outputs)]
    if len(labels) != num_outputs:
        raise KvidError(f"{tflite_path}: {len(labels)} labels for a model with {num_outputs} outputs")
    sidecar = {
        "format": FORMAT,
        "version": 1,
        "kvid_version": __version__,
        "model": model_name,
        "mode": mode,
        "labels": labels,
        "frames": t,
        "height": h,
        "width": w,
        "sampling": dict(sampling or default_sampling(t)),
        "crop": {"mode": "center", "resize": int(resize or default_resize(h)), "crop": h},
        "input": _tensor(inp),
        "output": _tensor(out),
        "faster": None,
    }
    sidecar.update(extra or {})
    return sidecar


def write_sidecar(tflite_path, sidecar: dict) -> str:
    path = sidecar_path(tflite_path)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(sidecar, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
    return path


def read_sidecar(tflite_path) -> dict | None:
    """The sidecar of ``tflite_path``, or None when there is none."""
    path = sidecar_path(tflite_path)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise KvidError(f"{path}: unreadable sidecar ({exc})") from None
    if data.get("format") != FORMAT:
        raise KvidError(f"{path}: not a kvid sidecar (format={data.get('format')!r})")
    return data
