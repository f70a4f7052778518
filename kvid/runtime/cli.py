"""``kvid predict`` and ``kvid bench`` - TensorFlow-free."""

from __future__ import annotations

import json
import sys


def _int_list(text):
    return [int(v) for v in str(text).split(",") if v.strip()]


def add_parsers(sub):
    p = sub.add_parser("predict", help="top-5 for a video with a .tflite model (no TensorFlow)")
    p.add_argument("model", help="a kvid .tflite (its sidecar F.json beside it)")
    p.add_argument("video", nargs="?", help="the video (optional with --compare: then the model alone is checked)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--clips", type=int, help="temporal clips to average (default: the sidecar's)")
    p.add_argument("--crops", type=int, default=1, choices=[1, 3, 5, 10])
    p.add_argument("--top", type=int, default=5)
    p.add_argument("--json", action="store_true")
    p.add_argument("--compare", metavar="DUMP",
                   help="compare the Android app's parity dump (zip) with kvid: the model on the phone's input "
                        "bytes, and with VIDEO kvid's own decoding end to end; exit 1 on a mismatch")
    p.set_defaults(func=run_predict)

    p = sub.add_parser("bench", help="latency per clip of .tflite models (no TensorFlow)")
    p.add_argument("models", nargs="+")
    p.add_argument("--threads", type=_int_list, default=[2], help="e.g. 1,2,4")
    p.add_argument("--xnnpack", choices=["on", "off", "both"], default="on")
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--png", help="write a bar chart here")
    p.add_argument("--json", action="store_true")
    p.add_argument("--profile", action="store_true",
                   help="where each model's time goes: every block and every op timed alone, per op kind")
    p.set_defaults(func=run_bench)


def run_predict(args) -> int:
    if args.compare:
        from kvid.runtime.parity import compare, format_report

        report = compare(args.compare, args.model, video=args.video, threads=args.threads)
        print(json.dumps(report, indent=2) if args.json else format_report(report))
        return 0 if report["ok"] else 1
    if not args.video:
        from kvid import KvidError

        raise KvidError("predict: give the VIDEO to classify (or --compare DUMP)")
    from kvid.runtime.predict import VideoClassifier

    classifier = VideoClassifier(args.model, threads=args.threads)
    if classifier.assumed:
        print(f"kvid: note: {classifier.assumed}", file=sys.stderr)
    result = classifier.predict(args.video, k=args.top, clips=args.clips, crops=args.crops)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['video']} ({result['views']} view(s))")
    for row in result["top"]:
        print(f"  {row['score']:6.1%}  {row['label']}")
    lat = result["latency_ms"]
    print(f"latency: model {lat['model']:.1f} ms, end to end {lat['end_to_end']:.1f} ms")
    return 0


def run_bench(args) -> int:
    from kvid.runtime.bench import bench, format_table, plot, warn_int8

    warn_int8(args.models)
    if args.profile:
        return run_profile(args)
    xnn = {"on": (True,), "off": (False,), "both": (True, False)}[args.xnnpack]
    rows = bench(args.models, threads=args.threads, xnnpack=xnn, warmup=args.warmup,
                 repeats=args.repeats)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(format_table(rows))
    if args.png:
        written = plot(rows, args.png)
        print(f"wrote {written}" if written else "no plot: matplotlib is not installed")
    return 0


def run_profile(args) -> int:
    from kvid import environment
    from kvid.runtime.profile import format_profile, profile

    reports = []
    for path in args.models:
        for threads in args.threads:
            report = profile(path, threads=threads, warmup=args.warmup, repeats=args.repeats)
            report["env"] = environment.line(threads)
            reports.append(report)
            if not args.json:
                print(report["env"] + "\n\n" + format_profile(report) + "\n", flush=True)
    if args.json:
        print(json.dumps(reports[0] if len(reports) == 1 else reports, indent=1))
    return 0
