"""FASTER on device, without TensorFlow: an expensive and a cheap clip model plus a recurrent
aggregator step, driven clip by clip (Zhu et al., FASTER, Sec. "Learning to Aggregate").

A FASTER export is three int8 TFLite files and a sidecar (docs/INTERFACES.md, ``"faster"``):

* ``expensive`` / ``cheap``: one clip ``(L, H, W, 3)`` in, the res5 feature map
  ``(L/8, h, w, C)`` out (time folded into the batch, rank 4);
* ``step``: ``feature (1, L/8, h*w, C)`` (the same bytes as the clip model's output, requantized
  to the step's input scale), the state(s) and a ``control`` vector ``(1, 1, 1, 6)`` in; the new
  state(s) and ``logits (1, K)`` out. The state starts at zero; the control vector
  (:func:`control_vector`) tells the step whether the clip is the first one (then the state
  becomes the first clip's feature, ``o_0 = x_0`` of Eq. 1), whether it is expensive, and its
  running-average weight ``1 / (t + 1)``.

The pattern ``#E:#C`` picks the model per clip (:func:`schedule`): with ``1:3`` clips 0, 4, 8,
... are expensive. :class:`FasterStream` keeps the state between clips and gives a prediction
after every clip; :meth:`FasterStream.push_frames` takes a live stream of frames and runs a
clip as soon as its ``L`` frames are in.

The pure-numpy helpers here (:func:`parse_pattern`, :func:`schedule`, :func:`control_vector`)
are also what the Keras side (``kvid.models.faster``) uses, so training, export and the
runtime agree by construction.
"""

from __future__ import annotations

import json
import os

import numpy as np

from kvid import KvidError
from kvid.data.sampling import sample_indices
from kvid.runtime.interpreter import dequantize, load_interpreter, quantize

CONTROL_FIELDS = ("first", "keep", "expensive", "cheap", "weight", "decay")
PATTERNS = ("1:0", "1:1", "1:3", "1:7", "1:15", "1:31")  # FASTER Table 4


def parse_pattern(pattern) -> tuple[int, int]:
    """``"1:3"`` (or ``(1, 3)``) -> ``(1, 3)``: #expensive : #cheap clips per period."""
    if isinstance(pattern, str):
        parts = pattern.split(":")
        try:
            values = tuple(int(p) for p in parts)
        except ValueError:
            values = ()
    else:
        values = tuple(int(p) for p in pattern)
    if len(values) != 2 or min(values) < 0 or sum(values) == 0:
        raise KvidError(f"pattern {pattern!r}: expected #E:#C such as 1:3")
    return values


def pattern_name(pattern) -> str:
    e, c = parse_pattern(pattern)
    return f"{e}:{c}"


def schedule(clips: int, pattern) -> np.ndarray:
    """Boolean ``(clips,)``: True where clip ``i`` goes through the expensive model.

    Clip ``i`` is expensive iff ``i mod (E + C) < E`` - the first clip is always expensive
    (FASTER Sec. "Better accuracy/FLOPs trade-offs": with 1:3 and 16 clips, 4 expensive and 12
    cheap). ``0:1`` (all cheap) is allowed for the baselines of Table 5.
    """
    e, c = parse_pattern(pattern)
    return np.arange(int(clips)) % (e + c) < e


def control_vector(t: int, expensive: bool) -> np.ndarray:
    """The step's control input for clip ``t`` (float32 ``(6,)``, fields :data:`CONTROL_FIELDS`):
    ``first = [t == 0]``, ``keep = 1 - first``, ``expensive``, ``cheap = 1 - expensive``,
    ``weight = 1 / (t + 1)`` and ``decay = 1 - weight`` (the running mean of the avgpool
    aggregator)."""
    first = 1.0 if t == 0 else 0.0
    e = 1.0 if expensive else 0.0
    w = 1.0 / (int(t) + 1)
    return np.array([first, 1.0 - first, e, 1.0 - e, w, 1.0 - w], np.float32)


def _quantize(x, details):
    """float -> the integer tensor of a TFLite input with interpreter ``details``."""
    return quantize(x, details["dtype"], *details["quantization"])


def _dequantize(q, details):
    """A TFLite tensor with interpreter ``details`` -> float32."""
    if np.dtype(details["dtype"]) == np.float32:
        return np.asarray(q, np.float32)
    return dequantize(q, *details["quantization"])


class _Runner:
    """A TFLite model called through its signature (inputs and outputs by name)."""

    def __init__(self, path, threads=None, xnnpack=True):
        self.path = os.fspath(path)
        self.interpreter = load_interpreter(path, threads=threads, xnnpack=xnnpack)
        signatures = self.interpreter.get_signature_list()
        if not signatures:
            raise KvidError(f"{self.path}: no signature (re-export with kvid)")
        self.key = next(iter(signatures))
        self.runner = self.interpreter.get_signature_runner(self.key)
        self.inputs = self.runner.get_input_details()
        self.outputs = self.runner.get_output_details()

    def __call__(self, **tensors) -> dict:
        return self.runner(**tensors)


class FasterModels:
    """The three TFLite models of a FASTER export, loaded from its sidecar (``step.json``
    next to ``step.tflite``, or any sidecar with a ``faster`` field)."""

    def __init__(self, sidecar, threads=None, xnnpack=True):
        sidecar = os.fspath(sidecar)
        with open(sidecar, encoding="utf-8") as fh:
            self.meta = json.load(fh)
        spec = self.meta.get("faster")
        if not spec:
            raise KvidError(f"{sidecar}: not a FASTER sidecar (no 'faster' field)")
        base = os.path.dirname(os.path.abspath(sidecar))
        self.spec = spec
        self.clip_frames = int(spec["clip_frames"])
        self.clips = int(spec["clips"])
        self.pattern = parse_pattern(spec["pattern"])
        self.labels = list(self.meta.get("labels") or [])
        self.expensive = _Runner(os.path.join(base, spec["expensive"]), threads, xnnpack)
        self.cheap = _Runner(os.path.join(base, spec["cheap"]), threads, xnnpack)
        self.step = _Runner(os.path.join(base, spec["step"]), threads, xnnpack)
        self.state_names = [s["name"] for s in spec["states"]]
        for name in ("feature", "control", *self.state_names):
            if name not in self.step.inputs:
                raise KvidError(f"{spec['step']}: step model has no input {name!r}")

    def features(self, clip, expensive: bool) -> np.ndarray:
        """The clip model's int8 feature map for a raw clip ``(L, H, W, 3)`` (0..255)."""
        model = self.expensive if expensive else self.cheap
        (name, details), = model.inputs.items()
        clip = np.asarray(clip, np.float32)
        if tuple(clip.shape) != tuple(details["shape"]):
            raise KvidError(f"clip shape {clip.shape}: the FASTER models take {tuple(details['shape'])}")
        (out,) = model(**{name: _quantize(clip, details)}).values()
        return out

    def step_inputs(self, feature_q, clip_model_output, states, t, expensive) -> dict:
        """The step's input tensors: the clip model's int8 features requantized to the step's
        feature scale (and reshaped to ``(1, L/8, h*w, C)``), the states, the control vector."""
        fdet = self.step.inputs["feature"]
        feature = _dequantize(feature_q, clip_model_output)
        tensors = {"feature": _quantize(feature.reshape(fdet["shape"]), fdet)}
        cdet = self.step.inputs["control"]
        tensors["control"] = _quantize(control_vector(t, expensive).reshape(cdet["shape"]), cdet)
        for name in self.state_names:
            tensors[name] = states[name]
        return tensors

    def zero_states(self) -> dict:
        return {name: _quantize(np.zeros(self.step.inputs[name]["shape"], np.float32),
                                self.step.inputs[name]) for name in self.state_names}

    def run_step(self, feature_q, states, t, expensive):
        """One aggregation step; returns ``(new_states, logits)`` (states int8 as the step
        takes them back, logits float32 ``(K,)``)."""
        clip_out = next(iter((self.expensive if expensive else self.cheap).outputs.values()))
        out = self.step(**self.step_inputs(feature_q, clip_out, states, t, expensive))
        new_states = {}
        for name in self.state_names:
            value = out[name]
            if self.step.outputs[name]["quantization"] != self.step.inputs[name]["quantization"]:
                value = _quantize(_dequantize(value, self.step.outputs[name]), self.step.inputs[name])
            new_states[name] = value
        logits = _dequantize(out["logits"], self.step.outputs["logits"]).reshape(-1)
        return new_states, logits


class FasterStream:
    """Streaming FASTER: feed clips (or frames); a prediction after every clip.

    ``push_clip(clip)`` runs clip ``t`` through the model the pattern picks, then the
    aggregator step, and returns the logits so far (float32 ``(K,)``). ``push_frames(frames)``
    buffers a live stream and runs each complete run of ``L`` consecutive frames as a clip
    (non-overlapping clips; returns the list of predictions made). ``reset()`` starts a new
    video. The pattern repeats beyond the sidecar's ``clips``, so a stream can run forever.
    """

    def __init__(self, models: FasterModels, pattern=None):
        self.models = models
        self.pattern = parse_pattern(pattern) if pattern is not None else models.pattern
        self.reset()

    def reset(self):
        self.t = 0
        self.states = self.models.zero_states()
        self.buffer: list[np.ndarray] = []
        self.logits = None
        self.history: list[dict] = []

    def is_expensive(self, t: int) -> bool:
        e, c = self.pattern
        return bool(t % (e + c) < e)

    def push_clip(self, clip) -> np.ndarray:
        expensive = self.is_expensive(self.t)
        feature = self.models.features(clip, expensive)
        self.states, self.logits = self.models.run_step(feature, self.states, self.t, expensive)
        self.history.append({"clip": self.t, "expensive": expensive,
                             "top1": int(np.argmax(self.logits))})
        self.t += 1
        return self.logits

    def push_frames(self, frames) -> list[np.ndarray]:
        out = []
        for frame in np.asarray(frames, np.float32):
            self.buffer.append(frame)
            if len(self.buffer) == self.models.clip_frames:
                out.append(self.push_clip(np.stack(self.buffer)))
                self.buffer = []
        return out


def predict_video(models: FasterModels, frames, clips: int | None = None, pattern=None):
    """Whole-video FASTER: ``clips`` clips of ``L`` consecutive frames uniformly covering the
    video (the ``dense`` test scheme of kvid.data.sampling; ``frames``: ``(T, H, W, 3)`` raw RGB
    already at the model's size), streamed through :class:`FasterStream`. Returns
    ``(logits_after_each_clip, stream.history)``."""
    frames = np.asarray(frames, np.float32)
    clips = models.clips if clips is None else int(clips)
    length = models.clip_frames
    stream = FasterStream(models, pattern)
    outs = []
    for k in range(clips):
        idx = sample_indices(len(frames), length, "dense", clips=clips, clip_index=k)
        outs.append(stream.push_clip(frames[idx]))
    return np.stack(outs), stream.history


__all__ = [
    "CONTROL_FIELDS", "PATTERNS", "parse_pattern", "pattern_name", "schedule", "control_vector",
    "FasterModels", "FasterStream", "predict_video",
]
