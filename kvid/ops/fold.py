"""Fold BatchNormalization into the convolution before it, for quantization-aware training.

TFLite folds each BN into the preceding conv's weights and bias, then quantizes the folded
weights. kvid does the same *before* QAT, so the fake-quantized weights QAT trains are exactly
the weights the int8 file holds, and QAT needs no batch statistics: with BN left in place,
re-estimating them on training batches during QAT cost a trained small SEVNet more accuracy
than quantisation did, and freezing them made QAT diverge.

Only a BN whose single input is a Conv2D or DepthwiseConv2D that feeds nothing else is
folded; every other BN stays. The folded model computes the same function (inference mode).
"""

from __future__ import annotations

import copy
from collections import Counter

import numpy as np

from kvid.keras import keras
from kvid.ops.rebuild import rebuild

FOLDABLE = ("Conv2D", "DepthwiseConv2D")


def _inbound_names(layer_config):
    for node in layer_config.get("inbound_nodes", []):
        for inbound in node:
            yield inbound


def fold_batch_norm(model):
    """A copy of ``model`` with every foldable Conv->BN pair merged into one conv with bias."""
    config = copy.deepcopy(model.get_config())
    by_name = {layer["name"]: layer for layer in config["layers"]}
    consumers = Counter(inbound[0] for layer in config["layers"] for inbound in _inbound_names(layer))
    consumers.update(out[0] for out in config["output_layers"])
    folds = {}  # bn name -> conv name
    for layer in config["layers"]:
        nodes = layer.get("inbound_nodes", [])
        if layer["class_name"] != "BatchNormalization" or len(nodes) != 1 or len(nodes[0]) != 1:
            continue
        src = nodes[0][0][0]
        conv = by_name[src]
        if (conv["class_name"] in FOLDABLE and consumers[src] == 1
                and len(conv.get("inbound_nodes", [])) == 1 and layer["config"].get("axis") in (-1, [-1], 3, [3])):
            folds[layer["name"]] = src
    if not folds:
        return model
    for layer in config["layers"]:
        for inbound in _inbound_names(layer):
            if inbound[0] in folds:
                inbound[0] = folds[inbound[0]]
    for out in config["output_layers"]:
        if out[0] in folds:
            out[0] = folds[out[0]]
    config["layers"] = [layer for layer in config["layers"] if layer["name"] not in folds]
    for conv_name in folds.values():
        by_name[conv_name]["config"]["use_bias"] = True
    folded = rebuild(model, lambda _: config, weights=False)

    bn_of = {conv: bn for bn, conv in folds.items()}
    for layer in folded.layers:
        src = model.get_layer(layer.name)
        if layer.name not in bn_of:
            layer.set_weights(src.get_weights())
            continue
        bn = model.get_layer(bn_of[layer.name])
        gamma = bn.gamma.numpy() if bn.gamma is not None else 1.0
        beta = bn.beta.numpy() if bn.beta is not None else 0.0
        scale = gamma / np.sqrt(bn.moving_variance.numpy() + bn.epsilon)
        kernel = src.get_weights()[0]
        bias = src.bias.numpy() if src.use_bias else np.zeros(scale.shape, np.float32)
        if isinstance(src, keras.layers.DepthwiseConv2D):
            kernel = kernel * scale.reshape(1, 1, kernel.shape[2], kernel.shape[3])
        else:
            kernel = kernel * scale
        bias = (bias - bn.moving_mean.numpy()) * scale + beta
        layer.set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    return folded
