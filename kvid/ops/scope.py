"""The one quantize scope: every kvid layer and QuantizeConfig by class name, inside tfmot's.

Loading or re-creating a kvid model from its config (``.keras`` files, deploy graphs, folded
models) needs kvid's custom objects, and for QAT models tfmot's wrappers too. The registry is
filled by :mod:`kvid.ops.quantize` (the layers and their QuantizeConfigs) and by
``kvid.ops.register_layer`` (layers of kvid.blocks); it sits below both, so the modules that
rebuild models (:mod:`kvid.ops.rebuild`, :mod:`kvid.ops.fold`) need not import the
quantization code.
"""

from __future__ import annotations

from kvid.keras import tfmot

_CUSTOM: dict[str, type] = {}


def register_custom(*classes) -> None:
    """Make ``classes`` (layers, QuantizeConfigs) known to :func:`quantize_scope`."""
    for cls in classes:
        _CUSTOM[cls.__name__] = cls


def custom_objects() -> dict:
    """Every registered kvid layer and QuantizeConfig, by class name (for loading models)."""
    return dict(_CUSTOM)


def quantize_scope():
    """The one scope to load or clone kvid models in, QAT models included (tfmot's, plus kvid's
    objects)."""
    return tfmot().quantization.keras.quantize_scope(custom_objects())


__all__ = ["custom_objects", "quantize_scope", "register_custom"]
