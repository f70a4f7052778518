"""EAC-Net's Atrous Temporal Encode (ATE) head (EAC-Net Eq. 6, Fig. 2, Table 5;
../shared/papers/000_*.txt).

On the backbone's last map ``(B*T, H, W, C)`` -> a clip vector ``(B, C)``:

* ``F_s``: spatial global average, one C-vector per frame (``(B*T, 1, 1, C)``);
* ``T_i = relu(bn(k_i * F_s))``, i = 1, 2, 3: temporal convs ``3x1x1``, ``C -> d``, with
  dilation 1, 2, 3 ("SAME" zero padding, T kept);
* ``T_g = BC(relu(bn(k_4 * Mean(F_s))))``: temporal mean, 1x1 conv ``C -> d``, broadcast back
  to the T frames (the holistic temporal context);
* ``T_out = F_s + k_u * Concat(T_1, T_2, T_3, T_g)``, ``k_u`` a 1x1 conv ``4d -> C`` (with
  bias; Eq. 6 has no BN there);
* the temporal average of ``T_out`` is the video representation fed to the classifier.

``d`` is not stated in the paper; ``d = C / 2`` (1024 on ResNet-50) reproduces Table 5's
+0.9 G on C2D and +0.3 G on EAC-Net (REFERENCE_NUMBERS.md). ``zero_init`` starts ``k_u`` at 0
so the head starts as the plain temporal average: with the MGTE relation branches zeroed too,
EAC-Net then starts exactly as its C2D counterpart (the paper's stated intent for MGTE; for
ATE our choice).
"""

from __future__ import annotations

from kvid import ops
from kvid.blocks.mgte import BroadcastTime
from kvid.keras import keras


def ate(x, frames, d, *, dilations=(1, 2, 3), zero_init=True, name="ate"):
    """The ATE head (module docstring): ``(B*T, H, W, C)`` -> ``(B, C)``."""
    channels = x.shape[-1]
    f_s = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}__spatial_pool")(x)
    parts = [
        ops.temporal_conv(f_s, d, frames, 3, dilation=rate, norm=True, activation="relu",
                          name=f"{name}__atrous{rate}")
        for rate in dilations
    ]
    context = ops.TemporalMean(frames, name=f"{name}__mean")(f_s)  # one int8 MEAN, rank 4
    context = ops.spatial_conv(context, d, 1, norm=True, activation="relu", name=f"{name}__global")
    parts.append(BroadcastTime(frames, name=f"{name}__broadcast")(context))
    t_r = keras.layers.Concatenate(name=f"{name}__cat")(parts)
    t_r = ops.spatial_conv(t_r, channels, 1, use_bias=True, name=f"{name}__expand",
                           kernel_initializer="zeros" if zero_init and ops.zero_init_enabled()
                           else "he_normal")
    t_out = keras.layers.Add(name=f"{name}__add")([f_s, t_r])
    return ops.global_video_pool(t_out, frames, name=f"{name}__pool")


__all__ = ["ate"]
