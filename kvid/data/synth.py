"""A synthetic video dataset where temporal order decides the label (numpy + OpenCV, no TF).

``write_synthetic(out, classes=10, ...)`` (and ``kvid synth OUT``) writes real video files -
MPEG-4 Part 2 (``mp4v``) ``.mp4`` and Motion-JPEG ``.avi``, alternating - in the
folder-per-class layout ``OUT/<class>/<class>_0001.mp4``, plus the list files ``train.txt``,
``val.txt``, ``test.txt`` (``path label_index``, 70/15/15 per class), ``labels.txt`` and
``synth.json`` (the options). ``kvid.data.layouts`` reads it as the ``lists`` layout. It is the
demo's default dataset and the CI's training data.

The classes, in this order (``classes=K`` takes the first K, at most 14):
``move_left``, ``move_right``, ``move_up``, ``move_down`` (an object travels 35-55% of the
frame), ``rotate_cw``, ``rotate_ccw`` (90-200 degrees), ``grow``, ``shrink`` (x1.8-2.5),
``appear``, ``disappear`` (a fade at a random moment), and the "pretending" classes
``pretend_left`` ... ``pretend_down`` (moves that way, then returns: like SSv2's "pretending to
move something", they differ from ``move_*`` only in time). Any single frame of a video fits
several classes (start positions, angles, sizes and fade times are random), so a model has
to use temporal order; and mirrored videos change label (left/right, cw/ccw), so do not train
on it with horizontal flips.

Appearance is random and shared by all classes: asymmetric polygon shapes, colours, solid /
striped / noisy textures, backgrounds (noise, gradients, stripes, checkerboards, blobs), a
distractor object in half of the videos, per-pixel noise, brightness flicker and a camera
jitter (a small random walk of the view). One thing is held fixed so that small models learn
the task from a few hundred videos on a CPU: backgrounds are dark and objects bright (with
both polarities mixed, a small 3D CNN on 420 training videos stayed near chance after 30
epochs; with one polarity it reached 88% on val at 8x32x32, while the same network on single
frames stayed at chance, 11%). Each video draws from its own generator seeded by
``(seed, class, video)``, so the output is the same for the same seed on every run.
Sizes are rounded down to even numbers (the MPEG-4 writer needs them even).
"""

from __future__ import annotations

import json
import os

import cv2
import numpy as np

from kvid import KvidError

CLASSES = (
    "move_left", "move_right", "move_up", "move_down",
    "rotate_cw", "rotate_ccw", "grow", "shrink", "appear", "disappear",
    "pretend_left", "pretend_right", "pretend_up", "pretend_down",
)
_DIRECTIONS = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0)}
# Asymmetric outlines (unit scale, centred): orientation is visible, so rotation is too.
_SHAPES = (
    np.array([[0, -1], [0.7, 0.8], [0, 0.35], [-0.7, 0.8]]),  # arrow head
    np.array([[-0.8, -0.9], [-0.2, -0.9], [-0.2, 0.3], [0.8, 0.3], [0.8, 0.9], [-0.8, 0.9]]),  # L
    np.array([[-0.9, -0.6], [0.9, -0.2], [0.3, 0.8], [-0.5, 0.6]]),  # kite
    np.array([[-0.5, -1], [0.5, -1], [0.5, 0], [1, 0], [0, 1], [-1, 0], [-0.5, 0]]),  # flag arrow
    np.array([[-1, -0.5], [1, -0.5], [1, 0.5], [0.2, 0.5], [0.2, 1], [-1, 1]]),  # notched box
)
_FORMATS = (("mp4", "mp4v"), ("avi", "MJPG"))


def write_synthetic(
    out,
    classes: int = 10,
    videos_per_class: int = 30,
    frames: int = 32,
    size: int | tuple[int, int] = 64,
    fps: float = 12.0,
    seed: int = 0,
) -> str:
    """Write the dataset into folder ``out`` (created); returns ``out``. See the module text.

    ``size`` is the frame side, or ``(width, height)``.
    """
    out = os.fspath(out)
    width, height = _parse_size(size)
    if not 1 <= classes <= len(CLASSES):
        raise KvidError(f"classes={classes}: must be 1..{len(CLASSES)}")
    if videos_per_class < 1:
        raise KvidError(f"videos_per_class={videos_per_class}: must be at least 1")
    if frames < 4:
        raise KvidError(f"frames={frames}: must be at least 4")
    if not fps > 0:
        raise KvidError(f"fps={fps}: must be positive")
    names = list(CLASSES[:classes])
    os.makedirs(out, exist_ok=True)
    splits = {"train": [], "val": [], "test": []}
    for label, name in enumerate(names):
        os.makedirs(os.path.join(out, name), exist_ok=True)
        for v in range(videos_per_class):
            ext, fourcc = _FORMATS[v % 2]
            rel = f"{name}/{name}_{v + 1:04d}.{ext}"
            rng = np.random.default_rng([seed, label, v])
            clip = render_video(name, frames, width, height, rng)
            _write(os.path.join(out, rel), clip, fourcc, fps)
        order = np.random.default_rng([seed, label, 10**6]).permutation(videos_per_class)
        for split, idx in zip(splits, _split_counts(videos_per_class, order)):
            for v in sorted(idx):
                ext = _FORMATS[v % 2][0]
                splits[split].append(f"{name}/{name}_{v + 1:04d}.{ext} {label}")
    for split, lines in splits.items():
        _write_text(os.path.join(out, f"{split}.txt"), lines)
    _write_text(os.path.join(out, "labels.txt"), names)
    meta = {
        "format": "kvid-synth", "version": 1, "classes": names, "videos_per_class": videos_per_class,
        "frames": frames, "width": width, "height": height, "fps": fps, "seed": seed,
    }
    with open(os.path.join(out, "synth.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)
    return out


def render_video(name: str, frames: int, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """One video of class ``name``: uint8 ``(frames, height, width, 3)`` RGB."""
    side = min(width, height)
    jit = max(1, side // 32)  # camera shake bound: small beside the object's motion
    bg = _background(height + 2 * jit, width + 2 * jit, rng)
    obj = _Object(rng, side, bg)
    extra = _Object(rng, side, bg, scale=0.6) if rng.random() < 0.5 else None
    t = np.linspace(0.0, 1.0, frames)
    cx, cy, angle, scale, alpha = _trajectory(name, t, obj.radius, width, height, rng)
    ex, ey = (rng.uniform(0.15, 0.85) * width, rng.uniform(0.15, 0.85) * height)
    edrift = rng.normal(0, side * 0.01, (frames, 2)).cumsum(axis=0)
    cam = np.clip(rng.normal(0, jit * 0.25, (frames, 2)).cumsum(axis=0), -jit, jit).round().astype(int)
    views = np.empty((frames, height, width, 3), np.uint8)
    for i in range(frames):
        canvas = bg.copy()
        if extra is not None:
            extra.draw(canvas, ex + edrift[i, 0] + jit, ey + edrift[i, 1] + jit, extra.angle0, 1.0, 1.0)
        obj.draw(canvas, cx[i] + jit, cy[i] + jit, angle[i], scale[i], alpha[i])
        views[i] = canvas[jit + cam[i, 1] : jit + cam[i, 1] + height, jit + cam[i, 0] : jit + cam[i, 0] + width]
    flicker = (1.0 + rng.normal(0, 0.01, frames).cumsum()).astype(np.float32)
    video = views.astype(np.float32) * flicker[:, None, None, None]
    video += rng.standard_normal(video.shape, dtype=np.float32) * np.float32(rng.uniform(0, 5))
    return np.clip(video, 0, 255).astype(np.uint8)


def _trajectory(name: str, t: np.ndarray, radius: float, width: int, height: int, rng):
    """Per-frame centre x, y, angle (deg), scale and opacity of the main object."""
    n = len(t)
    side = min(width, height)
    ease = t if rng.random() < 0.5 else t * t * (3 - 2 * t)
    angle0 = rng.uniform(0, 360)
    angle = np.full(n, angle0) + rng.normal(0, 2, n).cumsum()
    scale = np.ones(n)
    alpha = np.ones(n)
    margin = radius * 1.1
    cx = np.full(n, rng.uniform(margin, width - margin))
    cy = np.full(n, rng.uniform(margin, height - margin))
    kind, _, direction = name.partition("_")
    if kind in ("move", "pretend"):
        dx, dy = _DIRECTIONS[direction]
        dist = rng.uniform(0.35, 0.55) * side
        if kind == "pretend":  # out and back, turning at a random moment
            peak = rng.uniform(0.35, 0.65)
            ease = np.where(t <= peak, t / peak, (1 - t) / (1 - peak))
        x0 = _start(dx, dist, margin, width, rng)
        y0 = _start(dy, dist, margin, height, rng)
        cx, cy = x0 + dx * dist * ease, y0 + dy * dist * ease
        cx = cx + (rng.normal(0, side * 0.01, n).cumsum() if dx == 0 else 0)
        cy = cy + (rng.normal(0, side * 0.01, n).cumsum() if dy == 0 else 0)
    elif kind == "rotate":
        sign = 1.0 if direction == "cw" else -1.0  # image y points down: +angle turns clockwise
        angle = angle0 + sign * rng.uniform(90, 200) * ease
    elif kind in ("grow", "shrink"):
        lo = rng.uniform(0.45, 0.6)
        hi = lo * rng.uniform(1.8, 2.5)
        scale = lo + (hi - lo) * (ease if kind == "grow" else 1 - ease)
    elif kind in ("appear", "disappear"):
        at, width_t = rng.uniform(0.25, 0.65), rng.uniform(0.05, 0.2)
        ramp = np.clip((t - at) / width_t, 0, 1)
        alpha = ramp if kind == "appear" else 1 - ramp
    return cx, cy, angle, scale, alpha


def _start(d: float, dist: float, margin: float, extent: int, rng) -> float:
    if d == 0:
        return rng.uniform(margin, extent - margin)
    lo, hi = (margin, extent - margin - dist) if d > 0 else (margin + dist, extent - margin)
    return rng.uniform(lo, hi) if hi > lo else (lo + hi) / 2


class _Object:
    def __init__(self, rng, side: int, bg: np.ndarray, scale: float = 1.0):
        self.outline = _SHAPES[rng.integers(len(_SHAPES))] * rng.uniform(0.75, 1.25, 2)
        self.radius = rng.uniform(0.15, 0.22) * side * scale
        self.angle0 = rng.uniform(0, 360)
        mean = bg.reshape(-1, 3).mean(axis=0)
        for _ in range(20):  # any hue, but clearly brighter than the (dark) background
            base = rng.integers(110, 256, 3)
            base[rng.integers(3)] = rng.integers(0, 256)
            if (base - mean).sum() >= 200:
                break
        self.color = base.astype(np.float32)
        self.texture = rng.integers(3)  # solid, stripes, speckle
        self.color2 = rng.integers(110, 256, 3).astype(np.float32)
        self.period = rng.uniform(3, 8)
        self.phase = rng.uniform(0, 100)

    def draw(self, canvas: np.ndarray, x: float, y: float, angle: float, scale: float, alpha: float) -> None:
        if alpha <= 0.01:
            return
        a = np.deg2rad(angle)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        pts = (self.outline * self.radius * scale) @ rot.T + (x, y)
        x0, y0 = np.floor(pts.min(axis=0)).astype(int) - 1
        x1, y1 = np.ceil(pts.max(axis=0)).astype(int) + 2
        h, w = canvas.shape[:2]
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 <= x0 or y1 <= y0:
            return
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        poly = np.round((pts - (x0, y0)) * 16).astype(np.int32)
        cv2.fillPoly(mask, [poly], 255, lineType=cv2.LINE_AA, shift=4)
        m = mask.astype(np.float32)[:, :, None] * (alpha / 255.0)
        fill = np.broadcast_to(self.color, (y1 - y0, x1 - x0, 3))
        if self.texture == 1:
            yy, xx = np.mgrid[y0:y1, x0:x1]
            stripe = (((xx + yy) / self.period + self.phase) % 2 < 1)[:, :, None]
            fill = np.where(stripe, self.color, self.color2 * 0.5 + self.color * 0.5)
        elif self.texture == 2:
            fill = fill * (0.8 + 0.4 * _hash_noise(x1 - x0, y1 - y0, self.phase))[:, :, None]
        region = canvas[y0:y1, x0:x1].astype(np.float32)
        canvas[y0:y1, x0:x1] = np.clip(region * (1 - m) + fill * m, 0, 255).astype(np.uint8)


def _hash_noise(w: int, h: int, phase: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return (np.sin(xx * 12.9898 + yy * 78.233 + phase) * 43758.5453) % 1.0


def _background(h: int, w: int, rng) -> np.ndarray:
    kind = rng.integers(5)
    c1 = rng.integers(0, 100, 3).astype(np.float32)  # dark: objects are brighter (one polarity)
    c2 = np.clip(c1 + rng.normal(0, 35, 3), 0, 255)  # textured, but quieter than the objects
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == 0:  # smooth noise blobs
        low = rng.random((max(2, h // 12), max(2, w // 12), 1)).astype(np.float32)
        mix = cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC)[:, :, None]
    elif kind == 1:  # linear gradient
        a = rng.uniform(0, 2 * np.pi)
        g = xx * np.cos(a) + yy * np.sin(a)
        mix = ((g - g.min()) / (np.ptp(g) + 1e-6))[:, :, None]
    elif kind == 2:  # stripes
        a, period = rng.uniform(0, np.pi), rng.uniform(4, 16)
        mix = ((np.sin((xx * np.cos(a) + yy * np.sin(a)) * 2 * np.pi / period) > 0).astype(np.float32))[:, :, None]
        mix = 0.3 + 0.4 * mix
    elif kind == 3:  # checkerboard
        cell = int(rng.integers(4, 12))
        mix = (((xx // cell + yy // cell) % 2) * 0.5 + 0.25)[:, :, None]
    else:  # fine noise
        mix = rng.random((h, w, 1)).astype(np.float32)
    img = c1 * (1 - mix) + c2 * mix
    return np.clip(img, 0, 255).astype(np.uint8)


def _write(path: str, clip: np.ndarray, fourcc: str, fps: float) -> None:
    h, w = clip.shape[1:3]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), float(fps), (w, h))
    if not writer.isOpened():
        raise KvidError(f"{path}: OpenCV cannot write {fourcc} video here")
    try:
        for frame in clip:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()


def _write_text(path: str, lines: list[str]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))


def _split_counts(n: int, order: np.ndarray) -> list[np.ndarray]:
    """Indices of train/val/test (70/15/15; at least one test video from 2, one val from 3)."""
    n_test = max(1, round(0.15 * n)) if n >= 2 else 0
    n_val = max(1, round(0.15 * n)) if n >= 3 else 0
    n_train = n - n_val - n_test
    return [order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :]]


def _parse_size(size) -> tuple[int, int]:
    if isinstance(size, str):
        parts = size.lower().split("x")
        try:
            size = tuple(int(p) for p in parts) if len(parts) == 2 else int(size)
        except ValueError:
            raise KvidError(f"size={size!r}: expected S or WxH") from None
    w, h = (size, size) if isinstance(size, (int, np.integer)) else size
    if min(w, h) < 16:
        raise KvidError(f"size={w}x{h}: frames must be at least 16 pixels on a side")
    return int(w) // 2 * 2, int(h) // 2 * 2
