"""TFLite latency per clip of EAC-Net, CT-Net and the C2D baseline: int8 vs float32, and the
ratio to C2D in one run (EAC-Net's claim: cheaper than C2D, because the MGTE blocks halve T).

    python benchmarks/bench_eacnet_ctnet.py [--models eacnet_r50 ctnet_r50 c2d_r50]
        [--frames 8] [--sizes 112 224] [--threads 2] [--repeats 5] [--out DIR]

Each row is measured by ``bench_latency.measure`` (full-width preset, random weights, exported
as ``kvid export --model`` does to float32 and int8, audited, int8 SQNR against the QAT Keras
model, each file timed in its own process with XNNPACK).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_latency import markdown, measure  # noqa: E402

MODELS = ("eacnet_r50", "ctnet_r50", "c2d_r50")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--sizes", type=int, nargs="+", default=[112, 224])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", help="folder for the .tflite files (default: a temporary one)")
    args = parser.parse_args(argv)

    out_dir = args.out or tempfile.mkdtemp(prefix="bench_eacnet_ctnet_")
    rows = [measure(name, args.frames, size, out_dir, args.threads, args.repeats)
            for size in args.sizes for name in args.models]
    print(markdown(rows, args.threads, args.repeats, "python benchmarks/bench_eacnet_ctnet.py "
                   + " ".join(argv if argv is not None else sys.argv[1:])) + "\n")
    print("| preset | clip | GMACs / C2D | float32 latency / C2D | int8 latency / C2D |")
    print("|---|---|---:|---:|---:|")
    for r in rows:
        base = next((b for b in rows if b["model"] == "c2d_r50" and b["clip"] == r["clip"]), None)
        if base is None or r is base:
            continue
        print(f"| `{r['model']}` | {r['clip']} | {r['gmacs'] / base['gmacs']:.2f} | "
              f"{r['float32']['ms'] / base['float32']['ms']:.2f} | "
              f"{r['int8']['ms'] / base['int8']['ms']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
