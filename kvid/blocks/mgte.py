"""EAC-Net's Motion Guided Temporal Encode (MGTE) block (EAC-Net Eq. 1-5, Fig. 1, Tables 2-4;
../shared/papers/000_*.txt), and the three small layers it needs.

On a folded map ``X_in`` of T frames, ``(B*T, H, W, C)`` -> ``(B*T/2, H, W, C)``:

* reduction: ``X_d = relu(bn(1x1 conv C -> d))`` on all T frames;
* frame pairs: ``X_pairs = Concat(X_2t, X_2t+1)`` - :class:`kvid.ops.TemporalNeighbours`
  with kernel 2, stride 2 stacks exactly the frames 2t and 2t+1 on channels;
* Eq. 1: ``T_pairs = relu(bn(k_p * X_pairs))``, ``k_p`` a 1x1 conv ``2d -> d``;
* Eq. 2: ``X_diff = |X_2t - X_2t+1|`` (:func:`absolute_pair_difference`:
  ``relu(X_2t - X_2t+1) + relu(X_2t+1 - X_2t)``, the same function as :class:`PairDifference`
  then :class:`Abs`, lowered to ops XNNPACK runs),
  ``Gate = sigmoid(bn(k_g * X_diff))`` with ``k_g`` a 1x1 conv ``d -> 1`` (``gate="gradient"``);
* Eq. 3: ``X_cat = Concat(X_diff, BC(Mean(X_d)))``, ``Gate = sigmoid(bn(k_g * X_cat))``,
  ``k_g`` ``2d -> 1`` (``gate="context"``, the paper's final design); the temporal mean of
  ``X_d`` over all T frames is broadcast to the T/2 pair positions (:class:`BroadcastTime`);
* Eq. 4: ``T_gate = T_pairs * Gate`` (the gate is one value per position, broadcast over
  channels); ``gate="none"`` skips it (Table 4, first row);
* ``k_u``: 1x1 conv ``d -> C`` + BN. The paper zeroes the relation branch at the start so
  EAC-Net starts as C2D: the BN's gamma starts at 0 (``zero_init``);
* Eq. 5: ``T_out = T_pool + T_gate``, ``T_pool`` = temporal max-pool ``2x1x1`` of ``X_in``.

``branches`` selects Table 3's rows: ``"both"`` (default), ``"pool"`` (``T_out = T_pool``),
``"relation"`` (``T_out`` = the relation branch alone; its BN then starts at 1).

Mobile-safe: the only new ops are :class:`PairDifference` (TFLite SUB) and
:class:`BroadcastTime` (RESHAPE + TILE); all int8, rank <= 4.
"""

from __future__ import annotations

from kvid import KvidError, ops
from kvid.keras import keras, tf
from kvid.ops.quantize import OutputQuantizeConfig, PassThroughQuantizeConfig

register = keras.utils.register_keras_serializable(package="kvid")

BRANCHES = ("both", "pool", "relation")
GATES = ("context", "gradient", "none")


@register
class PairDifference(keras.layers.Layer):
    """``(..., 2d) -> (..., d)``: first channel half minus second half (``reverse``: second
    minus first).

    On ``X_pairs = Concat(X_2t, X_2t+1)`` this is ``X_2t - X_2t+1`` (EAC-Net Eq. 2). Its own
    layer so that QAT puts an 8-bit range on the difference (TFLite: int8 SUB)."""

    def __init__(self, reverse=False, **kwargs):
        super().__init__(**kwargs)
        self.reverse = bool(reverse)

    def build(self, input_shape):
        if input_shape[-1] % 2:
            raise KvidError(f"{self.name}: needs an even channel count, got {input_shape[-1]}")
        super().build(input_shape)

    def call(self, x):
        d = x.shape[-1] // 2
        first, second = x[..., :d], x[..., d:]
        return second - first if self.reverse else first - second

    def get_config(self):
        return {**super().get_config(), "reverse": self.reverse}

    def compute_output_shape(self, input_shape):
        return tf.TensorShape([*input_shape[:-1], input_shape[-1] // 2])


@register
class Abs(keras.layers.Layer):
    """``|x|`` (EAC-Net Eq. 2's absolute temporal gradient; TFLite: int8 ABS)."""

    def call(self, x):
        return tf.abs(x)


@register
class BroadcastTime(keras.layers.Layer):
    """``(B, H, W, C) -> (B*T, H, W, C)``: repeat a per-clip map for each of T frames (the
    ``BC(.)`` of EAC-Net Eq. 3 and Eq. 6). Lowers to RESHAPE + TILE + RESHAPE."""

    def __init__(self, frames, **kwargs):
        super().__init__(**kwargs)
        self.frames = int(frames)

    def call(self, x):
        _, h, w, c = x.shape
        rows = tf.tile(tf.reshape(x, [-1, 1, h * w * c]), [1, self.frames, 1])
        return tf.reshape(rows, [-1, h, w, c])

    def compute_output_shape(self, input_shape):
        b, h, w, c = tf.TensorShape(input_shape).as_list()
        return tf.TensorShape([None if b is None else b * self.frames, h, w, c])

    def get_config(self):
        return {**super().get_config(), "frames": self.frames}


@register
class OutputQuantizeConfigV2(OutputQuantizeConfig):
    """kvid's :class:`~kvid.ops.quantize.OutputQuantizeConfig` that keeps tfmot's
    "no output quantizer" decision through serialisation.

    tfmot's ConcatTransform turns off the output quantizer of every layer feeding a
    Concatenate (the concat quantizes) by setting ``quantize_output = False`` and patching
    ``get_output_quantizers``; the patch is lost when the QAT model is rebuilt from its config
    (export's deploy model), which then has range variables the trained model lacks
    (KeyError 'output_min:0' in kvid.ops.rebuild.copy_weights). Here the flag is an argument
    and part of ``get_config``, as in tfmot's own Default8BitQuantizeConfig.
    """

    def __init__(self, quantize_output=True):
        self.quantize_output = bool(quantize_output)

    def get_output_quantizers(self, layer):
        return super().get_output_quantizers(layer) if self.quantize_output else []

    def get_config(self):
        return {"quantize_output": self.quantize_output}


ops.register_layer(PairDifference, OutputQuantizeConfigV2)
ops.register_layer(Abs, OutputQuantizeConfigV2)
ops.register_layer(BroadcastTime, PassThroughQuantizeConfig)


def absolute_pair_difference(pairs, *, name):
    """``|X_2t - X_2t+1|`` (EAC-Net Eq. 2) on ``X_pairs``, as ``relu(a - b) + relu(b - a)``.

    The same function as :class:`PairDifference` then :class:`Abs`, built so the int8 graph
    is two SUBs with a fused ReLU and an ADD, all of which XNNPACK runs: it runs no int8 ABS,
    and TFLite's own int8 ABS took 19 ms on an 8x28x28x64 map on a 2-core AVX2 CPU (0.45 ms
    for SUB, SUB, ADD), splitting the delegated graph as well.
    """
    falling = PairDifference(name=f"{name}__diff")(pairs)
    rising = PairDifference(reverse=True, name=f"{name}__diff_reverse")(pairs)
    falling = keras.layers.ReLU(name=f"{name}__diff_relu")(falling)
    rising = keras.layers.ReLU(name=f"{name}__diff_reverse_relu")(rising)
    return keras.layers.Add(name=f"{name}__absdiff")([falling, rising])


def mgte(x, frames, d, *, branches="both", gate="context", zero_init=True, name):
    """The MGTE block (module docstring) on ``(B*T, H, W, C)`` of ``frames`` frames.

    Returns ``(x, frames // 2)``; ``frames`` must be even."""
    if branches not in BRANCHES:
        raise KvidError(f"{name}: branches must be one of {', '.join(BRANCHES)}, got {branches!r}")
    if gate not in GATES:
        raise KvidError(f"{name}: gate must be one of {', '.join(GATES)}, got {gate!r}")
    if frames % 2:
        raise KvidError(f"{name}: halves T, needs an even number of frames, got {frames}")
    half = frames // 2
    channels = x.shape[-1]
    pool = ops.temporal_pool(x, frames, 2, pool="max", name=f"{name}__pool")
    if branches == "pool":
        return pool, half

    x_d = ops.spatial_conv(x, d, 1, norm=True, activation="relu", name=f"{name}__reduce")
    pairs = ops.TemporalNeighbours(frames, 2, 2, name=f"{name}__pairs")(x_d)
    relation = ops.spatial_conv(pairs, d, 1, norm=True, activation="relu",
                                name=f"{name}__relation")  # Eq. 1
    if gate != "none":
        diff = absolute_pair_difference(pairs, name=name)  # Eq. 2
        if gate == "context":  # Eq. 3
            # One int8 MEAN over T at rank 4 (XNNPACK runs it; an average pool over T would
            # be an int8 AVERAGE_POOL_2D, which it does not run)
            context = ops.TemporalMean(frames, name=f"{name}__mean")(x_d)
            context = BroadcastTime(half, name=f"{name}__broadcast")(context)
            diff = keras.layers.Concatenate(name=f"{name}__cat")([diff, context])
        g = ops.spatial_conv(diff, 1, 1, norm=True, activation="sigmoid", name=f"{name}__gate")
        relation = ops.Gate(name=f"{name}__gated")([relation, g])  # Eq. 4
    relation = ops.spatial_conv(relation, channels, 1, norm=True,
                                zero_init=zero_init and branches == "both",
                                name=f"{name}__expand")  # k_u
    if branches == "relation":
        return relation, half
    return keras.layers.Add(name=f"{name}__add")([pool, relation]), half  # Eq. 5


__all__ = ["BRANCHES", "GATES", "PairDifference", "Abs", "BroadcastTime", "absolute_pair_difference",
           "mgte"]
