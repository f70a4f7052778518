"""From a video path to model-ready clips, and the bad-input log (numpy + OpenCV, no TF).

This is the per-video work the tf.data pipeline runs in parallel, kept free of TensorFlow
so that ``kvid data check`` and TFLite evaluation without TensorFlow use the very same code:

- ``ClipSpec`` (:mod:`kvid.contract.clip`, re-exported here): frames ``T``, crop size ``S``,
  temporal scheme (``kvid.data.sampling``) and spatial views (``kvid.data.transforms``);
- ``load_clip(path, spec, rng)``: one random training clip ``float32 (T, S, S, 3)``;
- ``load_views(path, spec)``: every test view, ``float32 (clips * crops, T, S, S, 3)``, clip-major
  (view ``v`` is temporal clip ``v // crops``, spatial crop ``v % crops``);
- ``iter_views(dataset, spec)``: ``(views, label, video index)`` for each usable video;
- ``ProblemLog``: thread-safe record of bad inputs, each logged once (logger ``kvid.data``)
  with file and reason, and counted.
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from kvid import KvidError
from kvid.contract.clip import ClipSpec
from kvid.data import sampling, transforms
from kvid.data.layouts import Problem
from kvid.data.video import VideoReader

log = logging.getLogger("kvid.data")


class ProblemLog:
    """Bad inputs met while loading: each path logged once (``kvid.data`` logger) and counted.

    Errors (video skipped) log at WARNING, warnings (video used, adapted) at INFO;
    ``echo=False`` only records them.
    """

    def __init__(self, echo: bool = True):
        self.echo = echo
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], Problem] = {}

    def add(self, path: str, reason: str, severity: str = "error") -> None:
        key = (str(path), severity if severity == "error" else reason)  # a skipped video: once
        with self._lock:
            if key in self._seen:
                return
            self._seen[key] = Problem(str(path), reason, severity)
        if self.echo:
            (log.warning if severity == "error" else log.info)("%s: %s", path, reason)

    def extend(self, problems) -> None:
        for p in problems:
            self.add(p.path, p.reason, p.severity)

    @property
    def problems(self) -> list[Problem]:
        with self._lock:
            return list(self._seen.values())

    @property
    def errors(self) -> int:
        """How many videos were left out."""
        return sum(p.severity == "error" for p in self.problems)

    @property
    def warnings(self) -> int:
        return sum(p.severity == "warning" for p in self.problems)

    def summary(self) -> str:
        return f"{self.errors} videos skipped, {self.warnings} adapted (see the kvid.data log)"


def open_video(path: str, spec: ClipSpec, problems: ProblemLog | None) -> VideoReader:
    """Open ``path``; notes (as a warning) a video shorter than a clip, which gets looped/stretched."""
    reader = VideoReader(path)
    if problems is not None and reader.num_frames < spec.span:
        note_short(problems, path, reader.num_frames, spec)
    return reader


def note_short(problems: ProblemLog, path: str, num_frames: int, spec: ClipSpec) -> None:
    """Record (as a warning) that a video is shorter than a clip and how it is filled."""
    how = "looped" if spec.scheme == "dense" else "frames repeated"  # (kvid.data.sampling)
    problems.add(path, f"{num_frames} frames, shorter than a clip ({spec.span}): {how}", "warning")


def load_clip(path: str, spec: ClipSpec, rng: np.random.Generator, problems: ProblemLog | None = None) -> np.ndarray:
    """One random training clip of the video at ``path``: ``float32 (T, S, S, 3)``."""
    with open_video(path, spec, problems) as reader:
        frames = reader.read(sampling.clip_indices(spec, reader.num_frames, rng=rng))
    return transforms.train_view(frames, spec.crop, rng, scale=spec.scale, flip=spec.flip)


def load_views(path: str, spec: ClipSpec, problems: ProblemLog | None = None) -> np.ndarray:
    """All ``clips x crops`` test views of the video: ``float32 (V, T, S, S, 3)``, clip-major."""
    with open_video(path, spec, problems) as reader:
        idx = sampling.test_clips(spec, reader.num_frames)
        frames = reader.read(np.concatenate(idx))
    t = spec.frames
    views = [
        transforms.eval_views(frames[k * t : (k + 1) * t], spec.crop, crops=spec.crops, resize=spec.test_resize)
        for k in range(spec.clips)
    ]
    return np.concatenate(views)


def load_video(path: str, short_side: int | None = None) -> np.ndarray:
    """Every frame of a video, uint8 ``(N, H, W, 3)``, shrunk so the short side is at most ``short_side``."""
    with VideoReader(path) as reader:
        frames = reader.read(np.arange(reader.num_frames))
    h, w = frames.shape[1:3]
    if short_side is not None and min(h, w) > short_side:
        frames = transforms.resize_clip(frames, *transforms.resized_shape(h, w, short_side))
    return frames


def safely(problems: ProblemLog, path: str, fn, *args):
    """``fn(*args)``, or None with the failure recorded against ``path`` (nothing crashes)."""
    try:
        return fn(*args)
    except KvidError as exc:
        problems.add(path, getattr(exc, "reason", None) or str(exc))
    except Exception as exc:  # noqa: BLE001 - a broken file must not stop training
        problems.add(path, f"{type(exc).__name__}: {exc}".splitlines()[0])
    return None


def iter_views(dataset, spec: ClipSpec, problems: ProblemLog | None = None):
    """``(views, label, index)`` for each usable video of ``dataset`` (a ``layouts.Dataset``)."""
    problems = problems if problems is not None else ProblemLog()
    for index, (path, label) in enumerate(dataset.items):
        views = safely(problems, path, load_views, path, spec, problems)
        if views is not None:
            yield views, label, index
