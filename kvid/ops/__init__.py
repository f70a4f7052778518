"""kvid.ops: mobile-safe video layers (DESIGN.md, "Mobile-safe ops").

Everything a kvid model is built from: time folded into the batch, feature maps at most 4-D,
only ops that lower to int8 TFLite builtins. Importing this package installs kvid's fast
gradient for grouped Conv2D (:mod:`kvid.ops.grouped`).
"""

from kvid.ops import grouped
from kvid.ops.layers import (
    FoldTime,
    Gate,
    MergeTime,
    SplitTime,
    TemporalMean,
    TemporalNeighbours,
    UnfoldTime,
)
from kvid.ops.quantize import (
    calibrate,
    custom_objects,
    fitted_ranges,
    quantize_model,
    quantize_scope,
    register_layer,
)
from kvid.ops.saving import load_model, save_model
from kvid.ops.video import (
    classifier,
    full_conv,
    global_video_pool,
    no_zero_init,
    norm_act,
    out_frames,
    pixel_normalization,
    spatial_conv,
    spatial_pool,
    temporal_conv,
    temporal_pool,
    video_input,
    zero_init_enabled,
)

grouped.install()

__all__ = [
    "FoldTime", "UnfoldTime", "SplitTime", "MergeTime", "TemporalNeighbours", "TemporalMean",
    "Gate", "pixel_normalization",
    "video_input", "spatial_conv", "temporal_conv", "full_conv", "temporal_pool",
    "spatial_pool", "global_video_pool", "classifier", "norm_act", "out_frames",
    "no_zero_init", "zero_init_enabled",
    "quantize_model", "quantize_scope", "custom_objects", "register_layer", "calibrate",
    "fitted_ranges",
    "save_model", "load_model",
]
