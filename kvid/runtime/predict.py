"""Classify a video with a kvid ``.tflite`` and its sidecar, without TensorFlow.

Decoding, sampling and cropping are kvid.data's own (the sidecar's ``ClipSpec`` +
``load_views``), so a prediction here sees exactly the views ``kvid evaluate`` sees.
"""

from __future__ import annotations

import time

import numpy as np

from kvid import KvidError
from kvid.runtime.interpreter import ClipModel


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax in float64 over the last axis (the Android core computes the same)."""
    z = np.asarray(logits, np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def top_k(scores, k: int = 5) -> np.ndarray:
    """Class indices, best first; equal scores keep the lower index first (as the app)."""
    return np.argsort(-np.asarray(scores), kind="stable")[:k]


class VideoClassifier:
    """A ``.tflite`` clip model plus how to cut clips for it: the clip spec of its sidecar
    (:mod:`kvid.contract.sidecar`), the same object the run trained with."""

    def __init__(self, tflite_path, threads: int | None = None, xnnpack: bool = True):
        from kvid.contract import ClipSpec
        from kvid.contract.sidecar import clip_spec, read_sidecar

        self.model = ClipModel(tflite_path, threads=threads, xnnpack=xnnpack)
        self.sidecar = read_sidecar(tflite_path)
        t, h, w, _ = self.model.input_shape
        side = self.sidecar or {}
        if side and (side.get("frames"), side.get("height"), side.get("width")) != (t, h, w):
            raise KvidError(
                f"{tflite_path}: sidecar says {side.get('frames')}x{side.get('height')}x"
                f"{side.get('width')} but the model input is {t}x{h}x{w}"
            )
        num_out = int(self.model.output["shape"][-1])
        self.labels = side.get("labels") or [f"class_{i}" for i in range(num_out)]
        if len(self.labels) != num_out:
            raise KvidError(f"{tflite_path}: {len(self.labels)} labels for {num_out} outputs")
        self.clip = clip_spec(side) if side else ClipSpec(frames=t, crop=h)
        self.assumed = None if side else self._assumed(tflite_path)

    def _assumed(self, tflite_path) -> str:
        """What a file without a sidecar is taken to be (``kvid predict`` says it once)."""
        from kvid.contract.sidecar import sidecar_path

        c = self.clip
        return (f"{tflite_path}: no sidecar ({sidecar_path(tflite_path)}), assumed: labels class_0..class_"
                f"{len(self.labels) - 1}, {c.scheme} sampling of {c.frames} frames (stride {c.stride}), {c.clips} "
                f"clip(s) x {c.crops} crop(s), short side resized to {c.test_resize}, centre crop {c.crop}")

    def spec(self, clips: int | None = None, crops: int | None = None):
        """The test views: the sidecar's clip spec, with ``clips``/``crops`` if given."""
        return self.clip.replace(clips=clips, crops=crops)

    def predict_views(self, views) -> tuple[np.ndarray, float]:
        """Average logits over views and the model-only time in seconds."""
        t0 = time.perf_counter()
        logits = np.stack([self.model(v) for v in views])
        return logits.mean(axis=0), time.perf_counter() - t0

    def predict(self, video_path, k: int = 5, clips: int | None = None, crops: int | None = None) -> dict:
        from kvid.data.clips import load_views

        t0 = time.perf_counter()
        views = load_views(str(video_path), self.spec(clips, crops))
        logits, model_s = self.predict_views(views)
        total_s = time.perf_counter() - t0
        probs = softmax(logits)
        order = top_k(probs, k)
        return {
            "video": str(video_path),
            "top": [{"label": self.labels[i], "index": int(i), "score": float(probs[i])} for i in order],
            "views": int(len(views)),
            "latency_ms": {"model": model_s * 1e3, "model_per_view": model_s * 1e3 / len(views),
                           "end_to_end": total_s * 1e3},
        }
