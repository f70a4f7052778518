"""int8 vs float32 TFLite, every family of the zoo: latency per clip, file size, fidelity.

    python benchmarks/bench_latency.py [--models sevnet_g8 mfnet3d ...] [--clips 8x112 16x224]
        [--threads 2] [--repeats 5] [--out DIR] [--markdown benchmarks/results/latency.md]

For every preset (one per family by default: SEVNet, MF-Net, EAC-Net, CT-Net, the C2D
baseline, and FASTER's expensive and cheap clip models) at every clip size, the full-width
preset (its own class count, random weights) is exported by ``kvid.export.preset.export_preset``
- exactly what ``kvid export --model`` does - to float32, and, QAT-wrapped and calibrated on
random clips, to int8. Both files are audited, the int8 file's logits are compared with the
QAT Keras model's on random clips (SQNR), and each file is timed by
``kvid.runtime.bench.bench_one`` (its own process, XNNPACK on, ``--threads`` threads, median
of ``--repeats`` invokes after 2 warm-ups). All ratios come from one run of this script.

Checks (issue 8): for SEVNet and MF-Net, int8 >= 1.5x faster than float32 and <= 0.3x its
size. Exit status 1 if a check fails or a file does not pass its audit.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MODELS = ("sevnet_g8", "mfnet3d", "eacnet_r50", "ctnet_r50", "c2d_r50", "r2plus1d_50", "r2d_26")
CHECKED_FAMILIES = ("sevnet", "mfnet")
MIN_SPEEDUP, MAX_SIZE_RATIO = 1.5, 0.3


def measure(name, frames, size, out_dir, threads, repeats) -> dict:
    from kvid.export.preset import export_preset
    from kvid import models
    from kvid.analysis.count import count
    from kvid.runtime.bench import bench_one

    stats = count(models.build(name, frames=frames, size=size))
    row = {"model": name, "family": models.get(name).family, "clip": f"{frames}x{size}x{size}",
           "params_m": stats["params"] / 1e6, "gmacs": stats["gmacs"]}
    for mode in ("float32", "int8"):
        t0 = time.time()
        path = os.path.join(out_dir, f"{name}_{frames}x{size}_{mode}.tflite")
        result = export_preset(name, path, frames=frames, size=size, mode=mode,
                               calibration_clips=4, parity_clips=2 if mode == "int8" else 0)
        timing = bench_one(path, threads=threads, warmup=2, repeats=repeats)
        row[mode] = {"ms": timing["median_ms"], "p10_ms": timing["p10_ms"],
                     "p90_ms": timing["p90_ms"], "mb": result["bytes"] / 2**20,
                     "audit_ok": result["audit"]["ok"], "export_s": time.time() - t0}
        if mode == "int8":
            row[mode]["sqnr_db"] = result["sqnr_db"]
    row["speedup"] = row["float32"]["ms"] / row["int8"]["ms"]
    row["size_ratio"] = row["int8"]["mb"] / row["float32"]["mb"]
    return row


def checks(rows) -> list[str]:
    failures = []
    for r in rows:
        where = f"{r['model']} {r['clip']}"
        for mode in ("float32", "int8"):
            if not r[mode]["audit_ok"]:
                failures.append(f"{where}: the {mode} file does not pass the audit")
        if r["family"] in CHECKED_FAMILIES:
            if r["speedup"] < MIN_SPEEDUP:
                failures.append(f"{where}: int8 only {r['speedup']:.2f}x faster than float32 "
                                f"(target >= {MIN_SPEEDUP})")
            if r["size_ratio"] > MAX_SIZE_RATIO:
                failures.append(f"{where}: int8 is {r['size_ratio']:.2f}x the float32 size "
                                f"(target <= {MAX_SIZE_RATIO})")
    return failures


def markdown(rows, threads, repeats, command) -> str:
    lines = [
        f"TFLite latency per clip on {platform.machine()} CPU ({os.cpu_count()} cores), "
        f"{threads} threads, XNNPACK, median of {repeats} invokes; full-width presets, random "
        f"weights. Command: `{command}`", "",
        "| family | preset | clip | params (M) | GMACs | float32 ms | int8 ms | int8 speed-up "
        "| float32 MB | int8 MB | int8/float32 size | int8 SQNR dB | audit |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        f, q = r["float32"], r["int8"]
        audit = "ok" if f["audit_ok"] and q["audit_ok"] else "FAIL"
        lines.append(
            f"| {r['family']} | `{r['model']}` | {r['clip']} | {r['params_m']:.2f} | "
            f"{r['gmacs']:.2f} | {f['ms']:.1f} | {q['ms']:.1f} | {r['speedup']:.2f}x | "
            f"{f['mb']:.1f} | {q['mb']:.1f} | {r['size_ratio']:.2f} | {q['sqnr_db']:.1f} | {audit} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--clips", nargs="+", default=["8x112", "16x224"], help="TxS clip sizes")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", help="folder for the .tflite files (default: a temporary one)")
    parser.add_argument("--markdown", help="also write the table (and a .json beside it) here")
    args = parser.parse_args(argv)

    out_dir = args.out or tempfile.mkdtemp(prefix="kvid_bench_latency_")
    os.makedirs(out_dir, exist_ok=True)
    rows = []
    for clip in args.clips:
        frames, size = (int(v) for v in clip.split("x"))
        for name in args.models:
            row = measure(name, frames, size, out_dir, args.threads, args.repeats)
            rows.append(row)
            print(f"{name:<12} {row['clip']:<10} float32 {row['float32']['ms']:8.1f} ms  "
                  f"int8 {row['int8']['ms']:8.1f} ms  speed-up {row['speedup']:.2f}x  "
                  f"size {row['size_ratio']:.2f}  SQNR {row['int8']['sqnr_db']:.1f} dB", flush=True)
    command = "python benchmarks/bench_latency.py " + " ".join(argv if argv is not None else sys.argv[1:])
    table = markdown(rows, args.threads, args.repeats, command.strip())
    failures = checks(rows)
    print("\n" + table + "\n")
    print("\n".join(f"CHECK FAILED: {f}" for f in failures) if failures else
          f"checks: SEVNet and MF-Net int8 >= {MIN_SPEEDUP}x faster and <= {MAX_SIZE_RATIO}x "
          f"the float32 size at every clip; every file passes its audit")
    if args.markdown:
        os.makedirs(os.path.dirname(os.path.abspath(args.markdown)), exist_ok=True)
        with open(args.markdown, "w", encoding="utf-8") as fh:
            fh.write(table + "\n\n" + ("\n".join(f"CHECK FAILED: {f}" for f in failures)
                                       or "All checks hold.") + "\n")
        with open(os.path.splitext(args.markdown)[0] + ".json", "w", encoding="utf-8") as fh:
            json.dump(rows, fh, indent=1)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
