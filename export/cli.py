"""``kvid export`` and ``kvid audit`` (and ``kvid qat`` once the QAT issue lands)."""

from __future__ import annotations

import json


def add_parsers(sub):
    p = sub.add_parser("qat", help="quantization-aware fine-tuning of a trained run -> RUN/qat.keras")
    p.add_argument("run", help="a kvid train run directory")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--lr", type=float, help="Adam learning rate (default 1e-5)")
    p.add_argument("--batch", type=int)
    p.add_argument("--out", help="default RUN/qat.keras")
    p.set_defaults(func=run_qat, needs="train")

    p = sub.add_parser("export", help="convert a model to TFLite (int8/float32/...), audit, parity")
    p.add_argument("source", nargs="?",
                   help="a run directory (int8 from RUN/qat.keras) or a .keras model (float or QAT)")
    p.add_argument("--model", help="a preset name: export it with random weights")
    p.add_argument("--frames", type=int)
    p.add_argument("--size", type=int)
    p.add_argument("--classes", type=int)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="model option override (repeatable)")
    p.add_argument("--to", default="int8", choices=["int8", "float32", "float16", "dynamic", "int16x8"],
                   help="int8 (default; a run's or a .keras model's QAT model, or --ptq), float32, float16, "
                        "dynamic, or int16x8: 16-bit activations and 8-bit weights (the converter's 16x8 op "
                        "set), post-training from the float model (a run's training clips, or --data)")
    p.add_argument("--out", required=True, help="output .tflite path")
    p.add_argument("--ptq", action="store_true",
                   help="int8 by post-training quantisation of a float model (needs --data)")
    p.add_argument("--data", help="dataset root: representative clips for --ptq, parity views")
    p.add_argument("--labels", help="a label list file (one class name per line) for the sidecar")
    p.add_argument("--float-output", action="store_true", help="int8 model with float32 logits")
    p.add_argument("--allow-float-fallback", action="store_true",
                   help="write an int8 model even if the audit finds float ops")
    p.add_argument("--android-assets", metavar="DIR",
                   help="also write what android_demo needs: model, labels, sidecar, golden vectors")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run_export, needs="train")

    p = sub.add_parser("audit", help="op/dtype/rank report of a .tflite; non-zero exit if not ok")
    p.add_argument("path")
    p.add_argument("--expect", choices=["int8", "int16x8", "mixed", "float"],
                   help="what the model must be (default: int8 if any activation is int8, int16x8 if all are int16, else float)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_audit)
    p.add_argument("--parity", action="store_true",
                   help="also run the file on XNNPACK and on the reference kernels and compare (exit 1 on a "
                        "mismatch beyond noise)")
    p.add_argument("--clips", type=int, default=4, help="random clips for --parity (default 4)")


def run_audit(args) -> int:
    from kvid.export.audit import audit, format_report

    report = audit(args.path, expect=args.expect)
    if args.parity:
        from kvid.runtime.agreement import kernel_agreement

        report["kernels"] = kernel_agreement(args.path, n=args.clips)
    if args.json:
        public = {k: v for k, v in report.items() if k != "op_list"}
        print(json.dumps(public, indent=2))
    else:
        print(format_report(args.path, report))
    kernels = _kernels_status(args, report)
    return 0 if report["ok"] and not kernels else 1


def _kernels_status(args, result) -> int:
    """Print the XNNPACK-vs-reference line of ``result`` (when it has one, not with --json);
    1 on a mismatch beyond noise."""
    kernels = result.get("kernels")
    if kernels is None:
        return 0
    if not args.json:
        from kvid.runtime.agreement import format_kernel_agreement

        print(format_kernel_agreement(kernels))
    return 0 if kernels["ok"] else 1


def _read_labels(path):
    from kvid import KvidError

    try:
        with open(path, encoding="utf-8") as fh:
            return [line.strip() for line in fh if line.strip()]
    except OSError as exc:
        raise KvidError(f"{path}: cannot read labels ({exc.strerror})") from None


def run_qat(args) -> int:
    from kvid.export.run import qat_run

    path = qat_run(args.run, epochs=args.epochs, lr=args.lr, batch=args.batch, out=args.out)
    print(f"wrote {path}")
    return 0


def _print_result(args, result):
    from kvid.export.audit import format_report

    if args.json:
        public = {k: v for k, v in result.items() if k != "audit"}
        public["audit"] = {k: v for k, v in result["audit"].items() if k != "op_list"}
        print(json.dumps(public, indent=2))
        return
    print(format_report(result["path"], result["audit"]))
    print(f"wrote {result['path']} ({result['bytes'] / 1024:.1f} KiB) and its sidecar")
    p = result.get("parity")
    if p:
        tops = ", ".join(f"{k[:-5]} {v:.1%}" for k, v in p.items() if k.endswith("_top1"))
        print(f"parity on {p['views']} validation views: top-1 {tops}; TFLite/Keras argmax "
              f"agreement {p['agreement']:.1%}, logits SQNR {p['sqnr_db']:.1f} dB")


def run_export_run(args) -> int:
    from kvid.export.run import export_run

    result = export_run(args.source, args.out, mode=args.to, ptq=args.ptq,
                        float_output=args.float_output,
                        allow_float_fallback=args.allow_float_fallback)
    _print_result(args, result)
    _android_assets(args, result["path"])
    return _kernels_status(args, result)


def run_export_source(args) -> int:
    from kvid.export.convert import is_qat
    from kvid.export.model import export_model
    from kvid import KvidError
    from kvid.ops import load_model

    model = load_model(args.source)
    clip = _clip_of_model_file(args.source, model)
    if args.to == "int8" and not is_qat(model) and not args.ptq:
        raise KvidError(f"{args.source}: a float model; run `kvid qat` first, or pass --ptq --data D")
    labels = _read_labels(args.labels) if args.labels else None
    representative = None
    if args.ptq or args.to == "int16x8":
        if not args.data:
            raise KvidError(f"{'--ptq' if args.ptq else '--to int16x8'} needs --data D for representative clips")
        from kvid.data.clips import load_views
        from kvid.data.layouts import load_dataset

        dataset = load_dataset(args.data, split="train")
        representative = [load_views(path, clip.replace(clips=1, crops=1))[0]
                          for path, _ in dataset.items[:64]]
        labels = labels or dataset.labels
    result = export_model(model, args.out, mode=args.to, labels=labels, clip=clip,
                          representative=representative, float_output=args.float_output,
                          allow_float_fallback=args.allow_float_fallback)
    if args.to == "int8":
        from kvid.runtime.agreement import kernel_agreement

        result["kernels"] = kernel_agreement(result["path"])
    _print_result(args, result)
    _android_assets(args, result["path"])
    return _kernels_status(args, result)


def _clip_of_model_file(path, model):
    """The clip spec of a ``.keras`` file: its run's (when it sits in a run directory), else
    the paper protocol of the preset it is named after."""
    import os

    from kvid.contract import rundir
    from kvid.export.convert import clip_shape
    from kvid.models import clip_spec_for

    folder = os.path.dirname(os.path.abspath(path))
    t, h, _, _ = clip_shape(model)
    if rundir.is_run(folder):
        return rundir.clip_spec(rundir.read_config(folder))
    return clip_spec_for(model.name, t, h)


def _android_assets(args, tflite_path):
    if args.android_assets:
        from kvid.export.android_assets import write_android_assets

        write_android_assets(tflite_path, args.android_assets)
        print(f"wrote Android assets to {args.android_assets}")


def run_export(args) -> int:
    from kvid import KvidError
    from kvid.models import parse_overrides

    if args.source and args.model:
        raise KvidError("export: give a trained model or --model NAME, not both")
    if args.source:
        import os

        return (run_export_run if os.path.isdir(args.source) else run_export_source)(args)
    if not args.model:
        raise KvidError("export: give a trained model (.keras) or --model NAME")
    from kvid.export.audit import format_report
    from kvid.export.preset import export_preset

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
    if report["ok"]:
        _android_assets(args, result["path"])
    kernels = _kernels_status(args, result)
    return 0 if report["ok"] and not kernels else 1
