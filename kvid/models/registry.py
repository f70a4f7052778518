"""The one registry of kvid's model presets.

A preset is a builder function plus the keyword arguments that make it the paper's network
(VMZ-style: the builder is generic, the preset is a small dict). ``build(name, ...)`` merges
the preset's defaults, the standard arguments and the user's overrides, and calls the builder.
Builders have the signature ``builder(num_classes, frames, size, **options) -> keras.Model``
and return an uncompiled functional model: input ``clip`` ``(B, T, H, W, 3)`` raw RGB 0..255,
output logits ``(B, num_classes)``.

Every preset also carries its paper's data protocol (``Preset.protocol``: clip sampler, crops,
test views and training recipe; :mod:`kvid.models.protocols`), which ``kvid train``,
``kvid evaluate``, ``kvid export`` and ``kvid demo`` use unless a flag overrides it.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
from typing import Callable

from kvid import KvidError
from kvid.contract.protocol import Protocol


@dataclasses.dataclass(frozen=True)
class Reference:
    """A published figure a preset must reproduce (REFERENCE_NUMBERS.md)."""

    frames: int
    size: int
    num_classes: int
    gmacs: float | None = None
    params_m: float | None = None
    source: str = ""


@dataclasses.dataclass(frozen=True)
class Preset:
    name: str
    family: str
    builder: Callable
    defaults: dict
    description: str = ""
    references: tuple = ()
    small: dict = dataclasses.field(default_factory=dict)  # a CPU-trainable config
    protocol: Protocol | None = None  # the paper's data protocol at the preset's input
    protocols: dict = dataclasses.field(default_factory=dict)  # named alternatives

    def data_protocol(self, name: str | None = None, *, frames: int | None = None,
                      size: int | None = None, small: bool = False) -> Protocol:
        """The protocol ``name`` (None: the default) at ``frames`` x ``size`` (None: the
        preset's input, or its small CPU config's with ``small``)."""
        if name is None or name == "default":
            protocol = self.protocol
        elif name in self.protocols:
            protocol = self.protocols[name]
        else:
            known = ", ".join(["default", *sorted(self.protocols)])
            raise KvidError(f"--protocol {name}: {self.name} has no such protocol (known: {known})")
        if small:
            frames = frames or self.small.get("frames")
            size = size or self.small.get("size")
        return protocol.at(frames=frames, crop=size)


_PRESETS: dict[str, Preset] = {}


def register(name, builder, *, family, description="", references=(), small=None, **defaults):
    """Register a preset. ``defaults`` must include num_classes, frames and size."""
    for key in ("num_classes", "frames", "size"):
        if key not in defaults:
            raise ValueError(f"preset {name}: defaults need {key}")
    if name in _PRESETS:
        raise ValueError(f"preset {name} registered twice")
    from kvid.models.protocols import for_preset

    protocol, alternatives = for_preset(name, family, defaults["frames"], defaults["size"])
    _PRESETS[name] = Preset(name, family, builder, dict(defaults), description,
                            tuple(references), dict(small or {}), protocol, alternatives)
    return _PRESETS[name]


def _load_all():
    # Importing kvid.models imports every model module, which registers its presets.
    import kvid.models  # noqa: F401


def presets() -> dict[str, Preset]:
    _load_all()
    return dict(_PRESETS)


def get(name) -> Preset:
    _load_all()
    if name not in _PRESETS:
        known = ", ".join(sorted(_PRESETS))
        raise KvidError(f"model {name!r}: unknown preset (known: {known})")
    return _PRESETS[name]


def clip_spec_for(model_name, frames: int, size: int):
    """The test clip of a model called ``model_name`` at ``frames`` x ``size``: its preset's
    paper protocol, or kvid's default ``ClipSpec`` for a name that is no preset."""
    from kvid.contract import ClipSpec

    _load_all()
    preset = _PRESETS.get(model_name)
    if preset is None:
        return ClipSpec(frames=int(frames), crop=int(size))
    return preset.data_protocol(frames=int(frames), size=int(size)).clip


def options(name, num_classes=None, frames=None, size=None, **overrides) -> dict:
    """The full keyword set ``build`` passes to the builder."""
    preset = get(name)
    kwargs = dict(preset.defaults)
    for key, value in (("num_classes", num_classes), ("frames", frames), ("size", size)):
        if value is not None:
            kwargs[key] = value
    params = inspect.signature(preset.builder).parameters
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for key, value in overrides.items():
        if key not in params and not accepts_any:
            allowed = ", ".join(k for k in params if k not in ("num_classes", "frames", "size"))
            raise KvidError(f"model {name}: unknown option {key!r} (options: {allowed})")
        kwargs[key] = value
    for key in ("num_classes", "frames", "size"):
        value = kwargs[key]
        if not isinstance(value, int) or value <= 0:
            raise KvidError(f"model {name}: {key} must be a positive integer, got {value!r}")
    return kwargs


def build(name, num_classes=None, frames=None, size=None, **overrides):
    """Build preset ``name`` (an uncompiled tf_keras model); see the module docstring."""
    kwargs = options(name, num_classes, frames, size, **overrides)
    model = get(name).builder(**kwargs)
    model._kvid_build = {"name": name, **kwargs}  # what `kvid train` stores in the run config
    return model


def parse_overrides(pairs) -> dict:
    """``["width=16", "block=r3d", "se=True"]`` -> ``{"width": 16, "block": "r3d", "se": True}``."""
    out = {}
    for pair in pairs or ():
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise KvidError(f"--set {pair!r}: expected key=value")
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
        out[key.strip()] = value
    return out
