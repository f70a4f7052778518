"""Parameters and multiply-adds (MACs) of a kvid model, per block.

MACs are counted as the papers count "FLOPs" (REFERENCE_NUMBERS.md): multiply-adds of
convolutions and dense layers only, batch 1, one clip. They are computed from each layer call's
static shapes: the model is re-instantiated from its config with a batch-1 clip input, so the
folded batch is exactly T and every shape is known.

Parameters are counted as PyTorch's ``parameters()`` does: learnable tensors, BN gamma/beta
included, BN moving statistics and the frozen input normalisation excluded.
"""

from __future__ import annotations


import numpy as np

from kvid.keras import keras

BLOCK_SEPARATOR = "__"
NORMALIZE_LAYER = "normalize"  # kvid.ops.pixel_normalization's layer


def block_of(layer_name: str) -> str:
    return layer_name.split(BLOCK_SEPARATOR, 1)[0]


def _static_model(model):
    """``model`` with a static batch of 1 (the counter needs static shapes)."""
    from kvid.ops.rebuild import rebuild

    if all(shape[0] is not None for shape in (tuple(t.shape) for t in model.inputs)):
        return model

    def batch_of_one(config):
        for layer in config.get("layers", []):
            if layer["class_name"] == "InputLayer":
                shape = list(layer["config"]["batch_input_shape"])
                shape[0] = 1 if shape[0] is None else shape[0]
                layer["config"]["batch_input_shape"] = tuple(shape)

    return rebuild(model, batch_of_one, weights=False)


def _unwrap(layer):
    while hasattr(layer, "layer") and isinstance(getattr(layer, "layer"), keras.layers.Layer):
        layer = layer.layer
    return layer


def layer_macs(layer, input_shape, output_shape) -> int:
    """MACs of one call of ``layer`` with these static shapes (0 for non-compute layers)."""
    layer = _unwrap(layer)
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        kh, kw = layer.kernel_size
        return int(np.prod(output_shape[:-1])) * int(output_shape[-1]) * kh * kw
    if isinstance(layer, keras.layers.Conv2D):  # includes grouped
        kh, kw = layer.kernel_size
        cin = int(input_shape[-1]) // layer.groups
        return int(np.prod(output_shape)) * kh * kw * cin
    if isinstance(layer, keras.layers.Dense):
        return int(np.prod(output_shape)) * int(input_shape[-1])
    return 0


def layer_params(layer) -> int:
    total = 0
    for w in layer.weights:
        name = w.name
        if "moving_mean" in name or "moving_variance" in name:
            continue
        if any(k in name for k in ("_min:0", "_max:0", "optimizer_step")):
            continue  # QAT range variables
        total += int(np.prod(w.shape))
    return total


def _walk(model, blocks, prefix=""):
    """Accumulate per-block params and MACs over every call of every layer (recursing into
    nested models)."""
    for layer in model.layers:
        if isinstance(layer, keras.Model) and not hasattr(layer, "layer"):
            _walk(layer, blocks, prefix)
            continue
        if _unwrap(layer).name == NORMALIZE_LAYER:
            continue  # fixed input scaling, not a learned conv of the paper
        block = blocks.setdefault(prefix + block_of(layer.name), {"params": 0, "macs": 0})
        block["params"] += layer_params(layer)
        for node in layer.inbound_nodes:
            ins, outs = node.input_shapes, node.output_shapes
            if isinstance(ins, list) and ins and not isinstance(ins[0], (int, type(None))):
                ins = ins[0]
            if isinstance(outs, list) and outs and not isinstance(outs[0], (int, type(None))):
                outs = outs[0]
            ins = tuple(ins) if ins is not None else ()
            outs = tuple(outs) if outs is not None else ()
            if None in ins or None in outs:
                continue  # not part of the static graph
            block["macs"] += layer_macs(layer, ins, outs)


def count(model) -> dict:
    """``{"params": int, "macs": int, "gmacs": float, "blocks": [{"name", "params", "macs",
    "gmacs"}]}`` for batch 1, one clip."""
    static = _static_model(model)
    blocks: dict = {}
    _walk(static, blocks)
    rows = [
        {"name": name, "params": b["params"], "macs": b["macs"], "gmacs": b["macs"] / 1e9}
        for name, b in blocks.items()
        if b["params"] or b["macs"]
    ]
    params = sum(r["params"] for r in rows)
    macs = sum(r["macs"] for r in rows)
    return {"params": params, "macs": macs, "gmacs": macs / 1e9, "blocks": rows}
