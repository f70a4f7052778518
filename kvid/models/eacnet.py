"""EAC-Net: Efficient and Accurate Convolutional Network (Jin & Xu, AAAI 2020;
../shared/papers/000_*.txt).

EAC-Net Table 1: a 2-D ResNet on every frame (:func:`kvid.models.resnet.resnet_backbone`),
MGTE blocks (:mod:`kvid.blocks.mgte`, Eq. 1-5) right after Res4_1 (d=128) and Res5_1
(d=256) - each halves T, so the ResNet-50 of a 32-frame clip runs Res4_2.. on 16 frames and
Res5_2.. on 8 - and the ATE head (:mod:`kvid.blocks.ate`, Eq. 6) before the classifier.

Options (the ablations of Tables 2-5):

* ``mgte_at``: units followed by an MGTE block (Table 2: any of ``res3_1``, ``res4_1``,
  ``res5_1``; ``()`` = none, i.e. C2D);
* ``mgte_d``: the reduction width d; default ``C / 8`` of the unit's output C (128 after
  Res4_1, 256 after Res5_1 on ResNet-50 as in Table 1; 64 after Res3_1, which the paper does
  not state), or a dict ``{unit: d}``;
* ``branches``: ``"both"``, ``"pool"``, ``"relation"`` (Table 3);
* ``gate``: ``"context"`` (Eq. 3), ``"gradient"`` (Eq. 2), ``"none"`` (Table 4);
* ``ate``: ATE head on/off (Table 5); ``ate_d`` its width (default C / 2 = 1024 on R50, see
  :mod:`kvid.blocks.ate`);
* backbone: ``depth`` (50/101/152, or 18/34 for small configs), ``width``, ``blocks``,
  ``block``, ``stride_in``; ``weights=PATH`` loads Keras ImageNet ResNet weights
  (:func:`kvid.models.resnet.load_imagenet_weights`).

``zero_init`` (default on) starts the MGTE relation branches and the ATE residual at zero, so
the net starts as C2D (the paper, "By zeroing out the responses from temporal relation
branch..."), and every residual unit's last BN at zero. Dropout 0.5 before the classifier.

Presets ``eacnet_r50``, ``eacnet_r101``, ``eacnet_r152`` at the paper's Kinetics setting
(32 x 256 x 256, 400 classes, Table 6). Reproduction: tests/test_eacnet.py.
"""

from __future__ import annotations

from kvid import KvidError, ops
from kvid.blocks.ate import ate as ate_head
from kvid.blocks.mgte import mgte
from kvid.keras import keras
from kvid.models.registry import Reference, register
from kvid.models.resnet import (
    SMALL as RESNET_SMALL,
    maybe_load_weights,
    out_channels,
    resnet_backbone,
    resnet_layout,
)

MGTE_AT = ("res4_1", "res5_1")


def build_eacnet(num_classes, frames, size, *, depth=50, width=64, blocks=None, block=None,
                 stride_in="3x3", mgte_at=MGTE_AT, mgte_d=None, branches="both",
                 gate="context", ate=True, ate_d=None, dropout=0.5, zero_init=True,
                 weights=None, name=None):
    """EAC-Net (module docstring) on clips of ``frames`` x ``size`` x ``size``."""
    block, blocks = resnet_layout(depth, blocks, block)
    mgte_at = (mgte_at,) if isinstance(mgte_at, str) else tuple(mgte_at)
    if frames % 2 ** len(mgte_at):
        raise KvidError(f"eacnet: {len(mgte_at)} MGTE block(s) halve T {len(mgte_at)} time(s); "
                        f"frames={frames} is not divisible by {2 ** len(mgte_at)}")

    def reduction(unit):
        if isinstance(mgte_d, dict):
            if unit not in mgte_d:
                raise KvidError(f"eacnet: mgte_d has no width for {unit}")
            return int(mgte_d[unit])
        if mgte_d is not None:
            return int(mgte_d)
        return out_channels(unit, width=width, block=block) // 8

    def mgte_after(unit):
        stage = unit[3:].split("_")[0]
        return lambda x, t: mgte(x, t, reduction(unit), branches=branches, gate=gate,
                                 zero_init=zero_init, name=f"mgte{stage}")

    inputs, x = ops.video_input(frames, size)
    x, t = resnet_backbone(x, frames, depth=depth, width=width, blocks=blocks, block=block,
                           stride_in=stride_in, zero_init=zero_init,
                           insert={unit: mgte_after(unit) for unit in mgte_at})
    if ate:
        d = x.shape[-1] // 2 if ate_d is None else int(ate_d)
        x = ate_head(x, t, d, zero_init=zero_init, name="ate")
    else:
        x = ops.global_video_pool(x, t, name="pool")
    outputs = ops.classifier(x, num_classes, dropout=dropout, name="fc")
    model = keras.Model(inputs, outputs, name=name or f"eacnet_r{depth}")
    return maybe_load_weights(model, weights)


# A CPU-trainable config: ResNet-18 layout at width 16, one unit per stage (MGTE d = 8, 16;
# ATE d = 64).
SMALL = dict(RESNET_SMALL)

_T6 = "EAC-Net Table 6 (Kinetics-400, 1 clip)"
register(
    "eacnet_r50", build_eacnet, family="eacnet",
    description="EAC-Net, ResNet-50: MGTE after Res4_1 (d=128) and Res5_1 (d=256), ATE head",
    references=[
        Reference(32, 256, 400, gmacs=131.1,
                  source="EAC-Net Table 5/6 (reproduced 129.4; the paper's counter is ~1% high)"),
        Reference(48, 256, 400, gmacs=196, source=_T6 + " (reproduced 194.1)"),
        Reference(32, 224, 174, gmacs=100,
                  source="EAC-Net Table 7 (Something-Something V1; reproduced 99.1)"),
    ],
    small=SMALL, num_classes=400, frames=32, size=256, depth=50,
)
register(
    "eacnet_r101", build_eacnet, family="eacnet",
    description="EAC-Net, ResNet-101 backbone (Table 6)",
    references=[Reference(32, 256, 400, gmacs=209, source=_T6),
                Reference(48, 256, 400, gmacs=313, source=_T6)],
    small=SMALL, num_classes=400, frames=32, size=256, depth=101,
)
register(
    "eacnet_r152", build_eacnet, family="eacnet",
    description="EAC-Net, ResNet-152 backbone (Table 6)",
    references=[Reference(32, 256, 400, gmacs=305, source=_T6),
                Reference(48, 256, 400, gmacs=458, source=_T6)],
    small=SMALL, num_classes=400, frames=32, size=256, depth=152,
)

__all__ = ["MGTE_AT", "build_eacnet", "SMALL"]
