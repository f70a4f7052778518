"""FASTER (Zhu et al., "FASTER Recurrent Networks for Efficient Video Classification", AAAI
2020; ../shared/papers/002_*.txt): an expensive and a cheap clip backbone, and a recurrent
aggregator that combines their res5 feature maps over the N clips of a video.

Presets
-------
* clip backbones (Table 1, Table 2, Table 6): ``r2plus1d_50`` (expensive), ``r3d_50`` (the
  expensive alternative of Table 6), ``r2d_26`` (cheap). Each is a clip classifier
  (``clip -> logits``); :func:`feature_model` (or the option ``output="features"``) gives the
  feature extractor returning the res5 map ``(B*L/8, 7, 7, 2048)`` at 224x224 (folded, rank 4).
* aggregators (Table 3, Eq. 1-5): ``fastgru``, ``gru``, ``lstm``, ``concat``, ``avgpool``.
  These build one aggregation *step* (kvid.blocks.fast_gru): inputs ``feature (B, L/8, h*w, C)``,
  the state(s) and ``control``, outputs the new state(s) and ``logits`` - not the registry's
  usual ``clip -> logits``. ``frames``/``size`` are the clip's, so ``kvid info fastgru``
  counts one step on a ``L/8 x 7 x 7 x 2048`` map (0.72 GMACs per temporal slice).
* :class:`FasterSequence` - the step unrolled over the N clips of a video (Eq. 1), with the
  control input of every clip (:func:`control_tensor`, the formula of kvid.contract.faster).

Elsewhere: the clip protocol (patterns, schedule, control fields, the sidecar's ``faster``
object) is kvid.contract.faster; two-stage training with the feature cache kvid.train.faster;
the cost of a pattern (Table 4) kvid.analysis.faster; QAT of the step and the three-model int8
export kvid.export.faster; the TensorFlow-free streaming runtime kvid.runtime.faster.
"""

from __future__ import annotations

from kvid import KvidError, ops
from kvid.blocks import fast_gru
from kvid.blocks import r2plus1d as clip_blocks
from kvid.contract.faster import CONTROL_FIELDS, control_fields
from kvid.keras import keras, tf
from kvid.models.registry import Reference, register

FEATURE_STRIDE = (8, 32)  # res5 map: L/8 x H/32 x W/32 (Table 1)
FEATURE_LAYER = "global_pool_split"  # the layer that takes the res5 map (ops.global_video_pool)


# ----------------------------------------------------------------------------------- backbones

def build_backbone(num_classes, frames, size, *, block="2plus1d", stages=(3, 4, 6, 3), width=64,
                   dropout=0.0, output="logits", name=None):
    """A FASTER clip backbone (Table 1): stem (conv1 + pool1), bottleneck stages res2..res5
    with ``width * 2**s`` inner channels (4x expansion), spatial stride 2 from res3 on and, for
    3-D blocks, temporal stride 2 as well (T -> L/8). ``output="features"`` returns the res5
    map ``(B*L/8, H/32, W/32, 32*width)``; ``"logits"`` adds global pooling + FC."""
    if output not in ("logits", "features"):
        raise KvidError(f"output={output!r}: must be 'logits' or 'features'")
    inputs, x = ops.video_input(frames, size)
    x, t = clip_blocks.stem(x, frames, block, width=width)
    for s, count in enumerate(stages):
        for i in range(int(count)):
            stride = 2 if s > 0 and i == 0 else 1
            strides = (1 if block == "2d" else stride, stride, stride)
            x, t = clip_blocks.bottleneck(x, t, width * 2 ** s, block=block, strides=strides,
                                          name=f"res{s + 2}_{i + 1}")
    name = name or f"{block}_backbone"
    if output == "features":
        return keras.Model(inputs, x, name=f"{name}_features")
    x = ops.global_video_pool(x, t, name="global_pool")
    return keras.Model(inputs, ops.classifier(x, num_classes, dropout=dropout), name=name)


def feature_model(model):
    """The res5 feature extractor of a backbone classifier (float or QAT), sharing its
    weights: ``clip -> (B*L/8, h, w, C)``."""
    for layer in model.layers:
        if layer.name in (FEATURE_LAYER, f"quant_{FEATURE_LAYER}"):
            return keras.Model(model.inputs, layer.input, name=f"{model.name}_features")
    if model.outputs[0].shape.rank == 4:
        return model  # already a feature extractor
    raise KvidError(f"{model.name}: not a FASTER backbone (no layer {FEATURE_LAYER!r})")


def _backbone(block, stages):
    def builder(num_classes, frames, size, width=64, stages=stages, dropout=0.0, output="logits"):
        return build_backbone(num_classes, frames, size, block=block, stages=tuple(stages),
                              width=width, dropout=dropout, output=output,
                              name=f"{'r2d' if block == '2d' else 'r' + block}")
    return builder


_T2 = "FASTER Table 2"
register(
    "r2plus1d_50", _backbone("2plus1d", (3, 4, 6, 3)), family="faster",
    description="FASTER expensive clip model: R(2+1)D-50, bottlenecks, max-pool after conv1",
    references=[Reference(8, 224, 400, gmacs=30.0, params_m=46.9, source=_T2),
                Reference(16, 224, 400, gmacs=60.0, params_m=46.9, source=_T2),
                Reference(32, 224, 400, gmacs=119.9, params_m=46.9, source=_T2)],
    small={"width": 8, "stages": (1, 1, 1, 1)},
    num_classes=400, frames=8, size=224,
)
register(
    "r3d_50", _backbone("3d", (3, 4, 6, 3)), family="faster",
    description="FASTER expensive alternative (Table 6): R3D-50, full 3x3x3 bottlenecks",
    references=[Reference(32, 224, 400, gmacs=117.84,
                          source="FASTER Table 6: All-E avg. pool 942.7 GFLOPs / 8 clips")],
    small={"width": 8, "stages": (1, 1, 1, 1)},
    num_classes=400, frames=32, size=224,
)
register(
    "r2d_26", _backbone("2d", (2, 2, 2, 2)), family="faster",
    description="FASTER cheap clip model: R2D-26, conv1 8x7x7 with temporal stride 8",
    references=[Reference(8, 224, 400, gmacs=3.2, source=_T2),
                Reference(16, 224, 400, gmacs=6.33,
                          source="FASTER Table 2 says 6.0, inconsistent with 8/32 frames; "
                                 "REFERENCE_NUMBERS.md: trust 6.33"),
                Reference(32, 224, 400, gmacs=12.7, source=_T2)],
    small={"width": 8, "stages": (1, 1, 1, 1)},
    num_classes=400, frames=8, size=224,
)


# --------------------------------------------------------------------------------- aggregators

def feature_shape(frames, size, channels):
    """``(l, h*w, C)`` of the res5 map of an ``frames x size x size`` clip."""
    side = ops.out_frames(size, FEATURE_STRIDE[1])
    return (ops.out_frames(frames, FEATURE_STRIDE[0]), side * side, int(channels))


def build_aggregator(num_classes, frames, size, *, kind="fastgru", channels=2048, reduction=4,
                     dropout=0.0):
    """One step of aggregator ``kind`` for clips of ``frames x size x size``
    (kvid.blocks.fast_gru.build_step)."""
    return fast_gru.build_step(kind, feature_shape(frames, size, channels), num_classes,
                               reduction=reduction, dropout=dropout)


def _aggregator(kind):
    def builder(num_classes, frames, size, channels=2048, reduction=4, dropout=0.0):
        return build_aggregator(num_classes, frames, size, kind=kind, channels=channels,
                                reduction=reduction, dropout=dropout)
    return builder


_AGG_TEXT = {
    "fastgru": "FAST-GRU step (Eq. 4): bottleneck gates, spatio-temporal state",
    "gru": "GRU step on pooled features (Eq. 2-3 baseline)",
    "lstm": "LSTM step on pooled features (baseline)",
    "concat": "Concat step (Eq. 5 baseline)",
    "avgpool": "average of clip scores (running mean step)",
}
for _kind in fast_gru.KINDS:
    register(
        _kind, _aggregator(_kind), family="faster", description=f"FASTER aggregator: {_AGG_TEXT[_kind]}",
        references=[Reference(8, 224, 400, gmacs=0.72,
                              source="REFERENCE_NUMBERS.md: one FAST-GRU step on 1x7x7x2048")]
        if _kind == "fastgru" else [],
        small={"channels": 32},
        num_classes=400, frames=8, size=224,
    )


def feature_channels(name, frames, size, overrides=None) -> int:
    """Channels of a backbone preset's res5 map (``32 * width``), without building it."""
    from kvid.models.registry import options

    width = options(name, frames=frames, size=size, **(overrides or {})).get("width", 64)
    return 32 * int(width)


# ------------------------------------------------------------------ the unrolled aggregator

def control_tensor(t, expensive):
    """The control input of clip ``t`` for a batch, ``(B, 1, 1, 6)``: the fields of
    kvid.contract.faster.control_fields in TF - the runtime's control vector, batched
    (``expensive``: ``(B,)`` 0/1 floats)."""
    e = tf.reshape(tf.cast(expensive, tf.float32), [-1, 1, 1, 1])
    ones = tf.ones_like(e)
    fields = control_fields(t, e)
    return tf.concat([ones * fields[f] for f in CONTROL_FIELDS], axis=-1)


class FasterSequence(keras.Model):
    """The aggregator over a sequence of clip features: the step model applied clip after clip
    from zero states (step 0 sets ``o_0 = x_0``). Input ``{"features": (B, N, l, h*w, C),
    "expensive": (B, N)}``; output the logits after the last clip, or after every clip
    ``(B, N, K)`` with ``every_clip=True``."""

    def __init__(self, step, every_clip=False, **kwargs):
        super().__init__(**kwargs)
        self.step = step
        self.every_clip = every_clip
        self.num_classes = int(step.outputs[-1].shape[-1])
        self.state_shapes = [tuple(int(d) for d in t.shape[1:]) for t in step.inputs[1:-1]]

    def call(self, inputs, training=None):
        feats, expensive = inputs["features"], inputs["expensive"]
        batch = tf.shape(feats)[0]
        states = [tf.zeros(tf.concat([[batch], shape], 0)) for shape in self.state_shapes]
        outs = []
        for t in range(feats.shape[1]):
            result = self.step([feats[:, t], *states, control_tensor(t, expensive[:, t])],
                               training=training)
            states, logits = list(result[:-1]), result[-1]
            outs.append(logits)
        return tf.stack(outs, axis=1) if self.every_clip else logits


def load_avgpool_heads(step, expensive_model, cheap_model):
    """Give an ``avgpool`` step the classifiers of the trained backbones (the paper averages
    the clip scores each backbone gives)."""
    for part, model in (("expensive", expensive_model), ("cheap", cheap_model)):
        kernel, bias = model.get_layer("classifier").get_weights()
        step.get_layer(f"classifier_{part}").set_weights([kernel[None, None], bias])


__all__ = [
    "FEATURE_LAYER", "FEATURE_STRIDE", "FasterSequence", "build_aggregator", "build_backbone",
    "control_tensor", "feature_channels", "feature_model", "feature_shape", "load_avgpool_heads",
]
