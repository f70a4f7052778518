"""``kvid export`` and ``kvid audit`` (and ``kvid qat`` once the QAT issue lands)."""

from __future__ import annotations

import json


def add_parsers(sub):
    p = sub.add_parser("export", help="convert a model to TFLite (int8/float32/...), audit, parity")
    p.add_argument("source", nargs="?", help="a run directory or a .keras model (training issues)")
    p.add_argument("--model", help="a preset name: export it with random weights")
    p.add_argument("--frames", type=int)
    p.add_argument("--size", type=int)
    p.add_argument("--classes", type=int)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="model option override (repeatable)")
    p.add_argument("--to", default="int8", choices=["int8", "float32", "float16", "dynamic"])
    p.add_argument("--out", required=True, help="output .tflite path")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run_export)

    p = sub.add_parser("audit", help="op/dtype/rank report of a .tflite; non-zero exit if not ok")
    p.add_argument("path")
    p.add_argument("--expect", choices=["int8", "float"],
                   help="what the model must be (default: int8 if it has any int8 tensor)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_audit)


def run_audit(args) -> int:
    from export.audit import audit, format_report

    report = audit(args.path, expect=args.expect)
    if args.json:
        public = {k: v for k, v in report.items() if k != "op_list"}
        print(json.dumps(public, indent=2))
    else:
        print(format_report(args.path, report))
    return 0 if report["ok"] else 1


def run_export(args) -> int:
    from kvid import KvidError
    from kvid.models import parse_overrides

    if not args.model:
        raise KvidError("export: give --model NAME (exporting trained runs comes with `kvid qat`)")
    from export.audit import format_report
    from export.preset import export_preset

    result = export_preset(
        args.model, args.out, frames=args.frames, size=args.size, num_classes=args.classes,
        overrides=parse_overrides(args.set), mode=args.to,
    )
    report = result["audit"]
    if args.json:
        public = {k: v for k, v in result.items() if k != "audit"}
        public["audit"] = {k: v for k, v in report.items() if k != "op_list"}
        print(json.dumps(public, indent=2))
    else:
        print(format_report(result["path"], report))
        print(f"wrote {result['path']} ({result['bytes'] / 1024:.1f} KiB)")
        if "sqnr_db" in result:
            print(f"parity vs Keras on {result['clips']} random clips: SQNR {result['sqnr_db']:.1f} dB, "
                  f"argmax agreement {result['agreement']:.0%}")
    return 0 if report["ok"] else 1
