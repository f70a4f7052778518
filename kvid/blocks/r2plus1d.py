"""FASTER's clip backbones' units (Zhu et al., "FASTER Recurrent Networks for Efficient Video
Classification", ../shared/papers/002_*.txt, Table 1; the VMZ repository it builds on).

Functions on folded feature maps ``(B*T, H, W, C)``; each returns ``(x, frames)`` because the
units may stride in time. Layers are named ``<name>__<part>``. One bottleneck with a
``block`` switch, as VMZ's ``add_bottleneck`` has one ``block_type`` switch:

* ``"2plus1d"`` - R(2+1)D-50 (Table 1, right column): 1x1x1 -> 1x3x3 (middle width
  ``M = int(3*Cin*Cout*9 / (9*Cin + 3*Cout))``: 144/288/576/1152 in res2..res5, BN+ReLU) ->
  3x1x1 -> 1x1x1 (4x expansion). Spatial stride in the 1x3x3, temporal stride in the 3x1x1.
* ``"3d"`` - R3D-50 (Table 6): the middle pair replaced by one full 3x3x3 conv (built from
  2-D ops by :func:`kvid.ops.full_conv`) carrying both strides.
* ``"2d"`` - R2D-26 (Table 1, left column): the 2-D ResNet bottleneck 1x1 -> 3x3 -> 1x1 of
  :func:`kvid.blocks.resnet.bottleneck` (stride in the 3x3, PyTorch-style padding), no
  temporal op at all.

Every conv is followed by BN (+ ReLU except the last of the branch, whose BN starts at zero);
the shortcut is the identity or a projection 1x1x1 conv + BN carrying the block's strides;
ReLU after the add.
"""

from __future__ import annotations

from kvid import KvidError, ops
from kvid.blocks import resnet
from kvid.keras import keras

BLOCK_TYPES = ("2plus1d", "3d", "2d")
CONV1_MIDDLE = 45  # R(2+1)D conv1: 1x7x7 3->45, 3x1x1 45->64 (Table 1, VMZ)


def middle_width(cin: int, cout: int, kt: int = 3, k: int = 3) -> int:
    """Width between the spatial and temporal conv of a (2+1)-D conv that matches the
    parameters of the ``kt x k x k`` 3-D conv it replaces (Tran et al. 2018, Eq. 2)."""
    return int(kt * k * k * cin * cout / (k * k * cin + kt * cout))


def conv2plus1d(x, filters, frames, *, middle=None, kernel=(3, 3, 3), strides=(1, 1, 1),
                zero_init=False, activation="relu", name):
    """A (2+1)-D conv: ``1 x k x k`` (spatial stride) + BN + ReLU, then ``kt x 1 x 1``
    (temporal stride) + BN (+ activation). Returns ``(x, frames)``."""
    kt, kh, kw = kernel
    st, sh, sw = strides
    middle = middle_width(x.shape[-1], filters, kt, kh) if middle is None else int(middle)
    x = ops.spatial_conv(x, middle, (kh, kw), strides=(sh, sw), norm=True, activation="relu",
                         name=f"{name}_spatial")
    x = ops.temporal_conv(x, filters, frames, kt, strides=st, norm=True, activation=activation,
                          zero_init=zero_init, name=f"{name}_temporal")
    return x, ops.out_frames(frames, st)


def stem(x, frames, block: str, *, width=64, name="conv1"):
    """conv1 + pool1 of Table 1. ``2plus1d``: 1x7x7/(1,2,2) 3->45 and 3x1x1 45->64;
    ``3d``: 3x7x7/(1,2,2); ``2d`` (R2D-26): 8x7x7 with temporal stride 8 (frames -> frames/8).
    Then a 1x3x3 max-pool, stride 2. Returns ``(x, frames)``."""
    if block == "2plus1d":
        middle = max(1, round(CONV1_MIDDLE * width / 64))
        x, frames = conv2plus1d(x, width, frames, middle=middle, kernel=(3, 7, 7),
                                strides=(1, 2, 2), name=f"{name}_")
    elif block == "3d":
        x = ops.full_conv(x, width, frames, (3, 7, 7), strides=(1, 2, 2), norm=True,
                          activation="relu", name=f"{name}__conv")
    elif block == "2d":
        if frames % 8:
            raise KvidError(f"{name}: R2D conv1 has temporal stride 8; frames={frames} is not a multiple of 8")
        x = ops.full_conv(x, width, frames, (8, 7, 7), strides=(8, 2, 2), norm=True,
                          activation="relu", name=f"{name}__conv")
        frames //= 8
    else:
        raise KvidError(f"block {block!r}: must be one of {', '.join(BLOCK_TYPES)}")
    x = ops.spatial_pool(x, 3, strides=2, pool="max", name="pool1")
    return x, frames


def bottleneck(x, frames, inner, *, block: str, expansion=4, strides=(1, 1, 1), name):
    """One bottleneck unit (Table 1): ``1x1x1 C->inner``, the middle conv of ``block``
    (``inner -> inner``, carrying ``strides = (t, h, w)``), ``1x1x1 inner -> 4*inner``;
    projection shortcut when the shape changes. Returns ``(x, frames)``."""
    st, sh, sw = strides
    if block == "2d":
        if st != 1 or sh != sw:
            raise KvidError(f"{name}: a 2-D bottleneck strides equally in H and W, never in time")
        return resnet.bottleneck(x, inner, strides=sh, expansion=expansion, name=name), frames
    out = inner * expansion
    shortcut = x
    y = ops.spatial_conv(x, inner, 1, norm=True, activation="relu", name=f"{name}__conv_a")
    if block == "2plus1d":
        y, out_t = conv2plus1d(y, inner, frames, strides=strides, name=f"{name}__conv_b")
    elif block == "3d":
        y = ops.full_conv(y, inner, frames, (3, 3, 3), strides=strides, norm=True,
                          activation="relu", name=f"{name}__conv_b")
        out_t = ops.out_frames(frames, st)
    else:
        raise KvidError(f"block {block!r}: must be one of {', '.join(BLOCK_TYPES)}")
    y = ops.spatial_conv(y, out, 1, norm=True, zero_init=True, name=f"{name}__conv_c")
    if x.shape[-1] != out or strides != (1, 1, 1):
        shortcut = ops.full_conv(x, out, frames, (1, 1, 1), strides=strides, norm=True,
                                 name=f"{name}__shortcut")
    y = keras.layers.Add(name=f"{name}__add")([shortcut, y])
    return keras.layers.ReLU(name=f"{name}__out")(y), out_t


__all__ = ["BLOCK_TYPES", "middle_width", "conv2plus1d", "stem", "bottleneck"]
