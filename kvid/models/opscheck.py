"""``opscheck``: a small network that uses every kvid.ops layer.

It exists so the tools (info, export, audit, QAT, the runtime) can be exercised before and
independently of the zoo, and it is the model of the end-to-end self-check test. Not a paper
network.
"""

from __future__ import annotations

from kvid import ops
from kvid.keras import keras
from kvid.models.registry import register


def build_opscheck(num_classes, frames, size, width=8):
    """stem 1x3x3/2 -> temporal 3x1x1 -> full 3x3x3/(2,2,2) grouped -> depthwise 1x3x3 ->
    temporal max-pool -> SE-style gate + residual -> grouped 1x3x3 (tanh) -> temporal avg
    pool -> global video pool + per-frame mean (TSN-style) -> classifier."""
    w = int(width)
    inputs, x = ops.video_input(frames, size)
    t = frames
    x = ops.spatial_conv(x, w, 3, strides=2, norm=True, activation="relu", name="stem")
    x = ops.temporal_conv(x, w, t, 3, norm=True, activation="relu", name="temporal")
    x = ops.full_conv(x, 2 * w, t, (3, 3, 3), strides=(2, 2, 2), groups=2, norm=True,
                      activation="relu", name="full3d")
    t = ops.out_frames(t, 2)
    x = ops.spatial_conv(x, None, 3, depthwise=True, norm=True, activation="relu", name="dw")
    x = ops.temporal_pool(x, t, 2, pool="max", name="tmaxpool")
    t = ops.out_frames(t, 2)
    gate = keras.layers.GlobalAveragePooling2D(keepdims=True, name="gate_pool")(x)
    gate = ops.spatial_conv(gate, 2 * w, 1, use_bias=True, activation="sigmoid", name="gate")
    x = keras.layers.Add(name="gate_add")([x, ops.Gate(name="gate_mul")([x, gate])])
    # conv + bias + tanh: TF's CPU graph optimizer cannot fuse BatchNorm followed by Tanh.
    x = ops.spatial_conv(x, 2 * w, 3, groups=2, use_bias=True, activation="tanh", name="gconv")
    x = ops.temporal_pool(x, t, 3, strides=1, pool="avg", name="tavgpool")
    video = ops.global_video_pool(x, t, name="video_pool")
    frame = keras.layers.GlobalAveragePooling2D(name="frame_pool")(x)
    frame = ops.TemporalMean(t, name="frame_mean")(frame)
    x = keras.layers.Add(name="pool_add")([video, frame])
    outputs = ops.classifier(x, num_classes)
    return keras.Model(inputs, outputs, name="opscheck")


def _build(num_classes, frames, size, width=8):
    from kvid import KvidError

    if frames % 4:
        raise KvidError(f"opscheck: frames={frames} must be divisible by 4 (two temporal strides)")
    return build_opscheck(num_classes, frames, size, width)


register(
    "opscheck",
    _build,
    family="opscheck",
    description="self-check net using every kvid.ops layer (not a paper model)",
    num_classes=4,
    frames=8,
    size=32,
    small={"width": 8},
)
