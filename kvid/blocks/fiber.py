"""MF-Net's building blocks (Chen et al., "Multi-Fiber Networks for Video Recognition";
../shared/papers/004_*.txt), laid out as the official code (cypw/PyTorch-MFNet,
network/mfnet_3d.py) lays them out.

Functions on folded feature maps ``(B*T, H, W, C)``; layers are named ``<name>__<part>``.

* :func:`preact_conv` - a pre-activation conv: BN -> ReLU -> conv (no bias) ("Batch
  normalization and ReLU nonlinearities are used before each layer", Sec. 3.1);
  :func:`preactivation` is its BN -> ReLU, built to lower to one int8 op.
* :func:`multiplexer` - Fig. 1(e): two 1x1x1 convs, C -> C_mid/4 -> C, added residually to the
  unit's input ("we set the number of the first-layer output channels to be 4 times smaller",
  Sec. 3.1).
* :func:`multi_fiber_unit` - Fig. 1(d) / Fig. 3(b), Eq. (2): the multiplexer, then N fibers
  as grouped convs (groups = N): a 3x3x3 conv (carries the stride) and a 1x3x3 conv
  (a dense 1x1x1 in the first unit of a stage); residual sum without a ReLU after it; the
  first unit of a stage has a BN-ReLU-1x1x1 projection shortcut with the stride.
"""

from __future__ import annotations

from kvid import KvidError, ops
from kvid.keras import keras

# The official code initialises every conv and the FC with Xavier-uniform.
KERNEL_INIT = "glorot_uniform"


def preactivation(x, *, after_conv, name):
    """BN -> ReLU on ``x``, built so that it lowers to one int8 TFLite op.

    tfmot quantizes a BatchNormalization only when it follows a conv (it folds them); a
    pre-activation BN on a sum or on the stem's output has no conv before it and would
    convert to float MUL/ADD. There (``after_conv=False``) the BN gets a frozen identity
    1x1 depthwise conv in front: the function is unchanged (``x * 1``), tfmot folds
    DepthwiseConv2D+BN+ReLU, and the int8 graph holds one DEPTHWISE_CONV_2D with the BN's
    per-channel scale and offset and a fused ReLU. It adds C frozen weights per such BN
    (counted by ``kvid info``: +0.2% params, +0.4% MACs for mfnet3d).
    """
    if not after_conv:
        x = keras.layers.DepthwiseConv2D(1, use_bias=False, trainable=False,
                                         depthwise_initializer="ones",
                                         name=f"{name}_identity")(x)
    return ops.norm_act(x, norm=True, activation="relu", name=name)


def preact_conv(x, filters, frames, kernel_size=(1, 1, 1), *, strides=(1, 1, 1), groups=1,
                after_conv=False, name):
    """BN -> ReLU -> ``kt x kh x kw`` conv (official ``BN_AC_CONV3D``).

    ``after_conv``: ``x`` comes straight from a conv (see :func:`preactivation`). Returns
    ``(y, frames_out)``. A conv with temporal extent or stride is one Conv2D over stacked
    temporal neighbours (:func:`kvid.ops.full_conv`); otherwise a plain Conv2D.
    """
    kt, kh, kw = kernel_size
    st, sh, sw = strides
    x = preactivation(x, after_conv=after_conv, name=f"{name}_pre")
    if kt == 1 and st == 1:
        y = ops.spatial_conv(x, filters, (kh, kw), strides=(sh, sw), groups=groups,
                             name=name, kernel_initializer=KERNEL_INIT)
    else:
        y = ops.full_conv(x, filters, frames, kernel_size, strides=strides, groups=groups,
                          name=name, kernel_initializer=KERNEL_INIT)
    return y, ops.out_frames(frames, st)


def multiplexer(x, frames, mid_width, *, name):
    """``x + conv_i2(conv_i1(x))``: pre-activation 1x1x1 convs C -> ``mid_width`` -> C
    (Fig. 1(e); the official code uses ``mid_width = num_mid // 4``)."""
    c = int(x.shape[-1])
    h, _ = preact_conv(x, mid_width, frames, name=f"{name}__mux_i1")
    h, _ = preact_conv(h, c, frames, after_conv=True, name=f"{name}__mux_i2")
    return keras.layers.Add(name=f"{name}__mux_add")([x, h])


def multi_fiber_unit(x, frames, width, *, fibers=16, strides=(1, 1, 1), first=False,
                     use_multiplexer=True, temporal=True, name):
    """One multi-fiber unit (Fig. 3(b)) of output width ``width``; returns ``(y, frames)``.

    main path: [multiplexer] -> BN-ReLU-conv_m1 ``(3 if temporal else 1) x 3 x 3``, N groups,
    ``strides`` -> BN-ReLU-conv_m2 ``1x3x3`` with N groups (``1x1x1`` dense when ``first``);
    shortcut: the input, or (``first``) BN-ReLU-1x1x1 conv with ``strides`` on the input
    *before* the multiplexer. Output = main + shortcut (no ReLU: units are pre-activation).
    ``temporal=False`` gives the 2-D unit of the image network (MF-Net Table 1).
    """
    c_in = int(x.shape[-1])
    n = int(fibers)
    if width % n:
        raise KvidError(f"{name}: width {width} is not divisible by fibers={n}")
    if not first and (c_in != width or tuple(strides) != (1, 1, 1)):
        raise KvidError(f"{name}: only the first unit of a stage may change width or stride")
    h = multiplexer(x, frames, width // 4, name=name) if use_multiplexer else x
    kt = 3 if temporal else 1
    h, t = preact_conv(h, width, frames, (kt, 3, 3), strides=strides, groups=n,
                       name=f"{name}__conv_m1")
    if first:
        h, _ = preact_conv(h, width, t, after_conv=True, name=f"{name}__conv_m2")
        shortcut, _ = preact_conv(x, width, frames, strides=strides, name=f"{name}__conv_w1")
    else:
        h, _ = preact_conv(h, width, t, (1, 3, 3), groups=n, after_conv=True,
                           name=f"{name}__conv_m2")
        shortcut = x
    return keras.layers.Add(name=f"{name}__add")([h, shortcut]), t


__all__ = ["KERNEL_INIT", "preactivation", "preact_conv", "multiplexer", "multi_fiber_unit"]
