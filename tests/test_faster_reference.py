"""FASTER as published: backbone params/GMACs (Table 2, Table 6) and the #E:#C pattern totals
(Table 4, Table 5, Table 6), counted on full-size builds (never run)."""

import pytest

from kvid.analysis.faster import count_preset, pattern_gmacs
from kvid.models.faster import feature_model

TOL_GMACS, TOL_PARAMS = 0.05, 0.03


@pytest.mark.parametrize("name,frames,gmacs", [
    ("r2plus1d_50", 8, 30.0), ("r2plus1d_50", 16, 60.0), ("r2plus1d_50", 32, 119.9),
    ("r2d_26", 8, 3.2), ("r2d_26", 16, 6.33), ("r2d_26", 32, 12.7),
    ("r3d_50", 32, 942.7 / 8),  # Table 6: all-E average pooling over 8 clips
])
def test_backbone_gmacs(name, frames, gmacs):
    result = count_preset(name, frames, 224, 400)
    assert result["gmacs"] == pytest.approx(gmacs, rel=TOL_GMACS)


def test_r2plus1d_50_params():
    result = count_preset("r2plus1d_50", 8, 224, 400)
    assert result["params"] / 1e6 == pytest.approx(46.9, rel=TOL_PARAMS)
    # the (2+1)-D middle widths of Table 1 / REFERENCE_NUMBERS.md
    from kvid.blocks.r2plus1d import middle_width
    assert [middle_width(c, c) for c in (64, 128, 256, 512)] == [144, 288, 576, 1152]


def test_fastgru_step_gmacs():
    # one step on a 1 x 7 x 7 x 2048 map: 3.5 C^2 per position (+ the FC)
    assert count_preset("fastgru", 8, 224, 400)["gmacs"] == pytest.approx(0.72, rel=TOL_GMACS)
    assert count_preset("fastgru", 32, 224, 400)["gmacs"] == pytest.approx(4 * 0.72, rel=TOL_GMACS)


TABLE4 = {  # (clip frames, clips): {pattern: GFLOPs}
    (8, 32): {"1:0": 982.4, "1:1": 553.6, "1:3": 339.2, "1:7": 230.4, "1:15": 176.0, "1:31": 150.4},
    (16, 16): {"1:0": 980.2, "1:1": 552.0, "1:3": 337.6, "1:7": 230.4, "1:15": 176.0},
    (32, 8): {"1:0": 979.2, "1:1": 550.4, "1:3": 336.0, "1:7": 228.8},
}


@pytest.mark.parametrize("frames,clips", list(TABLE4))
def test_table4_pattern_totals(frames, clips):
    for pattern, paper in TABLE4[(frames, clips)].items():
        got = pattern_gmacs("r2plus1d_50", "r2d_26", "fastgru", frames, clips, pattern)
        assert frames * clips == 256
        assert got["total_gmacs"] == pytest.approx(paper, rel=TOL_GMACS), pattern
        e, c = (int(v) for v in pattern.split(":"))
        assert got["expensive_clips"] == clips * e // (e + c)


def test_table5_and_table6_rows():
    avg = dict(aggregator="avgpool", clip_frames=32, clips=8)
    assert pattern_gmacs(pattern="1:0", **avg)["total_gmacs"] == pytest.approx(959.3, rel=TOL_GMACS)
    assert pattern_gmacs(pattern="0:1", **avg)["total_gmacs"] == pytest.approx(101.3, rel=TOL_GMACS)
    assert pattern_gmacs("r3d_50", pattern="1:0", **avg)["total_gmacs"] == pytest.approx(942.7, rel=TOL_GMACS)
    for pattern, paper in (("1:1", 542.1), ("1:3", 331.9)):
        got = pattern_gmacs("r3d_50", "r2d_26", "fastgru", 32, 8, pattern)
        assert got["total_gmacs"] == pytest.approx(paper, rel=TOL_GMACS)


def test_feature_map_shape_at_224():
    """res5 map L/8 x 7 x 7 x (32 * width), the same for expensive and cheap (width 8 here)."""
    from kvid.export.convert import deploy_model
    from kvid import models

    for name in ("r2plus1d_50", "r3d_50", "r2d_26"):
        model = models.build(name, num_classes=4, frames=16, size=224, width=8, stages=(1, 1, 1, 1))
        assert tuple(deploy_model(feature_model(model)).outputs[0].shape) == (2, 7, 7, 256)
