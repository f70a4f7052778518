"""The sidecar JSON that travels with every exported ``.tflite`` (``F.tflite`` -> ``F.json``).

A sidecar file rather than TFLite metadata, so that the TensorFlow-free runtime and the Android
core read it with a JSON parser and nothing else. It holds what a consumer needs to feed the
model exactly as kvid's evaluation does: class names, T/H/W, the clip spec (the same object as
the run's ``config.json``: :class:`kvid.contract.clip.ClipSpec`), input/output quantisation,
model name and kvid version, and for FASTER exports the clip protocol
(:mod:`kvid.contract.faster`). Version 2 (this module)::

    {"format": "kvid-tflite-sidecar", "version": 2, "kvid_version": "0.1.0",
     "model": "sevnet_g8", "mode": "int8", "labels": ["class0", ...],
     "frames": 8, "height": 64, "width": 64,
     "clip": {"scheme": "segments", "frames": 8, "stride": 1, "window": null, "clips": 1,
              "crops": 1, "resize": 73, "crop": 64, "scale": null, "flip": false},
     "input":  {"name": "clip", "shape": [8, 64, 64, 3], "dtype": "int8", "scale": 1.0, "zero_point": -128},
     "output": {"name": "logits", "shape": [1, 5], "dtype": "int8", "scale": 0.1, "zero_point": 3},
     "faster": null}

:func:`read_sidecar` is the one reader: it validates, and turns a version-1 sidecar
(``"sampling"`` + ``"crop"`` objects) into version 2. :func:`write_sidecar` is the one writer.
Only the standard library is imported here.
"""

from __future__ import annotations

import json
import os

from kvid import KvidError, __version__
from kvid.contract.clip import ClipSpec
from kvid.contract.faster import FasterSpec

FORMAT = "kvid-tflite-sidecar"
VERSION = 2
MODES = ("int8", "float32", "float16", "dynamic", "int16x8", "mixed")
_REQUIRED = ("model", "labels", "frames", "height", "width", "clip", "input", "output")


def sidecar_path(tflite_path) -> str:
    """``F.tflite`` -> ``F.json``."""
    base, _ = os.path.splitext(os.fspath(tflite_path))
    return base + ".json"


def make_sidecar(*, model: str, labels, clip: ClipSpec, input_tensor: dict, output_tensor: dict,
                 mode: str = "int8", faster: dict | None = None, extra: dict | None = None,
                 where: str = "sidecar") -> dict:
    """A validated version-2 sidecar. ``input_tensor``/``output_tensor``: ``{"name", "shape",
    "dtype", "scale", "zero_point"}`` (scale/zero point None for float tensors)."""
    t, h, w = (int(d) for d in input_tensor["shape"][:3])
    sidecar = {
        "format": FORMAT, "version": VERSION, "kvid_version": __version__,
        "model": model, "mode": mode, "labels": list(labels),
        "frames": t, "height": h, "width": w,
        "clip": clip.resolved().to_dict(),
        "input": dict(input_tensor), "output": dict(output_tensor),
        "faster": faster,
    }
    sidecar.update(extra or {})
    return validate_sidecar(sidecar, where)


def validate_sidecar(data, where: str) -> dict:
    """``data`` checked and normalised to version 2 (``where`` names the file in errors)."""
    if not isinstance(data, dict):
        raise KvidError(f"{where}: a sidecar must be a JSON object")
    if data.get("format") != FORMAT:
        raise KvidError(f"{where}: not a kvid sidecar (format={data.get('format')!r})")
    version = data.get("version")
    if version == 1:
        data = _from_version_1(data, where)
    elif version != VERSION:
        raise KvidError(f"{where}: sidecar version {version!r} is not supported (this kvid reads 1 and {VERSION})")
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise KvidError(f"{where}: sidecar lacks {', '.join(missing)}")
    out = dict(data)
    clip = ClipSpec.from_dict(data["clip"], f"{where}: clip")
    out["clip"] = clip.resolved().to_dict()
    for key in ("frames", "height", "width"):
        if not isinstance(out[key], int) or out[key] < 1:
            raise KvidError(f"{where}: {key}={out[key]!r} must be a positive integer")
    if out["height"] != out["width"] or out["height"] != clip.crop:
        raise KvidError(f"{where}: input {out['height']}x{out['width']} does not match the clip crop {clip.crop}")
    if out.get("faster"):  # FASTER: the clip models take one clip of L frames
        faster = FasterSpec.from_dict(out["faster"], f"{where}: faster")
        if faster.clip_frames != out["frames"]:
            raise KvidError(f"{where}: faster.clip_frames {faster.clip_frames} does not match frames {out['frames']}")
        out["faster"] = faster.to_dict()
    elif clip.frames != out["frames"]:
        raise KvidError(f"{where}: clip frames {clip.frames} but the model takes {out['frames']}")
    for key in ("input", "output"):
        tensor = out[key]
        if not isinstance(tensor, dict) or "shape" not in tensor or "dtype" not in tensor:
            raise KvidError(f"{where}: {key} must give at least shape and dtype")
    labels = out["labels"]
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise KvidError(f"{where}: labels must be a list of strings")
    classes = 1
    for d in out["output"]["shape"]:
        classes *= int(d)
    if not out.get("faster") and classes != len(labels):
        raise KvidError(f"{where}: {len(labels)} labels for a model with {classes} outputs")
    out.setdefault("mode", "int8")
    out.setdefault("faster", None)
    return out


def _from_version_1(data: dict, where: str) -> dict:
    """Version 1 kept sampling and crop apart: ``"sampling": {scheme, stride, clips, window}``,
    ``"crop": {mode, resize, crop}``."""
    sampling, crop = data.get("sampling") or {}, data.get("crop") or {}
    if crop.get("mode", "center") != "center":
        raise KvidError(f"{where}: crop mode {crop.get('mode')!r} is not supported (center only)")
    out = {k: v for k, v in data.items() if k not in ("sampling", "crop")}
    out["version"] = VERSION
    out["clip"] = {
        "scheme": sampling.get("scheme", "dense"), "frames": int(data.get("frames", 1)),
        "stride": int(sampling.get("stride", 1)), "window": sampling.get("window"),
        "clips": int(sampling.get("clips", 1)), "crops": 1, "resize": crop.get("resize"),
        "crop": int(crop.get("crop", data.get("height", 1))), "scale": None, "flip": False,
    }
    return out


def clip_spec(sidecar: dict) -> ClipSpec:
    """The clip spec of a (validated) sidecar."""
    return ClipSpec.from_dict(sidecar["clip"])


def write_sidecar(tflite_path, sidecar: dict) -> str:
    """Validate ``sidecar`` and write it beside ``tflite_path``; returns the JSON path."""
    path = sidecar_path(tflite_path)
    sidecar = validate_sidecar(sidecar, path)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(sidecar, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
    return path


def read_sidecar(tflite_path, *, required: bool = False) -> dict | None:
    """The validated sidecar of ``tflite_path`` (version 2 form), or None when there is none
    (an error instead with ``required=True``)."""
    path = sidecar_path(tflite_path)
    if not os.path.isfile(path):
        if required:
            raise KvidError(f"{path}: no sidecar beside {os.fspath(tflite_path)} (kvid export writes one)")
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise KvidError(f"{path}: unreadable sidecar ({exc})") from None
    return validate_sidecar(data, path)


__all__ = ["FORMAT", "VERSION", "clip_spec", "make_sidecar", "read_sidecar", "sidecar_path",
           "validate_sidecar", "write_sidecar"]
