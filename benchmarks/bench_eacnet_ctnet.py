"""TFLite latency per clip of EAC-Net, CT-Net and the C2D baseline: int8 vs float32, and the
ratio to C2D in one run (EAC-Net's claim: cheaper than C2D, because the MGTE blocks halve T).

    python benchmarks/bench_eacnet_ctnet.py [--models eacnet_r50 ctnet_r50 c2d_r50]
        [--frames 8] [--sizes 112 224] [--threads 2] [--repeats 5] [--out DIR]
        [--markdown benchmarks/results/eacnet_ctnet_vs_c2d.md] [--zero-init]

Each row is measured by ``bench_latency.measure`` (full-width preset, random weights with
non-zero residual branches unless ``--zero-init``, exported as ``kvid export --model`` does to
float32 and int8, audited, int8 SQNR against the QAT Keras model); after every export, all
files are timed in ``--rounds`` round-robin passes (``bench_latency.time_rows``). The header is
the environment line and the load of the shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_latency import export_pair, load_average, markdown, targets, time_rows  # noqa: E402

MODELS = ("eacnet_r50", "ctnet_r50", "c2d_r50")


def ratio_table(rows) -> str:
    lines = ["| preset | clip | GMACs / C2D | float32 latency / C2D | int8 latency / C2D |",
             "|---|---|---:|---:|---:|"]
    for r in rows:
        base = next((b for b in rows if b["model"] == "c2d_r50" and b["clip"] == r["clip"]), None)
        if base is None or r is base:
            continue
        lines.append(f"| `{r['model']}` | {r['clip']} | {r['gmacs'] / base['gmacs']:.2f} | "
                     f"{r['float32']['ms'] / base['float32']['ms']:.2f} | "
                     f"{r['int8']['ms'] / base['int8']['ms']:.2f} |")
    return "\n".join(lines)


def main(argv=None):
    from kvid import environment

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--sizes", type=int, nargs="+", default=[112, 224])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="round-robin timing passes (median)")
    parser.add_argument("--out", help="folder for the .tflite files (default: a temporary one)")
    parser.add_argument("--markdown", help="also write the tables (and a .json beside it) here")
    parser.add_argument("--zero-init", action="store_true",
                        help="build the presets as they start training (zero-initialised branches)")
    args = parser.parse_args(argv)

    out_dir = args.out or tempfile.mkdtemp(prefix="bench_eacnet_ctnet_")
    env = environment.line(args.threads)
    rows = [export_pair(name, args.frames, size, out_dir, args.zero_init)
            for size in args.sizes for name in args.models]
    load_start = load_average()
    time_rows(rows, args.threads, args.repeats, args.rounds)
    load = (load_start, load_average()) if load_start is not None else None
    command = ("python benchmarks/bench_eacnet_ctnet.py "
               + " ".join(argv if argv is not None else sys.argv[1:])).strip()
    text = "\n\n".join([markdown(rows, args.threads, args.repeats, command, env, load=load,
                                 rounds=args.rounds),
                        ratio_table(rows), "\n".join(targets(rows))])
    print(text)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
        with open(os.path.splitext(args.markdown)[0] + ".json", "w", encoding="utf-8") as fh:
            json.dump({"env": env, "command": command, "load_average": load, "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
