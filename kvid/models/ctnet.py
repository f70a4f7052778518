"""CT-Net: Channel Tensorization Network (Li et al., ICLR 2021; ../shared/papers/003_*.txt).

CT-Net Sec. 3.3, Fig. 2: a 2-D ResNet (:func:`kvid.models.resnet.resnet_backbone`) in which
the 3x3 conv (+ BN + ReLU) of some bottleneck units is replaced by the CT-Module with Tensor
Excitation (:mod:`kvid.blocks.ct_module`); the 1x1 convs, the residual add and the ReLU stay
(a "CT-Block"). The head is TSN's: the classifier on every frame (after spatial average pool
and dropout), logits averaged over T. No temporal stride anywhere.

Which units (Table 2e; official ``check_replace``): ``ct_blocks="odd"`` (default) replaces
units 2, 4, 6, ... of each stage - ``res2_2, res3_2, res3_4, res4_2, res4_4, res4_6,
res5_2`` on ResNet-50 (the paper's 7 CT-Blocks), never the strided first unit of a stage;
``"all"`` every unit but the first of each stage (official ``num_total=12``). An int n takes
the first n of the bottom-up order of Table 2e ("replacing 1 block in stage5 ... as we replace
more blocks from the bottom up ... the extra 3 blocks in stage2 and stage3"): the odd units
of res5, res4, res3, res2, then the remaining ones in the same stage order - 1 = ``res5_2``,
4 = res5 + res4, 7 = all odd units of ResNet-50. Or pass the unit names.

Options (Table 2): ``K`` sub-dimensions (b), ``kernels`` (f), ``connection`` (c), ``te`` and
``pointwise`` (g), ``ct_blocks`` (e); ``fold_permutation`` (an equivalent, cheaper layout, see
:mod:`kvid.blocks.ct_module`). Backbone options as :func:`kvid.models.resnet.resnet_backbone`;
``weights=PATH`` loads Keras ImageNet ResNet weights (the CT-Modules stay randomly
initialised, as in the paper: "the parameters of CT-Module are randomly initialized").
Dropout 0.5 (Kinetics; the paper's Something-Something recipe uses 0.3).

Presets ``ctnet_r50`` (16 x 256 x 256, 400 classes - CT-Net-R50 16f, Table 4; the 8-frame
Something-Something row of REFERENCE_NUMBERS.md is a reference too) and ``ctnet_r101``.
"""

from __future__ import annotations

from kvid import KvidError, ops
from kvid.blocks.ct_module import ct_module
from kvid.keras import keras
from kvid.models.registry import Reference, register
from kvid.models.resnet import SMALL as RESNET_SMALL
from kvid.models.resnet import STAGES, maybe_load_weights, resnet_backbone, resnet_layout


def ct_units(blocks, ct_blocks="odd"):
    """The units whose 3x3 conv becomes a CT-Module (module docstring)."""
    if isinstance(ct_blocks, (list, tuple)):
        return tuple(ct_blocks)
    bottom_up = list(zip(STAGES, blocks))[::-1]
    odd = [f"res{s}_{u + 1}" for s, n in bottom_up for u in range(1, n, 2)]
    even = [f"res{s}_{u + 1}" for s, n in bottom_up for u in range(2, n, 2)]
    if ct_blocks in ("odd", "all"):
        return tuple(odd if ct_blocks == "odd" else odd + even)
    if isinstance(ct_blocks, str) or not 0 <= int(ct_blocks) <= len(odd + even):
        raise KvidError(f"ctnet: ct_blocks must be 'odd', 'all', unit names or 0..{len(odd + even)} "
                        f"for this backbone, got {ct_blocks!r}")
    return tuple((odd + even)[:int(ct_blocks)])


def build_ctnet(num_classes, frames, size, *, depth=50, width=64, blocks=None, block=None,
                stride_in="3x3", ct_blocks="odd", K=2, kernels=(3, 3), connection="parallel",
                te=True, pointwise=True, te_reduction=4, fold_permutation=False, dropout=0.5,
                zero_init=True, weights=None, name=None):
    """CT-Net (module docstring) on clips of ``frames`` x ``size`` x ``size``."""
    block, blocks = resnet_layout(depth, blocks, block)

    def ct(y, filters, *, frames, strides, name):
        if strides != 1:
            raise KvidError(f"ctnet: {name} strides; a CT-Module cannot replace a strided conv")
        return ct_module(y, frames, K=K, kernels=kernels, connection=connection, te=te,
                         pointwise=pointwise, reduction=te_reduction,
                         fold_permutation=fold_permutation, name=f"{name}__ct")

    inputs, x = ops.video_input(frames, size)
    x, t = resnet_backbone(x, frames, depth=depth, width=width, blocks=blocks, block=block,
                           stride_in=stride_in, zero_init=zero_init,
                           replace_conv={unit: ct for unit in ct_units(blocks, ct_blocks)})
    # TSN head: per-frame classifier, then the average over T (consensus).
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = ops.classifier(x, num_classes, dropout=dropout, name="fc")
    outputs = ops.TemporalMean(t, name="consensus")(x)
    model = keras.Model(inputs, outputs, name=name or f"ctnet_r{depth}")
    return maybe_load_weights(model, weights)


# A CPU-trainable config: ResNet-18 layout at width 16 (stages 16..128), two units per stage
# so each stage has a CT-Block (res2_2 .. res5_2).
SMALL = {**RESNET_SMALL, "blocks": (2, 2, 2, 2)}

register(
    "ctnet_r50", build_ctnet, family="ctnet",
    description="CT-Net, ResNet-50 with 7 CT-Blocks (K=2, parallel 1x3x3 || 3x1x1, TE)",
    references=[
        Reference(8, 256, 174, gmacs=36.3, params_m=21.0,
                  source="CT-Net Table 2 (Something-Something V1, 8 frames; reproduced 37.3)"),
        Reference(16, 256, 400, params_m=21.4,
                  source="CT-Net Table 4 (Kinetics-400, 16 frames; reproduced 74.6 GMACs)"),
    ],
    small=SMALL, num_classes=400, frames=16, size=256, depth=50,
)
register(
    "ctnet_r101", build_ctnet, family="ctnet",
    description="CT-Net, ResNet-101 with CT-Blocks on units 2, 4, 6, ... of each stage",
    small=SMALL, num_classes=400, frames=16, size=256, depth=101,
)

__all__ = ["ct_units", "build_ctnet", "SMALL"]
