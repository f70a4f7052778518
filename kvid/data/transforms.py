"""Spatial transforms of a clip (numpy + OpenCV, no TensorFlow).

Input frames are ``(T, H, W, C)`` RGB (``C`` 1, 3 or 4; uint8, or float 0..255 which is
rounded half-to-even and clipped to uint8 first), output views are ``float32 (T, S, S, 3)``
in 0..255 (the clip contract, docs/INTERFACES.md).

Test views (evaluation, runtime, Android; exact integer arithmetic)
-------------------------------------------------------------------
``center``: resize the short side to ``resize`` (default ``round(crop * 8 / 7)``, computed
as ``(16 * crop + 7) // 14``), then take the centre ``crop x crop``. ``three``: short side to
``resize`` (default ``crop``), crops at the centre and both ends of the long side (the
Non-local / SlowFast "3 crops" that SEVNet uses on Kinetics). ``five``/``ten``: short side to
``resize`` (default as ``center``), the centre and four corner crops (``ten`` adds their
horizontal mirrors, so do not use it where labels depend on direction, e.g. SSv2).
View order: centre first, then top/left end, bottom/right end (three), or top-left,
top-right, bottom-left, bottom-right (five/ten), then the mirrors in the same order.

The resize is defined in integers so that plain Java (``android_demo/core``) reproduces the
view byte for byte. All divisions below are floor divisions of non-negative integers
(``/`` in Java on ``long``), ``>>`` and ``&`` as in Java::

    # 1. resized size, the short side becomes R (the long side rounds half up)
    if h <= w: oh = R; ow = (2 * w * R + h) // (2 * h)
    else:      ow = R; oh = (2 * h * R + w) // (2 * w)
    # 2. box prefilter: when the short side is at least twice R, average f x f blocks,
    #    f = min(h, w) // R; the last h % f rows and w % f columns are dropped:
    if f >= 2: h, w = h // f, w // f
               src[y][x][c] = (sum of the f*f pixels of block (y, x) + f*f // 2) // (f*f)
    # 3. crop origin in the resized image
    top = (oh - crop) // 2; left = (ow - crop) // 2          # (centre; other views: module text)
    # 4. fixed-point bilinear, half-pixel centres; for output column x (row y likewise with h, oh):
    sx = ((2 * x + 1) * w * 65536) // (2 * ow) - 32768       # Q16 source coordinate, long
    sx = min(max(sx, 0), (w - 1) * 65536)
    x0 = sx >> 16; x1 = min(x0 + 1, w - 1); ax = (sx & 0xFFFF) >> 5     # weight in Q11
    out = ((p[y0][x0] * (2048 - ax) + p[y0][x1] * ax) * (2048 - ay)
           + (p[y1][x0] * (2048 - ax) + p[y1][x1] * ax) * ay + (1 << 21)) >> 22   # fits int32

``x`` runs over ``left .. left + crop - 1`` and ``y`` over ``top .. top + crop - 1`` (only the
cropped window is ever computed); ``p`` is the (box-filtered) source frame, channel by
channel. ``reference_resize_crop`` is this text as plain loops; the tests check the
vectorised code against it.

Training views (cv2, not exact)
-------------------------------
``train_view``: short side resized to a random integer in ``[a, b]`` (``scale``; default
``[crop, round(crop * 8 / 7)]``, SEVNet's 224..256 for 224 crops; FASTER uses 256..320 and
EAC-Net 215..345 for 224), with ``INTER_AREA`` when shrinking by 2x or more and
``INTER_LINEAR`` otherwise (as the test views: box prefilter only from 2x), then a random
``crop x crop`` window; horizontal flip with probability 0.5 only if
``flip=True`` (off by default: Something-Something-style labels such as "pushing left to
right" change meaning under a mirror). All frames of a clip share one size, window and flip.
"""

from __future__ import annotations

import cv2
import numpy as np

from kvid import KvidError
from kvid.contract.clip import TEST_CROPS, default_resize



def resized_shape(h: int, w: int, short: int) -> tuple[int, int]:
    """(oh, ow) after resizing the short side of an ``h x w`` frame to ``short``."""
    if h <= w:
        return short, (2 * w * short + h) // (2 * h)
    return (2 * h * short + w) // (2 * w), short


def as_uint8(frames) -> np.ndarray:
    """A clip ``(T, H, W, C)`` or one frame ``(H, W, C)`` as uint8 RGB ``(T, H, W, 3)``."""
    x = np.asarray(frames)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3, 4) or 0 in x.shape:
        raise KvidError(f"frames of shape {x.shape}: expected (T, H, W, 3)")
    if x.dtype != np.uint8:
        x = np.clip(np.rint(x), 0, 255).astype(np.uint8)
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    elif x.shape[-1] == 4:
        x = x[..., :3]
    return x


def center_view(frames, crop: int, resize: int | None = None) -> np.ndarray:
    """The test-time centre view: ``float32 (T, crop, crop, 3)`` (exact, see module text)."""
    return eval_views(frames, crop, crops=1, resize=resize)[0]


def eval_views(frames, crop: int, crops: int = 1, resize: int | None = None) -> np.ndarray:
    """``crops`` (1, 3, 5 or 10) exact test views of a clip: ``float32 (crops, T, crop, crop, 3)``."""
    x = as_uint8(frames)
    crop = int(crop)
    if crops not in TEST_CROPS:
        raise KvidError(f"crops={crops}: must be one of {sorted(TEST_CROPS)}")
    if resize is None:
        resize = crop if crops == 3 else default_resize(crop)
    if resize < crop or crop < 1:
        raise KvidError(f"resize={resize}, crop={crop}: resize must be at least crop (>= 1)")
    h, w = x.shape[1:3]
    oh, ow = resized_shape(h, w, resize)
    boxes = _view_origins(oh, ow, crop, crops)
    src = box_reduce(x, min(h, w) // resize)
    views = [_resize_crop(src, oh, ow, top, left, crop, crop) for top, left in boxes]
    if crops == 10:
        views += [v[:, :, ::-1] for v in views]
    return np.stack(views).astype(np.float32)


def _view_origins(oh: int, ow: int, crop: int, crops: int) -> list[tuple[int, int]]:
    cy, cx = (oh - crop) // 2, (ow - crop) // 2
    if crops == 1:
        return [(cy, cx)]
    if crops == 3:
        if oh <= ow:
            return [(cy, cx), (cy, 0), (cy, ow - crop)]
        return [(cy, cx), (0, cx), (oh - crop, cx)]
    return [(cy, cx), (0, 0), (0, ow - crop), (oh - crop, 0), (oh - crop, ow - crop)]


def box_reduce(x: np.ndarray, f: int) -> np.ndarray:
    """Average ``f x f`` blocks of uint8 ``(T, H, W, C)`` with integer rounding (f < 2: as is)."""
    if f < 2:
        return x
    t, h, w, c = x.shape
    h2, w2 = h // f, w // f
    blocks = x[:, : h2 * f, : w2 * f].reshape(t, h2, f, w2, f, c)
    s = blocks.sum(axis=(2, 4), dtype=np.int32)
    return ((s + (f * f) // 2) // (f * f)).astype(np.uint8)


def _axis_taps(n_src: int, n_out: int, start: int, count: int):
    x = np.arange(start, start + count, dtype=np.int64)
    s = ((2 * x + 1) * n_src * 65536) // (2 * n_out) - 32768
    s = np.clip(s, 0, (n_src - 1) * 65536)
    i0 = s >> 16
    i1 = np.minimum(i0 + 1, n_src - 1)
    a = (s & 0xFFFF) >> 5
    return i0, i1, a.astype(np.int32)


def _resize_crop(src: np.ndarray, oh: int, ow: int, top: int, left: int, ch: int, cw: int) -> np.ndarray:
    """Window ``[top:top+ch, left:left+cw]`` of ``src`` bilinearly resized to ``oh x ow`` (exact)."""
    h, w = src.shape[1:3]
    y0, y1, ay = _axis_taps(h, oh, top, ch)
    x0, x1, ax = _axis_taps(w, ow, left, cw)
    rows = np.union1d(y0, y1)  # horizontal pass on the source rows the window needs
    t, c = src.shape[0], src.shape[3]
    sub = src[:, rows].reshape(t, len(rows), w * c).astype(np.int32)
    chan = np.arange(c)
    ax_ = np.repeat(ax, c)
    hmix = np.take(sub, (x0[:, None] * c + chan).ravel(), axis=2) * (2048 - ax_)
    hmix += np.take(sub, (x1[:, None] * c + chan).ravel(), axis=2) * ax_
    ay_ = ay[None, :, None]
    out = np.take(hmix, np.searchsorted(rows, y0), axis=1) * (2048 - ay_)
    out += np.take(hmix, np.searchsorted(rows, y1), axis=1) * ay_
    out += 1 << 21
    out >>= 22
    out = out.reshape(t, ch, cw, c)
    return out.astype(np.uint8)


def reference_resize_crop(frame: np.ndarray, resize: int, crop: int, top: int | None = None, left: int | None = None) -> np.ndarray:
    """The exact resize + crop of ONE uint8 frame ``(H, W, C)`` as plain integer loops.

    This is the specification the vectorised code and ``android_demo/core`` follow; it is
    slow and meant for tests and for porting. ``top``/``left`` default to the centre.
    """
    h, w, c = frame.shape
    oh, ow = resized_shape(h, w, resize)
    f = min(h, w) // resize
    if f >= 2:
        h, w = h // f, w // f
        src = [[[0] * c for _ in range(w)] for _ in range(h)]
        for y in range(h):
            for x in range(w):
                for k in range(c):
                    total = 0
                    for dy in range(f):
                        for dx in range(f):
                            total += int(frame[y * f + dy, x * f + dx, k])
                    src[y][x][k] = (total + (f * f) // 2) // (f * f)
    else:
        src = frame.astype(int).tolist()
    top = (oh - crop) // 2 if top is None else top
    left = (ow - crop) // 2 if left is None else left

    def taps(n_src, n_out, pos):
        s = ((2 * pos + 1) * n_src * 65536) // (2 * n_out) - 32768
        s = min(max(s, 0), (n_src - 1) * 65536)
        i0 = s >> 16
        return i0, min(i0 + 1, n_src - 1), (s & 0xFFFF) >> 5

    out = np.zeros((crop, crop, c), np.uint8)
    for y in range(top, top + crop):
        y0, y1, ay = taps(h, oh, y)
        for x in range(left, left + crop):
            x0, x1, ax = taps(w, ow, x)
            for k in range(c):
                v = (
                    (src[y0][x0][k] * (2048 - ax) + src[y0][x1][k] * ax) * (2048 - ay)
                    + (src[y1][x0][k] * (2048 - ax) + src[y1][x1][k] * ax) * ay
                    + (1 << 21)
                ) >> 22
                out[y - top, x - left, k] = v
    return out


def train_view(
    frames,
    crop: int,
    rng: np.random.Generator,
    scale: tuple[int, int] | None = None,
    flip: bool = False,
) -> np.ndarray:
    """Random-scale random crop (and optional flip) of a clip: ``float32 (T, crop, crop, 3)``."""
    x = as_uint8(frames)
    crop = int(crop)
    a, b = (crop, default_resize(crop)) if scale is None else (int(scale[0]), int(scale[1]))
    if not 1 <= a <= b:
        raise KvidError(f"scale=({a}, {b}): must be 1 <= a <= b")
    short = max(int(rng.integers(a, b + 1)), crop)
    t, h, w, _ = x.shape
    oh, ow = resized_shape(h, w, short)
    resized = resize_clip(x, oh, ow)
    top = int(rng.integers(0, oh - crop + 1))
    left = int(rng.integers(0, ow - crop + 1))
    out = resized[:, top : top + crop, left : left + crop]
    if flip and rng.random() < 0.5:
        out = out[:, :, ::-1]
    return out.astype(np.float32)


def resize_clip(x: np.ndarray, oh: int, ow: int) -> np.ndarray:
    """Resize every frame of uint8 ``(T, H, W, 3)`` with OpenCV (area when shrinking >= 2x)."""
    h, w = x.shape[1:3]
    if (h, w) == (oh, ow):
        return x
    interp = cv2.INTER_AREA if 2 * oh <= h else cv2.INTER_LINEAR  # area from 2x down, as test views
    return np.stack([cv2.resize(f, (ow, oh), interpolation=interp) for f in x])
