"""Activation range methods: the range each method picks from observed values (numpy only).

The one definition that QAT calibration (:func:`kvid.ops.calibrate`, one range per batch
of clips) and post-training quantisation with ai-edge-quantizer (:mod:`kvid.quant.variants`,
one range per calibration clip) share; both average the ranges they fit (the running mean of
batch ranges). A method is a string:

- ``minmax``: the smallest and largest value (tfmot's and the TFLite converter's statistic);
- ``percentile:P`` (``percentile`` = ``percentile:99.99``): the ``100 - P`` th and ``P`` th
  percentiles of the values, so the rarest ``2 (100 - P)`` % of them are clipped;
- ``mse``: min and max shrunk by the factor in [0.2, 1] (17 steps) whose fake-quantized values
  (``bits`` bits, asymmetric) are closest to the values in mean squared error - rounding error
  traded against clipping error (a long tail is clipped, a lone outlier kept when clipping it
  costs more than the coarser steps).

Every range contains 0, as TFLite requires (0 must be exactly representable). A degenerate
range (all values equal) is returned as it is; callers widen it (``kvid.ops.MIN_RANGE``).
"""

from __future__ import annotations

import numpy as np

from kvid import KvidError

METHODS = ("minmax", "percentile", "mse")
DEFAULT_PERCENTILE = 99.99
#: values the MSE search looks at (an even subsample of larger tensors)
MSE_SAMPLE = 65536


def parse(method: str) -> tuple[str, float | None]:
    """``(name, percentile or None)`` of a method string; KvidError when it is not one."""
    name, colon, arg = str(method).partition(":")
    if name not in METHODS or (colon and name != "percentile"):
        raise KvidError(f"range method {method!r}: minmax, percentile:P (e.g. percentile:99.99) or mse")
    if name != "percentile":
        return name, None
    try:
        p = float(arg) if arg else DEFAULT_PERCENTILE
    except ValueError:
        p = -1.0
    if not 50.0 < p <= 100.0:
        raise KvidError(f"range method {method!r}: the percentile must be a number in (50, 100]")
    return name, p


def fit(values, method: str = "minmax", bits: int = 8) -> tuple[float, float]:
    """The range ``(lo, hi)`` that ``method`` picks for ``values`` (any shape), always with
    ``lo <= 0 <= hi``."""
    name, p = parse(method)
    v = np.asarray(values, np.float64).ravel()
    if v.size == 0:
        return 0.0, 0.0
    if name == "percentile":
        lo, hi = (float(x) for x in np.percentile(v, [100.0 - p, p]))
    else:
        lo, hi = float(v.min()), float(v.max())
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if name == "mse" and hi > lo:
        levels = 2 ** int(bits) - 1
        sample = v if v.size <= MSE_SAMPLE else v[np.linspace(0, v.size - 1, MSE_SAMPLE).astype(np.int64)]
        best, best_err = 1.0, np.inf
        for f in np.linspace(0.2, 1.0, 17):
            a, b = lo * f, hi * f
            scale = (b - a) / levels
            q = np.clip(np.round((sample - a) / scale), 0, levels) * scale + a
            err = float(np.mean((q - sample) ** 2))
            if err < best_err:
                best, best_err = f, err
        lo, hi = lo * best, hi * best
    return float(lo), float(hi)


__all__ = ["DEFAULT_PERCENTILE", "METHODS", "fit", "parse"]
