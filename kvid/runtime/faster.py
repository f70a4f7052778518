"""FASTER on device, without TensorFlow: an expensive and a cheap clip model plus a recurrent
aggregator step, driven clip by clip (Zhu et al., FASTER, Sec. "Learning to Aggregate").

A FASTER export is three int8 TFLite files and a sidecar (docs/INTERFACES.md, ``"faster"``;
its form is :class:`kvid.contract.faster.FasterSpec`):

* ``expensive`` / ``cheap``: one clip ``(L, H, W, 3)`` in, the res5 feature map
  ``(L/8, h, w, C)`` out (time folded into the batch, rank 4);
* ``step``: ``feature (1, L/8, h*w, C)`` (the same bytes as the clip model's output, requantized
  to the step's input scale), the state(s) and a ``control`` vector ``(1, 1, 1, 6)`` in; the new
  state(s) and ``logits (1, K)`` out. The state starts at zero; the control vector
  (:func:`control_input`, the values of kvid.contract.faster.control_vector) tells the step
  whether the clip is the first one (then the state becomes the first clip's feature,
  ``o_0 = x_0`` of Eq. 1), whether it is expensive, and its running-average weight
  ``1 / (t + 1)``.

The pattern ``#E:#C`` picks the model per clip (kvid.contract.faster.schedule): with ``1:3``
clips 0, 4, 8, ... are expensive. :class:`FasterStream` keeps the state between clips and gives
a prediction after every clip; :meth:`FasterStream.push_frames` takes a live stream of frames
and runs a clip as soon as its ``L`` frames are in; :func:`predict_video` runs the ``N``
uniform clips of a whole video. The protocol itself (patterns, schedule, control fields) lives
in kvid.contract.faster, shared with training and export.
"""

from __future__ import annotations

import os

import numpy as np

from kvid import KvidError
from kvid.contract import ClipSpec
from kvid.contract.faster import FasterSpec, control_vector, is_expensive, parse_pattern
from kvid.contract.sidecar import read_sidecar
from kvid.data.sampling import test_clips
from kvid.runtime.interpreter import dequantize_from, load_interpreter, quantize_for


def control_input(t: int, expensive: bool, details) -> np.ndarray:
    """The step's ``control`` input for clip ``t``: kvid.contract.faster.control_vector shaped
    and quantized as the step's input ``details`` say."""
    values = np.asarray(control_vector(t, expensive), np.float32)
    return quantize_for(values.reshape(details["shape"]), details)


class SignatureModel:
    """A TFLite model called through its first signature (inputs and outputs by name;
    ``inputs`` / ``outputs``: the interpreter's details of each)."""

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
        self.meta = read_sidecar(sidecar, required=True)
        if not self.meta.get("faster"):
            raise KvidError(f"{sidecar}: not a FASTER sidecar (no 'faster' field)")
        spec = self.spec = FasterSpec.from_dict(self.meta["faster"], f"{sidecar}: faster")
        base = os.path.dirname(os.path.abspath(sidecar))
        self.clip_frames, self.clips, self.pattern = spec.clip_frames, spec.clips, spec.pattern
        self.labels = list(self.meta.get("labels") or [])
        self.expensive = SignatureModel(os.path.join(base, spec.expensive), threads, xnnpack)
        self.cheap = SignatureModel(os.path.join(base, spec.cheap), threads, xnnpack)
        self.step = SignatureModel(os.path.join(base, spec.step), threads, xnnpack)
        self.state_names = spec.state_names
        for name in ("feature", "control", *self.state_names):
            if name not in self.step.inputs:
                raise KvidError(f"{spec.step}: step model has no input {name!r}")

    def features(self, clip, expensive: bool) -> np.ndarray:
        """The clip model's int8 feature map for a raw clip ``(L, H, W, 3)`` (0..255)."""
        model = self.expensive if expensive else self.cheap
        (name, details), = model.inputs.items()
        clip = np.asarray(clip, np.float32)
        if tuple(clip.shape) != tuple(details["shape"]):
            raise KvidError(f"clip shape {clip.shape}: the FASTER models take {tuple(details['shape'])}")
        (out,) = model(**{name: quantize_for(clip, details)}).values()
        return out

    def step_inputs(self, feature_q, clip_model_output, states, t, expensive) -> dict:
        """The step's input tensors: the clip model's int8 features requantized to the step's
        feature scale (and reshaped to ``(1, L/8, h*w, C)``), the states, the control vector."""
        fdet = self.step.inputs["feature"]
        feature = dequantize_from(feature_q, clip_model_output)
        tensors = {"feature": quantize_for(feature.reshape(fdet["shape"]), fdet)}
        tensors["control"] = control_input(t, expensive, self.step.inputs["control"])
        for name in self.state_names:
            tensors[name] = states[name]
        return tensors

    def zero_states(self) -> dict:
        return {name: quantize_for(np.zeros(self.step.inputs[name]["shape"], np.float32),
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
                value = quantize_for(dequantize_from(value, self.step.outputs[name]), self.step.inputs[name])
            new_states[name] = value
        logits = dequantize_from(out["logits"], self.step.outputs["logits"]).reshape(-1)
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
        return is_expensive(t, self.pattern)

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
    spec = ClipSpec(scheme="dense", frames=length, clips=clips)
    outs = [stream.push_clip(frames[idx]) for idx in test_clips(spec, len(frames))]
    return np.stack(outs), stream.history


__all__ = ["FasterModels", "FasterStream", "SignatureModel", "control_input", "predict_video"]
