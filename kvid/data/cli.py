"""The ``kvid synth`` and ``kvid data`` subcommands (no TensorFlow at import or run time)."""

from __future__ import annotations

import time

from kvid.data.sampling import SCHEMES


def add_parsers(subparsers) -> None:
    p = subparsers.add_parser(
        "synth",
        help="write a synthetic video dataset (real mp4/avi files + list files)",
        description="Write a synthetic dataset whose labels depend on temporal order "
        "(motion, rotation, growth, appearance, 'pretending'), folder-per-class videos "
        "plus train/val/test list files. Same --seed, same files.",
    )
    p.add_argument("out", help="output folder (created)")
    p.add_argument("--classes", type=int, default=10, help="number of classes, 1..14 (default 10)")
    p.add_argument("--videos-per-class", type=int, default=30, help="default 30")
    p.add_argument("--frames", type=int, default=32, help="frames per video (default 32)")
    p.add_argument("--size", default="64", help="frame size S or WxH (default 64)")
    p.add_argument("--fps", type=float, default=12.0, help="frame rate written (default 12)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_synth)

    d = subparsers.add_parser("data", help="inspect a dataset (check, info)")
    actions = d.add_subparsers(dest="data_action", metavar="ACTION")
    c = actions.add_parser(
        "check",
        help="list every problem of a dataset (exit 1 if a video would be skipped)",
        description="Decode every video of every split and list each problem: missing, corrupt, "
        "empty or short files, unknown labels, converted frame formats.",
    )
    _dataset_args(c)
    c.add_argument("--frames", type=int, default=8, help="clip length T, to flag short videos (default 8)")
    c.add_argument("--scheme", choices=SCHEMES, default="dense")
    c.add_argument("--stride", type=int, default=1)
    c.set_defaults(func=_check)
    i = actions.add_parser("info", help="layout, classes and video counts per split")
    _dataset_args(i)
    i.set_defaults(func=_info)
    d.set_defaults(func=lambda args: _usage(d))


def _dataset_args(p) -> None:
    p.add_argument("root", metavar="D", help="dataset root (folder, list file, CSV or JSON)")
    p.add_argument("--split", action="append", help="split(s) to look at (default: all the layout has)")
    p.add_argument("--layout", default="auto", help="auto (default), lists, folders, ucf101, hmdb51, kinetics, ssv2")


def _usage(parser) -> int:
    parser.print_help()
    return 2


def _synth(args) -> int:
    from kvid.data.synth import write_synthetic

    start = time.perf_counter()
    out = write_synthetic(
        args.out, classes=args.classes, videos_per_class=args.videos_per_class,
        frames=args.frames, size=args.size, fps=args.fps, seed=args.seed,
    )
    total = args.classes * args.videos_per_class
    print(f"wrote {total} videos ({args.classes} classes) to {out} in {time.perf_counter() - start:.1f} s")
    return 0


def _check(args) -> int:
    from kvid.data.check import check_dataset
    from kvid.contract import ClipSpec

    spec = ClipSpec(frames=args.frames, crop=1, scheme=args.scheme, stride=args.stride)
    report = check_dataset(args.root, args.split, spec, layout=args.layout)
    for line in report.lines():
        print(line)
    return 1 if report.errors else 0


def _info(args) -> int:
    from kvid.data.layouts import SplitNotFound, load_dataset

    shown = 0
    for split in args.split or ("train", "val", "test"):
        try:
            ds = load_dataset(args.root, split, layout=args.layout)
        except SplitNotFound:
            continue
        print(ds.describe())
        shown += 1
    return 0 if shown else 1
