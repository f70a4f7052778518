"""Re-instantiate a kvid model from its (edited) config with the same weights - the one way.

Several stages need "the same network, slightly different": the deploy graph with a static
clip input (kvid.export.convert), BatchNorm folded into the conv (kvid.ops.fold), a float32
twin of a mixed-precision model (kvid.train.callbacks), a static batch for counting
(kvid.analysis.count), FASTER's step with static state shapes (kvid.export.faster).
:func:`rebuild` is that operation: deep-copy the config, let ``edit`` change it, build a new
functional model inside the quantize scope (so QAT models rebuild too), and copy the weights
layer by layer.
"""

from __future__ import annotations

import copy

from kvid.keras import keras
from kvid.ops.scope import quantize_scope


def rebuild(model, edit=None, *, weights: bool = True):
    """``model`` re-created from ``edit(config)`` (``edit`` changes the config dict in place,
    or returns a new one); with ``weights``, every layer of the new model gets the weights of
    the layer of the same name (:func:`copy_weights`)."""
    config = copy.deepcopy(model.get_config())
    if edit is not None:
        config = edit(config) or config
    with quantize_scope():
        new = model.__class__.from_config(config) if isinstance(model, keras.Sequential) \
            else keras.Model.from_config(config)
        if weights:
            copy_weights(model, new)
    return new


def copy_weights(source, target) -> None:
    """Copy weights layer by layer (by layer name).

    tfmot's QuantizeLayer re-creates its range variables twice when built from a config, so a
    model-level ``set_weights`` does not line up; a variable is matched by its own name
    within the layer instead (every duplicate gets the value).
    """
    for layer in target.layers:
        src = source.get_layer(layer.name)
        if len(src.weights) == len(layer.weights):
            layer.set_weights(src.get_weights())
            continue
        values = {w.name.split("/")[-1]: w for w in src.weights}
        for w in layer.weights:
            w.assign(values[w.name.split("/")[-1]])


def input_layer(config: dict) -> dict:
    """The single InputLayer entry of a functional model's config (KvidError otherwise)."""
    from kvid import KvidError

    found = [layer for layer in config["layers"] if layer["class_name"] == "InputLayer"]
    if len(found) != 1:
        raise KvidError(f"{config.get('name', 'model')}: expected one input, found {len(found)}")
    return found[0]


__all__ = ["copy_weights", "input_layer", "rebuild"]
