"""FASTER's clip protocol: which clip goes through which model, what the aggregator step is told,
and the ``faster`` object of the sidecar (Zhu et al., "FASTER Recurrent Networks for Efficient
Video Classification", AAAI 2020, ../shared/papers/002_*.txt).

A FASTER video is ``N`` clips of ``L`` consecutive frames (``clips``, ``clip_frames``; the
``dense`` test scheme of kvid.data.sampling places them). Each clip goes through the expensive
or the cheap clip model by the input pattern ``#E:#C`` (Table 4): clip ``t`` is expensive iff
``t mod (E + C) < E``, so the first clip always is (:func:`schedule`; with ``1:3`` and 16 clips,
4 expensive and 12 cheap, Sec. "Better accuracy/FLOPs trade-offs"). Then one aggregator step
(kvid.blocks.fast_gru) combines the clip's feature map with the state; its ``control`` input
(:func:`control_vector`, fields :data:`CONTROL_FIELDS`) says

* ``first`` / ``keep``: whether ``t == 0`` - the state becomes the clip's own feature,
  ``o_0 = x_0`` (Eq. 1) - or the recurrence applies (``keep = 1 - first``);
* ``expensive`` / ``cheap``: which model made the feature (the avgpool baseline picks that
  model's classifier);
* ``weight`` / ``decay``: ``1 / (t + 1)`` and ``1 - weight``, the running mean of the avgpool
  baseline.

The same formulas serve Keras training (kvid.models.faster.control_tensor), the export, the
TensorFlow-free runtime (kvid.runtime.faster) and the Android core (``FasterScheduler``), so
they agree by construction.

:class:`FasterSpec` is the ``faster`` object of a FASTER export's sidecar
(docs/INTERFACES.md)::

    {"clip_frames": 8, "clips": 8, "pattern": [1, 3],
     "expensive": "f_expensive.tflite", "cheap": "f_cheap.tflite", "step": "f.tflite",
     "aggregator": "fastgru", "state_shape": [1, 1, 4, 128],
     "states": [{"name": "state", "shape": [1, 1, 4, 128], "dtype": "int8", "scale": 0.02, "zero_point": -3}],
     "feature": {"name": "feature", "shape": [1, 1, 4, 128], "dtype": "int8", "scale": 0.04, "zero_point": 9},
     "control": ["first", "keep", "expensive", "cheap", "weight", "decay"]}

The three files lie beside the sidecar. Only the Python standard library and ``kvid`` are
imported here (no numpy): callers that want arrays wrap the lists.
"""

from __future__ import annotations

import dataclasses

from kvid import KvidError

#: the fields of the step's ``control`` input ``(1, 1, 1, 6)``, in order
CONTROL_FIELDS = ("first", "keep", "expensive", "cheap", "weight", "decay")
#: the input patterns #E:#C of FASTER Table 4 ("1:0" = all expensive)
PATTERNS = ("1:0", "1:1", "1:3", "1:7", "1:15", "1:31")
#: the keys of the ``faster`` object of a sidecar; the first seven are required
FIELDS = ("clip_frames", "clips", "pattern", "expensive", "cheap", "step", "states",
          "aggregator", "state_shape", "feature", "control")


# ------------------------------------------------------------------------ pattern and schedule

def parse_pattern(pattern) -> tuple[int, int]:
    """``"1:3"`` (or ``(1, 3)``, ``[1, 3]``) -> ``(1, 3)``: #expensive : #cheap clips per period.
    ``"0:1"`` (all cheap) is allowed for the baselines of Table 5."""
    values: tuple = ()
    if isinstance(pattern, str):
        try:
            values = tuple(int(p) for p in pattern.split(":"))
        except ValueError:
            values = ()
    else:
        try:
            items = list(pattern)
        except TypeError:
            items = []
        if all(_is_int(p) for p in items):
            values = tuple(int(p) for p in items)
    if len(values) != 2 or min(values) < 0 or sum(values) == 0:
        raise KvidError(f"pattern {pattern!r}: expected #E:#C such as 1:3")
    return values


def pattern_name(pattern) -> str:
    """``(1, 3)`` -> ``"1:3"``."""
    e, c = parse_pattern(pattern)
    return f"{e}:{c}"


def is_expensive(t: int, pattern) -> bool:
    """Whether clip ``t`` (0-based) goes through the expensive model: ``t mod (E + C) < E``.
    The pattern repeats for ever, so a live stream can run beyond ``N`` clips."""
    e, c = parse_pattern(pattern)
    return _clip_index(t) % (e + c) < e


def schedule(clips: int, pattern) -> list[bool]:
    """``[is_expensive(t, pattern) for t < clips]``: the model of every clip of a video."""
    pattern = parse_pattern(pattern)
    return [is_expensive(t, pattern) for t in range(_positive("clips", clips))]


# ------------------------------------------------------------------------------ step control

def control_fields(t: int, expensive) -> dict:
    """The step's control fields for clip ``t`` (module text): ``first = [t == 0]``,
    ``keep = 1 - first``, ``expensive``, ``cheap = 1 - expensive``, ``weight = 1 / (t + 1)``,
    ``decay = 1 - weight``. ``expensive`` is 1.0 or 0.0 - or anything with ``1.0 - x``, such
    as a tensor of a batch's flags (the Keras side passes one)."""
    first = 1.0 if _clip_index(t) == 0 else 0.0
    weight = 1.0 / (int(t) + 1)
    return {"first": first, "keep": 1.0 - first, "expensive": expensive, "cheap": 1.0 - expensive,
            "weight": weight, "decay": 1.0 - weight}


def control_vector(t: int, expensive: bool) -> list[float]:
    """The six control values of clip ``t`` in :data:`CONTROL_FIELDS` order."""
    fields = control_fields(t, 1.0 if expensive else 0.0)
    return [fields[name] for name in CONTROL_FIELDS]


# ----------------------------------------------------------------------- the sidecar object

@dataclasses.dataclass(frozen=True)
class FasterSpec:
    """The ``faster`` object of a FASTER export's sidecar (module text).

    ``clip_frames`` L, ``clips`` N, ``pattern`` (#E, #C); ``expensive`` / ``cheap`` / ``step``:
    the three ``.tflite`` file names, beside the sidecar; ``states``: the step's state tensors
    (``{"name", "shape", "dtype", "scale", "zero_point"}``, names as in its signature, zeros
    before the first clip); ``feature``: the step's feature input (same form) or None;
    ``aggregator``: the step's kind (kvid.blocks.fast_gru.KINDS) or None; ``control``: the
    control fields the step was built with (must be :data:`CONTROL_FIELDS`).
    """

    clip_frames: int
    clips: int
    pattern: tuple[int, int]
    expensive: str
    cheap: str
    step: str
    states: tuple[dict, ...]
    aggregator: str | None = None
    feature: dict | None = None
    control: tuple[str, ...] = CONTROL_FIELDS

    def __post_init__(self):
        object.__setattr__(self, "clip_frames", _positive("clip_frames", self.clip_frames))
        object.__setattr__(self, "clips", _positive("clips", self.clips))
        object.__setattr__(self, "pattern", parse_pattern(self.pattern))
        for key in ("expensive", "cheap", "step"):
            name = getattr(self, key)
            if not isinstance(name, str) or not name.endswith(".tflite") or "/" in name or "\\" in name:
                raise KvidError(f"{key}={name!r}: must be the name of a .tflite file beside the sidecar")
        if self.aggregator is not None and not isinstance(self.aggregator, str):
            raise KvidError(f"aggregator={self.aggregator!r}: must be a name")
        if not isinstance(self.states, (list, tuple)) or not self.states:
            raise KvidError("states: the step's state tensors are not listed")
        states = tuple(_tensor(f"states[{i}]", s) for i, s in enumerate(self.states))
        object.__setattr__(self, "states", states)
        if self.feature is not None:
            object.__setattr__(self, "feature", _tensor("feature", self.feature))
        if tuple(self.control) != CONTROL_FIELDS:
            raise KvidError(f"control={list(self.control)}: this kvid's step takes {list(CONTROL_FIELDS)}")
        object.__setattr__(self, "control", CONTROL_FIELDS)

    @property
    def state_names(self) -> list[str]:
        return [s["name"] for s in self.states]

    @property
    def state_shape(self) -> list[int]:
        """The shape of the first state (the one of FAST-GRU, Concat and GRU)."""
        return list(self.states[0]["shape"])

    def is_expensive(self, t: int) -> bool:
        return is_expensive(t, self.pattern)

    def schedule(self, clips: int | None = None) -> list[bool]:
        return schedule(self.clips if clips is None else clips, self.pattern)

    def files(self) -> dict:
        """``{"expensive": name, "cheap": name, "step": name}``."""
        return {"expensive": self.expensive, "cheap": self.cheap, "step": self.step}

    def to_dict(self) -> dict:
        return {
            "clip_frames": self.clip_frames, "clips": self.clips, "pattern": list(self.pattern),
            **self.files(), "aggregator": self.aggregator, "state_shape": self.state_shape,
            "states": [dict(s) for s in self.states],
            "feature": dict(self.feature) if self.feature is not None else None,
            "control": list(self.control),
        }

    @classmethod
    def from_dict(cls, data, where: str = "faster") -> "FasterSpec":
        """Validate and build from a sidecar's ``faster`` object; ``where`` names it in errors."""
        if isinstance(data, FasterSpec):
            return data
        if not isinstance(data, dict):
            raise KvidError(f"{where}: must be an object, got {type(data).__name__}")
        unknown = sorted(set(data) - set(FIELDS))
        if unknown:
            raise KvidError(f"{where}: unknown field(s) {', '.join(unknown)} (known: {', '.join(FIELDS)})")
        missing = [key for key in FIELDS[:7] if key not in data]
        if missing:
            raise KvidError(f"{where}: lacks {', '.join(missing)}")
        values = {k: v for k, v in data.items() if k != "state_shape"}
        values.setdefault("control", CONTROL_FIELDS)
        try:
            spec = cls(**values)
        except KvidError as exc:
            raise KvidError(f"{where}: {exc}") from None
        shape = data.get("state_shape")
        if shape is not None and list(shape) != spec.state_shape:
            raise KvidError(f"{where}: state_shape {list(shape)} is not the first state's {spec.state_shape}")
        return spec


def _tensor(what: str, spec) -> dict:
    """A tensor spec ``{"name", "shape", "dtype", "scale", "zero_point"}`` checked (name, shape
    and dtype required)."""
    if not isinstance(spec, dict):
        raise KvidError(f"{what}: a tensor spec must be an object")
    name, shape, dtype = spec.get("name"), spec.get("shape"), spec.get("dtype")
    if not isinstance(name, str) or not name:
        raise KvidError(f"{what}: the tensor has no name")
    if not isinstance(shape, (list, tuple)) or not all(_is_int(d) and int(d) >= 1 for d in shape):
        raise KvidError(f"{what}: shape {shape!r} must be a list of positive integers")
    if not isinstance(dtype, str):
        raise KvidError(f"{what}: dtype {dtype!r} must be a name such as int8")
    return {**spec, "shape": [int(d) for d in shape]}


def _is_int(value) -> bool:
    return not isinstance(value, bool) and hasattr(value, "__index__")


def _positive(name: str, value) -> int:
    if not _is_int(value) or int(value) < 1:
        raise KvidError(f"{name}={value!r}: must be a positive integer")
    return int(value)


def _clip_index(t) -> int:
    if not _is_int(t) or int(t) < 0:
        raise KvidError(f"clip {t!r}: must be an integer >= 0")
    return int(t)


__all__ = ["CONTROL_FIELDS", "FIELDS", "PATTERNS", "FasterSpec", "control_fields", "control_vector",
           "is_expensive", "parse_pattern", "pattern_name", "schedule"]
