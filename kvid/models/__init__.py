"""kvid.models: the networks of the zoo, one file per paper, and the registry.

``kvid.models.build(name, num_classes=..., frames=..., size=..., **overrides)`` returns an
uncompiled Keras model (DESIGN.md, "Registry and presets"); ``kvid models`` lists presets.
"""

import importlib

from kvid.models.registry import (Preset, Reference, build, clip_spec_for, get, options, parse_overrides,
                                  presets, register)

# Each module registers its presets when imported.
MODEL_MODULES = (
    "kvid.models.opscheck",
    "kvid.models.sevnet",
    "kvid.models.mfnet",
    "kvid.models.resnet",
    "kvid.models.eacnet",
    "kvid.models.ctnet",
    "kvid.models.faster",
)

for _module in MODEL_MODULES:
    try:
        importlib.import_module(_module)
    except ModuleNotFoundError as _exc:  # a family not written yet
        if _exc.name != _module:
            raise

__all__ = ["Preset", "Reference", "build", "clip_spec_for", "get", "options", "parse_overrides", "presets",
           "register"]
