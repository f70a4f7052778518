"""What FASTER costs per video: multiply-adds of N clips under an #E:#C pattern (Zhu et al.,
"FASTER Recurrent Networks for Efficient Video Classification", ../shared/papers/002_*.txt,
Table 4, Table 5, Table 6).

* :func:`count_preset` - :func:`kvid.analysis.count.count` of a preset, cached (full-size
  builds take seconds and the tables count the same backbones many times);
* :func:`pattern_gmacs` - total GMACs of ``clips`` clips of ``clip_frames`` frames: each clip
  through the expensive or the cheap feature extractor as the pattern says
  (kvid.contract.faster.schedule), plus the aggregator steps, counted as Table 4 does.

tests/test_faster_reference.py holds these against the paper's tables.
"""

from __future__ import annotations

import functools

from kvid.analysis.count import count
from kvid.contract.faster import pattern_name, schedule
from kvid.models import build
from kvid.models.faster import feature_channels


@functools.lru_cache(maxsize=64)
def count_preset(name, frames, size, num_classes, overrides=()) -> dict:
    """:func:`kvid.analysis.count.count` of a preset built at ``frames x size x size`` for
    ``num_classes`` (cached). ``overrides`` is a tuple of ``(key, value)`` pairs (hashable)."""
    model = build(name, num_classes=num_classes, frames=frames, size=size, **dict(overrides))
    return count(model)


def _frozen(overrides) -> tuple:
    """``{key: value}`` -> sorted ``((key, value), ...)`` with lists as tuples (a cache key)."""
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                        for k, v in (overrides or {}).items()))


def feature_gmacs(name, frames, size, num_classes, overrides=None) -> tuple[float, int]:
    """``(GMACs, params)`` of a backbone preset used as a feature extractor: its classifier
    left out (FASTER feeds the res5 map to the aggregator)."""
    result = count_preset(name, frames, size, num_classes, _frozen(overrides))
    head = [b for b in result["blocks"] if b["name"] == "classifier"]
    return ((result["macs"] - sum(b["macs"] for b in head)) / 1e9,
            result["params"] - sum(b["params"] for b in head))


def pattern_gmacs(expensive="r2plus1d_50", cheap="r2d_26", aggregator="fastgru", clip_frames=8,
                  clips=32, pattern="1:3", size=224, num_classes=400, *, expensive_overrides=None,
                  cheap_overrides=None, aggregator_overrides=None) -> dict:
    """Total multiply-adds of FASTER on one video: ``clips`` clips of ``clip_frames`` frames at
    ``size``, clip ``i`` through the expensive feature extractor if the pattern says so
    (kvid.contract.faster.schedule), else the cheap one, plus the aggregator.

    The aggregator is counted as the paper does (Table 4 "GFLOPs combine the costs of the
    cheap, expensive and FAST-GRU models"): N - 1 recurrent steps (``o_0 = x_0``; avgpool: one
    score per clip). ``deployed_gmacs`` counts what the exported step runs: one step per clip
    (a prediction after every clip). Backbones are counted without their FC (they are
    feature extractors here); the aggregator step includes its FC.
    """
    n = int(clips)
    n_e = sum(schedule(n, pattern))
    n_c = n - n_e
    e_over, c_over = dict(expensive_overrides or {}), dict(cheap_overrides or {})
    e_gmacs, e_params = feature_gmacs(expensive, clip_frames, size, num_classes, e_over)
    c_gmacs, c_params = feature_gmacs(cheap, clip_frames, size, num_classes, c_over)
    a_over = dict(aggregator_overrides or {})
    a_over.setdefault("channels", feature_channels(expensive, clip_frames, size, e_over))
    step = count_preset(aggregator, clip_frames, size, num_classes, _frozen(a_over))
    s_gmacs, s_params = step["gmacs"], step["params"]
    steps = n if aggregator == "avgpool" else n - 1
    backbone = n_e * e_gmacs + n_c * c_gmacs
    return {
        "expensive": expensive, "cheap": cheap, "aggregator": aggregator,
        "clip_frames": int(clip_frames), "clips": n, "pattern": pattern_name(pattern),
        "size": int(size), "num_classes": int(num_classes),
        "expensive_clips": n_e, "cheap_clips": n_c,
        "expensive_gmacs_per_clip": e_gmacs, "cheap_gmacs_per_clip": c_gmacs,
        "step_gmacs": s_gmacs, "aggregator_steps": steps,
        "backbone_gmacs": backbone, "aggregator_gmacs": steps * s_gmacs,
        "total_gmacs": backbone + steps * s_gmacs,
        "deployed_gmacs": backbone + n * s_gmacs,
        "params": {"expensive": e_params if n_e else 0, "cheap": c_params if n_c else 0,
                   "aggregator": s_params},
    }


__all__ = ["count_preset", "feature_gmacs", "pattern_gmacs"]
