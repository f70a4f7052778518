"""``kvid quant layers|sensitivity|convert|sweep``: quantization experiments.

``layers`` and ``sensitivity`` work on ``.tflite`` files and a dataset, without TensorFlow;
``convert`` and ``sweep`` start from a ``kvid train`` run directory.
"""

from __future__ import annotations

import json
import os


def add_parsers(sub):
    quant = sub.add_parser("quant", help="quantization experiments: per-layer error, sensitivity, variants, sweep")
    qsub = quant.add_subparsers(dest="quant_command", metavar="QUANT_COMMAND")

    p = qsub.add_parser("layers", help="per-layer error of a quantized .tflite against its float reference")
    p.add_argument("model", help="the quantized .tflite (int8, int16x8, mixed, QAT export ...)")
    p.add_argument("--float", required=True, dest="float_path",
                   help="its float32 reference .tflite (for a QAT export: the QAT weights' float file, "
                        "`kvid quant convert RUN --recipe qat_weights_float32`)")
    _data_args(p)
    p.add_argument("--out", required=True, help="folder for layers.{md,csv,json,png}")
    p.add_argument("--top", type=int, default=10, help="rows of the ranked table to print")
    p.set_defaults(func=run_layers)

    p = qsub.add_parser("sensitivity", help="one block at a time float / int16 / alone: change in top-1 and SQNR")
    p.add_argument("float_path", metavar="FLOAT.tflite", help="a float32 .tflite (with its sidecar)")
    _data_args(p)
    p.add_argument("--calibration-clips", type=int, default=32)
    p.add_argument("--recipe", help="base recipe JSON (kind aeq; default int8 min/max)")
    p.add_argument("--changes", default="float,int16,only", help="any of float,int16,only")
    p.add_argument("--blocks", help="comma-separated blocks (default: every block)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=run_sensitivity)

    p = qsub.add_parser("convert", help="one variant of a trained run -> .tflite + sidecar + recipe.json")
    p.add_argument("run", help="a kvid train run directory")
    p.add_argument("--recipe", help="a recipe JSON file, or the name of a default recipe (kvid quant recipes)")
    p.add_argument("--to", choices=["float32", "float16", "dynamic", "int8", "int16x8", "mixed"],
                   help="shortcut for a converter recipe (mixed: ai-edge-quantizer with --int16-layers)")
    p.add_argument("--int16-layers", help="layer-name pattern kept at int16 activations (regular expression)")
    p.add_argument("--float-layers", help="layer-name pattern kept in float")
    p.add_argument("--per-tensor", action="store_true", help="one weight scale per tensor")
    p.add_argument("--ranges", default="minmax",
                   help="activation range method: minmax, percentile:P or mse (kvid.ranges, fitted over all "
                        "calibration clips), or ema (ai-edge-quantizer's own moving-average calibration)")
    p.add_argument("--calibration-clips", type=int, default=64)
    p.add_argument("--out", required=True, help="output .tflite")
    p.set_defaults(func=run_convert)

    p = qsub.add_parser("sweep", help="a set of variants on one run: matrix (Markdown + CSV), Pareto plots")
    p.add_argument("run", help="a kvid train run directory (with qat.keras for the QAT variants)")
    p.add_argument("--out", required=True)
    p.add_argument("--recipes", help="a JSON file with a list of recipes (default: kvid's set)")
    p.add_argument("--only", help="comma-separated recipe names to run from the set")
    p.add_argument("--mixed-layers", help="add a mixed variant with int16 activations at these layers")
    p.add_argument("--views", type=int, help="at most this many evaluation views")
    p.add_argument("--split", default="test",
                   help="the dataset split evaluated on (default test; a dataset without one: its validation split)")
    p.add_argument("--threads", default="1,2", help="latency thread counts")
    p.add_argument("--repeats", type=int, default=10, help="timed runs per file and round")
    p.add_argument("--rounds", type=int, default=1,
                   help="latency rounds over all files (median of the rounds; more is steadier on a busy machine)")
    p.add_argument("--layer-views", type=int, default=4, help="views for the per-layer tables (0: none)")
    p.set_defaults(func=run_sweep)

    p = qsub.add_parser("recipes", help="print the default recipes as JSON")
    p.set_defaults(func=run_recipes)
    quant.set_defaults(func=lambda args: quant.print_help() or 2)


def _data_args(p):
    p.add_argument("--data", required=True, help="dataset root: the clips to measure on")
    p.add_argument("--split", default="val")
    p.add_argument("--clips", type=int, default=16, help="videos to take clips from")


def _clips(model_path, data, split, n):
    """Centre views of the first ``n`` videos of ``split``, cut as the file's sidecar says."""
    from kvid.data.clips import load_views
    from kvid.data.layouts import load_dataset
    from kvid.runtime.predict import VideoClassifier

    spec = VideoClassifier(model_path).spec(clips=1, crops=1)
    dataset = load_dataset(data, split=split)
    views, labels = [], []
    for path, label in dataset.items[:n]:
        views.append(load_views(path, spec)[0])
        labels.append(label)
    if not views:
        from kvid import KvidError

        raise KvidError(f"{data}: no videos in split {split!r}")
    return views, labels


def run_layers(args) -> int:
    from kvid.quant.layers import SHORT_COLUMNS, layer_errors, markdown_table, ranked, write_report

    clips, _ = _clips(args.float_path, args.data, args.split, args.clips)
    result = layer_errors(args.model, args.float_path, clips)
    paths = write_report(result, args.out)
    print(markdown_table(ranked(result["rows"])[:args.top], SHORT_COLUMNS))
    print(f"{len(result['rows'])} tensors matched, {len(result['unmatched'])} unmatched; wrote "
          + ", ".join(paths.values()))
    return 0


def run_sensitivity(args) -> int:
    from kvid.quant.sensitivity import ranked, sensitivity, write_report
    from kvid.quant.variants import Recipe, load_recipes

    base = load_recipes(args.recipe)[0] if args.recipe else Recipe("base", "aeq", "int8")
    clips, labels = _clips(args.float_path, args.data, args.split, args.clips)
    calibration, _ = _clips(args.float_path, args.data, "train", args.calibration_clips)
    changes = [c for c in args.changes.split(",") if c]
    blocks = [b for b in args.blocks.split(",") if b] if args.blocks else None
    result = sensitivity(args.float_path, calibration, clips, labels, base=base, changes=changes, blocks=blocks)
    paths = write_report(result, args.out)
    for change in changes:
        top = ranked(result["rows"], change)[:5]
        print(f"{change}: " + ", ".join(f"{r['block']} ({r['delta_sqnr_db']:+.1f} dB)" for r in top))
    print("wrote " + ", ".join(paths.values()))
    return 0


def _recipe_from_args(args):
    from kvid import KvidError
    from kvid.quant.variants import DEFAULT_RECIPES, Recipe, load_recipes

    if args.recipe:
        if os.path.isfile(args.recipe):
            return load_recipes(args.recipe)[0]
        named = {r.name: r for r in DEFAULT_RECIPES}
        if args.recipe not in named:
            raise KvidError(f"--recipe {args.recipe}: neither a file nor a default recipe ({', '.join(named)})")
        return named[args.recipe]
    if not args.to:
        raise KvidError("quant convert: give --recipe or --to")
    aeq = args.to == "mixed" or args.ranges != "minmax" or args.int16_layers or args.float_layers
    return Recipe(f"{args.to}", "aeq" if aeq else "convert", args.to,
                  activation_bits=16 if args.to == "int16x8" else 8, per_channel=not args.per_tensor,
                  int16_layers=args.int16_layers, float_layers=args.float_layers, ranges=args.ranges,
                  calibration_clips=args.calibration_clips)


def run_convert(args) -> int:
    from kvid.export.audit import format_report
    from kvid.export.convert import convert
    from kvid.quant.sweep import Subject, _write, make_variant

    recipe = _recipe_from_args(args)
    if not recipe.makes_file:
        from kvid import KvidError

        raise KvidError(f"recipe {recipe.name!r}: a simulation makes no file; run it in `kvid quant sweep`")
    subject = Subject(args.run, views_limit=1, calibration_clips=recipe.calibration_clips)
    float_path = os.path.splitext(args.out)[0] + ".float32.tflite"
    if recipe.kind == "aeq":
        _write(convert(subject.float_model, "float32"), float_path)
    data, _ = make_variant(recipe, subject, float_path)
    path = _write(data, args.out)
    from kvid.export.audit import audit
    from kvid.export.metadata import write_sidecar_for

    write_sidecar_for(path, model_name=subject.model_name, labels=subject.names, clip=subject.clip, mode=recipe.mode)
    recipe.save(os.path.splitext(path)[0] + ".recipe.json")
    report = audit(path, expect=recipe.expect)
    print(format_report(path, report))
    print(f"wrote {path} ({os.path.getsize(path) / 1024:.1f} KiB), its sidecar and recipe")
    return 0 if report["ok"] else 1


def run_sweep(args) -> int:
    from kvid import KvidError
    from kvid.quant.sweep import matrix_markdown, sweep
    from kvid.quant.variants import default_recipes, load_recipes

    recipes = load_recipes(args.recipes) if args.recipes else default_recipes(args.mixed_layers)
    if args.only:
        wanted = [n for n in args.only.split(",") if n]
        unknown = sorted(set(wanted) - {r.name for r in recipes})
        if unknown:
            raise KvidError(f"--only: unknown recipe(s) {', '.join(unknown)}")
        recipes = [r for r in recipes if r.name in wanted]
    threads = tuple(int(t) for t in args.threads.split(",") if t)
    result = sweep(args.run, args.out, recipes, views_limit=args.views, bench_threads=threads,
                   repeats=args.repeats, rounds=args.rounds, layer_views=args.layer_views, split=args.split)
    print(matrix_markdown(result))
    print(f"{result['seconds'] / 60:.1f} min; wrote " + ", ".join(result["paths"].values()))
    return 0


def run_recipes(args) -> int:
    from kvid.quant.variants import DEFAULT_RECIPES

    print(json.dumps([r.to_dict() for r in DEFAULT_RECIPES], indent=2))
    return 0
