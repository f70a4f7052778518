"""Activation range methods: the range each method picks from observed values (numpy only).

The one definition that QAT calibration and post-training quantisation with ai-edge-quantizer
share; they differ in which values a range is fitted to. QAT calibration
(:func:`kvid.ops.calibrate`) fits one range per batch of clips and keeps the running mean of
the batch ranges (tfmot's convention); ai-edge-quantizer's ranges (:mod:`kvid.quant.variants`)
are fitted once per tensor to the values of all calibration clips pooled (:class:`Pool`: the
exact min and max, the extreme values a percentile needs, an even subsample for ``mse``), so
``minmax`` there is the global min/max over the calibration set, as the TFLite converter's. A
method is a string:

- ``minmax``: the smallest and largest value (tfmot's and the TFLite converter's statistic);
- ``percentile:P`` (``percentile`` = ``percentile:99.99``): the ``100 - P`` th and ``P`` th
  percentiles of the values, so the rarest ``2 (100 - P)`` % of them are clipped;
- ``mse``: min and max shrunk by the factor in [0.2, 1] (17 steps) whose fake-quantized values
  (``bits`` bits, asymmetric) are closest to the values in mean squared error - rounding error
  traded against clipping error (a long tail is clipped, a lone outlier kept when clipping it
  costs more than the coarser steps); the error is measured on an even subsample of at most
  :data:`MSE_SAMPLE` values.

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
#: smallest and largest values a :class:`Pool` keeps on each side (its percentiles are exact
#: while the ``100 - P`` % tail of all its values fits in them)
POOL_TAIL = 32768


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
    if name == "mse":
        lo, hi = _mse_shrink(_even(v, MSE_SAMPLE), lo, hi, bits)
    return float(lo), float(hi)


def _even(v, count: int):
    """At most ``count`` evenly spaced elements of the flat array ``v``."""
    return v if v.size <= count else v[np.linspace(0, v.size - 1, count).astype(np.int64)]


def _mse_shrink(sample, lo: float, hi: float, bits: int) -> tuple[float, float]:
    """``(lo, hi)`` shrunk by the factor in [0.2, 1] of least fake-quantisation error on ``sample``."""
    if not hi > lo:
        return lo, hi
    levels = 2 ** int(bits) - 1
    best, best_err = 1.0, np.inf
    for f in np.linspace(0.2, 1.0, 17):
        a, b = lo * f, hi * f
        scale = (b - a) / levels
        q = np.clip(np.round((sample - a) / scale), 0, levels) * scale + a
        err = float(np.mean((q - sample) ** 2))
        if err < best_err:
            best, best_err = f, err
    return lo * best, hi * best


class Pool:
    """The values of one tensor over ``parts`` arrays (calibration clips), added one at a time,
    for :meth:`fit` over all of them pooled in bounded memory: ``minmax`` exact (the min of the
    mins, the max of the maxes); ``percentile:P`` exact while the rarest ``100 - P`` % of all
    values fit in the ``tail`` smallest and largest ones kept (else estimated on the subsample);
    ``mse`` the exact min/max shrunk by the error on an even subsample of ``sample`` values,
    an equal share from each part. Deterministic (no random sampling)."""

    def __init__(self, method: str = "minmax", bits: int = 8, parts: int = 1, sample: int = MSE_SAMPLE,
                 tail: int = POOL_TAIL):
        self.name, self.p = parse(method)
        self.bits = int(bits)
        self.share = max(1, -(-int(sample) // max(1, int(parts))))
        self.tail = max(2, int(tail))
        self.n = 0
        self.lo, self.hi = np.inf, -np.inf
        self.smallest = self.largest = np.zeros(0, np.float32)
        self.samples = []

    def add(self, values) -> None:
        v = np.asarray(values, np.float32).ravel()
        if v.size == 0:
            return
        self.n += v.size
        self.lo, self.hi = min(self.lo, float(v.min())), max(self.hi, float(v.max()))
        if self.name == "minmax":
            return
        self.samples.append(_even(v, self.share))
        if self.name == "percentile":
            k = self.tail
            low = np.concatenate([self.smallest, v])
            high = np.concatenate([self.largest, v])
            self.smallest = low if low.size <= k else np.partition(low, k - 1)[:k]
            self.largest = high if high.size <= k else np.partition(high, high.size - k)[-k:]

    def _percentile(self, q: float) -> float:
        """np.percentile (linear) of all values added, from the kept extremes when they hold it."""
        n, k = self.n, self.smallest.size
        if n <= k:  # everything is kept
            return float(np.percentile(self.smallest.astype(np.float64), q))
        h = (n - 1) * q / 100.0
        i = int(np.floor(h))
        j = min(i + 1, n - 1)
        low, high = np.sort(self.smallest).astype(np.float64), np.sort(self.largest).astype(np.float64)
        if j < k:
            a, b = low[i], low[j]
        elif i >= n - high.size:
            a, b = high[i - (n - high.size)], high[j - (n - high.size)]
        else:
            return float(np.percentile(np.concatenate(self.samples).astype(np.float64), q))
        return float(a + (h - i) * (b - a))

    def fit(self) -> tuple[float, float]:
        """The range the method picks for all values added (:func:`fit` over them pooled)."""
        if self.n == 0:
            return 0.0, 0.0
        if self.name == "percentile":
            lo, hi = self._percentile(100.0 - self.p), self._percentile(self.p)
        else:
            lo, hi = self.lo, self.hi
        lo, hi = min(lo, 0.0), max(hi, 0.0)
        if self.name == "mse":
            lo, hi = _mse_shrink(np.concatenate(self.samples).astype(np.float64), lo, hi, self.bits)
        return float(lo), float(hi)


__all__ = ["DEFAULT_PERCENTILE", "METHODS", "MSE_SAMPLE", "POOL_TAIL", "Pool", "fit", "parse"]
