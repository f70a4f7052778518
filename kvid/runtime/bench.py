"""Latency of kvid ``.tflite`` models per clip: threads, XNNPACK on/off, size, peak memory.

Each configuration runs in its own process (so peak resident memory is that model's alone):
warm-up runs, then repeated timed ``invoke`` calls on a random clip; median and spread
(10th-90th percentile) are reported. TensorFlow-free.

Every table starts with :func:`kvid.environment.line` (CPU, its int8 dot-product instructions,
versions), and :func:`warn_int8` says once per run when int8 models are timed on a CPU without
int8 dot-product instructions (AVX2-only x86), where int8 is often no faster than float32.
:mod:`kvid.runtime.profile` says where a model's time goes (``kvid bench --profile``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from kvid import environment

_CHILD = r"""
import json, sys, time
import numpy as np
from kvid.runtime.interpreter import ClipModel
def peak_mb():
    # VmHWM: this process image's peak resident memory (ru_maxrss would include the parent's,
    # inherited across fork + exec)
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
path, threads, xnnpack, warmup, repeats = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4]), int(sys.argv[5])
m = ClipModel(path, threads=threads, xnnpack=xnnpack)
clip = np.random.default_rng(0).uniform(0, 255, m.input_shape).astype(np.float32)
tensor = m.quantize_input(clip)
for _ in range(warmup):
    m.run_tensor(tensor)
times = []
for _ in range(repeats):
    t0 = time.perf_counter(); m.run_tensor(tensor); times.append(time.perf_counter() - t0)
t = np.array(times) * 1e3
print(json.dumps({"median_ms": float(np.median(t)), "p10_ms": float(np.percentile(t, 10)),
                  "p90_ms": float(np.percentile(t, 90)),
                  "peak_rss_mb": peak_mb()}))
"""


def is_int8(path) -> bool:
    """Whether a ``.tflite`` file takes an int8 input (kvid's int8 exports do)."""
    from kvid.runtime.interpreter import load_interpreter

    return np.dtype(load_interpreter(path).get_input_details()[0]["dtype"]) == np.int8


_warned = {"int8": False}


def warn_int8(paths, stream=None) -> str | None:
    """Print :func:`kvid.environment.int8_warning` once per process (to stderr) when any of
    ``paths`` is an int8 model and this CPU has no int8 dot-product instructions; returns the
    line printed, or None."""
    from kvid import environment

    if _warned["int8"]:
        return None
    message = environment.int8_warning()
    if message is None or not any(is_int8(p) for p in paths):
        return None
    _warned["int8"] = True
    print(f"kvid: {message}", file=stream or sys.stderr)
    return message


def bench_one(path, threads=2, xnnpack=True, warmup=3, repeats=10) -> dict:
    from kvid.runtime.interpreter import load_interpreter

    load_interpreter(path)  # a clear error for a missing/invalid file before the child runs
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, os.fspath(path), str(threads), "1" if xnnpack else "0",
         str(warmup), str(repeats)],
        capture_output=True, text=True,
    )
    if proc.returncode:
        last = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        raise RuntimeError(f"{path}: benchmark failed: {last}")
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    row.update({"model": os.fspath(path), "threads": threads, "xnnpack": xnnpack,
                "size_mb": os.path.getsize(path) / 2**20, "env": environment.line(threads)})
    return row


def bench(paths, threads=(2,), xnnpack=(True,), warmup=3, repeats=10):
    return [bench_one(p, t, x, warmup, repeats) for p in paths for t in threads for x in xnnpack]


def format_table(rows) -> str:
    threads = sorted({r["threads"] for r in rows})
    lines = [environment.line(threads[0] if len(threads) == 1 else None)]
    lines += [f"{'model':<40} {'thr':>3} {'xnn':>4} {'median ms':>10} {'p10-p90 ms':>14} "
              f"{'size MB':>8} {'peak MB':>8}"]
    for r in rows:
        name = os.path.basename(r["model"])
        lines.append(
            f"{name:<40} {r['threads']:>3} {'on' if r['xnnpack'] else 'off':>4} {r['median_ms']:>10.2f} "
            f"{r['p10_ms']:>6.2f}-{r['p90_ms']:<7.2f} {r['size_mb']:>8.2f} {r['peak_rss_mb']:>8.1f}"
        )
    return "\n".join(lines)


def plot(rows, out_png) -> str | None:
    """Bar chart of median latency per model/config; None when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    labels = [f"{os.path.basename(r['model'])}\n{r['threads']}t {'xnn' if r['xnnpack'] else 'ref'}"
              for r in rows]
    fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(rows)), 3.5))
    ax.bar(range(len(rows)), [r["median_ms"] for r in rows],
           yerr=[[r["median_ms"] - r["p10_ms"] for r in rows], [r["p90_ms"] - r["median_ms"] for r in rows]])
    ax.set_xticks(range(len(rows)), labels, fontsize=7)
    ax.set_ylabel("latency per clip (ms)")
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    plt.close(fig)
    return out_png
