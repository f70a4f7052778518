"""The shared 2-D ResNet backbone on folded frames, ImageNet initialisation, and C2D.

:func:`resnet_backbone` builds ResNet-18/34/50/101/152 (He et al. 2016, Table 1) on a folded
clip ``(B*T, H, W, 3)`` from the units of :mod:`kvid.blocks.resnet`, stages in a loop
(PyTorch-MFNet style), with the two hooks the video papers need:

* ``insert={"res4_1": fn}`` - a block after a residual unit, ``fn(x, frames) -> (x, frames)``
  (EAC-Net's MGTE blocks after Res4_1 and Res5_1, EAC-Net Table 1; they halve T);
* ``replace_conv={"res3_2": fn}`` - replace a unit's 3x3 conv (+ BN + ReLU),
  ``fn(y, filters, *, frames, strides, name) -> y`` (CT-Net's CT-Module, CT-Net Sec. 3.3).

Units are named ``res<stage>_<unit>`` as in EAC-Net Table 1 (``res2_1`` .. ``res5_3``; stage
numbers 2..5, units counted from 1). ``depth`` picks the unit type and depths, ``width`` the
stem width (stage widths ``width * (1, 2, 4, 8)``), ``blocks`` overrides the unit counts and
``block`` the unit type - so ``depth=18, width=16, blocks=(1, 1, 1, 1)`` is a backbone a CPU
trains in seconds.

ImageNet initialisation (both papers start from ImageNet ResNets):
:func:`load_imagenet_weights` reads the HDF5 weights file that
``keras.applications.ResNet50/101/152(weights=...)`` loads (and ``save_weights("x.h5")``
writes) and copies it into the backbone by layer name: ``convS_blockU_1/2/3_conv`` ->
``resS_U__conv_a/b/c``, ``_0_conv`` -> ``__shortcut``, ``conv1_conv`` -> ``conv1__conv``,
each with its BN. Exact, not approximate: Keras' conv biases are folded into the BN moving
mean, its BN epsilon (1.001e-5) into the moving variance, its BGR input order into conv1's
kernel, and its "caffe" preprocessing (subtract the BGR mean, no scaling) into kvid's input
normalisation layer - so a C2D with ``stride_in="1x1"`` (where Keras' ResNet50 strides)
computes exactly what the Keras model computes on each frame (tests/test_resnet.py). Layers
the file does not have (MGTE, ATE, CT-Modules, the classifier) keep their initialisation;
the 3x3 conv of a unit whose conv was replaced is skipped (as CT-Net's official code does).
Nothing is downloaded: pass a local file (``weights=PATH`` on any builder here).

``c2d_r50``: the C2D baseline of EAC-Net Table 1 - per-frame ResNet-50, global average pool
over T, H, W, classifier.
"""

from __future__ import annotations

import functools
import os
import sys

import numpy as np

from kvid import KvidError, ops
from kvid.blocks.resnet import STRIDE_IN, UNITS, residual_unit, stem
from kvid.keras import keras
from kvid.ops.video import BN_EPSILON
from kvid.models.registry import Reference, register

DEPTHS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
STAGES = (2, 3, 4, 5)


def resnet_layout(depth=50, blocks=None, block=None):
    """``(block, blocks)``: the unit type and the units per stage for these options."""
    if depth not in DEPTHS:
        raise KvidError(f"resnet: depth must be one of {', '.join(map(str, DEPTHS))}, got {depth!r}")
    default_block, default_blocks = DEPTHS[depth]
    block = default_block if block is None else block
    if block not in UNITS:
        raise KvidError(f"resnet: block must be one of {', '.join(UNITS)}, got {block!r}")
    blocks = default_blocks if blocks is None else tuple(int(b) for b in blocks)
    if len(blocks) != len(STAGES) or min(blocks) < 1:
        raise KvidError(f"resnet: blocks must be {len(STAGES)} positive integers, got {blocks!r}")
    return block, blocks


def unit_names(blocks):
    """``["res2_1", ..., "res5_3"]`` for units per stage ``blocks``."""
    return [f"res{s}_{u}" for s, n in zip(STAGES, blocks) for u in range(1, n + 1)]


def out_channels(unit, *, width=64, block="bottleneck"):
    """Output channels of unit ``resS_U``."""
    stage = int(unit[3:].split("_")[0])
    return width * 2 ** (stage - 2) * UNITS[block][1]


def _check_units(hooks, known, what):
    unknown = sorted(set(hooks) - set(known))
    if unknown:
        raise KvidError(f"resnet: {what} names unknown unit(s) {', '.join(unknown)} "
                        f"(units: {known[0]} .. {known[-1]})")


def resnet_backbone(x, frames, *, depth=50, width=64, blocks=None, block=None,
                    stride_in="3x3", zero_init=True, insert=None, replace_conv=None):
    """Stem + Res2..Res5 on a folded clip ``(B*T, H, W, 3)`` (module docstring).

    Returns ``(x, frames)``: the Res5 map ``(B*T', H/32, W/32, 8*width*expansion)`` and its T'.
    """
    block, blocks = resnet_layout(depth, blocks, block)
    if stride_in not in STRIDE_IN:
        raise KvidError(f"resnet: stride_in must be one of {', '.join(STRIDE_IN)}, got {stride_in!r}")
    insert, replace_conv = dict(insert or {}), dict(replace_conv or {})
    names = unit_names(blocks)
    _check_units(insert, names, "insert")
    _check_units(replace_conv, names, "replace_conv")
    x = stem(x, int(width))
    for stage, count in zip(STAGES, blocks):
        filters = int(width) * 2 ** (stage - 2)
        for u in range(1, count + 1):
            unit = f"res{stage}_{u}"
            conv3x3 = replace_conv.get(unit)
            if conv3x3 is not None:
                conv3x3 = functools.partial(conv3x3, frames=frames)
            x = residual_unit(x, filters, block, strides=2 if (u == 1 and stage > 2) else 1,
                              stride_in=stride_in, conv3x3=conv3x3, zero_init=zero_init,
                              name=unit)
            if unit in insert:
                x, frames = insert[unit](x, frames)
    return x, frames


def maybe_load_weights(model, weights):
    """Load ImageNet weights into ``model`` when ``weights`` is a path (builders' option)."""
    if weights:
        load_imagenet_weights(model, weights)
    return model


def build_c2d(num_classes, frames, size, *, depth=50, width=64, blocks=None, block=None,
              stride_in="3x3", dropout=0.5, zero_init=True, weights=None, name=None):
    """C2D (EAC-Net Table 1, left column): the 2-D ResNet on every frame, global average pool
    over T x H x W, dropout, classifier."""
    inputs, x = ops.video_input(frames, size)
    x, t = resnet_backbone(x, frames, depth=depth, width=width, blocks=blocks, block=block,
                           stride_in=stride_in, zero_init=zero_init)
    x = ops.global_video_pool(x, t, name="pool")
    outputs = ops.classifier(x, num_classes, dropout=dropout, name="fc")
    model = keras.Model(inputs, outputs, name=name or f"c2d_r{depth}")
    return maybe_load_weights(model, weights)


# --------------------------------------------------------------------------- ImageNet weights

KERAS_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)  # keras.applications.resnet preprocess_input
KERAS_BN_EPSILON = 1.001e-5
NORMALIZE_LAYER = "normalize"  # kvid.ops.pixel_normalization's layer (ops.video_input)
_WEIGHT_KEYS = ("kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance")


def read_keras_h5(path) -> dict:
    """``{layer_name: {"kernel": array, ...}}`` from a Keras HDF5 weights file (the layout of
    keras.applications' ResNet weights and of ``save_weights("x.h5")``; a whole-model ``.h5``
    works too)."""
    import h5py

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise KvidError(f"{path}: no such weights file")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise KvidError(f"{path}: not an HDF5 weights file ({exc})") from None
    with f:
        root = f["model_weights"] if "model_weights" in f else f
        if "layer_names" not in root.attrs:
            raise KvidError(f"{path}: not a Keras HDF5 weights file (no layer_names; Keras 3 "
                            f"'.weights.h5' files name layers by class, save with a '.h5' name)")
        out = {}
        for layer in root.attrs["layer_names"]:
            layer = layer.decode() if isinstance(layer, bytes) else str(layer)
            group = root[layer]
            values = {}
            for wname in group.attrs.get("weight_names", []):
                wname = wname.decode() if isinstance(wname, bytes) else str(wname)
                key = wname.split("/")[-1].split(":")[0]
                if key in _WEIGHT_KEYS:
                    values[key] = np.asarray(group[wname])
            if values:
                out[layer] = values
    return out


def _keras_name(ours: str) -> str | None:
    """kvid backbone conv name -> Keras ResNet conv name (None if Keras has no such layer)."""
    if ours == "conv1__conv":
        return "conv1_conv"
    unit, sep, part = ours.partition("__")
    if not sep or not unit.startswith("res"):
        return None
    stage, _, index = unit[3:].partition("_")
    keras_part = {"conv_a": "1", "conv_b": "2", "conv_c": "3", "shortcut": "0"}.get(part)
    if keras_part is None:
        return None
    return f"conv{stage}_block{index}_{keras_part}_conv"


def _set(layer, values, path):
    current = layer.get_weights()
    if len(current) != len(values) or any(a.shape != b.shape for a, b in zip(current, values)):
        raise KvidError(
            f"{path}: {layer.name}: shapes {[tuple(v.shape) for v in values]} in the file do not "
            f"fit the model's {[tuple(w.shape) for w in current]} (depth/width/stride overrides?)"
        )
    layer.set_weights(values)


_STRIDE_NOTED: set = set()


def _note_stride_mismatch(model, path) -> None:
    """Say once per process that the weights were trained with another stride placement."""
    names = {layer.name: layer for layer in model.layers}
    conv_b = names.get("res3_1__conv_b")
    if conv_b is None or tuple(conv_b.strides) == (1, 1) or "stride_in=3x3" in _STRIDE_NOTED:
        return
    _STRIDE_NOTED.add("stride_in=3x3")
    print(f"kvid: note: {path}: Keras' ImageNet ResNets stride in the first 1x1 conv of each stage; "
          f"{model.name} strides in the 3x3 (stride_in='3x3', the default). The weights load, but "
          f"into a network they were not trained in; build with stride_in='1x1' (--set stride_in=1x1) "
          f"for the exact Keras network.", file=sys.stderr)


def load_imagenet_weights(model, path) -> list[str]:
    """Copy a Keras ImageNet ResNet weights file into ``model``'s backbone (module docstring).

    Returns the names of the convs that were loaded. Raises KvidError if the file has none of
    the backbone's layers or a shape does not fit.
    """
    weights = read_keras_h5(path)
    loaded = []
    for layer in model.layers:
        if not isinstance(layer, keras.layers.Conv2D) or layer.groups != 1:
            continue
        keras_conv = _keras_name(layer.name)
        if keras_conv is None or keras_conv not in weights:
            continue
        keras_bn = keras_conv[: -len("conv")] + "bn"
        if keras_bn not in weights:
            raise KvidError(f"{path}: has {keras_conv} but not {keras_bn}")
        conv, bn = weights[keras_conv], weights[keras_bn]
        kernel = conv["kernel"]
        bias = conv.get("bias", np.zeros(kernel.shape[-1], np.float32))
        if layer.name == "conv1__conv":
            kernel = kernel[:, :, ::-1, :]  # Keras' ResNets take BGR, kvid clips are RGB
        _set(layer, [kernel], path)
        _set(model.get_layer(f"{layer.name}_bn"), [
            bn["gamma"], bn["beta"],
            bn["moving_mean"] - bias,  # BN(conv(x) + b) == BN'(conv(x)) with mean' = mean - b
            bn["moving_variance"] + (KERAS_BN_EPSILON - BN_EPSILON),
        ], path)
        loaded.append(layer.name)
    if not loaded:
        raise KvidError(f"{path}: no layer of the model's ResNet backbone found in the file")
    _note_stride_mismatch(model, path)
    if "conv1__conv" in loaded:
        # Keras' "caffe" preprocessing: BGR - mean, no scaling; in RGB order for kvid's input.
        norm = model.get_layer(NORMALIZE_LAYER)
        mean_rgb = np.array(KERAS_CAFFE_MEAN_BGR[::-1], np.float32)
        norm.set_weights([np.ones((1, 1, 3, 1), np.float32), -mean_rgb])
    return loaded


# --------------------------------------------------------------------------- presets

# A CPU-trainable config: ResNet-18 layout, width 16 (stages 16..128), one unit per stage.
SMALL = {"depth": 18, "width": 16, "blocks": (1, 1, 1, 1), "dropout": 0.0}

register(
    "c2d_r50", build_c2d, family="c2d",
    description="C2D baseline: per-frame ResNet-50 + temporal average (EAC-Net Table 1)",
    references=[
        Reference(32, 256, 400, gmacs=172.7,
                  source="EAC-Net Table 2/5 C2D (reproduced 170.8; the paper's counter is ~1% high)"),
    ],
    small=SMALL, num_classes=400, frames=32, size=256,
)

__all__ = ["DEPTHS", "STAGES", "resnet_layout", "unit_names", "out_channels", "resnet_backbone",
           "build_c2d", "read_keras_h5", "load_imagenet_weights", "maybe_load_weights", "SMALL"]
