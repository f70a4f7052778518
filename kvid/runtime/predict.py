"""Classify a video with a kvid ``.tflite`` and its sidecar, without TensorFlow.

Decoding, sampling and cropping are kvid.data's own (``ClipSpec`` + ``load_views``), so a
prediction here sees exactly the views ``kvid evaluate`` sees.
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


def read_sidecar(path):
    from kvid.export.metadata import read_sidecar as _read  # kvid.export.metadata needs no TensorFlow

    return _read(path)


class VideoClassifier:
    """A ``.tflite`` clip model plus how to cut clips for it (from its sidecar)."""

    def __init__(self, tflite_path, threads: int | None = None, xnnpack: bool = True):
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
        sampling = side.get("sampling") or {}
        crop = side.get("crop") or {}
        self.spec_kwargs = {
            "frames": t, "size": h, "scheme": sampling.get("scheme", "dense"),
            "stride": int(sampling.get("stride", 1)), "window": sampling.get("window"),
            "clips": int(sampling.get("clips", 1)), "resize": crop.get("resize"),
        }
        self.assumed = None if side else self._assumed(tflite_path)

    def _assumed(self, tflite_path) -> str:
        """What a file without a sidecar is taken to be (``kvid predict`` says it once)."""
        from kvid.data.transforms import default_resize
        from kvid.export.metadata import sidecar_path

        k = self.spec_kwargs
        return (f"{tflite_path}: no sidecar ({sidecar_path(tflite_path)}), assumed: labels class_0..class_"
                f"{len(self.labels) - 1}, {k['scheme']} sampling of {k['frames']} frames (stride {k['stride']}), "
                f"{k['clips']} clip(s) x 1 crop(s), short side resized to {k['resize'] or default_resize(k['size'])}, "
                f"centre crop {k['size']}")

    def spec(self, clips: int | None = None, crops: int = 1):
        from kvid.data.clips import ClipSpec

        kwargs = dict(self.spec_kwargs)
        if clips is not None:
            kwargs["clips"] = clips
        return ClipSpec(crops=crops, **kwargs)

    def predict_views(self, views) -> tuple[np.ndarray, float]:
        """Average logits over views and the model-only time in seconds."""
        t0 = time.perf_counter()
        logits = np.stack([self.model(v) for v in views])
        return logits.mean(axis=0), time.perf_counter() - t0

    def predict(self, video_path, k: int = 5, clips: int | None = None, crops: int = 1) -> dict:
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
