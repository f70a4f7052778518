"""``kvid demo``: the main job (synthetic data -> train -> QAT -> int8 TFLite -> evaluate).

Until the data and training pieces land, it runs the foundation's self-check: the opscheck
network through QAT, full-integer conversion, the audit and the TFLite-vs-Keras parity.
"""

from __future__ import annotations


def add_parsers(sub):
    p = sub.add_parser("demo", help="the main job: synth -> train -> QAT -> int8 TFLite -> report")
    p.add_argument("--out", default="kvid_demo", help="output folder")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run_demo)


def run_demo(args) -> int:
    import os

    from export.audit import format_report
    from export.preset import export_preset

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "opscheck_int8.tflite")
    print("kvid demo: the full pipeline (synthetic videos, training, QAT, evaluation) is not "
          "built yet; running the ops self-check instead.")
    result = export_preset("opscheck", path, seed=args.seed, parity_clips=8)
    print(format_report(path, result["audit"]))
    print(f"int8 TFLite vs QAT Keras on {result['clips']} random clips: SQNR "
          f"{result['sqnr_db']:.1f} dB, argmax agreement {result['agreement']:.0%}")
    print(f"wrote {path}")
    return 0 if result["audit"]["ok"] else 1
