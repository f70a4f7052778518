"""SEVNet: Simple and Efficient Video Networks (Wang & Yang; ../shared/papers/001_*.txt).

Table 1: stem ``1x7x7, 4G, stride (1,2,2)`` + ``3x1x1, 4G``; four stages of (3, 4, 6, 3) SEV
modules at widths 8G, 16G, 32G, 64G, each opened by the downsample module (spatial stride 2,
width doubles); global average pooling, dropout (Sec. 4.1), FC. G is the group width of every
grouped conv. The blocks are in :mod:`kvid.blocks.sev`. No temporal stride anywhere: the
output of every stage has T frames.

Presets: ``sevnet_g6``, ``sevnet_g8``, ``sevnet_g12`` (Table 2/4), ``sevnet_g8_se`` (SE units,
Table 7). ``block="r2plus1d" | "r3d"`` gives the Table 6 ablation networks; any G, depths,
frames and size through overrides.

Open points (REFERENCE_NUMBERS.md, "Details the papers leave open") - decided here:

* **Shortcut pooling of the downsample module: 1x3x3 average pooling, stride (1,2,2).** The
  paper takes the design from ShuffleNet (Sec. 3.1), whose shortcut is a 3x3 average pool
  with stride 2; a 3x3 window also sees every input position, where 2x2 would see each once.
  Padding "SAME" with padded positions excluded from the mean (PyTorch
  ``count_include_pad=False``). Pooling is not counted, so params/MACs do not depend on it.
  Override with ``pool_size=2``.
* **ReLU after the add (and after the concatenation).** "Each convolution operation is
  followed by BatchNorm and ReLU following common practice" (Sec. 3.1), and common practice
  for a residual block (ResNet, which SEVNet stacks "in the same fashion") is BN without ReLU
  on the branch's last conv and the ReLU after the sum; ShuffleNet's downsample unit, the
  model of Fig. 2(b), likewise applies ReLU after the concatenation. So: conv-BN-ReLU,
  conv-BN-ReLU, conv-BN, add, ReLU.
* **Zero-init of the last BN: yes, in the (non-downsample) SEV modules.** SEVNets are trained
  from scratch (no pretraining, Sec. 4.1); zero-initialising the last BN gamma of each
  residual branch (Goyal et al., "ImageNet in 1 hour") makes every module start as the
  identity, which is the standard aid for training deep residual nets from scratch and costs
  nothing at inference. Not in the downsample module: its branch is concatenated, not added,
  so a zero gamma would only silence half the channels at the start. ``zero_init=False``
  turns it off.

Other choices: the SE unit is applied to the residual branch of every module, the downsample
module's included (before the concatenation); its squeeze pools over T, H and W (3-D SE).
Convs have no bias (BN follows), He-normal init (kvid's default; the paper does not say).
Dropout 0.5 by default (the rate the paper uses for Something-Something, FineGym); 0.2 for
Kinetics / MMIT is ``dropout=0.2``.

Reproduction (tests/test_sevnet.py): every SEVNet row of REFERENCE_NUMBERS.md, Table 6's
"R(2+1)D" / "R3D" rows and Table 7's SE params come out within 1% of the paper (e.g. G8:
4.43 M, 14.44 GMACs at 16x224x224; R3D-G6 2.81 M, 8.42 G; G8+SE 4.93 M).
"""

from __future__ import annotations

from kvid import KvidError, ops
from kvid.blocks.sev import BLOCKS, sev_downsample, sev_module
from kvid.keras import keras
from kvid.models.registry import Reference, register

STAGE_DEPTHS = (3, 4, 6, 3)  # ResNet-50's, Table 1


def build_sevnet(num_classes, frames, size, *, group_width=8, depths=STAGE_DEPTHS,
                 block="sev", se=False, se_reduction=4, pool_size=3, zero_init=True,
                 dropout=0.5, name=None):
    """SEVNet-G``group_width`` (Table 1) on clips of ``frames`` x ``size`` x ``size``."""
    g = int(group_width)
    if g <= 0:
        raise KvidError(f"sevnet: group_width must be a positive integer, got {group_width!r}")
    if block not in BLOCKS:
        raise KvidError(f"sevnet: block must be one of {', '.join(BLOCKS)}, got {block!r}")
    depths = tuple(int(d) for d in depths)
    if len(depths) != 4 or min(depths) < 1:
        raise KvidError(f"sevnet: depths must be 4 positive integers, got {depths!r}")
    t = int(frames)
    inputs, x = ops.video_input(frames, size)
    x = ops.spatial_conv(x, 4 * g, 7, strides=2, norm=True, activation="relu",
                         name="conv1__spatial")
    x = ops.temporal_conv(x, 4 * g, t, 3, norm=True, activation="relu", name="conv1__temporal")
    module = dict(group_width=g, block=block, se=se, se_reduction=se_reduction)
    for stage, depth in enumerate(depths, start=2):
        x = sev_downsample(x, t, pool_size=pool_size, name=f"sev{stage}_1", **module)
        for i in range(2, depth + 1):
            x = sev_module(x, t, zero_init=zero_init, name=f"sev{stage}_{i}", **module)
    x = ops.global_video_pool(x, t, name="pool")
    outputs = ops.classifier(x, num_classes, dropout=dropout, name="fc")
    if name is None:
        name = f"sevnet_g{g}" + ("" if block == "sev" else f"_{block}") + ("_se" if se else "")
    return keras.Model(inputs, outputs, name=name)


# A CPU-trainable config: G=2 (widths 8..128), shallow, no dropout.
SMALL = {"group_width": 2, "depths": (1, 1, 1, 1), "dropout": 0.0}

_SSV = "SEVNet Table 2 (Something-Something, 174 classes)"
_K400 = "SEVNet Table 4 (Kinetics-400)"

register(
    "sevnet_g6", build_sevnet, family="sevnet",
    description="SEVNet-G6 (group width 6, 2.5 M params)",
    references=[
        Reference(16, 224, 174, gmacs=8.3, params_m=2.5, source=_SSV),
        Reference(24, 224, 174, gmacs=12.5, params_m=2.5, source=_SSV),
    ],
    small=SMALL, num_classes=174, frames=16, size=224, group_width=6,
)
register(
    "sevnet_g8", build_sevnet, family="sevnet",
    description="SEVNet-G8 (group width 8, 4.4 M params)",
    references=[
        Reference(16, 224, 174, gmacs=14.4, params_m=4.4, source=_SSV),
        Reference(24, 224, 174, gmacs=21.7, params_m=4.4, source=_SSV),
        Reference(16, 224, 400, gmacs=14.4, params_m=4.5, source=_K400),
    ],
    small=SMALL, num_classes=174, frames=16, size=224, group_width=8,
)
register(
    "sevnet_g12", build_sevnet, family="sevnet",
    description="SEVNet-G12 (group width 12, 10.0 M params)",
    references=[Reference(16, 224, 400, gmacs=31.8, params_m=10.0, source=_K400)],
    small=SMALL, num_classes=400, frames=16, size=224, group_width=12, dropout=0.2,
)
register(
    "sevnet_g8_se", build_sevnet, family="sevnet",
    description="SEVNet-G8 with SE units (reduction 4) on every residual branch",
    references=[Reference(16, 224, 174, gmacs=14.4, params_m=4.9,
                          source="SEVNet Table 7 (its 13.4 GFLOPs copies the R(2+1)D row)")],
    small=SMALL, num_classes=174, frames=16, size=224, group_width=8, se=True,
)
