"""What the Android demo needs from an export: model, sidecar, labels and golden test vectors.

``kvid export ... --android-assets DIR`` calls :func:`write_android_assets`; DIR is normally
``android_demo/app/src/main/assets``. The golden vectors (:func:`write_golden_vectors`) are the
bytes Python builds for a few sample videos - the sampled frame indices, the exact input
tensor of every view (clip x crop), the logits, the video's averaged scores and top-5 - and
``android_demo/core``'s JUnit tests rebuild them in Java from the same raw frames and compare,
so the phone and kvid cannot drift apart unnoticed. No TensorFlow here: numpy, ``kvid.data``
(sampling, transforms), cv2 (the YUV reference) and, when a model is given, ``kvid.runtime``.

Golden-vector folder layout (all binary files raw, no header)::

    manifest.json            {"format": "kvid-android-golden", "version": 2, "sidecar": {...},
                              "model_logits": bool, "samples": [...], "faster": {...} or null,
                              "faster_models": {...} or null, "yuv": [...]}
    <sample>.argb            the sample's decoded frames in coded orientation, (N, H0, W0) ARGB
                             0xAARRGGBB as big-endian uint32 (what Bitmap.getPixels gives)
    <sample>_v<v>.input      view v's input tensor bytes (int8/uint8; float32 little-endian)
    <sample>_v<v>.logits     the output tensor bytes for that input (the model's, or synthetic
                             logits when no model is given; FASTER: the step's logits)

A sample in the manifest: ``name, num_frames, height, width, rotation`` (clockwise degrees that
turn the coded frames upright, as a video's rotation metadata), ``frames`` (file), ``clips``: a
list of ``{"indices"}`` per clip, ``views``: a list of ``{"clip", "crop", "input", "logits",
"scores", "probabilities", "top5"}`` (view v = clip v // crops, crop v % crops; ``scores`` are
the dequantised logits, float32 values, ``probabilities`` their float64 softmax, ``top5`` class
indices best first, ties by lower index), and ``video``: ``{"scores", "probabilities",
"top5"}`` - for a plain model the mean of the views' scores as ``kvid predict`` computes it
(``VideoClassifier.predict_views``), for FASTER the prediction after the last clip.

With a real FASTER export (``tflite_path`` = its step model), each FASTER sample also has
``sequence``: per clip the model that ran, the clip model's raw feature bytes, every step input
and raw step output by signature name (kvid.runtime.faster's own arithmetic), and
``faster_models`` gives the tensors' specs, so core replays the whole bookkeeping; the app's
instrumented test (androidTest) runs the same inputs through LiteRT on a phone.
``yuv``: decoder-style YUV 4:2:0 frames (planar and semi-planar, padded strides, an odd crop
window) and their RGB from ``cv2.cvtColor``, the reference of core's ``Yuv420``.
"""

from __future__ import annotations

import json
import os
import shutil

import numpy as np

from kvid import KvidError
from kvid.runtime.interpreter import dequantize, quantize
from kvid.runtime.parity import clip_protocol, eval_scheme
from kvid.runtime.predict import softmax, top_k

GOLDEN_FORMAT = "kvid-android-golden"
GOLDEN_VERSION = 2


def read_sidecar(tflite_path) -> dict:
    from kvid.contract.sidecar import read_sidecar as _read

    return _read(tflite_path, required=True)


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

    p = clip_protocol(sidecar)
    return [
        sample_indices(num_frames, p["frames"], eval_scheme(p["scheme"]), stride=p["stride"], clips=p["clips"],
                       clip_index=k, window=p["window"])
        for k in range(p["clips"])
    ]


def upright(frames: np.ndarray, rotation: int) -> np.ndarray:
    """Frames ``(N, H, W, 3)`` turned clockwise by ``rotation`` degrees (core's ``Rotated``)."""
    if rotation % 90:
        raise KvidError(f"rotation {rotation}: expected a multiple of 90 degrees")
    return np.rot90(frames, k=-(rotation // 90) % 4, axes=(1, 2))


def video_views(sidecar: dict, frames: np.ndarray) -> list[tuple[int, int, np.ndarray]]:
    """Every test view of a video (upright uint8 frames): ``(clip, crop, float32 (T, S, S, 3))``,
    clip-major, through kvid.data.transforms.eval_views (centre, then both ends for 3 crops)."""
    from kvid.data.transforms import eval_views

    p = clip_protocol(sidecar)
    out = []
    for k, idx in enumerate(clip_indices(sidecar, len(frames))):
        views = eval_views(frames[idx], p["crop"], crops=p["crops"], resize=p["resize"])
        out += [(k, c, views[c]) for c in range(p["crops"])]
    return out


def video_scores(view_scores) -> np.ndarray:
    """A plain model's video score: the float32 mean of its views' dequantised logits, the
    expression of ``kvid.runtime.predict.VideoClassifier.predict_views``."""
    return np.stack(view_scores).mean(axis=0)


def _check_sidecar(sidecar: dict) -> None:
    for key in ("labels", "frames", "height", "width", "input", "output"):
        if key not in sidecar:
            raise KvidError(f"sidecar: missing {key!r}")
    if clip_protocol(sidecar)["crops"] not in (1, 3):
        raise KvidError(f"sidecar crops={clip_protocol(sidecar)['crops']}: the Android demo takes 1 or 3 test views")
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


def _scored(scores: np.ndarray) -> dict:
    return {"scores": [float(v) for v in scores], "probabilities": [float(v) for v in softmax(scores)],
            "top5": [int(i) for i in top_k(scores)]}


def write_golden_vectors(tflite_path, sidecar: dict, clips: list, out_dir, seed: int = 0,
                         rotations: list | None = None) -> dict:
    """Writes golden vectors for ``clips`` (each a video's decoded RGB frames, uint8
    ``(N, H0, W0, 3)``, in coded orientation; ``rotations[i]``: the clockwise degrees that turn
    video i upright, default 0) into ``out_dir``; returns the manifest.

    With a ``tflite_path`` the logits are the model's output for the exact input bytes (a
    FASTER export: ``tflite_path`` is its step model, the two clip models beside it, and every
    clip's bookkeeping is recorded); with ``None`` they are synthetic (the Java side is then
    checked on dequantisation, averaging and top-k of known logits, and on everything before
    the model).
    """
    from kvid.data.transforms import as_uint8

    _check_sidecar(sidecar)
    rotations = list(rotations) if rotations is not None else [0] * len(clips)
    if len(rotations) != len(clips):
        raise KvidError(f"{len(rotations)} rotations for {len(clips)} videos")
    os.makedirs(out_dir, exist_ok=True)
    faster = sidecar.get("faster")
    model = classifier = runner = None
    if tflite_path is not None and faster:
        runner = _FasterRecorder(tflite_path, sidecar)
    elif tflite_path is not None:
        from kvid.runtime import ClipModel, VideoClassifier

        model = ClipModel(tflite_path, threads=1)
        if list(model.input_shape) != [int(d) for d in sidecar["input"]["shape"]]:
            raise KvidError(f"{os.fspath(tflite_path)}: input shape {list(model.input_shape)} does not match its "
                            f"sidecar {sidecar['input']['shape']}")
        classifier = VideoClassifier(tflite_path, threads=1)
    rng = np.random.default_rng(seed)
    samples = []
    for s, (frames, rotation) in enumerate(zip(clips, rotations)):
        frames = as_uint8(frames)
        n, h0, w0 = (int(d) for d in frames.shape[:3])
        name = f"sample{s}"
        to_argb(frames).astype(">u4").tofile(os.path.join(out_dir, f"{name}.argb"))
        entry = {"name": name, "num_frames": n, "height": h0, "width": w0, "rotation": int(rotation),
                 "frames": f"{name}.argb", "clips": [{"indices": [int(i) for i in idx]}
                                                     for idx in clip_indices(sidecar, n)],
                 "views": []}
        views = video_views(sidecar, upright(frames, int(rotation)))
        if runner is not None:
            runner.start()
        view_scores = []
        for v, (k, c, view) in enumerate(views):
            tensor = quantize_input(view, sidecar["input"])
            if model is not None:
                if not np.array_equal(model.quantize_input(view), tensor):
                    raise KvidError(f"{os.fspath(tflite_path)}: kvid.runtime quantises the input differently "
                                    "from the sidecar's scale/zero point")
                raw = _run_raw(model, tensor)
            elif runner is not None:
                raw = runner.clip(view, tensor, out_dir, f"{name}_c{k}")
            else:
                raw = _synthetic_logits(sidecar["output"], rng)
            scores = dequantize_output(raw, sidecar["output"])
            view_scores.append(scores)
            base = f"{name}_v{v}"
            _write_tensor(tensor, os.path.join(out_dir, base + ".input"))
            _write_tensor(raw, os.path.join(out_dir, base + ".logits"))
            entry["views"].append({"clip": k, "crop": c, "input": base + ".input", "logits": base + ".logits",
                                   **_scored(scores)})
        if faster:
            final = view_scores[-1]  # FASTER predicts after every clip; the video's is the last
        else:
            final = video_scores(view_scores)
            if classifier is not None:
                kvid_mean, _ = classifier.predict_views(np.stack([v for _, _, v in views]))
                if not np.array_equal(kvid_mean, final):
                    raise KvidError("the golden video scores differ from kvid predict's average")
        entry["video"] = _scored(final)
        if runner is not None:
            entry["sequence"] = runner.sequence
        samples.append(entry)
    manifest = {
        "format": GOLDEN_FORMAT, "version": GOLDEN_VERSION, "sidecar": sidecar,
        "model_logits": model is not None or runner is not None, "samples": samples,
        "faster": _faster_vectors(faster, out_dir, rng) if faster else None,
        "faster_models": runner.specs() if runner is not None else None,
        "yuv": _yuv_vectors(out_dir, rng),
    }
    with open(os.path.join(out_dir, "manifest.json"), "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=1)
    return manifest


class _FasterRecorder:
    """Runs a real FASTER export clip by clip through kvid.runtime.faster (its own arithmetic)
    and records every tensor crossing a model boundary, for core to replay."""

    def __init__(self, step_path, sidecar):
        from kvid.contract.sidecar import sidecar_path
        from kvid.runtime.faster import FasterModels, FasterStream

        self.models = FasterModels(sidecar_path(step_path), threads=1)
        self.stream = FasterStream(self.models)
        self.sidecar = sidecar

    def start(self):
        self.stream.reset()
        self.states = self.models.zero_states()
        self.sequence = []

    def clip(self, view, tensor, out_dir, base):
        t = len(self.sequence)
        expensive = self.stream.is_expensive(t)
        feature = np.asarray(self.models.features(view, expensive))
        model = self.models.expensive if expensive else self.models.cheap
        (in_details,) = model.inputs.values()
        if not np.array_equal(np.asarray(quantize(view, in_details["dtype"], *in_details["quantization"])), tensor):
            raise KvidError(f"{base}: the FASTER clip model quantises the input differently from the sidecar")
        clip_out = next(iter(model.outputs.values()))
        inputs = self.models.step_inputs(feature, clip_out, self.states, t, expensive)
        raw = {k: np.asarray(v) for k, v in self.models.step(**inputs).items()}
        self.states, logits = self.models.run_step(feature, self.states, t, expensive)
        streamed = self.stream.push_clip(view)  # the runtime's streaming path must agree
        if not (np.array_equal(streamed, logits) and np.array_equal(
                logits, dequantize(raw["logits"], *self.models.step.outputs["logits"]["quantization"]).reshape(-1))):
            raise KvidError(f"{base}: kvid.runtime.faster's paths disagree on the logits")
        record = {"expensive": bool(expensive), "feature": f"{base}.feature", "step_inputs": {}, "step_outputs": {}}
        _write_tensor(feature, os.path.join(out_dir, record["feature"]))
        for kind, tensors in (("step_inputs", inputs), ("step_outputs", raw)):
            for key, value in tensors.items():
                fname = f"{base}.{'in' if kind == 'step_inputs' else 'out'}.{key}"
                _write_tensor(np.asarray(value), os.path.join(out_dir, fname))
                record[kind][key] = fname
        self.sequence.append(record)
        return raw["logits"]

    def specs(self) -> dict:
        def spec(details, name):
            scale, zero_point = details["quantization"]
            dtype = np.dtype(details["dtype"]).name
            return {"name": name, "shape": [int(d) for d in details["shape"]], "dtype": dtype,
                    "scale": float(scale) if dtype != "float32" else None,
                    "zero_point": int(zero_point) if dtype != "float32" else None}

        (e_out,) = self.models.expensive.outputs.values()
        (c_out,) = self.models.cheap.outputs.values()
        return {"expensive_output": spec(e_out, "expensive"), "cheap_output": spec(c_out, "cheap"),
                "step_inputs": {k: spec(d, k) for k, d in self.models.step.inputs.items()},
                "step_outputs": {k: spec(d, k) for k, d in self.models.step.outputs.items()}}


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
    from kvid.contract.faster import schedule
    from kvid.runtime.faster import control_input
    from kvid.runtime.interpreter import dequantize_from, quantize_for

    clips = int(f["clips"])
    sched = schedule(clips, f["pattern"])
    control = _spec("control", [1, 1, 1, 6], 1.0 / 255.0, -128)
    cdet = _details(control)
    ctrl = np.concatenate([control_input(t, bool(e), cdet).reshape(-1)
                           for t, e in enumerate(sched)])
    ctrl.tofile(os.path.join(out_dir, "faster_control.bin"))
    states = f.get("states") or []
    zero_states = []
    for i, st in enumerate(states):
        z = quantize_for(np.zeros(st["shape"], np.float32), _details(st))
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
        r = quantize_for(dequantize_from(q, _details(src)), _details(dst))
        q.tofile(os.path.join(out_dir, f"faster_requant{i}.in"))
        np.asarray(r, np.int8).tofile(os.path.join(out_dir, f"faster_requant{i}.out"))
        requant.append({"from": src, "to": dst, "input": f"faster_requant{i}.in", "output": f"faster_requant{i}.out"})
    return {
        "schedule": "".join("E" if e else "C" for e in sched),
        "control": {"spec": control, "bytes": "faster_control.bin"},
        "zero_states": zero_states,
        "requantize": requant,
    }


def _yuv_vectors(out_dir: str, rng: np.random.Generator) -> list[dict]:
    """YUV 4:2:0 frames laid out as a decoder's Image planes (I420, NV12, NV21; padded rows)
    and their RGB from cv2.cvtColor (BT.601 limited range), cropped to an odd window."""
    import cv2

    out = []
    for i, (w, h, layout) in enumerate([(18, 10, "i420"), (64, 48, "nv12"), (34, 22, "nv21")]):
        cw, ch = w // 2, h // 2
        y = rng.integers(0, 256, (h, w)).astype(np.uint8)
        y.flat[:4] = (0, 15, 16, 255)
        u = rng.integers(0, 256, (ch, cw)).astype(np.uint8)
        v = rng.integers(0, 256, (ch, cw)).astype(np.uint8)
        code = {"i420": cv2.COLOR_YUV2RGB_I420, "nv12": cv2.COLOR_YUV2RGB_NV12, "nv21": cv2.COLOR_YUV2RGB_NV21}[layout]
        packed = (np.concatenate([y.ravel(), u.ravel(), v.ravel()]) if layout == "i420" else
                  np.concatenate([y.ravel(), np.stack([u, v] if layout == "nv12" else [v, u], -1).ravel()]))
        rgb = cv2.cvtColor(packed.reshape(h * 3 // 2, w), code)
        # the planes as a decoder hands them over: rows padded to a stride
        y_stride = w + 3
        planes = bytearray(np.pad(y, ((0, 0), (0, y_stride - w))).tobytes())
        y_plane = [0, y_stride, 1]
        if layout == "i420":
            c_stride = cw + 1
            u_plane = [len(planes), c_stride, 1]
            planes += np.pad(u, ((0, 0), (0, 1))).tobytes()
            v_plane = [len(planes), c_stride, 1]
            planes += np.pad(v, ((0, 0), (0, 1))).tobytes()
        else:
            c_stride = 2 * cw + 2
            first, second = (u, v) if layout == "nv12" else (v, u)
            inter = np.pad(np.stack([first, second], -1).reshape(ch, 2 * cw), ((0, 0), (0, 2)))
            base = len(planes)
            planes += inter.tobytes()
            u_plane = [base + (0 if layout == "nv12" else 1), c_stride, 2]
            v_plane = [base + (1 if layout == "nv12" else 0), c_stride, 2]
        left, top = 1, 1  # an odd crop window: the chroma of the coded column still applies
        win = rgb[top:h - 1, left:w - 2]
        name = f"yuv{i}"
        with open(os.path.join(out_dir, name + ".planes"), "wb") as fh:
            fh.write(bytes(planes))
        win.astype(np.uint8).tofile(os.path.join(out_dir, name + ".rgb"))
        out.append({"layout": layout, "planes": name + ".planes", "y": y_plane, "u": u_plane, "v": v_plane,
                    "crop": [left, top, int(win.shape[1]), int(win.shape[0])], "rgb": name + ".rgb",
                    "full_range": False})
    return out


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


#: rotation metadata for :func:`sample_clips` (clockwise degrees): a phone video held upright
#: is stored sideways with 90 (or 270) to turn it back
SAMPLE_ROTATIONS = [0, 90, 0, 270]


def write_android_assets(tflite_path, out_dir, sidecar: dict | None = None, clips: list | None = None,
                         sample_video=None, golden: bool = True, rotations: list | None = None) -> dict:
    """Everything the app needs in ``out_dir`` (normally ``android_demo/app/src/main/assets``):
    ``model.tflite`` + ``model.json`` (a FASTER export: its expensive/cheap/step models under
    the names its sidecar gives), ``labels.txt``, optionally ``sample.mp4``, and golden vectors
    in ``golden/`` (kept out of the APK by the app's build file; read by the core's JVM tests
    and the app's instrumented test) for ``clips`` (default :func:`sample_clips`, with
    ``rotations`` default :data:`SAMPLE_ROTATIONS`). Returns ``{"dir", "files", "golden"}``.
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
        videos = clips if clips is not None else sample_clips()
        if rotations is None and clips is None:
            rotations = SAMPLE_ROTATIONS
        manifest = write_golden_vectors(tflite_path, sidecar, videos, golden_dir, rotations=rotations)
        written.append("golden/")
    return {"dir": os.fspath(out_dir), "files": written, "golden": manifest is not None}
