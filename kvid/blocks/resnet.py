"""2-D ResNet units on folded frames ``(B*T, H, W, C)`` (He et al. 2016, Table 1), the backbone
of EAC-Net (EAC-Net Table 1, ../shared/papers/000_*.txt) and CT-Net (CT-Net Sec. 3.3, Fig. 2,
../shared/papers/003_*.txt).

* :func:`stem` - conv1 ``7x7/2, 64`` + BN + ReLU and pool1 ``3x3/2`` max (Table 1 rows
  Conv1, Pool1).
* :func:`bottleneck` - ``1x1, w`` -> ``3x3, w`` -> ``1x1, 4w`` (ResNet-50/101/152).
* :func:`basic` - ``3x3, w`` -> ``3x3, w`` (ResNet-18/34; kvid's small CPU configs).

Both units take the same arguments and return the unit's output; ``strides`` is spatial
(a 2-D unit never touches time). Conventions:

* every conv has no bias and is followed by BN; ReLU follows every BN except the last of the
  branch, the ReLU comes after the add; projection shortcut ``1x1`` conv + BN with the stride
  when the shape changes (torchvision's ResNet, which both papers' backbones are).
* ``stride_in="3x3"`` (default) puts a bottleneck's stride in the 3x3 conv (torchvision,
  "ResNet v1.5": what the papers' FLOP counts imply); ``"1x1"`` puts it in the first 1x1
  conv (the original ResNet and keras.applications' ResNet50, whose ImageNet weights were
  trained that way).
* padding is PyTorch's symmetric ``k // 2``: a strided conv with ``k > 1`` gets an explicit
  ZeroPadding2D and a VALID conv (TensorFlow's "SAME" would pad 0 before / 1 after and shift
  every window by one pixel against the torchvision/Keras weights); unstrided convs use
  "SAME", which is the same thing. In TFLite that is one PAD op per strided conv.
* ``zero_init`` starts the last BN gamma of the branch at 0 (the unit starts as identity).
* ``conv3x3`` is the hook that replaces a unit's 3x3 conv: a callable
  ``conv3x3(y, filters, strides=..., name=...) -> y`` that takes the place of the 3x3 conv,
  its BN and its ReLU (CT-Net replaces exactly that, CT-Net Sec. 3.3; the official
  ``ReshapeBlock`` keeps conv1/bn1, conv3/bn3, the add and the ReLU). In a basic unit the
  first 3x3 conv is the one replaced.

Layer names: ``<name>__conv_a``, ``__conv_b``, ``__conv_c`` (+ ``_bn``, ``_relu``),
``__shortcut``, ``__add``, ``__out``; the stem ``conv1__*`` and ``pool1__*``.
"""

from __future__ import annotations

from kvid import KvidError, ops
from kvid.keras import keras

STRIDE_IN = ("3x3", "1x1")


def conv_bn(x, filters, kernel_size=1, *, strides=1, activation="relu", zero_init=False, name):
    """``k x k`` conv (no bias) + BN (+ activation), PyTorch padding ``k // 2``."""
    if strides > 1 and kernel_size > 1:
        x = keras.layers.ZeroPadding2D(kernel_size // 2, name=f"{name}_pad")(x)
        x = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding="valid",
                                use_bias=False, kernel_initializer="he_normal", name=name)(x)
        return ops.norm_act(x, activation=activation, zero_init=zero_init, name=name)
    return ops.spatial_conv(x, filters, kernel_size, strides=strides, norm=True,
                            activation=activation, zero_init=zero_init, name=name)


def stem(x, width=64, *, name="conv1", pool_name="pool1"):
    """Conv1 ``7x7, width, stride 2`` + BN + ReLU, then Pool1 ``3x3`` max, stride 2
    (ResNet Table 1; EAC-Net Table 1 rows Conv1/Pool1). Spatial size / 4."""
    x = conv_bn(x, width, 7, strides=2, name=f"{name}__conv")
    # Max-pool after a ReLU: zero padding is the same as PyTorch's -inf padding.
    x = keras.layers.ZeroPadding2D(1, name=f"{pool_name}__pad")(x)
    return keras.layers.MaxPooling2D(3, strides=2, padding="valid", name=f"{pool_name}__pool")(x)


def _shortcut(x, out, strides, name):
    if x.shape[-1] == out and strides == 1:
        return x
    return conv_bn(x, out, 1, strides=strides, activation=None, name=f"{name}__shortcut")


def _middle(y, filters, strides, conv3x3, name, part):
    """The unit's 3x3 conv + BN + ReLU, or what the ``conv3x3`` hook puts in its place."""
    if conv3x3 is None:
        return conv_bn(y, filters, 3, strides=strides, name=f"{name}__{part}")
    return conv3x3(y, filters, strides=strides, name=name)


def _finish(shortcut, y, name):
    y = keras.layers.Add(name=f"{name}__add")([shortcut, y])
    return keras.layers.ReLU(name=f"{name}__out")(y)


def bottleneck(x, filters, *, strides=1, expansion=4, stride_in="3x3", conv3x3=None,
               zero_init=True, name):
    """Bottleneck unit ``1x1, f`` -> ``3x3, f`` -> ``1x1, expansion*f`` (ResNet Table 1,
    EAC-Net Table 1 Res2..Res5). ``conv3x3`` replaces the 3x3 conv + BN + ReLU (module
    docstring). Returns the unit's output ``(B*T, H/strides, W/strides, expansion*f)``."""
    if stride_in not in STRIDE_IN:
        raise KvidError(f"{name}: stride_in must be one of {', '.join(STRIDE_IN)}, got {stride_in!r}")
    out = filters * expansion
    s1, s3 = (strides, 1) if stride_in == "1x1" else (1, strides)
    y = conv_bn(x, filters, 1, strides=s1, name=f"{name}__conv_a")
    y = _middle(y, filters, s3, conv3x3, name, "conv_b")
    y = conv_bn(y, out, 1, activation=None, zero_init=zero_init, name=f"{name}__conv_c")
    return _finish(_shortcut(x, out, strides, name), y, name)


def basic(x, filters, *, strides=1, expansion=1, stride_in="3x3", conv3x3=None,
          zero_init=True, name):
    """Basic unit ``3x3, f`` -> ``3x3, f`` (ResNet-18/34, ResNet Table 1). ``conv3x3``
    replaces the first 3x3 conv + BN + ReLU. ``expansion``/``stride_in`` exist so both units
    take the same arguments; a basic unit has expansion 1 and one place for the stride."""
    if expansion != 1:
        raise KvidError(f"{name}: a basic unit has expansion 1, got {expansion}")
    del stride_in
    y = _middle(x, filters, strides, conv3x3, name, "conv_a")
    y = conv_bn(y, filters, 3, activation=None, zero_init=zero_init, name=f"{name}__conv_b")
    return _finish(_shortcut(x, filters, strides, name), y, name)


UNITS = {"bottleneck": (bottleneck, 4), "basic": (basic, 1)}


def residual_unit(x, filters, block="bottleneck", **kwargs):
    """:func:`bottleneck` or :func:`basic` by name (``block``)."""
    if block not in UNITS:
        raise KvidError(f"{kwargs.get('name', 'unit')}: block must be one of "
                        f"{', '.join(UNITS)}, got {block!r}")
    unit, expansion = UNITS[block]
    return unit(x, filters, expansion=expansion, **kwargs)


__all__ = ["STRIDE_IN", "UNITS", "conv_bn", "stem", "bottleneck", "basic", "residual_unit"]
