"""The clip spec: what a clip is and how it is sampled and cropped - the one object that travels.

A :class:`ClipSpec` says which frames of a video make a clip (``scheme``, ``frames``,
``stride``, ``window``), how many test clips and crops a video gets (``clips``, ``crops``),
the test-time short side and crop (``resize``, ``crop``) and the training augmentation
(``scale``: short-side jitter; ``flip``). It is written unchanged into a run's
``config.json`` (key ``"clip"``), into the sidecar beside every exported ``.tflite`` (key
``"clip"``), read back by ``kvid.runtime`` and by the Android core (``org.kvid.core.ClipSpec``),
so training, evaluation, the runtime and the phone sample and crop the same way. The formulas
behind ``scheme`` are in ``kvid.data.sampling`` (frame indices) and ``kvid.data.transforms``
(views); docs/INTERFACES.md has the contract.

Schemes (``T`` = ``frames``):

- ``segments`` - TSN: ``T`` equal segments of the whole video, a random frame of each in
  training, the middle frame at test (SEVNet and CT-Net on Something-Something).
- ``dense`` - ``T`` consecutive frames ``stride`` apart at a random start in training, ``clips``
  uniformly placed clips at test (FASTER's clip models; R(2+1)D).
- ``consecutive`` - ``T`` frames evenly from a window of ``window`` consecutive frames (SEVNet
  on Kinetics: 16 of 64).
- ``random_rate`` - EAC-Net: in training ``T`` frames at a random frame rate (stride ``r``
  uniform in ``1 .. (n - 1) // (T - 1)``, every rate at which the clip fits the video) at a
  random start; at test ``T`` frames evenly over the whole video (the ``segments`` test
  formula).

``ClipSpec()`` (dense, 8 frames, 112 px) is the one default where nothing says otherwise;
each preset of the zoo names its paper's spec (``kvid.models.get(name).protocol``).

Only the Python standard library is imported here (no TensorFlow, no other kvid layer).
"""

from __future__ import annotations

import dataclasses

from kvid import KvidError

SCHEMES = ("segments", "dense", "consecutive", "random_rate")
#: test views per video -> their name in kvid.data.transforms
TEST_CROPS = {1: "center", 3: "three", 5: "five", 10: "ten"}
FIELDS = ("scheme", "frames", "stride", "window", "clips", "crops", "resize", "crop", "scale", "flip")


def default_resize(crop: int) -> int:
    """``round(crop * 8 / 7)`` in integers (never a tie for integer crops): 64 -> 73, 224 -> 256."""
    return (16 * int(crop) + 7) // 14


@dataclasses.dataclass(frozen=True, kw_only=True)
class ClipSpec:
    """What a clip is: ``frames`` x ``crop`` x ``crop``, sampled by ``scheme`` (module text).

    ``resize``: the test-time short side (None: ``crop`` for three crops, else
    ``round(crop * 8 / 7)``; :attr:`test_resize` resolves it); ``scale``: training short-side
    range ``(a, b)`` (None: ``(crop, round(crop * 8 / 7))``; a draw below ``crop`` is raised to
    it, as EAC-Net's 215..345 for 224 crops needs); ``flip``: random horizontal flips
    in training (off by default: direction-dependent labels). ``window``: ``K`` of the
    ``consecutive`` scheme (None: ``frames * stride``).
    """

    scheme: str = "dense"
    frames: int = 8
    stride: int = 1
    window: int | None = None
    clips: int = 1
    crops: int = 1
    resize: int | None = None
    crop: int = 112
    scale: tuple[int, int] | None = None
    flip: bool = False

    def __post_init__(self):
        if self.scheme not in SCHEMES:
            raise KvidError(f"scheme={self.scheme!r}: choose from {', '.join(SCHEMES)}")
        for name in ("frames", "stride", "clips", "crop"):
            object.__setattr__(self, name, _check_int(name, getattr(self, name), 1))
        if self.window is not None:
            object.__setattr__(self, "window", _check_int("window", self.window, 1))
        if self.crops not in TEST_CROPS:
            raise KvidError(f"crops={self.crops!r}: must be one of {sorted(TEST_CROPS)}")
        if self.resize is not None:
            object.__setattr__(self, "resize", _check_int("resize", self.resize, 1))
            if self.resize < self.crop:
                raise KvidError(f"resize={self.resize}: must be at least the crop size {self.crop}")
        if self.scale is not None:
            scale = tuple(self.scale)
            if len(scale) != 2:
                raise KvidError(f"scale={self.scale!r}: expected [a, b] with 1 <= a <= b")
            scale = tuple(_check_int("scale", v, 1) for v in scale)
            if scale[0] > scale[1]:
                raise KvidError(f"scale={list(scale)}: expected [a, b] with 1 <= a <= b")
            object.__setattr__(self, "scale", scale)
        if not isinstance(self.flip, bool):
            raise KvidError(f"flip={self.flip!r}: must be true or false")

    # -- derived -------------------------------------------------------------------------------
    @property
    def views(self) -> int:
        """Test views per video: ``clips * crops``."""
        return self.clips * self.crops

    @property
    def test_resize(self) -> int:
        """The test-time short side, resolved."""
        if self.resize is not None:
            return int(self.resize)
        return self.crop if self.crops == 3 else default_resize(self.crop)

    @property
    def train_scale(self) -> tuple[int, int]:
        """The training short-side range, resolved."""
        return tuple(self.scale) if self.scale is not None else (self.crop, default_resize(self.crop))

    @property
    def span(self) -> int:
        """How many raw frames one clip covers; videos shorter than this are looped or stretched."""
        if self.scheme in ("segments", "random_rate"):
            return self.frames
        if self.scheme == "consecutive":
            return self.frames * self.stride if self.window is None else self.window
        return (self.frames - 1) * self.stride + 1

    def resolved(self) -> "ClipSpec":
        """The same spec with ``resize`` filled in (what config.json and the sidecar store, so
        that the runtime and the phone do no default arithmetic of their own)."""
        return dataclasses.replace(self, resize=self.test_resize)

    def replace(self, **changes) -> "ClipSpec":
        """A copy with ``changes`` (None values are ignored: "not given")."""
        changes = {k: v for k, v in changes.items() if v is not None}
        unknown = sorted(set(changes) - set(FIELDS))
        if unknown:
            raise KvidError(f"clip spec: unknown field(s) {', '.join(unknown)} (known: {', '.join(FIELDS)})")
        return dataclasses.replace(self, **changes)

    def at(self, *, frames: int | None = None, crop: int | None = None) -> "ClipSpec":
        """The same protocol for another clip length and crop: the test short side and the
        training short-side range keep their ratio to the crop (a paper's 256 -> 224 test view
        becomes 73 -> 64 at 64 px)."""
        if crop is None or int(crop) == self.crop:
            return self.replace(frames=frames)
        crop = int(crop)
        ratio = crop / self.crop
        resize = None if self.resize is None else max(crop, round(self.resize * ratio))
        scale = None if self.scale is None else tuple(max(1, round(v * ratio)) for v in self.scale)
        return dataclasses.replace(self, frames=int(frames or self.frames), crop=crop, resize=resize,
                                   scale=scale)

    def describe(self) -> str:
        """One line for headers: ``segments 8 frames, 1 clip x 1 crop, test 73 -> 64``."""
        how = {"dense": f", stride {self.stride}", "consecutive": f" of {self.window or self.frames * self.stride}"}
        jitter = f", train short side {self.train_scale[0]}-{self.train_scale[1]}"
        return (f"{self.scheme} {self.frames} frames{how.get(self.scheme, '')}, {self.clips} clip(s) x "
                f"{self.crops} crop(s), test short side {self.test_resize} -> {self.crop}{jitter}"
                f"{', flip' if self.flip else ''}")

    # -- dict form (config.json, sidecar, Android) ------------------------------------------
    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["scale"] = list(self.scale) if self.scale is not None else None
        return {name: d[name] for name in FIELDS}

    @classmethod
    def from_dict(cls, data, where: str = "clip") -> "ClipSpec":
        """Validate and build from a dict; ``where`` names the source in errors (a file)."""
        if isinstance(data, ClipSpec):
            return data
        if not isinstance(data, dict):
            raise KvidError(f"{where}: the clip spec must be an object, got {type(data).__name__}")
        unknown = sorted(set(data) - set(FIELDS))
        if unknown:
            raise KvidError(f"{where}: unknown clip field(s) {', '.join(unknown)} (known: {', '.join(FIELDS)})")
        values = dict(data)
        if values.get("scale") is not None:
            values["scale"] = tuple(values["scale"])
        try:
            return cls(**values)
        except KvidError as exc:
            raise KvidError(f"{where}: {exc}") from None
        except TypeError as exc:
            raise KvidError(f"{where}: {exc}") from None


def _check_int(name: str, value, minimum: int) -> int:
    """``value`` as a Python int (numpy integers accepted), at least ``minimum``."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise KvidError(f"{name}={value!r}: must be an integer")
    value = int(value.__index__())
    if value < minimum:
        raise KvidError(f"{name}={value}: must be at least {minimum}")
    return value


__all__ = ["ClipSpec", "FIELDS", "SCHEMES", "TEST_CROPS", "default_resize"]
