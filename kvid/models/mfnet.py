"""MF-Net: Multi-Fiber Networks (Chen et al., ECCV 2018; ../shared/papers/004_*.txt), as in the
official code (cypw/PyTorch-MFNet, network/mfnet_3d.py) and REFERENCE_NUMBERS.md.

Table 2: conv1 ``3x5x5``, 16 channels, stride (1,2,2), post-activation (BN+ReLU), max-pool
``1x3x3`` stride (1,2,2); conv2..conv5 of 3/4/6/3 multi-fiber units (:mod:`kvid.blocks.fiber`)
at widths 96/192/384/768 with N = 16 fibers; the only temporal stride is 2, in the first unit
of conv2 (16 -> 8 frames), the spatial stride 2 in the first unit of conv3, conv4, conv5;
a final BN+ReLU (the units are pre-activation), global average pooling, FC.

``mfnet2d`` is the image network of MF-Net Table 1 / Table 2's "2D MF-Net": the same layers
with 2-D kernels (conv1 5x5 stride 2, conv_m1 3x3) and no temporal stride, on 224x224
images (``frames=1``; with more frames it is a per-frame network averaged over time).
:func:`inflate` initialises a 3-D MF-Net from a 2-D one as Sec. 3.3 / 4.1 describe (I3D
inflation: every ``k x k`` kernel repeated ``k_t`` times over time and divided by ``k_t``).

Options: ``fibers`` (N, Table 1's N = 12/16/24 ablation), ``multiplexer`` (Table 1's
"w/o multiplexer"), ``widths``, ``depths``, ``stem_width`` for small configs. Init as the
official code: Xavier-uniform convs and FC, BN gamma 1, beta 0.

Known difference from PyTorch: a strided 3-tap temporal conv with TensorFlow "SAME" padding
centres output frame i on input frame 2i+1 (PyTorch's pad 1 centres it on 2i), while the
strided 1x1x1 shortcut takes frame 2i in both: the two paths of conv2's first unit are half a
frame apart here (params, MACs and shapes are unaffected).
"""

from __future__ import annotations

import numpy as np

from kvid import KvidError, ops
from kvid.blocks.fiber import KERNEL_INIT, multi_fiber_unit, preactivation
from kvid.keras import keras
from kvid.models.registry import Reference, register

STAGE_DEPTHS = (3, 4, 6, 3)
STAGE_WIDTHS = (96, 192, 384, 768)


def build_mfnet(num_classes, frames, size, *, fibers=16, multiplexer=True, temporal=True,
                widths=STAGE_WIDTHS, depths=STAGE_DEPTHS, stem_width=16, dropout=0.0,
                name=None):
    """MF-Net (Table 2); ``temporal=False`` builds the 2-D MF-Net (per frame)."""
    widths = tuple(int(w) for w in widths)
    depths = tuple(int(d) for d in depths)
    if len(widths) != 4 or len(depths) != 4 or min(depths) < 1:
        raise KvidError(f"mfnet: widths and depths need 4 entries each, got {widths}, {depths}")
    t = int(frames)
    inputs, x = ops.video_input(frames, size)
    stem_kernel = (3, 5, 5) if temporal else (1, 5, 5)
    x = ops.full_conv(x, stem_width, t, stem_kernel, strides=(1, 2, 2), norm=True,
                      activation="relu", name="conv1", kernel_initializer=KERNEL_INIT)
    x = ops.spatial_pool(x, 3, strides=2, pool="max", name="conv1__maxpool")
    for stage, (width, depth) in enumerate(zip(widths, depths), start=2):
        for i in range(1, depth + 1):
            if i > 1:
                strides = (1, 1, 1)
            elif stage == 2:
                strides = (2 if temporal else 1, 1, 1)
            else:
                strides = (1, 2, 2)
            x, t = multi_fiber_unit(x, t, width, fibers=fibers, strides=strides, first=i == 1,
                                    use_multiplexer=multiplexer, temporal=temporal,
                                    name=f"conv{stage}_{i}")
    x = preactivation(x, after_conv=False, name="tail")
    x = ops.global_video_pool(x, t, name="pool")
    outputs = ops.classifier(x, num_classes, dropout=dropout, name="fc")
    if name is None:
        name = "mfnet3d" if temporal else "mfnet2d"
    return keras.Model(inputs, outputs, name=name)


def _build_mfnet2d(num_classes, frames, size, *, fibers=16, multiplexer=True,
                   widths=STAGE_WIDTHS, depths=STAGE_DEPTHS, stem_width=16, dropout=0.0):
    return build_mfnet(num_classes, frames, size, fibers=fibers, multiplexer=multiplexer,
                       temporal=False, widths=widths, depths=depths, stem_width=stem_width,
                       dropout=dropout)


def inflate(mfnet2d_model, mfnet3d_model):
    """Initialise ``mfnet3d_model`` from ``mfnet2d_model`` (in place; returns the 3-D model).

    Layers are matched by name. A kernel with the same shape is copied; a 2-D kernel
    ``(kh, kw, C/g, F)`` whose 3-D counterpart stacks ``k_t`` temporal taps
    ``(kh, kw, k_t*C/g, F)`` (see :class:`kvid.ops.TemporalNeighbours`) is repeated over the
    taps and divided by ``k_t`` - the paper's inflation, so a video of one repeated frame gives
    the 2-D net's features away from the temporal borders. BN, biases and the rest are copied.
    The classifier is left as initialised when the class counts differ (fine-tuning replaces
    it); any other mismatch is an error.
    """
    for layer in mfnet3d_model.layers:
        if not layer.weights:
            continue
        try:
            source = mfnet2d_model.get_layer(layer.name)
        except ValueError:
            raise KvidError(f"inflate: layer {layer.name} has no counterpart in "
                            f"{mfnet2d_model.name}") from None
        src, dst = source.get_weights(), layer.get_weights()
        if [w.shape for w in src] == [w.shape for w in dst]:
            layer.set_weights(src)
            continue
        if isinstance(layer, keras.layers.Dense) and src[0].shape[0] == dst[0].shape[0]:
            continue  # classifier with another class count
        if not isinstance(layer, keras.layers.Conv2D) or len(src) != len(dst):
            raise KvidError(f"inflate: {layer.name}: shapes {[w.shape for w in src]} vs "
                            f"{[w.shape for w in dst]}")
        k2, k3 = src[0], dst[0]
        kt, rest = divmod(k3.shape[2], k2.shape[2])
        if rest or k2.shape[:2] != k3.shape[:2] or k2.shape[3] != k3.shape[3]:
            raise KvidError(f"inflate: {layer.name}: cannot inflate kernel {k2.shape} "
                            f"to {k3.shape}")
        layer.set_weights([np.tile(k2, (1, 1, kt, 1)) / kt, *src[1:]])
    return mfnet3d_model


# A CPU-trainable config: 4 fibers, widths 16..128, one unit per stage.
SMALL = {"fibers": 4, "widths": (16, 32, 64, 128), "depths": (1, 1, 1, 1), "stem_width": 8}

register(
    "mfnet3d", build_mfnet, family="mfnet",
    description="3-D MF-Net, N=16 fibers (MF-Net Table 2, 8.0 M params)",
    references=[Reference(16, 224, 400, gmacs=11.1, params_m=8.0,
                          source="MF-Net Table 2 (Kinetics-400)")],
    small=SMALL, num_classes=400, frames=16, size=224,
)
register(
    "mfnet2d", _build_mfnet2d, family="mfnet",
    description="2-D MF-Net image network, N=16 fibers (MF-Net Table 1, 5.8 M params)",
    references=[Reference(1, 224, 1000, gmacs=0.861, params_m=5.8,
                          source="MF-Net Table 1 (ImageNet-1k)")],
    small=SMALL, num_classes=1000, frames=1, size=224,
)
