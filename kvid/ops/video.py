"""Mobile-safe video convolutions and pooling, built from Keras' own 2-D layers.

Each function takes a folded feature map ``(B*T, H, W, C)`` (time in the batch, see
:mod:`kvid.ops.layers`) and returns one. They compose builtin Keras layers (Conv2D,
DepthwiseConv2D, BatchNormalization, ReLU, 2-D pooling) around kvid's reshape layers, so that
tfmot sees the ``Conv2D -> BatchNormalization -> ReLU`` patterns it folds for QAT, and the
TFLite graph holds only int8 builtins at rank <= 4:

============================  =============================================================
3-D operation                 built as
============================  =============================================================
``1 x k x k`` conv            Conv2D ``(k, k)`` on ``(B*T, H, W, C)``
``k x 1 x 1`` conv            SplitTime -> Conv2D ``(k, 1)`` on ``(B, T, H*W, C)`` -> MergeTime
``k_t x k x k`` conv          TemporalNeighbours (k_t taps stacked on channels) -> Conv2D
temporal max/avg pool         SplitTime -> MaxPooling2D/AveragePooling2D ``(k, 1)`` -> MergeTime
global video pool             SplitTime -> GlobalAveragePooling2D over ``(T, H*W)``
============================  =============================================================

Padding is TensorFlow's "SAME" everywhere (it equals PyTorch's symmetric padding for stride
1 and odd kernels). Grouped convs are ``Conv2D(groups=g)`` and train with kvid's fast grouped
gradient (:mod:`kvid.ops.grouped`).

Options common to the conv helpers: ``norm`` adds BatchNormalization (``zero_init`` starts its
gamma at 0, for the last BN of a residual branch), ``activation`` ("relu", "sigmoid",
"tanh" or None) adds the activation; both are applied before time is merged back so Keras and
tfmot see conv -> BN -> activation in sequence.
"""

from __future__ import annotations

import contextlib

from kvid import KvidError
from kvid.keras import keras
from kvid.ops.layers import (
    FoldTime,
    MergeTime,
    SplitTime,
    TemporalNeighbours,
)

BN_MOMENTUM = 0.9  # PyTorch's 0.1 in Keras' convention: the papers' official code uses it
BN_EPSILON = 1e-5


def out_frames(frames: int, stride: int) -> int:
    """Frames after a "SAME"-padded temporal stride."""
    return -(-int(frames) // int(stride))


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _name(name, part):
    return None if name is None else f"{name}_{part}" if part else name


_ZERO_INIT = {"enabled": True}


@contextlib.contextmanager
def no_zero_init():
    """Within this context models are built with ``zero_init`` ignored: every residual branch
    starts at its random initial value instead of zero (its last BN gamma 1, ATE's ``k_u``
    He-initialised), as a trained network's branches are non-zero.

    For timing random-weight exports: a zero branch calibrates to the narrowest int8 range
    (``kvid.ops.quantize.MIN_RANGE``), ~1000x below the shortcut's, and XNNPACK refuses an int8
    ADD whose input/output scale ratio is that far from 1 - the residual ADDs then run on
    TFLite's reference kernel (16 of CT-Net-R50's 30 ADDs, a tenth of its int8 time at
    8x112x112 on a 2-core AVX2 CPU), which a trained model's would not.
    """
    previous = _ZERO_INIT["enabled"]
    _ZERO_INIT["enabled"] = False
    try:
        yield
    finally:
        _ZERO_INIT["enabled"] = previous


def zero_init_enabled() -> bool:
    """False inside :func:`no_zero_init`."""
    return _ZERO_INIT["enabled"]


def norm_act(x, *, norm=True, activation="relu", zero_init=False, name=None):
    """BatchNormalization and/or activation on any feature map."""
    if norm:
        x = keras.layers.BatchNormalization(
            momentum=BN_MOMENTUM,
            epsilon=BN_EPSILON,
            gamma_initializer="zeros" if zero_init and zero_init_enabled() else "ones",
            name=_name(name, "bn"),
        )(x)
    if activation == "relu":
        x = keras.layers.ReLU(name=_name(name, "relu"))(x)
    elif activation:
        x = keras.layers.Activation(activation, name=_name(name, activation))(x)
    return x


def _conv2d(x, filters, kernel_size, strides, dilation, groups, depthwise, use_bias, name,
            kernel_initializer):
    if depthwise:
        channels = x.shape[-1]
        if filters not in (None, channels):
            raise KvidError(f"{name}: a depthwise conv keeps {channels} channels, got filters={filters}")
        return keras.layers.DepthwiseConv2D(
            kernel_size, strides=strides, dilation_rate=dilation, padding="same",
            use_bias=use_bias, depthwise_initializer=kernel_initializer, name=name,
        )(x)
    if x.shape[-1] % groups or filters % groups:
        raise KvidError(
            f"{name}: groups={groups} must divide both input channels ({x.shape[-1]}) "
            f"and filters ({filters})"
        )
    return keras.layers.Conv2D(
        filters, kernel_size, strides=strides, dilation_rate=dilation, padding="same",
        groups=groups, use_bias=use_bias, kernel_initializer=kernel_initializer, name=name,
    )(x)


IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


def pixel_normalization(x, mean=IMAGENET_MEAN, std=IMAGENET_STD, name="normalize"):
    """Raw RGB 0..255 in, ``(x - mean) / std`` out: the model's first layer.

    Normalising inside the model means the app, the runtime and the tf.data pipeline all feed
    raw pixels (DESIGN.md: a clip is float32 RGB 0..255). It is a frozen 1x1 depthwise conv
    (kernel ``1/std``, bias ``-mean/std``): one int8 DEPTHWISE_CONV_2D with per-channel
    scales right after the int8 input, where a MUL/ADD with float constants would stay float
    in the converted graph.
    """
    return keras.layers.DepthwiseConv2D(
        1,
        use_bias=True,
        trainable=False,
        depthwise_initializer=keras.initializers.Constant([[[[1.0 / s] for s in std]]]),
        bias_initializer=keras.initializers.Constant([-m / s for m, s in zip(mean, std)]),
        name=name,
    )(x)


def video_input(frames, size, name="clip"):
    """The model input ``(B, T, H, W, 3)`` of raw RGB 0..255, and its folded, normalised map.

    Returns ``(inputs, x)`` with ``x`` of shape ``(B*T, H, W, 3)``.
    """
    height, width = _pair(size)
    inputs = keras.Input(shape=(int(frames), height, width, 3), name=name)
    x = FoldTime(name="fold_time")(inputs)
    x = pixel_normalization(x)
    return inputs, x


def spatial_conv(x, filters, kernel_size=3, *, strides=1, dilation=1, groups=1, depthwise=False,
                 use_bias=False, norm=False, activation=None, zero_init=False, name=None,
                 kernel_initializer="he_normal"):
    """``1 x k x k`` conv (stride, dilation, groups, depthwise) on ``(B*T, H, W, C)``."""
    x = _conv2d(x, filters, kernel_size, strides, dilation, groups, depthwise, use_bias, name,
                kernel_initializer)
    return norm_act(x, norm=norm, activation=activation, zero_init=zero_init, name=name)


def temporal_conv(x, filters, frames, kernel_size=3, *, strides=1, dilation=1, groups=1,
                  depthwise=False, use_bias=False, norm=False, activation=None,
                  zero_init=False, name=None, kernel_initializer="he_normal"):
    """``k x 1 x 1`` conv over time (stride, dilation, groups, depthwise).

    ``(B*T, H, W, C) -> (B*T', H, W, F)`` with ``T' = ceil(T / strides)``.
    """
    _, h, w, _ = x.shape
    y = SplitTime(frames, name=_name(name, "split"))(x)
    y = _conv2d(y, filters, (kernel_size, 1), (strides, 1), (dilation, 1), groups, depthwise,
                use_bias, name, kernel_initializer)
    y = norm_act(y, norm=norm, activation=activation, zero_init=zero_init, name=name)
    return MergeTime(h, w, name=_name(name, "merge"))(y)


def full_conv(x, filters, frames, kernel_size=(3, 3, 3), *, strides=(1, 1, 1), dilation=1,
              groups=1, use_bias=False, norm=False, activation=None, zero_init=False,
              name=None, kernel_initializer="he_normal"):
    """A full ``k_t x k_h x k_w`` conv (grouped or not) as one Conv2D over stacked neighbours.

    ``kernel_size``/``strides`` are ``(t, h, w)`` triples (or ints); ``dilation`` is temporal.
    The Conv2D's kernel is the 3-D kernel ``(k_t, k_h, k_w, C/g, F)`` transposed to
    ``(k_h, k_w, k_t, C/g, F)`` and reshaped (see :class:`TemporalNeighbours`).
    """
    kt, kh, kw = (kernel_size,) * 3 if isinstance(kernel_size, int) else kernel_size
    st, sh, sw = (strides,) * 3 if isinstance(strides, int) else strides
    if kt > 1 or st > 1:
        x = TemporalNeighbours(frames, kt, st, dilation, groups, name=_name(name, "taps"))(x)
    x = _conv2d(x, filters, (kh, kw), (sh, sw), 1, groups, False, use_bias, name,
                kernel_initializer)
    return norm_act(x, norm=norm, activation=activation, zero_init=zero_init, name=name)


def temporal_pool(x, frames, kernel_size=2, *, strides=None, pool="max", padding="same",
                  name=None):
    """Temporal max or average pooling ``(k x 1 x 1)``; averages exclude padding (as TF)."""
    _, h, w, _ = x.shape
    strides = kernel_size if strides is None else strides
    layer = {"max": keras.layers.MaxPooling2D, "avg": keras.layers.AveragePooling2D}.get(pool)
    if layer is None:
        raise KvidError(f"{name}: pool must be 'max' or 'avg', got {pool!r}")
    y = SplitTime(frames, name=_name(name, "split"))(x)
    y = layer((kernel_size, 1), strides=(strides, 1), padding=padding, name=name)(y)
    return MergeTime(h, w, name=_name(name, "merge"))(y)


def spatial_pool(x, kernel_size=3, *, strides=2, pool="max", padding="same", name=None):
    """``1 x k x k`` max or average pooling."""
    layer = {"max": keras.layers.MaxPooling2D, "avg": keras.layers.AveragePooling2D}[pool]
    return layer(kernel_size, strides=strides, padding=padding, name=name)(x)


def global_video_pool(x, frames, name="global_pool"):
    """Average over T, H and W: ``(B*T, H, W, C) -> (B, C)``."""
    y = SplitTime(frames, name=_name(name, "split"))(x)
    return keras.layers.GlobalAveragePooling2D(name=name)(y)


def classifier(x, num_classes, *, dropout=0.0, name="classifier"):
    """Dropout then the Dense classifier; outputs logits (no softmax)."""
    if dropout:
        x = keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return keras.layers.Dense(num_classes, name=name)(x)


__all__ = [
    "BN_MOMENTUM",
    "BN_EPSILON",
    "out_frames",
    "norm_act",
    "no_zero_init",
    "zero_init_enabled",
    "video_input",
    "pixel_normalization",
    "spatial_conv",
    "temporal_conv",
    "full_conv",
    "temporal_pool",
    "spatial_pool",
    "global_video_pool",
    "classifier",
]
