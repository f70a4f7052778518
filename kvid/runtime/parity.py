"""Phone vs kvid: compare an Android parity dump with kvid's own runtime, TensorFlow-free.

The demo app's benchmark screen writes, for one video, a zip (``org.kvid.core.ParityDump``)::

    parity.json    {"format": "kvid-android-parity", "version": 1, "sidecar": "sidecar.json",
                    "source", "num_frames", "frame_width", "frame_height", "rotation", "fps",
                    "decoder", "runtime", "threads", "device",
                    "views": [{"view", "clip", "crop", "indices", "input", "output", "scores",
                               "expensive"}],
                    "video": {"scores", "top5"}}
    sidecar.json   the sidecar the app ran with
    view<v>.input  the exact input tensor bytes of view v; view<v>.output its raw output bytes

``kvid predict MODEL [VIDEO] --compare DUMP`` (:func:`compare`) answers two questions apart:

1. **Model parity** (no video needed): kvid's interpreter on the phone's exact input bytes -
   are the output bytes the phone got the same (LiteRT/XNNPACK on ARM vs x86)? For FASTER the
   phone's clip sequence is replayed through kvid.runtime.faster (state carried).
2. **Pipeline parity** (with the VIDEO): kvid decodes, samples and crops the video itself -
   same frame count, same sampled indices, same input bytes (the phone decodes with MediaCodec
   and converts YUV with OpenCV's BT.601 arithmetic, kvid with FFmpeg's swscale: expect
   differences of a level or two in some pixels), and do the end-to-end predictions agree?

The report's ``ok`` is model parity (every view's top-1 and the video's top-1 equal, output
differences within one quantisation step) and, with a video, the end-to-end top-1; byte
differences of decoded pixels are reported, not failed. Nothing here imports TensorFlow or
the export package.
"""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np

from kvid import KvidError

FORMAT = "kvid-android-parity"
VERSION = 1


# ------------------------------------------------------------------------------ the dump

class Dump:
    """A parity dump read into memory: ``manifest``, ``sidecar`` (dict), per view the input and
    output arrays (dtype and shape from the sidecar's tensors)."""

    def __init__(self, path):
        self.path = os.fspath(path)
        try:
            with zipfile.ZipFile(self.path) as z:
                names = set(z.namelist())
                if "parity.json" not in names:
                    raise KvidError(f"{self.path}: not a kvid parity dump (no parity.json inside)")
                self.manifest = json.loads(z.read("parity.json").decode("utf-8"))
                if self.manifest.get("format") != FORMAT:
                    raise KvidError(f"{self.path}: not a kvid parity dump (format {self.manifest.get('format')!r})")
                if self.manifest.get("version") != VERSION:
                    raise KvidError(f"{self.path}: parity dump version {self.manifest.get('version')!r} "
                                    f"(this kvid reads {VERSION})")
                side_name = self.manifest.get("sidecar", "sidecar.json")
                self.sidecar_text = z.read(side_name).decode("utf-8")
                self.sidecar = json.loads(self.sidecar_text)
                self.views = self.manifest.get("views") or []
                if not self.views:
                    raise KvidError(f"{self.path}: the dump holds no views")
                self.inputs, self.outputs = [], []
                for v in self.views:
                    for key, store, spec in (("input", self.inputs, self.sidecar["input"]),
                                             ("output", self.outputs, self.sidecar["output"])):
                        if v[key] not in names:
                            raise KvidError(f"{self.path}: {v[key]} (view {v['view']}) is missing")
                        store.append(_tensor(z.read(v[key]), spec, f"{self.path}: {v[key]}"))
        except zipfile.BadZipFile:
            raise KvidError(f"{self.path}: not a zip file (a parity dump is one)") from None
        except (KeyError, ValueError) as exc:
            raise KvidError(f"{self.path}: broken parity dump ({exc})") from None

    @property
    def faster(self) -> bool:
        return bool(self.sidecar.get("faster"))


def _tensor(raw: bytes, spec: dict, what: str) -> np.ndarray:
    dtype = np.dtype("<f4") if spec["dtype"] == "float32" else np.dtype(spec["dtype"])
    shape = [int(d) for d in spec["shape"]]
    arr = np.frombuffer(raw, dtype=dtype)
    if arr.size != int(np.prod(shape)):
        raise KvidError(f"{what}: {arr.size} values, the sidecar's tensor {shape} holds {int(np.prod(shape))}")
    return arr.reshape(shape)


def clip_protocol(sidecar: dict) -> dict:
    """The test-time clip protocol of a version-1 or version-2 sidecar (read and normalised by
    :mod:`kvid.contract.sidecar`): ``{"scheme", "frames", "stride", "window", "clips", "crops",
    "resize", "crop"}`` with ``resize`` resolved and, for FASTER, its N clips of L frames - what
    ``org.kvid.core.Sidecar.videoSpec`` reads on the phone."""
    from kvid.contract.sidecar import clip_spec, validate_sidecar

    spec = clip_spec(validate_sidecar(sidecar, "sidecar"))
    p = {"scheme": spec.scheme, "frames": spec.frames, "stride": spec.stride, "window": spec.window,
         "clips": spec.clips, "crops": spec.crops, "resize": spec.test_resize, "crop": spec.crop}
    if sidecar.get("faster"):
        p["frames"], p["clips"] = int(sidecar["faster"]["clip_frames"]), int(sidecar["faster"]["clips"])
    return p


def eval_scheme(scheme: str) -> str:
    """The scheme test-time indices follow: EAC-Net's ``random_rate`` samples as ``segments``."""
    return "segments" if scheme == "random_rate" else scheme


# ------------------------------------------------------------------------------ compare

def _scores(raw: np.ndarray, spec: dict) -> np.ndarray:
    from kvid.runtime.interpreter import dequantize

    if spec["dtype"] == "float32":
        return np.asarray(raw, np.float32).reshape(-1)
    return dequantize(raw, spec["scale"], spec["zero_point"]).reshape(-1)


def _step(spec: dict) -> float:
    return 0.0 if spec["dtype"] == "float32" else float(np.float32(spec["scale"]))


def _model_outputs(model_path, dump: Dump, threads) -> list[np.ndarray]:
    """kvid's raw outputs for the phone's exact input tensors, view by view."""
    if dump.faster:
        return _faster_outputs(model_path, dump, threads)
    from kvid.runtime.interpreter import ClipModel

    model = ClipModel(model_path, threads=threads)
    outs = []
    for v, tensor in enumerate(dump.inputs):
        if list(model.input_shape) != list(tensor.shape) or np.dtype(model.input["dtype"]) != tensor.dtype:
            raise KvidError(f"{model.path}: input {list(model.input_shape)} {np.dtype(model.input['dtype']).name} "
                            f"does not take the phone's view {v} ({list(tensor.shape)} {tensor.dtype.name})")
        model.interpreter.set_tensor(model.input["index"], tensor)
        model.interpreter.invoke()
        outs.append(np.array(model.interpreter.get_tensor(model.output["index"])))
    return outs


def _faster_outputs(step_path, dump: Dump, threads) -> list[np.ndarray]:
    """The phone's FASTER clip sequence replayed through kvid.runtime.faster: each clip through
    the model the pattern picks, the state carried, the step's raw logits per clip."""
    from kvid.runtime.faster import FasterModels, FasterStream
    from kvid.runtime.interpreter import dequantize, quantize

    base, _ = os.path.splitext(os.fspath(step_path))
    models = FasterModels(base + ".json", threads=threads)
    stream = FasterStream(models)
    spec = dump.sidecar["input"]
    outs = []
    for v, tensor in enumerate(dump.inputs):
        clip = dequantize(tensor, spec.get("scale") or 1.0, spec.get("zero_point") or 0)
        if not np.array_equal(quantize(clip, spec["dtype"], spec.get("scale") or 1.0, spec.get("zero_point") or 0),
                              tensor):
            raise KvidError(f"{dump.path}: view {v}'s input does not survive dequantise/quantise; it cannot be replayed")
        expected = dump.views[v].get("expensive")
        if expected is not None and bool(expected) != stream.is_expensive(stream.t):
            raise KvidError(f"{dump.path}: view {v} ran the {'expensive' if expected else 'cheap'} model; kvid's "
                            f"schedule {tuple(stream.pattern)} says otherwise (was the live window reset?)")
        logits = stream.push_clip(clip)
        q = models.step.outputs["logits"]
        if np.dtype(q["dtype"]) == np.float32:
            outs.append(np.asarray(logits, np.float32))
        else:  # back to the step's raw int8 logits (exact: logits are dequantised int8 values)
            outs.append(quantize(logits, q["dtype"], *q["quantization"]))
    return outs


def _view_rows(outputs_a, outputs_b, spec) -> dict:
    scores_a = [_scores(o, spec) for o in outputs_a]
    scores_b = [_scores(o, spec) for o in outputs_b]
    same_bytes = [np.array_equal(np.asarray(a).reshape(-1), np.asarray(b).reshape(-1))
                  for a, b in zip(outputs_a, outputs_b)]
    diffs = [float(np.max(np.abs(a - b))) for a, b in zip(scores_a, scores_b)]
    argmax = [int(np.argmax(a)) == int(np.argmax(b)) for a, b in zip(scores_a, scores_b)]
    return {"views": len(outputs_a), "identical": int(sum(same_bytes)), "argmax_agree": int(sum(argmax)),
            "max_abs_diff": max(diffs), "scores_a": scores_a, "scores_b": scores_b}


def _video(scores: list[np.ndarray], faster: bool) -> np.ndarray:
    return scores[-1] if faster else np.stack(scores).mean(axis=0)


def compare(dump_path, model_path, video=None, threads: int | None = 2) -> dict:
    """The parity report of ``dump_path`` against ``model_path`` (the ``.tflite`` the phone ran,
    its sidecar beside it; FASTER: the step model) and optionally the ``video`` the phone
    classified. See the module text; :func:`format_report` prints it."""
    dump = Dump(dump_path)
    side_path = os.path.splitext(os.fspath(model_path))[0] + ".json"
    problems = []
    if os.path.isfile(side_path):
        with open(side_path, encoding="utf-8") as fh:
            ours = json.load(fh)
        for key in ("labels", "frames", "height", "width", "input", "output", "faster"):
            if ours.get(key) != dump.sidecar.get(key):
                problems.append(f"the phone's sidecar differs from {side_path} in {key!r}")
        if clip_protocol(ours) != clip_protocol(dump.sidecar):
            problems.append(f"the phone's clip protocol differs from {side_path}")
    spec = dump.sidecar["output"]
    faster = dump.faster
    phone_out = dump.outputs
    kvid_out = _model_outputs(model_path, dump, threads)
    model = _view_rows(phone_out, kvid_out, spec)
    phone_video = np.asarray(dump.manifest["video"]["scores"], np.float32)
    kvid_video = _video(model["scores_b"], faster)
    recorded = [np.asarray(v["scores"], np.float32) for v in dump.views]
    model.update({
        "step": _step(spec),
        "phone_scores_match_its_outputs": all(np.array_equal(r, s) for r, s in zip(recorded, model["scores_a"])),
        "video_top1_phone": int(np.argmax(phone_video)), "video_top1_kvid": int(np.argmax(kvid_video)),
        "video_max_abs_diff": float(np.max(np.abs(phone_video - kvid_video))),
    })
    model["ok"] = (model["argmax_agree"] == model["views"] and model["video_top1_phone"] == model["video_top1_kvid"]
                   and model["max_abs_diff"] <= model["step"] + 1e-6 and model["phone_scores_match_its_outputs"])
    labels = dump.sidecar.get("labels") or []
    report = {
        "dump": dump.path, "model": os.fspath(model_path), "source": dump.manifest.get("source"),
        "device": dump.manifest.get("device"), "runtime": dump.manifest.get("runtime"),
        "decoder": dump.manifest.get("decoder"), "faster": faster, "labels": labels,
        "problems": problems, "model_parity": _public(model), "pipeline": None,
    }
    if video is not None:
        report["pipeline"] = _pipeline(dump, video, model_path, threads, faster)
    report["ok"] = model["ok"] and not problems and (report["pipeline"] is None or report["pipeline"]["ok"])
    return report


def _public(rows: dict) -> dict:
    return {k: v for k, v in rows.items() if not k.startswith("scores_")}


def _pipeline(dump: Dump, video, model_path, threads, faster: bool) -> dict:
    """kvid's own decode -> sample -> views -> input bytes -> model, against the phone's."""
    from kvid.data.sampling import sample_indices
    from kvid.data.transforms import eval_views
    from kvid.data.video import VideoReader
    from kvid.runtime.interpreter import quantize
    from kvid.runtime.predict import top_k

    p = clip_protocol(dump.sidecar)
    spec = dump.sidecar["input"]
    with VideoReader(os.fspath(video)) as reader:
        n = int(reader.num_frames)
        idx = [sample_indices(n, p["frames"], eval_scheme(p["scheme"]), stride=p["stride"], clips=p["clips"],
                              clip_index=k, window=p["window"]) for k in range(p["clips"])]
        tensors = []
        for k in range(p["clips"]):
            views = eval_views(reader.read(idx[k]), p["crop"], crops=p["crops"], resize=p["resize"])
            tensors += [quantize(v, spec["dtype"], spec.get("scale") or 1.0, spec.get("zero_point") or 0)
                        for v in views]
    if len(tensors) != len(dump.inputs):
        raise KvidError(f"{dump.path}: {len(dump.inputs)} views on the phone, kvid makes {len(tensors)} of the video")
    phone_idx = [v.get("indices") for v in dump.views[::p["crops"]]]
    same_idx = sum(list(map(int, a)) == list(map(int, b)) for a, b in zip(phone_idx, idx))
    ours = [np.asarray(t) for t in tensors]
    diff = [np.abs(a.astype(np.int32) - b.astype(np.int32)) if a.dtype != np.float32 else np.abs(a - b)
            for a, b in zip(dump.inputs, ours)]
    total = sum(d.size for d in diff)
    pipeline = {
        "num_frames_phone": dump.manifest.get("num_frames"), "num_frames_kvid": n,
        "clips": p["clips"], "indices_equal": int(same_idx),
        "inputs_identical": int(sum(not d.any() for d in diff)), "views": len(diff),
        "input_bytes_equal": float(sum(int((d == 0).sum()) for d in diff) / total),
        "input_max_abs_diff": float(max(d.max() for d in diff)),
        "input_mean_abs_diff": float(sum(float(d.sum()) for d in diff) / total),
    }
    # kvid end to end: its own inputs through its own runtime
    replay = _Inputs(dump, ours)
    kvid_out = _model_outputs(model_path, replay, threads)
    out_spec = dump.sidecar["output"]
    kvid_scores = [_scores(o, out_spec) for o in kvid_out]
    phone_video = np.asarray(dump.manifest["video"]["scores"], np.float32)
    kvid_video = _video(kvid_scores, faster)
    top5_phone = [int(i) for i in top_k(phone_video, 5)]
    top5_kvid = [int(i) for i in top_k(kvid_video, 5)]
    pipeline.update({
        "top1_phone": top5_phone[0], "top1_kvid": top5_kvid[0], "top5_phone": top5_phone, "top5_kvid": top5_kvid,
        "video_max_abs_diff": float(np.max(np.abs(phone_video - kvid_video))),
        "views_argmax_agree": int(sum(int(np.argmax(a)) == int(np.argmax(b))
                                      for a, b in zip(kvid_scores, [_scores(o, out_spec) for o in dump.outputs]))),
    })
    pipeline["ok"] = pipeline["top1_phone"] == pipeline["top1_kvid"]
    return pipeline


class _Inputs:
    """A dump with other input tensors (kvid's own), for :func:`_model_outputs`."""

    def __init__(self, dump: Dump, inputs):
        self.path, self.sidecar, self.views, self.inputs = dump.path, dump.sidecar, dump.views, inputs
        self.faster = dump.faster


def format_report(r: dict) -> str:
    labels = r["labels"]

    def name(i):
        return labels[i] if 0 <= i < len(labels) else f"class {i}"

    m = r["model_parity"]
    lines = [f"parity dump {r['dump']}: {r.get('source') or '?'} on {r.get('device') or '?'} "
             f"({r.get('runtime') or '?'}), {m['views']} view(s){' FASTER' if r['faster'] else ''}"]
    lines += [f"  ! {p}" for p in r["problems"]]
    lines.append(f"model on the phone's inputs: {m['identical']}/{m['views']} views byte-identical outputs, "
                 f"argmax agrees {m['argmax_agree']}/{m['views']}, max |score diff| {m['max_abs_diff']:.4g} "
                 f"(one output step {m['step']:.4g}); video top-1 phone {name(m['video_top1_phone'])!r}, "
                 f"kvid {name(m['video_top1_kvid'])!r} -> {'OK' if m['ok'] else 'MISMATCH'}")
    if not m["phone_scores_match_its_outputs"]:
        lines.append("  ! the scores in parity.json are not the dequantised output bytes")
    p = r["pipeline"]
    if p is not None:
        lines.append(f"video decode: frames phone {p['num_frames_phone']} vs kvid {p['num_frames_kvid']}; "
                     f"sampled indices equal {p['indices_equal']}/{p['clips']} clips")
        lines.append(f"input bytes: {p['inputs_identical']}/{p['views']} views identical, {p['input_bytes_equal']:.2%} "
                     f"of bytes equal, max |diff| {p['input_max_abs_diff']:g}, mean |diff| {p['input_mean_abs_diff']:.3g}"
                     f" ({r.get('decoder') or 'phone decoder'} vs kvid's OpenCV/FFmpeg)")
        lines.append(f"end to end: top-1 phone {name(p['top1_phone'])!r}, kvid {name(p['top1_kvid'])!r} "
                     f"({'agree' if p['ok'] else 'DISAGREE'}); top-5 overlap "
                     f"{len(set(p['top5_phone']) & set(p['top5_kvid']))}/{len(p['top5_phone'])}; max |video score diff| "
                     f"{p['video_max_abs_diff']:.4g}; per-view argmax agrees {p['views_argmax_agree']}/{p['views']}")
    lines.append("parity: OK" if r["ok"] else "parity: FAILED")
    return "\n".join(lines)


__all__ = ["Dump", "FORMAT", "VERSION", "clip_protocol", "compare", "eval_scheme", "format_report"]
