"""CT-Net's Channel Tensorization Module with Tensor Excitation (CT-Net Sec. 3.1-3.3, Eq. 1-5,
the TE equations of Sec. 3.2, Fig. 2, Fig. 4, Table 2; ../shared/papers/003_*.txt), as the
official code (Andy1621/CT-Net, ops/reshape_block.py) builds it - see REFERENCE_NUMBERS.md.

The C channels are a tensor ``C = C_1 x ... x C_K`` (:func:`tensorize`; K=2:
``C_1 = 2^floor(log2(C)/2)``, ``C_2 = 2^ceil(log2(C)/2)``), channel index row-major
``c = c_1*C_2 + c_2``. Sub-dimension after sub-dimension (Eq. 2), starting with the innermost:

* the sub-dimension being mixed is the innermost axis of the channel layout, so a grouped conv
  with ``groups = C / C_k`` mixes exactly its ``C_k`` channels (a tensor separable conv,
  Eq. 3-4): a grouped ``1 x k x k`` spatial conv (S-TSConv) and a grouped ``k x 1 x 1``
  temporal conv (T-TSConv), each + BN + ReLU;
* ``connection="parallel"`` (Eq. 5, the paper's choice): ``X_k = U_k + V_k`` with the
  spatial and temporal TE applied to the two branches; ``"serial"`` (Table 2c): temporal conv
  on the spatial conv's output (spatial TE before the temporal conv, temporal TE after it);
  ``"3d"`` (Table 2c, coupled): one grouped ``k_t x k x k`` conv + BN + ReLU (of the three
  excitations only the channel TE applies);
* Tensor Excitation (Sec. 3.2, Fig. 4): spatial ``U = S * sigmoid(S-TSConv(T-Pool(S)))``,
  temporal ``V = T * sigmoid(T-TSConv(S-Pool(T)))``, channel
  ``X = R * sigmoid(PW-TSConv(S-Pool(R)))``; each excitation is two convs grouped like the
  conv before it, ``C -> C/4`` + BN + ReLU, ``C/4 -> C`` (no BN, no bias), sigmoid (the
  spatial/temporal excitation convs are 1x3x3 / 3x1x1 whatever ``kernels`` says, as in the
  official code; ``C/4`` is rounded up to a multiple of the groups where K >= 3 needs it);
* the extra point-wise conv (1x1 dense + BN + ReLU) between sub-dimensions, none after the
  last ("the extra point-wise convolution in the last sub-dimension is ignored", Fig. 2);
* then the channels are permuted so the next sub-dimension is innermost, and after the last
  stage back to the input order: a cyclic rotation of the sub-dimension axes, i.e. viewing the
  channels as ``(P, Q)`` (``Q`` = the innermost sub-dimension) and transposing to
  ``(Q, P)``. Built from Keras' Reshape + Permute at rank 4 - ``(B*T, H*W, P, Q)`` ->
  ``(B*T, H*W, Q, P)`` - so the TFLite graph holds int8 RESHAPE + TRANSPOSE, no MACs.

Options (Table 2): ``K`` (1..4 sub-dimensions, b), ``kernels`` per sub-dimension (f),
``connection`` (c), ``te`` / ``pointwise`` on or off (g). ``fold_permutation`` leaves out the
permutations that the following dense 1x1 conv absorbs (the one before the next stage's convs
when the point-wise conv is on, and the final one, which the bottleneck's conv_c follows):
an equivalent reparametrisation (a dense conv with permuted output or input channels is a
dense conv) that saves the TRANSPOSEs at inference; off by default (official layout).
"""

from __future__ import annotations

import math

from kvid import KvidError, ops
from kvid.keras import keras

CONNECTIONS = ("parallel", "serial", "3d")


def tensorize(channels: int, k: int) -> tuple:
    """``C = C_1 x ... x C_K``, factors as equal as possible, ascending (K=2: the official
    ``C_1 = 2^floor(log2 C / 2)``, ``C_2 = 2^ceil(log2 C / 2)``; 64=8x8, 128=8x16, 256=16x16,
    512=16x32). ``C_1`` is the largest divisor of C not above ``C^(1/K)``, and so on."""
    channels, k = int(channels), int(k)
    if k < 1 or channels < 1:
        raise KvidError(f"tensorize: need C >= 1 and K >= 1, got C={channels}, K={k}")
    if k == 1:
        return (channels,)
    limit = channels ** (1.0 / k) + 1e-9
    first = max(d for d in range(1, int(limit) + 1) if channels % d == 0)
    return (first, *tensorize(channels // first, k - 1))


def rotate_channels(x, outer, inner, *, name):
    """Channel layout ``(outer, inner)`` -> ``(inner, outer)`` (c = a*inner + b becomes
    b*outer + a): Reshape to ``(B*T, H*W, outer, inner)``, Permute, Reshape back (rank 4)."""
    _, h, w, c = x.shape
    x = keras.layers.Reshape((h * w, outer, inner), name=f"{name}_split")(x)
    x = keras.layers.Permute((1, 3, 2), name=f"{name}_transpose")(x)
    return keras.layers.Reshape((h, w, c), name=f"{name}_merge")(x)


def _reduced(channels, groups, reduction):
    """TE bottleneck width: C / reduction, at least one channel per group, a multiple of
    ``groups`` (only K >= 3 on few channels needs the rounding)."""
    return groups * max(1, math.ceil(channels // reduction / groups))


def spatial_te(x, frames, groups, *, reduction=4, name):
    """Spatial TE (CT-Net Sec. 3.2): ``x * sigmoid(S-TSConv(T-Pool(x)))``, the attention map
    ``(B, H, W, C)`` broadcast over T."""
    _, h, w, c = x.shape
    # T-Pool: one int8 MEAN over T at rank 4 (an average pool over T would be an int8
    # AVERAGE_POOL_2D, which XNNPACK does not run: TFLite's kernel plus a requantize)
    a = ops.TemporalMean(frames, name=f"{name}_tpool")(x)
    a = ops.spatial_conv(a, _reduced(c, groups, reduction), 3, groups=groups, norm=True,
                         activation="relu", name=f"{name}_fc1")
    a = ops.spatial_conv(a, c, 3, groups=groups, activation="sigmoid", name=f"{name}_fc2")
    y = ops.Gate(name=f"{name}_mul")([ops.SplitTime(frames, name=f"{name}_split")(x),
                                      ops.SplitTime(1, name=f"{name}_asplit")(a)])
    return ops.MergeTime(h, w, name=f"{name}_merge")(y)


def temporal_te(x, frames, groups, *, reduction=4, name):
    """Temporal TE (CT-Net Sec. 3.2): ``x * sigmoid(T-TSConv(S-Pool(x)))``, one value per
    frame and channel."""
    c = x.shape[-1]
    a = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_spool")(x)
    a = ops.temporal_conv(a, _reduced(c, groups, reduction), frames, 3, groups=groups,
                          norm=True, activation="relu", name=f"{name}_fc1")
    a = ops.temporal_conv(a, c, frames, 3, groups=groups, activation="sigmoid", name=f"{name}_fc2")
    return ops.Gate(name=f"{name}_mul")([x, a])


def channel_te(x, groups, *, reduction=4, name):
    """Channel TE (CT-Net Sec. 3.2): ``x * sigmoid(PW-TSConv(S-Pool(x)))``, per frame."""
    c = x.shape[-1]
    a = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_spool")(x)
    a = ops.spatial_conv(a, _reduced(c, groups, reduction), 1, groups=groups, norm=True,
                         activation="relu", name=f"{name}_fc1")
    a = ops.spatial_conv(a, c, 1, groups=groups, activation="sigmoid", name=f"{name}_fc2")
    return ops.Gate(name=f"{name}_mul")([x, a])


def _kernels(kernels, k):
    """Per-sub-dimension ``(spatial, temporal)`` kernel sizes from one pair or K pairs."""
    kernels = tuple(kernels)
    if len(kernels) == 2 and all(isinstance(v, int) for v in kernels):
        kernels = (kernels,) * k
    if len(kernels) != k or any(len(p) != 2 for p in kernels):
        raise KvidError(f"ct_module: kernels must be one (spatial, temporal) pair or {k} pairs, "
                        f"got {kernels!r}")
    return tuple((int(s), int(t)) for s, t in kernels)


def ct_module(x, frames, *, K=2, kernels=(3, 3), connection="parallel", te=True,
              pointwise=True, reduction=4, fold_permutation=False, name):
    """The CT-Module (module docstring) on ``(B*T, H, W, C)``; same shape out."""
    if connection not in CONNECTIONS:
        raise KvidError(f"{name}: connection must be one of {', '.join(CONNECTIONS)}, "
                        f"got {connection!r}")
    channels = x.shape[-1]
    layout = list(tensorize(channels, K))  # sub-dimension sizes, outermost first
    kernels = _kernels(kernels, K)
    for k, (ks, kt) in enumerate(kernels, start=1):
        groups = channels // layout[-1]
        part = f"{name}_{k}"
        if connection == "3d":
            y = ops.full_conv(x, channels, frames, (kt, ks, ks), groups=groups, norm=True,
                              activation="relu", name=f"{part}_conv3d")
        else:
            s = ops.spatial_conv(x, channels, ks, groups=groups, norm=True, activation="relu",
                                 name=f"{part}_spatial")
            if te:
                s = spatial_te(s, frames, groups, reduction=reduction, name=f"{part}_ste")
            t = ops.temporal_conv(s if connection == "serial" else x, channels, frames, kt,
                                  groups=groups, norm=True, activation="relu",
                                  name=f"{part}_temporal")
            if te:
                t = temporal_te(t, frames, groups, reduction=reduction, name=f"{part}_tte")
            y = t if connection == "serial" else keras.layers.Add(name=f"{part}_add")([s, t])
        if te:
            y = channel_te(y, groups, reduction=reduction, name=f"{part}_cte")
        last = k == K
        if pointwise and not last:
            y = ops.spatial_conv(y, channels, 1, norm=True, activation="relu",
                                 name=f"{part}_pointwise")
        absorbed = fold_permutation and (last or pointwise)
        if len(layout) > 1 and not absorbed:
            y = rotate_channels(y, channels // layout[-1], layout[-1], name=f"{part}_permute")
        layout = [layout[-1], *layout[:-1]]
        x = y
    return x


__all__ = ["CONNECTIONS", "tensorize", "rotate_channels", "spatial_te", "temporal_te",
           "channel_te", "ct_module"]
