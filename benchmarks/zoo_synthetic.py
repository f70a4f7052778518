"""Accuracy of every family on the synthetic benchmark: float Keras, QAT Keras, int8 TFLite.

    python benchmarks/zoo_synthetic.py [--models sevnet_g8 mfnet3d eacnet_r50 ctnet_r50 c2d_r50]
        [--work /tmp/kvid_zoo] [--markdown benchmarks/results/zoo_synthetic.md] [demo options]

Each model goes through exactly the pipeline of ``kvid demo --model M`` (the same synthetic
dataset - same seed, so the same videos -, its preset's small CPU configuration, Keras fit,
QAT, int8 + float32 export with the audit, evaluation of every model on the same held-out
views, TFLite latency), each in ``WORK/<model>`` so an interrupted run resumes. The table
collects what each demo measured. FASTER, which aggregates several clips per video, has its
own end-to-end benchmark (benchmarks/faster_synth.py).

Checks (issue 8): argmax agreement int8 TFLite vs QAT Keras >= 99%, int8 top-1 within 1 point
of float top-1; exit status 1 if one fails for SEVNet or MF-Net (reported for every model).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MODELS = ("sevnet_g8", "mfnet3d", "eacnet_r50", "ctnet_r50", "c2d_r50")
CHECKED = ("sevnet_g8", "mfnet3d")


def main(argv=None):
    from kvid.demo import DEFAULTS, Demo

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--work", default="/tmp/kvid_zoo")
    parser.add_argument("--markdown", help="also write the table (and a .json beside it) here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--redo", help="run this demo step and the later ones again (kvid demo --redo)")
    for key in ("epochs", "qat_epochs", "classes", "videos_per_class", "frames", "size"):
        parser.add_argument("--" + key.replace("_", "-"), type=int, default=DEFAULTS[key])
    args = parser.parse_args(argv)

    rows = []
    for name in args.models:
        t0 = time.time()
        demo_args = argparse.Namespace(**{**vars(args), "model": name,
                                          "out": os.path.join(args.work, name)})
        demo = Demo(demo_args)
        if demo.run():
            print(f"zoo_synthetic: the demo of {name} failed (see above)", file=sys.stderr)
            return 1
        done = demo.state["done"]
        ev, bench = done["evaluate"], done["bench"]
        rows.append({"model": name, "params": done["report"].get("params"),
                     "gmacs": done["report"].get("gmacs"), "top1": ev["top1"],
                     "agreement": ev["agreement"], "sqnr_db": ev["sqnr_db"],
                     "speedup": bench["speedup"], "size_ratio": bench["size_ratio"],
                     "audit_ok": done["export"]["int8"]["audit_ok"],
                     "minutes": sum(step.get("seconds", 0) for step in done.values()) / 60,
                     "wall_minutes": (time.time() - t0) / 60})

    from kvid import environment

    c = demo.config
    command = ("python benchmarks/zoo_synthetic.py "
               + " ".join(argv if argv is not None else sys.argv[1:])).strip()
    lines = [
        f"Synthetic benchmark (`kvid synth`, {c['classes']} classes, {c['videos_per_class']} videos "
        f"per class, seed {c['seed']}); each model in its preset's small CPU configuration, "
        f"{c['frames']}x{c['size']}x{c['size']} clips, {c['epochs']} epochs + {c['qat_epochs']} QAT "
        f"epochs; top-1 on the test split, identical views for every model. Command: `{command}`", "",
        environment.line(2), "",
        "| model | params | GMACs | float Keras | QAT Keras | int8 TFLite | float32 TFLite "
        "| agreement int8 vs QAT | SQNR dB | int8 speed-up | int8 size | audit | minutes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    failures = []
    for r in rows:
        t = r["top1"]
        lines.append(
            f"| `{r['model']}` | {r['params']:,} | {r['gmacs']:.3f} | {t['float Keras']:.1%} | "
            f"{t['QAT Keras']:.1%} | {t['int8 TFLite']:.1%} | {t['float32 TFLite']:.1%} | "
            f"{r['agreement']:.1%} | {r['sqnr_db']:.1f} | {r['speedup']:.2f}x | "
            f"{r['size_ratio']:.2f} | {'ok' if r['audit_ok'] else 'FAIL'} | {r['minutes']:.1f} |")
        drop = t["float Keras"] - t["int8 TFLite"]
        problems = ([f"agreement {r['agreement']:.1%} < 99%"] if r["agreement"] < 0.99 else []) + \
                   ([f"int8 top-1 {drop * 100:.1f} points below float"] if drop > 0.01 else [])
        if problems and r["model"] in CHECKED:
            failures.append(r["model"])
        if problems:
            lines.append(f"|  | {r['model']}: " + "; ".join(problems) + " | | | | | | | | | | | |")
    verdict = (f"CHECK FAILED for {', '.join(failures)}" if failures else
               "Checks hold for " + ", ".join(m for m in CHECKED if m in args.models)
               + ": agreement >= 99%, int8 within 1 point of float.")
    table = "\n".join(lines) + "\n\n" + verdict + "\n"
    print("\n" + table)
    if args.markdown:
        os.makedirs(os.path.dirname(os.path.abspath(args.markdown)), exist_ok=True)
        with open(args.markdown, "w", encoding="utf-8") as fh:
            fh.write(table)
        with open(os.path.splitext(args.markdown)[0] + ".json", "w", encoding="utf-8") as fh:
            json.dump({"environment": environment.describe(2), "rows": rows}, fh, indent=1)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
