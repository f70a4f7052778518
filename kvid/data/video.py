"""Decoding videos and frame folders to RGB uint8 frames with OpenCV (no TensorFlow).

A *video* is either a file OpenCV's FFmpeg backend opens (``.mp4``, ``.avi``, ``.mkv``,
``.webm``, ``.mov`` ...) or a *frame folder*: a directory of images (``img_00001.jpg``,
``img_00002.jpg`` ..., the layout TSN-style list files ``dir total_frames label`` point at),
read in natural name order. Frame ``i`` is the ``i``-th decoded frame (0-based), whatever the
frame rate.

Reads are frame-accurate. ``read_frames`` visits the wanted frames in increasing order and
decodes forward with ``grab()``; only when the next wanted frame lies more than ``SEEK_GAP``
frames ahead (or behind) it seeks with ``CAP_PROP_POS_FRAMES``. A seek is trusted only if the
backend then reports exactly that position and the frame decodes; otherwise the file is
marked unseekable and read sequentially from its start (the fallback). Seeking was checked
against sequential decoding, frame by frame, on the containers and codecs OpenCV writes
here: mp4v/MP4, MJPG/AVI and VP8/WebM (tests/test_data_video.py). Note that OpenCV maps a
frame number to a timestamp through the average frame rate, so with variable-frame-rate
files a seek lands on the frame *shown* at ``i / fps``; pass ``seek="never"`` to count
decoded frames strictly.

Frame counts come from the container and are verified by decoding the last frame; files
whose header promises more frames than decode (truncated downloads) are counted by decoding
them through. Counts are cached per (path, size, mtime).

All frames come out as ``uint8 (H, W, 3)`` RGB: BGR is swapped, grayscale is replicated,
an alpha channel dropped, 16-bit images scaled to 8 bits, and frames of a folder (or stream)
whose size changes midway are resized to the first frame's size. Problems raise
:class:`VideoError` (a ``KvidError``: ``"<file>: <reason>"``).
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict

_QUIET = "OPENCV_LOG_LEVEL" not in os.environ  # corrupt files are reported as VideoError
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from kvid import KvidError  # noqa: E402

if _QUIET:  # cv2 may have been imported before us, with its default level
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)

VIDEO_EXTENSIONS = (
    ".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".3gp",
    ".ogv", ".ts",
)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
SEEK_GAP = 24  # decode forward through gaps up to this many frames rather than seek


class VideoError(KvidError):
    """A video that cannot be used: ``VideoError(path, reason)``, message ``"path: reason"``."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def is_video_file(path: str) -> bool:
    return os.path.splitext(str(path))[1].lower() in VIDEO_EXTENSIONS


def is_frame_folder(path: str) -> bool:
    """True for a directory that directly holds image files (and is thus one video)."""
    if not os.path.isdir(path):
        return False
    with os.scandir(path) as it:
        return any(e.is_file() and _is_image(e.name) for e in it)


def list_frame_files(folder: str) -> list[str]:
    """The image files of a frame folder in natural order (``img_2`` before ``img_10``)."""
    names = [n for n in os.listdir(folder) if _is_image(n)]
    names.sort(key=_natural_key)
    return [os.path.join(folder, n) for n in names]


def to_rgb(frame: np.ndarray, bgr: bool = True) -> np.ndarray:
    """Any OpenCV frame (gray, gray+1, BGR, BGRA; uint8 or uint16) -> uint8 RGB ``(H, W, 3)``."""
    if frame.dtype == np.uint16:
        frame = (frame >> 8).astype(np.uint8)
    elif frame.dtype != np.uint8:
        frame = np.clip(frame, 0, 255).astype(np.uint8)
    if frame.ndim == 2 or frame.shape[2] == 1:
        gray = frame.reshape(frame.shape[0], frame.shape[1])
        return np.repeat(gray[:, :, None], 3, axis=2)
    if frame.shape[2] == 4:
        frame = frame[:, :, :3]
    if bgr:
        return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(frame)


class VideoReader:
    """One open video (file or frame folder); reuse it to read several clips of that video.

    ``num_frames`` is the verified frame count (``reported_frames`` the container's claim);
    ``read(indices)`` returns
    ``uint8 (len(indices), H, W, 3)`` RGB in the order of ``indices`` (repeats allowed).
    ``seek`` is ``"auto"`` (module docstring) or ``"never"`` (decode sequentially only).
    """

    def __init__(self, path, seek: str = "auto"):
        if seek not in ("auto", "never"):
            raise KvidError(f"seek={seek!r}: must be 'auto' or 'never'")
        self.path = os.fspath(path)
        self._seekable = seek == "auto"
        self._cap = None
        self._pos = 0
        self._size = None  # (w, h) of the first decoded frame
        self.source_format = None  # e.g. "grayscale" when a frame image was not 8-bit colour
        if not os.path.exists(self.path):
            raise VideoError(self.path, "missing file")
        if os.path.isdir(self.path):
            self._files = list_frame_files(self.path)
            if not self._files:
                raise VideoError(self.path, "frame folder holds no images")
            self.num_frames = self.reported_frames = len(self._files)
            self.fps = 0.0
        else:
            self._files = None
            if os.path.getsize(self.path) == 0:
                raise VideoError(self.path, "empty file (0 bytes)")
            self._open()
            self.fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
            self.reported_frames = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
            self.num_frames = _cached_count(self.path, self._count)
            if self.num_frames == 0:
                self.close()
                raise VideoError(self.path, "no decodable frames")

    # -- public ---------------------------------------------------------------------------
    def read(self, indices) -> np.ndarray:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size == 0:
            raise KvidError(f"{self.path}: no frame indices to read")
        if idx.min() < 0 or idx.max() >= self.num_frames:
            raise VideoError(
                self.path, f"frame index out of range [0, {self.num_frames}): {idx.min()}..{idx.max()}"
            )
        wanted = np.unique(idx)
        if self._files is not None:
            got = {int(i): self._read_image(self._files[int(i)]) for i in wanted}
        else:
            got = self._read_video(wanted)
        frames = [got[int(i)] for i in idx]
        return np.stack(frames)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the frames, decoding frame 0 if nothing was decoded yet."""
        if self._size is None:
            self.read([0])
        return self._size[1], self._size[0]

    # -- video files -------------------------------------------------------------------------
    def _open(self) -> None:
        self.close()
        cap = cv2.VideoCapture(self.path, cv2.CAP_FFMPEG)
        if not cap.isOpened():
            cap.release()
            raise VideoError(self.path, "cannot open (corrupt file or unsupported format)")
        self._cap, self._pos = cap, 0

    def _count(self) -> int:
        reported = self.reported_frames
        if reported > 0 and self._seekable and self._seek_ok(reported - 1):
            if self._cap.grab():  # the header's count is verified: frame n-1 decodes ...
                self._pos = reported
                if not self._cap.grab():  # ... and nothing follows it
                    return reported
        self._open()  # count by decoding through
        n = 0
        while self._cap.grab():
            n += 1
        self._open()
        return n

    def _seek_ok(self, target: int) -> bool:
        try:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, float(target))
            pos = int(round(self._cap.get(cv2.CAP_PROP_POS_FRAMES)))
        except cv2.error:
            pos = -1
        if pos != target:
            self._seekable = False
            self._open()
            return False
        self._pos = target
        return True

    def _read_video(self, wanted: np.ndarray) -> dict[int, np.ndarray]:
        try:
            return self._decode(wanted)
        except _SeekFailed:
            self._seekable = False
            self._open()
            return self._decode(wanted)

    def _decode(self, wanted: np.ndarray) -> dict[int, np.ndarray]:
        got = {}
        for target in (int(t) for t in wanted):
            seeked = False
            if target < self._pos or target - self._pos > SEEK_GAP:
                if self._seekable and self._seek_ok(target):
                    seeked = True
                elif target < self._pos:
                    self._open()
            while self._pos < target:
                if not self._cap.grab():
                    raise VideoError(self.path, f"frame {self._pos} of {self.num_frames} does not decode")
                self._pos += 1
            ok, frame = self._cap.read()
            if not ok or frame is None:
                if seeked:
                    raise _SeekFailed
                raise VideoError(self.path, f"frame {target} of {self.num_frames} does not decode")
            self._pos += 1
            got[target] = self._fit(to_rgb(frame))
        return got

    # -- frame folders -----------------------------------------------------------------------
    def _read_image(self, file: str) -> np.ndarray:
        try:
            data = np.fromfile(file, dtype=np.uint8)  # works with any path encoding
            img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
        except (OSError, cv2.error):
            img = None
        if img is None:
            raise VideoError(self.path, f"frame image {os.path.basename(file)} does not decode")
        if self.source_format is None:
            self.source_format = _describe_format(img)
        return self._fit(to_rgb(img))

    def _fit(self, rgb: np.ndarray) -> np.ndarray:
        size = (rgb.shape[1], rgb.shape[0])
        if self._size is None:
            self._size = size
        elif size != self._size:
            rgb = cv2.resize(rgb, self._size, interpolation=cv2.INTER_AREA)
        return rgb


class _SeekFailed(Exception):
    pass


def read_frames(path, indices, seek: str = "auto") -> np.ndarray:
    """Frames ``indices`` of the video at ``path``: ``uint8 (len(indices), H, W, 3)`` RGB."""
    with VideoReader(path, seek=seek) as reader:
        return reader.read(indices)


def count_frames(path) -> int:
    """The number of decodable frames of a video file or frame folder (cached)."""
    with VideoReader(path) as reader:
        return reader.num_frames


def video_info(path) -> dict:
    """``{"frames", "fps", "height", "width"}`` of a video (decodes frame 0 for the size)."""
    with VideoReader(path) as reader:
        h, w = reader.shape
        return {"frames": reader.num_frames, "fps": reader.fps, "height": h, "width": w}


# -- helpers ----------------------------------------------------------------------------------
def _is_image(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _describe_format(img: np.ndarray) -> str:
    channels = 1 if img.ndim == 2 else img.shape[2]
    kind = {1: "grayscale", 3: "colour", 4: "4-channel (alpha dropped)"}.get(channels, f"{channels}-channel")
    return kind if img.dtype == np.uint8 else f"{kind}, {img.dtype} (scaled to 8 bits)"


def _natural_key(name: str):
    return [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", name)]


_COUNTS: OrderedDict = OrderedDict()
_COUNTS_LOCK = threading.Lock()
_COUNTS_MAX = 100_000


def _cached_count(path: str, count) -> int:
    st = os.stat(path)
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
    with _COUNTS_LOCK:
        if key in _COUNTS:
            return _COUNTS[key]
    n = count()
    with _COUNTS_LOCK:
        _COUNTS[key] = n
        while len(_COUNTS) > _COUNTS_MAX:
            _COUNTS.popitem(last=False)
    return n
