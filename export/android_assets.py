"""What the Android demo needs from an export: model, sidecar, labels and golden test vectors.

``kvid export ... --android-assets DIR`` calls :func:`write_android_assets`; DIR is normally
``android_demo/app/src/main/assets``. The golden vectors (:func:`write_golden_vectors`) are the
bytes Python builds for a few sample videos - the sampled frame indices, the exact input
tensor, the logits and the top-5 - and ``android_demo/core``'s JUnit tests rebuild them in Java
from the same raw frames and compare, so the phone and kvid cannot drift apart unnoticed.
No TensorFlow here: numpy, ``kvid.data`` (sampling, transforms) and, when a model is given,
``kvid.runtime``.

Golden-vector folder layout (all binary files raw, no header)::

    manifest.json            {"format": "kvid-android-golden", "version": 1, "sidecar": {...},
                              "samples": [...], "faster": {...} or null}
    <sample>.argb            the sample's decoded frames, (N, H0, W0) ARGB 0xAARRGGBB as
                             big-endian uint32 (what Bitmap.getPixels gives on the phone)
    <sample>_c<k>.input      clip k's input tensor bytes (int8/uint8; float32 little-endian)
    <sample>_c<k>.logits     the output tensor bytes for that input (the model's, or
                             synthetic logits when no model is given)

A sample in the manifest: ``name, num_frames, height, width, frames`` (file) and ``clips``: a
list of ``{"indices", "input", "logits", "scores", "probabilities", "top5"}`` where ``scores``
are the dequantised logits (float32 values), ``probabilities`` their float64 softmax and
``top5`` the class indices, best first, ties by lower index (stable sort).
"""

from __future__ import annotations

import json
import os
import shutil

import numpy as np

from kvid import KvidError
from kvid.runtime.interpreter import dequantize, quantize
from kvid.runtime.predict import softmax, top_k

GOLDEN_FORMAT = "kvid-android-golden"
GOLDEN_VERSION = 1


def read_sidecar(tflite_path) -> dict:
    from export.metadata import read_sidecar as _read, sidecar_path

    sidecar = _read(tflite_path)
    if sidecar is None:
        raise KvidError(f"{sidecar_path(tflite_path)}: no sidecar beside {os.fspath(tflite_path)}")
    return sidecar


# ---- the Python twins of android_demo/core (each one line of kvid's own arithmetic) ----

def to_argb(frames: np.ndarray) -> np.ndarray:
    """uint8 RGB ``(N, H, W, 3)`` -> uint32 ``0xFFRRGGBB`` ``(N, H, W)``."""
    f = frames.astype(np.uint32)
    return (np.uint32(0xFF000000) | (f[..., 0] << 16) | (f[..., 1] << 8) | f[..., 2]).astype(np.uint32)


def quantize_input(view: np.ndarray, spec: dict) -> np.ndarray:
    """The input tensor for a float32 view (sidecar ``input`` spec), as the runtime builds it."""
    dtype = spec["dtype"]
    if dtype not in ("int8", "uint8", "float32"):
        raise KvidError(f"input dtype {dtype!r}: the Android demo takes int8, uint8 or float32 inputs")
    return quantize(view, dtype, spec.get("scale") or 1.0, spec.get("zero_point") or 0)


def dequantize_output(out: np.ndarray, spec: dict) -> np.ndarray:
    """Output tensor -> float32 scores (sidecar ``output`` spec), as the runtime does."""
    return dequantize(out, spec.get("scale") or 1.0, spec.get("zero_point") or 0).reshape(-1)


def clip_indices(sidecar: dict, num_frames: int) -> list[np.ndarray]:
    """The test-time clips of a video as the runtime samples them (FASTER: N clips of L)."""
    from kvid.data.sampling import sample_indices

    s = sidecar["sampling"]
    frames, clips = int(sidecar["frames"]), int(s.get("clips", 1))
    if sidecar.get("faster"):
        frames, clips = int(sidecar["faster"]["clip_frames"]), int(sidecar["faster"]["clips"])
    return [
        sample_indices(num_frames, frames, s["scheme"], stride=int(s.get("stride", 1)), clips=clips,
                       clip_index=k, window=s.get("window"))
        for k in range(clips)
    ]


def _check_sidecar(sidecar: dict) -> None:
    for key in ("labels", "frames", "height", "width", "sampling", "crop", "input", "output"):
        if key not in sidecar:
            raise KvidError(f"sidecar: missing {key!r}")
    if sidecar["crop"].get("mode", "center") != "center":
        raise KvidError(f"sidecar crop mode {sidecar['crop']['mode']!r}: the Android demo does 'center'")
    classes = int(np.prod(sidecar["output"]["shape"]))
    if classes != len(sidecar["labels"]):
        raise KvidError(f"sidecar: {len(sidecar['labels'])} labels but output shape {sidecar['output']['shape']}")


def _synthetic_logits(spec: dict, rng: np.random.Generator) -> np.ndarray:
    """Stand-in logits when no model is given; with ties, to pin the tie order."""
    n = int(np.prod(spec["shape"]))
    if spec["dtype"] == "float32":
        vals = rng.normal(0.0, 3.0, n).astype(np.float32)
        vals[n // 2] = vals[0]  # a tie
        return vals.reshape(spec["shape"])
    np_dtype = {"int8": np.int8, "uint8": np.uint8}[spec["dtype"]]
    info = np.iinfo(np_dtype)
    # a narrow range makes ties likely, including at the top
    vals = rng.integers(max(info.min, -20), min(info.max, 20) + 1, n)
    vals[: min(3, n)] = vals.max()
    return vals.astype(np_dtype).reshape(spec["shape"])


def write_golden_vectors(tflite_path, sidecar: dict, clips: list, out_dir, seed: int = 0) -> dict:
    """Writes golden vectors for ``clips`` (each a video's decoded RGB frames, uint8
    ``(N, H0, W0, 3)``) into ``out_dir``; returns the manifest.

    With a ``tflite_path`` (a single-model export) the logits are that model's output for the
    exact input bytes; with ``None`` they are synthetic (the Java side is then checked on
    dequantisation and top-k of known logits, and on everything before the model).
    """
    from kvid.data.transforms import as_uint8, center_view

    _check_sidecar(sidecar)
    os.makedirs(out_dir, exist_ok=True)
    model = None
    if tflite_path is not None and not sidecar.get("faster"):
        from kvid.runtime import ClipModel

        model = ClipModel(tflite_path, threads=1)
        if list(model.input_shape) != [int(d) for d in sidecar["input"]["shape"]]:
            raise KvidError(f"{os.fspath(tflite_path)}: input shape {list(model.input_shape)} does not match its "
                            f"sidecar {sidecar['input']['shape']}")
    crop = sidecar["crop"]
    rng = np.random.default_rng(seed)
    samples = []
    for s, frames in enumerate(clips):
        frames = as_uint8(frames)
        n, h0, w0 = (int(d) for d in frames.shape[:3])
        name = f"sample{s}"
        to_argb(frames).astype(">u4").tofile(os.path.join(out_dir, f"{name}.argb"))
        entry = {"name": name, "num_frames": n, "height": h0, "width": w0, "frames": f"{name}.argb", "clips": []}
        for k, idx in enumerate(clip_indices(sidecar, n)):
            view = center_view(frames[idx], int(crop["crop"]), crop.get("resize"))
            tensor = quantize_input(view, sidecar["input"])
            if model is not None:
                runtime_tensor = model.quantize_input(view)
                if not np.array_equal(runtime_tensor, tensor):
                    raise KvidError(f"{os.fspath(tflite_path)}: kvid.runtime quantises the input differently "
                                    "from the sidecar's scale/zero point")
                raw = _run_raw(model, tensor)
            else:
                raw = _synthetic_logits(sidecar["output"], rng)
            scores = dequantize_output(raw, sidecar["output"])
            base = f"{name}_c{k}"
            _write_tensor(tensor, os.path.join(out_dir, base + ".input"))
            _write_tensor(raw, os.path.join(out_dir, base + ".logits"))
            entry["clips"].append({
                "indices": [int(i) for i in idx],
                "input": base + ".input",
                "logits": base + ".logits",
                "scores": [float(v) for v in scores],
                "probabilities": [float(v) for v in softmax(scores)],
                "top5": [int(i) for i in top_k(scores)],
            })
        samples.append(entry)
    faster = _faster_vectors(sidecar["faster"], out_dir, rng) if sidecar.get("faster") else None
    manifest = {
        "format": GOLDEN_FORMAT, "version": GOLDEN_VERSION, "sidecar": sidecar,
        "model_logits": model is not None, "samples": samples, "faster": faster,
    }
    with open(os.path.join(out_dir, "manifest.json"), "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=1)
    return manifest


def _spec(name: str, shape, scale: float, zero_point: int, dtype: str = "int8") -> dict:
    return {"name": name, "shape": [int(d) for d in shape], "dtype": dtype,
            "scale": float(np.float32(scale)), "zero_point": int(zero_point)}


def _details(spec: dict) -> dict:
    """A sidecar tensor spec as the interpreter-details dict kvid.runtime.faster works on."""
    return {"quantization": (float(spec["scale"]), int(spec["zero_point"])),
            "dtype": np.dtype(spec["dtype"]).type, "shape": list(spec["shape"])}


def _faster_vectors(f: dict, out_dir: str, rng: np.random.Generator) -> dict:
    """FASTER bookkeeping as kvid.runtime.faster does it: the schedule, the step's control
    inputs, the zero states, and the requantisation of a feature map (clip model output ->
    step input) and of a state (step output -> step input), on synthetic int8 parameters."""
    from kvid.runtime.faster import _dequantize, _quantize, control_vector, schedule

    clips = int(f["clips"])
    sched = schedule(clips, f["pattern"])
    control = _spec("control", [1, 1, 1, 6], 1.0 / 255.0, -128)
    cdet = _details(control)
    ctrl = np.concatenate([_quantize(control_vector(t, bool(e)).reshape(cdet["shape"]), cdet).reshape(-1)
                           for t, e in enumerate(sched)])
    ctrl.tofile(os.path.join(out_dir, "faster_control.bin"))
    states = f.get("states") or []
    zero_states = []
    for i, st in enumerate(states):
        z = _quantize(np.zeros(st["shape"], np.float32), _details(st))
        z.tofile(os.path.join(out_dir, f"faster_zero_state{i}.bin"))
        zero_states.append({"state": st, "bytes": f"faster_zero_state{i}.bin"})
    feature_to = f.get("feature") or _spec("feature", [1, 4], 0.05, -3)
    pairs = [(_spec("clip_output", feature_to["shape"], 0.0371, -7), feature_to)]
    if states:
        pairs.append((_spec("state_out", states[0]["shape"], 0.0213, 5), states[0]))
    # exact halves: rounding must be half to even, as numpy's
    pairs.append((_spec("halves", [256], 0.5, 0), _spec("halves_to", [256], 1.0, 3)))
    requant = []
    for i, (src, dst) in enumerate(pairs):
        n = int(np.prod(src["shape"]))
        # every int8 value at least once when the tensor is large enough, then random ones
        q = np.concatenate([np.arange(-128, 128), rng.integers(-128, 128, max(n - 256, 0))])[:n].astype(np.int8)
        rng.shuffle(q)
        r = _quantize(_dequantize(q, _details(src)), _details(dst))
        q.tofile(os.path.join(out_dir, f"faster_requant{i}.in"))
        np.asarray(r, np.int8).tofile(os.path.join(out_dir, f"faster_requant{i}.out"))
        requant.append({"from": src, "to": dst, "input": f"faster_requant{i}.in", "output": f"faster_requant{i}.out"})
    return {
        "schedule": "".join("E" if e else "C" for e in sched),
        "control": {"spec": control, "bytes": "faster_control.bin"},
        "zero_states": zero_states,
        "requantize": requant,
    }


def _run_raw(model, tensor: np.ndarray) -> np.ndarray:
    """The model's raw output tensor (int8 stays int8) for an exact input tensor."""
    interp = model.interpreter
    interp.set_tensor(model.input["index"], tensor)
    interp.invoke()
    return np.array(interp.get_tensor(model.output["index"]))


def _write_tensor(t: np.ndarray, path: str) -> None:
    if t.dtype == np.float32:
        t.astype("<f4").tofile(path)
    else:
        t.tofile(path)


def sample_clips(seed: int = 0) -> list[np.ndarray]:
    """Small synthetic videos for golden vectors when no real ones are given: odd sizes,
    landscape and portrait, a short one that loops, a large one that exercises the box
    prefilter; moving gradients so every frame differs."""
    rng = np.random.default_rng(seed)
    shapes = [(37, 61, 83), (90, 117, 64), (5, 71, 45), (9, 250, 333)]  # (N, H, W)
    clips = []
    for n, h, w in shapes:
        yy, xx = np.mgrid[0:h, 0:w]
        base = rng.integers(0, 256, (h, w, 3)).astype(np.int64)
        frames = np.empty((n, h, w, 3), np.uint8)
        for i in range(n):
            frames[i, ..., 0] = (xx * 3 + i * 7) % 256
            frames[i, ..., 1] = (yy * 5 + i * 11) % 256
            frames[i, ..., 2] = (base[..., 2] + i * 13) % 256
        clips.append(frames)
    return clips


def write_android_assets(tflite_path, out_dir, sidecar: dict | None = None, clips: list | None = None,
                         sample_video=None, golden: bool = True) -> dict:
    """Everything the app needs in ``out_dir`` (normally ``android_demo/app/src/main/assets``):
    ``model.tflite`` + ``model.json`` (a FASTER export: its expensive/cheap/step models under
    the names its sidecar gives), ``labels.txt``, optionally ``sample.mp4``, and golden vectors
    in ``golden/`` (kept out of the APK by the app's build file; read by the core's JVM tests).
    Returns ``{"dir", "files", "golden"}``.
    """
    tflite_path = os.fspath(tflite_path)
    if not os.path.isfile(tflite_path):
        raise KvidError(f"{tflite_path}: no such file")
    if sidecar is None:
        sidecar = read_sidecar(tflite_path)
    _check_sidecar(sidecar)
    os.makedirs(out_dir, exist_ok=True)
    written = []
    faster = sidecar.get("faster")
    if faster:
        src_dir = os.path.dirname(os.path.abspath(tflite_path))
        for key in ("expensive", "cheap", "step"):
            src = os.path.join(src_dir, faster[key])
            if not os.path.isfile(src):
                raise KvidError(f"{src}: missing FASTER {key} model named by the sidecar")
            shutil.copyfile(src, os.path.join(out_dir, os.path.basename(faster[key])))
            written.append(os.path.basename(faster[key]))
    else:
        shutil.copyfile(tflite_path, os.path.join(out_dir, "model.tflite"))
        written.append("model.tflite")
    with open(os.path.join(out_dir, "model.json"), "w", encoding="utf-8") as fh:
        json.dump(sidecar, fh, indent=1)
    with open(os.path.join(out_dir, "labels.txt"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(sidecar["labels"]) + "\n")
    written += ["model.json", "labels.txt"]
    if sample_video is not None:
        shutil.copyfile(os.fspath(sample_video), os.path.join(out_dir, "sample.mp4"))
        written.append("sample.mp4")
    manifest = None
    if golden:
        golden_dir = os.path.join(out_dir, "golden")
        if os.path.isdir(golden_dir):
            shutil.rmtree(golden_dir)
        manifest = write_golden_vectors(None if faster else tflite_path, sidecar,
                                        clips if clips is not None else sample_clips(), golden_dir)
        written.append("golden/")
    return {"dir": os.fspath(out_dir), "files": written, "golden": manifest is not None}
