"""kvid's custom Keras layers: the few things a video net needs that Keras has no layer for.

All of them keep tensors at rank <= 4 and lower to TFLite builtins (RESHAPE, PAD,
STRIDED_SLICE, CONCATENATION, MUL, ADD, MEAN), so the exported int8 graph stays fully int8
(DESIGN.md, "Mobile-safe ops"). Time is folded into the batch: a video feature map is
``(B*T, H, W, C)``; a layer that needs T takes it as ``frames``.

Every layer has ``get_config``, is registered for serialisation under ``kvid>`` and has a
QuantizeConfig in :mod:`kvid.ops.quantize`.
"""

from __future__ import annotations

from kvid import KvidError
from kvid.keras import keras, tf

register = keras.utils.register_keras_serializable(package="kvid")


def _check_rank(layer, shape, ranks, what):
    rank = len(shape)
    if rank not in ranks:
        want = " or ".join(str(r) for r in ranks)
        raise KvidError(
            f"{layer.name}: expects a {want}-D {what}, got shape {tuple(shape)}"
        )


def _check_frames(layer, batch, frames):
    if batch is not None and batch % frames:
        raise KvidError(
            f"{layer.name}: folded batch {batch} is not divisible by frames={frames}"
        )


@register
class FoldTime(keras.layers.Layer):
    """``(B, T, H, W, C) -> (B*T, H, W, C)``: fold time into the batch.

    An input that is already folded (4-D, e.g. the exported graph's ``(T, H, W, 3)`` input)
    passes through unchanged, which is what lets the same model graph take a 5-D clip batch
    in Keras and a 4-D stack of frames in TFLite.
    """

    def build(self, input_shape):
        _check_rank(self, input_shape, (4, 5), "clip (B, T, H, W, C) or frames (B*T, H, W, C)")
        super().build(input_shape)

    def call(self, x):
        return tf.reshape(x, [-1, *x.shape[-3:]])

    def compute_output_shape(self, input_shape):
        shape = tf.TensorShape(input_shape)
        if shape.rank == 4:
            return shape
        batch = None if shape[0] is None else shape[0] * shape[1]
        return tf.TensorShape([batch, *shape[2:]])


@register
class UnfoldTime(keras.layers.Layer):
    """``(B*T, ...) -> (B, T, ...)``. Used only where a rank-5 tensor never reaches TFLite
    (e.g. returning a 5-D feature map to Keras); export paths use :class:`SplitTime`."""

    def __init__(self, frames, **kwargs):
        super().__init__(**kwargs)
        self.frames = int(frames)

    def build(self, input_shape):
        _check_frames(self, input_shape[0], self.frames)
        super().build(input_shape)

    def call(self, x):
        return tf.reshape(x, [-1, self.frames, *x.shape[1:]])

    def get_config(self):
        return {**super().get_config(), "frames": self.frames}


@register
class SplitTime(keras.layers.Layer):
    """``(B*T, H, W, C) -> (B, T, H*W, C)``: time becomes a spatial axis for 2-D ops.

    A temporal conv ``k x 1 x 1`` is then a Conv2D with a ``(k, 1)`` kernel, a temporal pool a
    2-D pool with a ``(k, 1)`` window (DESIGN.md, "Mobile-safe ops").
    """

    def __init__(self, frames, **kwargs):
        super().__init__(**kwargs)
        self.frames = int(frames)

    def build(self, input_shape):
        _check_rank(self, input_shape, (4,), "folded feature map (B*T, H, W, C)")
        _check_frames(self, input_shape[0], self.frames)
        super().build(input_shape)

    def call(self, x):
        _, h, w, c = x.shape
        return tf.reshape(x, [-1, self.frames, h * w, c])

    def get_config(self):
        return {**super().get_config(), "frames": self.frames}


@register
class MergeTime(keras.layers.Layer):
    """``(B, T, H*W, C) -> (B*T, H, W, C)``: the inverse of :class:`SplitTime`."""

    def __init__(self, height, width, **kwargs):
        super().__init__(**kwargs)
        self.height, self.width = int(height), int(width)

    def build(self, input_shape):
        _check_rank(self, input_shape, (4,), "(B, T, H*W, C) map")
        if input_shape[2] != self.height * self.width:
            raise KvidError(
                f"{self.name}: axis 2 has {input_shape[2]} positions, "
                f"expected {self.height}x{self.width}"
            )
        super().build(input_shape)

    def call(self, x):
        return tf.reshape(x, [-1, self.height, self.width, x.shape[-1]])

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


@register
class TemporalNeighbours(keras.layers.Layer):
    """Stack each output frame's ``k`` temporal neighbours along channels.

    ``(B*T, H, W, C) -> (B*T', H, W, k*C)`` with ``T' = ceil(T / stride)``, zero padding as
    TensorFlow's "SAME" (extra padding at the end). With ``groups=g`` the channels are ordered
    group-major: channel ``gi*(k*C/g) + t*(C/g) + c`` holds channel ``gi*C/g + c`` of
    neighbour ``t`` (``groups=1``: ``t*C + c``). A Conv2D with ``groups=g`` over the result
    and kernel ``(kh, kw, k*C/g, F)`` equals a grouped 3-D conv with kernel
    ``(k, kh, kw, C/g, F)`` transposed to ``(kh, kw, k, C/g, F)`` and reshaped - so a full
    ``k_t x k x k`` conv, grouped or not, is one 2-D conv (rank <= 4, int8 in TFLite).
    """

    def __init__(self, frames, kernel_size=3, stride=1, dilation=1, groups=1, **kwargs):
        super().__init__(**kwargs)
        self.frames, self.kernel_size = int(frames), int(kernel_size)
        self.stride, self.dilation, self.groups = int(stride), int(dilation), int(groups)

    @property
    def out_frames(self):
        return -(-self.frames // self.stride)

    def _padding(self):
        effective = (self.kernel_size - 1) * self.dilation + 1
        total = max((self.out_frames - 1) * self.stride + effective - self.frames, 0)
        return total // 2, total - total // 2

    def build(self, input_shape):
        _check_rank(self, input_shape, (4,), "folded feature map (B*T, H, W, C)")
        _check_frames(self, input_shape[0], self.frames)
        if input_shape[-1] % self.groups:
            raise KvidError(
                f"{self.name}: {input_shape[-1]} channels not divisible by groups={self.groups}"
            )
        super().build(input_shape)

    def call(self, x):
        _, h, w, c = x.shape
        rows = tf.reshape(x, [-1, self.frames, h * w * c])
        before, after = self._padding()
        n, s = self.out_frames, self.stride
        offsets = [t * self.dilation for t in range(self.kernel_size)]
        if s > 1:
            # Frame o + j*s (j < T') is phase o % s of row o // s + j once the padded frames
            # are viewed as (rows, s): every tap is then a unit-stride slice. XNNPACK runs no
            # strided STRIDED_SLICE (TFLite's builtin one took 5.7 ms for a 1x8x784x64 int8
            # tap on a 2-core AVX2 CPU, the unit-stride slice is delegated). Frames padded at
            # the end to make whole rows are never read.
            after = max(after, (max(o // s for o in offsets) + n) * s - self.frames - before)
        rows = tf.pad(rows, [[0, 0], [before, after], [0, 0]])
        if s > 1:
            rows = tf.reshape(rows, [-1, (self.frames + before + after) // s, s, h * w * c])
        g, k = self.groups, self.kernel_size
        # Group-major order straight from the taps when XNNPACK delegates their concatenation
        # (at most 4 inputs): each tap viewed as (N, g, 1, C/g), one CONCATENATION on axis 2
        # gives (N, g, k, C/g). Otherwise tap-major concatenation, then one rank-4 TRANSPOSE
        # (N, k, g, C/g) -> (N, g, k, C/g). Both are int8 ops XNNPACK runs, where k SPLITs into g
        # pieces and a k*g-input CONCATENATION (MF-Net: 3 x 16) ran on TFLite's own kernels;
        # the axis-2 concatenation also saves the TRANSPOSE (a 1-7% faster grouped 3x3x3 conv
        # in a one-off int8 probe at MF-Net's conv2 shape, identical outputs).
        direct = g > 1 and 1 < k <= 4
        taps = []
        for start in offsets:
            if s > 1:
                q, r = divmod(start, s)
                tap = rows[:, q:q + n, r:r + 1, :]
            else:
                tap = rows[:, start:start + n, :]
            taps.append(tf.reshape(tap, [-1, g, 1, c // g] if direct else [-1, h, w, c]))
        if len(taps) == 1:
            return taps[0]
        if direct:
            return tf.reshape(tf.concat(taps, axis=2), [-1, h, w, k * c])
        stacked = tf.concat(taps, axis=-1)  # tap-major: channel t*C + c
        if g == 1:
            return stacked
        y = tf.reshape(stacked, [-1, k, g, c // g])
        y = tf.transpose(y, [0, 2, 1, 3])
        return tf.reshape(y, [-1, h, w, k * c])

    def compute_output_shape(self, input_shape):
        b, h, w, c = tf.TensorShape(input_shape).as_list()
        batch = None if b is None else b // self.frames * self.out_frames
        return tf.TensorShape([batch, h, w, c * self.kernel_size])

    def get_config(self):
        return {
            **super().get_config(),
            "frames": self.frames,
            "kernel_size": self.kernel_size,
            "stride": self.stride,
            "dilation": self.dilation,
            "groups": self.groups,
        }


@register
class TemporalMean(keras.layers.Layer):
    """``(B*T, ...) -> (B, ...)``: average over time (e.g. TSN consensus of per-frame logits,
    or a temporal mean that keeps the spatial map). Every tensor stays at rank <= 4: a map
    ``(B*T, H, W, C)`` is averaged as ``(B, T, H*W, C)`` (RESHAPE, MEAN, RESHAPE in TFLite)."""

    def __init__(self, frames, **kwargs):
        super().__init__(**kwargs)
        self.frames = int(frames)

    def build(self, input_shape):
        _check_frames(self, input_shape[0], self.frames)
        super().build(input_shape)

    def call(self, x):
        rest = list(x.shape[1:])
        if len(rest) <= 2:
            return tf.reduce_mean(tf.reshape(x, [-1, self.frames, *rest]), axis=1)
        # A map (B*T, H, W, C) goes through (B, T, H*W, C), not a rank-5 tensor: one int8 MEAN
        # at rank 4, which XNNPACK runs (it runs no int8 AVERAGE_POOL_2D).
        inner = 1
        for d in rest[:-1]:
            inner *= int(d)
        y = tf.reduce_mean(tf.reshape(x, [-1, self.frames, inner, rest[-1]]), axis=1)
        return tf.reshape(y, [-1, *rest])

    def get_config(self):
        return {**super().get_config(), "frames": self.frames}


@register
class Gate(keras.layers.Layer):
    """``x * g`` with broadcasting: the elementwise gating of SE units, motion gates and
    tensor excitation (``g`` usually a sigmoid output, shape broadcastable to ``x``).

    Keras' ``Multiply`` does not broadcast and tfmot refuses it; this is the int8 MUL."""

    def call(self, inputs):
        x, g = inputs
        return x * g


__all__ = [
    "FoldTime",
    "UnfoldTime",
    "SplitTime",
    "MergeTime",
    "TemporalNeighbours",
    "TemporalMean",
    "Gate",
]
