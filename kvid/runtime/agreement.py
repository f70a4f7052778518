"""How far two sets of logits for the same views agree - the one comparison kvid makes.

Every parity figure kvid reports goes through :func:`compare_logits`: the int8 TFLite file
against the QAT Keras model it was converted from (``kvid export``, ``kvid demo``, the
benchmarks), and the same int8 file on XNNPACK against TFLite's builtin reference kernels
(:func:`kernel_agreement`, ``kvid export`` and ``kvid audit --parity``). Both sides see
identical views; ``reference`` is the side the other is measured against.

- argmax agreement: the fraction of views whose top-1 class is the same;
- SQNR: ``10 log10(sum(reference^2) / sum((reference - test)^2))`` in dB over all logits
  (infinite when they are identical);
- max |diff|: the largest absolute logit difference.

numpy only: kvid.runtime never imports TensorFlow, and kvid.export imports this module.
"""

from __future__ import annotations

import numpy as np

# XNNPACK and the reference kernels round requantisation differently, so an int8 file gives
# logits a few output steps apart on the two (measured: at most 2 steps, 40-45 dB, on the
# tests' tiny SEVNet and opscheck exports). A broken kernel gives noise as large as the signal.
# So the two must agree at least as well as int8 agrees with float (the tests' 20 dB floor),
# and a top-1 may differ only on a near tie (:func:`beyond_noise`).
KERNEL_SQNR_MIN_DB = 20.0


def sqnr_db(reference, test) -> float:
    """Signal-to-quantisation-noise ratio of ``test`` against ``reference``, in dB."""
    reference = np.asarray(reference, np.float64)
    noise = np.sum((reference - np.asarray(test, np.float64)) ** 2)
    signal = np.sum(reference ** 2)
    if noise == 0:
        return float("inf")
    return float(10 * np.log10(signal / noise))


def top1(logits, labels) -> float:
    """Top-1 accuracy of ``logits`` ``(N, C)`` for integer ``labels`` ``(N,)``."""
    return float(np.mean(np.asarray(logits).argmax(-1) == np.asarray(labels)))


def compare_logits(reference, test) -> dict:
    """``{"views", "agreement", "sqnr_db", "max_abs_diff"}`` of ``test`` against ``reference``
    (both ``(N, C)`` logits of the same N views)."""
    reference, test = np.asarray(reference), np.asarray(test)
    if reference.shape != test.shape:
        raise ValueError(f"logits of shape {reference.shape} and {test.shape} do not compare")
    return {
        "views": int(reference.shape[0]),
        "agreement": float(np.mean(reference.argmax(-1) == test.argmax(-1))),
        "sqnr_db": sqnr_db(reference, test),
        "max_abs_diff": float(np.max(np.abs(reference.astype(np.float64) - test))) if reference.size else 0.0,
    }


def random_clips(n: int, shape, seed: int = 0) -> np.ndarray:
    """``n`` clips of uniform random pixels 0..255 with ``shape`` ``(T, H, W, 3)``."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (int(n), *shape)).astype(np.float32)


def beyond_noise(reference, test) -> dict:
    """:func:`compare_logits` of two runs of one int8 file (different kernels) plus the verdict
    ``{"far_flips", "ok", "problem"}``: not ok when the SQNR is below ``KERNEL_SQNR_MIN_DB``,
    or when a top-1 differs where the reference's margin between the two classes exceeds twice
    the noise seen on the views that agree (each side may be that far off)."""
    reference, test = np.asarray(reference, np.float64), np.asarray(test, np.float64)
    result = compare_logits(reference, test)
    flips = reference.argmax(-1) != test.argmax(-1)
    diff = np.abs(reference - test).max(axis=-1)
    noise = float(diff[~flips].max()) if (~flips).any() else 0.0
    margin = reference.max(-1) - reference[np.arange(len(reference)), test.argmax(-1)]
    far = int(np.sum(flips & (margin > 2 * noise + 1e-9)))
    problem = None
    if result["sqnr_db"] < KERNEL_SQNR_MIN_DB:
        problem = (f"XNNPACK and the reference kernels disagree beyond noise: logits SQNR "
                   f"{result['sqnr_db']:.1f} dB < {KERNEL_SQNR_MIN_DB:.0f} dB")
    elif far:
        problem = (f"XNNPACK and the reference kernels disagree beyond noise: top-1 differs on {far} view(s) "
                   f"where the reference's margin exceeds twice the noise of the others ({noise:.3g})")
    return {**result, "far_flips": far, "ok": problem is None, "problem": problem}


def kernel_agreement(path, clips=None, *, n: int = 4, seed: int = 0, threads: int | None = None) -> dict:
    """The int8 file ``path`` on XNNPACK against TFLite's builtin reference kernels, on
    ``clips`` (default: ``n`` random clips): :func:`beyond_noise` of the two plus
    ``{"xnnpack", "step", "max_diff_steps"}`` (``step``: the output's quantisation step).

    Where XNNPACK is not available both runs use the builtin kernels: ``xnnpack`` is False,
    nothing was compared, and ``ok`` is True.
    """
    from kvid.runtime.interpreter import ClipModel

    fast = ClipModel(path, threads=threads, xnnpack=True)
    reference = ClipModel(path, threads=threads, xnnpack=False)
    if clips is None:
        clips = random_clips(n, fast.input_shape, seed)
    result = beyond_noise(reference.predict(clips), fast.predict(clips))
    step = float(fast.output["quantization"][0]) if np.dtype(fast.output["dtype"]) != np.float32 else 0.0
    result.update({"xnnpack": fast.xnnpack, "step": step,
                   "max_diff_steps": result["max_abs_diff"] / step if step else None})
    if fast.xnnpack is False:
        result.update(ok=True, problem=None)
    return result


def format_kernel_agreement(k: dict) -> str:
    """One line for :func:`kernel_agreement`'s result."""
    if k["xnnpack"] is False:
        return ("XNNPACK vs reference kernels: not compared (XNNPACK is not available in this TFLite "
                "runtime; both runs used the reference kernels)")
    steps = f" ({k['max_diff_steps']:.0f} output steps)" if k.get("max_diff_steps") is not None else ""
    verdict = "OK" if k["ok"] else f"ERROR: {k['problem']}"
    return (f"XNNPACK vs reference kernels on {k['views']} clip(s): argmax agreement {k['agreement']:.0%}, "
            f"logits SQNR {k['sqnr_db']:.1f} dB, max |diff| {k['max_abs_diff']:.4g}{steps} -> {verdict}")


__all__ = ["KERNEL_SQNR_MIN_DB", "beyond_noise", "compare_logits", "format_kernel_agreement", "kernel_agreement",
           "random_clips", "sqnr_db", "top1"]
