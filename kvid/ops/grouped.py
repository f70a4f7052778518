"""Grouped 2-D convolution that trains with a fast gradient on CPU.

TensorFlow's grouped ``Conv2D`` (``groups > 1``) is fast forward, but tf_keras routes it
through an XLA-compiled op whose gradient on CPU is ~70x slower than the same convolution
split into groups (PLATFORM_NOTES.md, "Training speed on CPU"). Grouped convolutions are the
heart of SEVNet, MF-Net and CT-Net, so kvid fixes this at the one place it arises:

* :func:`grouped_conv2d` computes the forward pass as *one* grouped ``tf.nn.conv2d`` (so a
  TFLite export contains a single grouped CONV_2D with the layer's own weights), and its
  gradient group by group with ``Conv2DBackpropInput`` / ``Conv2DBackpropFilter`` - exactly
  the gradient of the split formulation, which is fast.
* :func:`install` makes every ``keras.layers.Conv2D`` with ``groups > 1`` use it. The layer
  stays a plain ``Conv2D`` (same class, same config, same kernel shape), so tfmot's QAT
  transforms (Conv+BN folding), serialisation and the TFLite converter treat it as the
  builtin it is. kvid's models therefore use ``keras.layers.Conv2D(groups=g)`` directly.

The replacement changes only how the gradient is computed, not the function: the test
compares forward and gradients with the split reference.
"""

from __future__ import annotations

from kvid.keras import keras, tf

_state = {"installed": False, "enabled": True, "inline": False}


def grouped_conv2d(inputs, kernel, strides, padding, dilations):
    """``tf.nn.conv2d`` with a grouped kernel ``(kh, kw, C/groups, F)``, fast gradient.

    strides / dilations: 4-element NHWC lists; padding: "SAME" or "VALID".

    Inside a graph the convolution runs in a function that grappler may not inline
    (``_noinline``), so that it stays a plain ``Conv2D`` on every CPU. Why (TensorFlow 2.21):
    on CPUs where TensorFlow does not turn its oneDNN kernels on - AVX2 x86 (most AMD
    machines, older Intel) or any machine with ``TF_ENABLE_ONEDNN_OPTS=0`` - grappler's
    remapper rewrites ``Conv2D(groups > 1) + BiasAdd/FusedBatchNorm + ReLU`` into
    ``_FusedConv2D``, whose Eigen kernel refuses groups ("Fused conv implementation does not
    support grouped convolutions for now"). Every inference pass of a grouped-conv model
    (validation, predict, calibration, parity) failed there; training passed only because
    training-mode BatchNorm is not fused. The remapper rewrites within one function body,
    and a function whose whole body is the conv leaves it nothing to fuse with. Eager calls
    run no grappler and call the conv directly.

    While a graph is traced for the TFLite converter (:class:`inline_for_export`, entered by
    ``kvid.export.convert.tflite_converter``) the conv is emitted inline: the converter would keep
    a ``_noinline`` function as a ``PartitionedCall`` custom op, and no TensorFlow kernel runs
    that graph. So the exported file holds one grouped CONV_2D per grouped conv, as before.
    """
    strides, dilations = list(strides), list(dilations)
    if _state["inline"] or tf.executing_eagerly():
        return _grouped_conv2d_fast_gradient(inputs, kernel, strides, padding, dilations)
    return _grouped_conv2d_call(inputs, kernel, tuple(strides), padding, tuple(dilations))


@tf.function(autograph=False, experimental_attributes={"_noinline": True})
def _grouped_conv2d_call(inputs, kernel, strides, padding, dilations):
    return _grouped_conv2d_fast_gradient(inputs, kernel, list(strides), padding, list(dilations))


def _grouped_conv2d_fast_gradient(inputs, kernel, strides, padding, dilations):
    groups = inputs.shape[-1] // kernel.shape[2]

    @tf.custom_gradient
    def _conv(x, k):
        y = tf.nn.conv2d(x, k, strides, padding, dilations=dilations)

        def grad(dy):
            xs = tf.split(x, groups, axis=-1)
            ks = tf.split(k, groups, axis=-1)
            dys = tf.split(dy, groups, axis=-1)
            dx, dk = [], []
            for xg, kg, dyg in zip(xs, ks, dys):
                dx.append(
                    tf.raw_ops.Conv2DBackpropInput(
                        input_sizes=tf.shape(xg), filter=kg, out_backprop=dyg,
                        strides=strides, padding=padding, dilations=dilations,
                    )
                )
                dk.append(
                    tf.raw_ops.Conv2DBackpropFilter(
                        input=xg, filter_sizes=tf.shape(kg), out_backprop=dyg,
                        strides=strides, padding=padding, dilations=dilations,
                    )
                )
            return tf.concat(dx, axis=-1), tf.concat(dk, axis=-1)

        return y, grad

    return _conv(inputs, kernel)


def install() -> None:
    """Route grouped ``Conv2D`` layers through :func:`grouped_conv2d` (idempotent)."""
    if _state["installed"]:
        return
    from tf_keras.src.layers.convolutional.base_conv import Conv

    xla_op = Conv._jit_compiled_convolution_op

    def _grouped_convolution_op(self, inputs, kernel):
        padding = self.padding.upper() if isinstance(self.padding, str) else None
        if (
            _state["enabled"]
            and self.rank == 2
            and self.data_format == "channels_last"
            and padding in ("SAME", "VALID")
        ):
            return grouped_conv2d(
                inputs,
                kernel,
                strides=[1, *self.strides, 1],
                padding=padding,
                dilations=[1, *self.dilation_rate, 1],
            )
        return xla_op(self, inputs, kernel)

    Conv._jit_compiled_convolution_op = _grouped_convolution_op
    _state["installed"] = True


class inline_for_export:
    """Context manager: trace grouped convs inline (one CONV_2D) for the TFLite converter."""

    def __enter__(self):
        self._prev = _state["inline"]
        _state["inline"] = True

    def __exit__(self, *exc):
        _state["inline"] = self._prev


class plain_grouped_gradient:
    """Context manager: use TensorFlow's own grouped-conv op (for the benchmark's baseline)."""

    def __enter__(self):
        self._prev = _state["enabled"]
        _state["enabled"] = False

    def __exit__(self, *exc):
        _state["enabled"] = self._prev


__all__ = ["grouped_conv2d", "install", "inline_for_export", "plain_grouped_gradient", "keras"]
