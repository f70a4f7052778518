"""Temporal sampling: which frame indices of a video make a clip (numpy only, no TensorFlow).

One sampler serves training, evaluation, the TFLite runtime and the Android core, so the
test-time formulas below are a contract (docs/INTERFACES.md) that the runtime and
``android_demo/core`` mirror exactly. Frame indices are ints in ``[0, num_frames)``.

Schemes (``T`` = ``frames``, ``N`` = ``clips``, ``k`` = ``clip_index``):

``segments`` - TSN sparse sampling (Wang et al. 2016). SEVNet and CT-Net use it on
    Something-Something V1/V2 (SEVNet: 16 segments, one random frame per segment for
    training, the middle frame of each segment for testing). The video is cut into ``T``
    equal segments, ``seg = num_frames / T`` (float64).
    Test: ``index_i = min(int(seg * i + seg * (k + 0.5) / N), num_frames - 1)``; with one clip
    this is the contract's ``int(seg * i + seg / 2)``; with ``N`` clips (CT-Net tests 2 on SSv2)
    clip ``k`` takes the point at fraction ``(k + 0.5) / N`` of every segment.
    Training: a uniformly random frame in ``[int(seg * i), max(int(seg * (i + 1)), int(seg * i) + 1))``.
    Short videos (``num_frames < T``) are *stretched*, not looped: segments shorter than a
    frame repeat frames in order, so temporal direction (what SSv2 labels depend on) survives.

``dense`` - ``T`` consecutive frames with a ``stride`` (one clip covers
    ``span = (T - 1) * stride + 1`` frames). FASTER trains its clip backbones on ``L``
    consecutive frames and tests ``N`` clips uniformly covering the video; EAC-Net and the
    Non-local / SlowFast family likewise. Training: a uniformly random start in
    ``[0, num_frames - span]``. Test: clip starts ``int(round(k * (num_frames - span) / (N - 1)))``
    (``N == 1``: ``(num_frames - span) // 2``, the centred clip); ``round`` is round-half-even
    (Python's and numpy's; Java must use ``Math.rint``). Short videos (``num_frames < span``) are
    *looped*: ``index_i = (start + i * stride) % num_frames`` with ``start = 0``, at training and
    at test.

``consecutive`` - "``T`` frames from ``K`` consecutive": SEVNet on Kinetics-400 (after Liu et
    al. 2019) takes 16 frames uniformly from a window of 64 consecutive raw frames; one random
    window for training, 10 uniform windows (x 3 crops) for testing. ``K = window`` (default
    ``T * stride``). Inside a window starting at ``s`` the frames are
    ``s + int((i + 0.5) * K / T)`` (the middles of ``T`` equal parts of the window). Window starts
    follow ``dense`` with ``span = K`` (random at training; ``N`` uniform starts at test).
    Videos shorter than the window (``num_frames < K``) shrink the window to the whole video
    (frames repeat in order when ``num_frames < T``), again keeping temporal order.

``random_rate`` - EAC-Net ("we first sample 32 frames at random rate from a video"; "32 frames
    are first evenly sampled from a video" at inference). Training: a rate ``r`` uniform in
    ``[1, r_max]`` with ``r_max = max(1, (num_frames - 1) // (T - 1))`` (every rate at which
    ``T`` frames ``r`` apart fit the video), then a uniformly random start in
    ``[0, num_frames - ((T - 1) * r + 1)]``. Test: exactly the ``segments`` test formula (``T``
    frames evenly over the whole video; ``N`` clips at fractions ``(k + 0.5) / N`` of each
    segment). Short videos (``num_frames < T``) are stretched as ``segments`` does.
"""

from __future__ import annotations

import numpy as np

from kvid import KvidError
from kvid.contract.clip import SCHEMES, ClipSpec


def sample_indices(
    num_frames: int,
    frames: int,
    scheme: str,
    *,
    stride: int = 1,
    clips: int = 1,
    clip_index: int = 0,
    training: bool = False,
    rng: np.random.Generator | None = None,
    window: int | None = None,
) -> np.ndarray:
    """Frame indices (``int64``, length ``frames``) of one clip of a ``num_frames``-frame video.

    ``scheme`` is ``"segments"``, ``"dense"`` or ``"consecutive"`` (module docstring).
    ``training=True`` draws the random variant from ``rng`` (a ``numpy.random.Generator``;
    a fresh unseeded one if None); otherwise clip ``clip_index`` of ``clips`` uniform test
    clips is returned. ``window`` is ``K`` of the ``consecutive`` scheme (default
    ``frames * stride``).
    """
    num_frames, frames, stride, clips, clip_index = (
        _check_int("num_frames", num_frames, 1),
        _check_int("frames", frames, 1),
        _check_int("stride", stride, 1),
        _check_int("clips", clips, 1),
        _check_int("clip_index", clip_index, 0),
    )
    if clip_index >= clips:
        raise KvidError(f"clip_index={clip_index}: must be below clips={clips}")
    if training and rng is None:
        rng = np.random.default_rng()
    if scheme == "segments" or (scheme == "random_rate" and not training):
        return _segments(num_frames, frames, clips, clip_index, rng if training else None)
    if scheme == "random_rate":
        if num_frames < frames or frames == 1:
            return _segments(num_frames, frames, 1, 0, rng)
        rate = int(rng.integers(1, max(1, (num_frames - 1) // (frames - 1)) + 1))
        span = (frames - 1) * rate + 1
        start = int(rng.integers(0, num_frames - span + 1))
        return start + np.arange(frames, dtype=np.int64) * rate
    if scheme == "dense":
        span = (frames - 1) * stride + 1
        if num_frames < span:  # loop short videos from frame 0
            return (np.arange(frames, dtype=np.int64) * stride) % num_frames
        start = _window_start(num_frames, span, clips, clip_index, rng if training else None)
        return start + np.arange(frames, dtype=np.int64) * stride
    if scheme == "consecutive":
        k = frames * stride if window is None else _check_int("window", window, 1)
        k = min(k, num_frames)  # short videos: the window is the whole video
        start = _window_start(num_frames, k, clips, clip_index, rng if training else None)
        offsets = ((np.arange(frames, dtype=np.float64) + 0.5) * k / frames).astype(np.int64)
        return start + np.minimum(offsets, k - 1)
    raise KvidError(f"scheme={scheme!r}: unknown sampling scheme (choose from {', '.join(SCHEMES)})")


def clip_span(frames: int, scheme: str, *, stride: int = 1, window: int | None = None) -> int:
    """How many raw frames one clip covers (:attr:`kvid.contract.clip.ClipSpec.span`)."""
    return ClipSpec(frames=frames, scheme=scheme, stride=stride, window=window).span


def test_clips(spec: ClipSpec, num_frames: int) -> list[np.ndarray]:
    """Frame indices of every test clip of ``spec`` (``spec.clips`` of them, in order)."""
    return [clip_indices(spec, num_frames, clip_index=k) for k in range(spec.clips)]


def clip_indices(spec: ClipSpec, num_frames: int, clip_index: int = 0,
                 rng: np.random.Generator | None = None) -> np.ndarray:
    """Frame indices of one clip as ``spec`` says: test clip ``clip_index`` of ``spec.clips``, or
    a random training clip when ``rng`` is given."""
    return sample_indices(num_frames, spec.frames, spec.scheme, stride=spec.stride, clips=spec.clips,
                          clip_index=clip_index, training=rng is not None, rng=rng, window=spec.window)


def _segments(n: int, t: int, clips: int, k: int, rng: np.random.Generator | None) -> np.ndarray:
    seg = n / t
    i = np.arange(t, dtype=np.float64)
    if rng is None:
        idx = (seg * i + seg * (k + 0.5) / clips).astype(np.int64)
    else:
        lo = (seg * i).astype(np.int64)
        hi = np.maximum((seg * (i + 1)).astype(np.int64), lo + 1)
        idx = rng.integers(lo, hi)
    return np.minimum(idx, n - 1).astype(np.int64)


def _window_start(n: int, span: int, clips: int, k: int, rng: np.random.Generator | None) -> int:
    free = n - span  # >= 0
    if rng is not None:
        return int(rng.integers(0, free + 1))
    if clips == 1:
        return free // 2
    return int(round(k * free / (clips - 1)))


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise KvidError(f"{name}={value!r}: must be an integer")
    if value < minimum:
        raise KvidError(f"{name}={value}: must be at least {minimum}")
    return int(value)
