"""SEVNet's building blocks (Wang & Yang, "An Efficient 3D Convolutional Neural Network with
Channel-wise, Spatial-grouped, and Temporal Convolutions"; ../shared/papers/001_*.txt).

Functions on folded feature maps ``(B*T, H, W, C)``; SEVNet never strides in time, so
``frames`` is the same on the way in and out. Layers are named ``<name>__<part>``.

* :func:`sev_module` - the SEV module, Fig. 2(a) / Table 1: 1x1x1 conv -> 1x3x3 grouped conv
  (group width G) -> 3x1x1 conv, each with BN, all widths equal to the input width; residual
  add, then ReLU.
* :func:`sev_downsample` - the SEV module (downsample), Fig. 2(b) / Sec. 3.1: the same branch
  with spatial stride 2 in the grouped conv, and as shortcut an average pooling followed by a
  1x1x1 conv; the two are concatenated, so the width doubles.
* ``block="r2plus1d"`` / ``block="r3d"`` - the ablation branches of Table 6 / Fig. 4.
* ``se=True`` - a Squeeze-and-Excitation unit (reduction 4) on the residual branch before
  the add (Sec. 4.7, Table 7).
"""

from __future__ import annotations

from kvid import KvidError, ops
from kvid.keras import keras

BLOCKS = ("sev", "r2plus1d", "r3d")

# Table 6 / Sec. 4.6: the ablation branches shrink their middle width by these factors so
# that params and FLOPs stay close to the SEV module's.
MIDDLE_SHRINK = {"r2plus1d": 2.0, "r3d": 2.6}


def middle_width(channels: int, block: str) -> int:
    """Width inside the residual branch: the input width for ``sev``, C / 2 for
    ``r2plus1d`` and round(C / 2.6) for ``r3d`` (Sec. 4.6)."""
    if block == "sev":
        return int(channels)
    return max(1, int(round(channels / MIDDLE_SHRINK[block])))


def squeeze_excitation(x, frames, *, reduction=4, name):
    """Squeeze-and-Excitation (Hu et al.) over a whole clip, as in Sec. 4.7 / Table 7.

    Squeeze: average over T, H and W; excitation: 1x1x1 conv C -> C/r + ReLU, 1x1x1 conv
    C/r -> C + sigmoid; the branch is rescaled per channel. Built rank-4: the map is split
    to ``(B, T, H*W, C)``, pooled to ``(B, 1, 1, C)``, and the gate broadcast back (int8 MUL).
    """
    _, h, w, c = x.shape
    y = ops.SplitTime(frames, name=f"{name}__se_split")(x)
    s = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}__se_pool")(y)
    s = ops.spatial_conv(s, max(1, c // reduction), 1, use_bias=True, activation="relu",
                         name=f"{name}__se_reduce")
    s = ops.spatial_conv(s, c, 1, use_bias=True, activation="sigmoid", name=f"{name}__se_expand")
    y = ops.Gate(name=f"{name}__se_gate")([y, s])
    return ops.MergeTime(h, w, name=f"{name}__se_merge")(y)


def residual_branch(x, frames, *, group_width, block="sev", strides=1, zero_init=False,
                    activation=None, name):
    """The three convs of one module; output width = input width, BN (``activation`` after
    it, none by default) last.

    ``sev`` (Fig. 2a): 1x1x1 C->C, 1x3x3 C->C with ``groups = C / G`` (carries the spatial
    stride), 3x1x1 C->C. ``r2plus1d`` (Fig. 4a): the same with a dense 1x3x3 and middle width
    M = C/2: 1x1x1 C->M, 1x3x3 M->M, 3x1x1 M->C. ``r3d`` (Fig. 4b): spatial and temporal conv
    merged into one 3x3x3 conv, M = C/2.6: 1x1x1 C->M, 3x3x3 M->M, 1x1x1 M->C.
    """
    if block not in BLOCKS:
        raise KvidError(f"{name}: block must be one of {', '.join(BLOCKS)}, got {block!r}")
    c = int(x.shape[-1])
    m = middle_width(c, block)
    x = ops.spatial_conv(x, m, 1, norm=True, activation="relu", name=f"{name}__conv_a")
    if block == "sev":
        if c % group_width:
            raise KvidError(
                f"{name}: width {c} is not a multiple of the group width G={group_width}")
        x = ops.spatial_conv(x, m, 3, strides=strides, groups=c // group_width, norm=True,
                             activation="relu", name=f"{name}__conv_b")
        return ops.temporal_conv(x, c, frames, 3, norm=True, zero_init=zero_init,
                                 activation=activation, name=f"{name}__conv_c")
    if block == "r2plus1d":
        x = ops.spatial_conv(x, m, 3, strides=strides, norm=True, activation="relu",
                             name=f"{name}__conv_b")
        return ops.temporal_conv(x, c, frames, 3, norm=True, zero_init=zero_init,
                                 activation=activation, name=f"{name}__conv_c")
    x = ops.full_conv(x, m, frames, (3, 3, 3), strides=(1, strides, strides), norm=True,
                      activation="relu", name=f"{name}__conv_b")
    return ops.spatial_conv(x, c, 1, norm=True, zero_init=zero_init, activation=activation,
                            name=f"{name}__conv_c")


def sev_module(x, frames, *, group_width, block="sev", se=False, se_reduction=4,
               zero_init=True, name):
    """The SEV module (Fig. 2a, Table 1): ``relu(x + branch(x))``.

    ``zero_init`` starts the branch's last BN gamma at 0, so every module starts as the
    identity (see the open points in :mod:`kvid.models.sevnet`). ``se`` adds the Table 7 SE
    unit on the branch before the add.
    """
    y = residual_branch(x, frames, group_width=group_width, block=block, zero_init=zero_init,
                        name=name)
    if se:
        y = squeeze_excitation(y, frames, reduction=se_reduction, name=name)
    x = keras.layers.Add(name=f"{name}__add")([x, y])
    return keras.layers.ReLU(name=f"{name}__relu")(x)


def sev_downsample(x, frames, *, group_width, block="sev", se=False, se_reduction=4,
                   pool_size=3, name):
    """The SEV module (downsample) (Fig. 2b, Sec. 3.1): ``relu(concat(branch, shortcut))``.

    The branch is the module's branch at the input width C with spatial stride 2 in the
    grouped 1x3x3 conv; the shortcut (ShuffleNet-style, as the paper says) is a 1 x k x k
    average pooling with stride 2 (k = ``pool_size``, "SAME" padding, padding excluded from
    the mean) then a 1x1x1 conv C->C + BN at the output resolution. Output width 2C at
    H/2 x W/2.

    The ReLU of the concatenation is applied to its two parts, ``concat(relu(branch),
    relu(shortcut))`` - the same function - so that it fuses into the convs (BN folded) before
    it: a ReLU after the concatenation is a standalone int8 RELU, which XNNPACK does not run
    (it split the delegated graph at every downsample module, and ran on TFLite's builtin
    kernel; benchmarks/xnnpack_int8_ops.py). With ``se`` the ReLU follows the SE gate.
    """
    c = int(x.shape[-1])
    y = residual_branch(x, frames, group_width=group_width, block=block, strides=2,
                        activation=None if se else "relu", name=name)
    if se:
        y = squeeze_excitation(y, frames, reduction=se_reduction, name=name)
        y = keras.layers.ReLU(name=f"{name}__relu")(y)
    s = ops.spatial_pool(x, pool_size, strides=2, pool="avg", name=f"{name}__pool")
    s = ops.spatial_conv(s, c, 1, norm=True, activation="relu", name=f"{name}__shortcut")
    return keras.layers.Concatenate(name=f"{name}__concat")([y, s])


__all__ = ["BLOCKS", "middle_width", "squeeze_excitation", "residual_branch", "sev_module",
           "sev_downsample"]
