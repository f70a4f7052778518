"""``kvid train`` and ``kvid evaluate`` (TensorFlow is imported only when a command runs, and
``kvid evaluate F.tflite`` runs without it)."""

from __future__ import annotations

import argparse
import os
import sys

from kvid import KvidError

# TrainConfig fields a flag may set (flag dest -> field); None means "not given".
_TRAIN_FLAGS = {
    "model": "model", "data": "data", "out": "out", "frames": "frames", "size": "size",
    "batch": "batch", "epochs": "epochs", "lr": "lr", "recipe": "recipe", "seed": "seed",
    "layout": "layout", "train_split": "train_split", "val_split": "val_split",
    "protocol": "protocol", "scheme": "scheme", "stride": "stride", "window": "window",
    "scale": "scale", "clips": "clips", "crops": "crops", "resize": "resize", "cache": "cache", "strategy": "strategy", "keep_checkpoints": "keep_checkpoints",
}


def _scale(text):
    try:
        a, b = (int(v) for v in str(text).split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected A,B (short-side range)") from None
    return (a, b)


def add_parsers(sub) -> None:
    from kvid.contract.clip import SCHEMES, TEST_CROPS

    p = sub.add_parser(
        "train", help="train a model preset on a dataset with Keras fit (resumable)",
        description="Train a preset with a paper recipe; writes RUN/ (config.json, checkpoints, "
        "best.keras, final.keras, log.csv, tensorboard/, curves.png). Re-run a run with "
        "--config RUN/config.json; continue an interrupted one with --resume --out RUN.",
    )
    p.add_argument("--model", help="preset name (kvid models)")
    p.add_argument("--data", metavar="D", help="dataset root (kvid data info D)")
    p.add_argument("--out", metavar="RUN", help="run directory (created)")
    p.add_argument("--config", metavar="JSON", help="a run's config.json: train exactly that "
                   "(flags given as well override it)")
    p.add_argument("--resume", action="store_true",
                   help="continue RUN (--out, or the --config's run) from its last checkpoint")
    p.add_argument("--protocol", help="the paper's data protocol to follow: default, or an "
                   "alternative the preset names (kvid info M), e.g. kinetics, ssv")
    p.add_argument("--frames", type=int, help="clip length T (default: the protocol's)")
    p.add_argument("--size", type=int, help="crop size S (default: the protocol's)")
    p.add_argument("--batch", type=int, help="clips per step, over all replicas (default 16)")
    p.add_argument("--epochs", type=int, help="default: the recipe's")
    p.add_argument("--lr", type=float, help="base learning rate, used as given "
                   "(default: the recipe's, scaled to --batch)")
    p.add_argument("--recipe", help="sevnet, sevnet_k400, ctnet, ctnet_ssv2, eacnet, "
                   "eacnet_ssv2, mfnet, faster, cpu (default: the protocol's; cpu with --small)")
    p.add_argument("--recipe-set", action="append", default=[], metavar="KEY=VALUE",
                   help="change a recipe field, e.g. warmup_epochs=2, weight_decay=5e-4, "
                   "label_smoothing=0.1 (repeatable)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="model option override, e.g. group_width=2 (repeatable)")
    p.add_argument("--small", action="store_true", help="the preset's CPU-trainable config")
    p.add_argument("--seed", type=int, help="default 0")
    p.add_argument("--layout", help="dataset layout (default auto)")
    p.add_argument("--train-split", help="default train")
    p.add_argument("--val-split", help="default val; 'none' for no validation")
    p.add_argument("--scheme", choices=SCHEMES, help="temporal sampling (default: the protocol's)")
    p.add_argument("--stride", type=int, help="frame stride of dense sampling")
    p.add_argument("--window", type=int, help="window of the consecutive scheme")
    p.add_argument("--scale", type=_scale, metavar="A,B", help="training short-side range")
    p.add_argument("--clips", type=int, help="test clips per video recorded for evaluation")
    p.add_argument("--crops", type=int, choices=sorted(TEST_CROPS), help="test crops per clip")
    p.add_argument("--resize", type=int, help="test-time short side")
    p.add_argument("--flip", action="store_true", default=None,
                   help="random horizontal flips (not for direction-dependent labels)")
    p.add_argument("--cache", help="auto (default), memory, off, or a file prefix")
    p.add_argument("--strategy", choices=("default", "mirrored", "multiworker"))
    p.add_argument("--mixed-precision", action="store_true", default=None,
                   help="float16 compute with loss scaling (GPU only)")
    p.add_argument("--keep-checkpoints", type=int, help="checkpoints kept (default 3)")
    p.add_argument("--list-recipes", action="store_true", help="print the recipes and exit")
    p.add_argument("--verbose", type=int, choices=(0, 1, 2),
                   help="Keras progress: 1 bar (default on a terminal), 2 one line per epoch, 0 none")
    p.set_defaults(func=run_train, needs="train")

    e = sub.add_parser(
        "evaluate", help="top-1/top-5/mean-class accuracy of a run, .keras or .tflite",
        description="Single- and multi-view (clips x crops, averaged logits) accuracy on a "
        "dataset split, with a confusion matrix and per-class CSV. A .tflite runs through "
        "kvid.runtime (no TensorFlow) on the same views as the Keras models.",
    )
    e.add_argument("sources", nargs="+", metavar="RUN|MODEL",
                   help="run directories, .keras or .tflite files")
    e.add_argument("--data", metavar="D", help="dataset root (default: the run's)")
    e.add_argument("--split", default="test", help="default test (falls back to val)")
    e.add_argument("--layout", default="auto")
    e.add_argument("--clips", type=int, help="temporal clips per video (default: the run's "
                   "or sidecar's clip spec, else the preset's protocol)")
    e.add_argument("--crops", type=int, choices=sorted(TEST_CROPS),
                   help="spatial crops per clip (default: as --clips)")
    e.add_argument("--scheme", choices=SCHEMES, help="override the sampling scheme")
    e.add_argument("--stride", type=int, help="override the dense stride")
    e.add_argument("--batch", type=int, default=8, help="clips per Keras batch (default 8)")
    e.add_argument("--threads", type=int, help="TFLite threads")
    e.add_argument("--out", help="report folder (one source only; default beside the model)")
    e.add_argument("--plot", metavar="PNG", help="accuracy-vs-GMACs plot of the sources")
    e.add_argument("--json", action="store_true", help="print the metrics as JSON")
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    e.set_defaults(func=run_evaluate)


# -- train --------------------------------------------------------------------------------------
def _given(args) -> dict:
    out = {field: getattr(args, dest) for dest, field in _TRAIN_FLAGS.items()
           if getattr(args, dest) is not None}
    if args.flip:
        out["flip"] = True
    if args.mixed_precision:
        out["mixed_precision"] = True
    if out.get("val_split") in ("none", "None", ""):
        out["val_split"] = None
    return out


def _config_from_args(args):
    from kvid.models import parse_overrides
    from kvid.contract import rundir
    from kvid.train.run import TrainConfig

    given = _given(args)
    model_sets = parse_overrides(args.set)
    recipe_sets = parse_overrides(args.recipe_set)
    if args.resume:
        run = args.out or (os.path.dirname(os.path.abspath(args.config)) if args.config else None)
        if not run:
            raise KvidError("--resume: name the run (--out RUN or --config RUN/config.json)")
        changed = sorted(set(given) - {"out"}) + (["--set"] if model_sets else []) + (
            ["--recipe-set"] if recipe_sets else []) + (["--small"] if args.small else [])
        if changed:
            raise KvidError(f"--resume continues {run} exactly as configured; drop "
                            f"{', '.join(changed)} (or start a new run with --config)")
        if not rundir.is_run(run):
            raise KvidError(f"{run}: not a kvid run directory (no {rundir.CONFIG}); nothing to resume")
        cfg = TrainConfig.from_config(rundir.read_config(run))
        cfg.out = run
        return cfg
    if args.config:
        cfg = TrainConfig.from_config(rundir.read_json(args.config))
        new_batch = given.pop("batch", None)
        if new_batch is not None and new_batch != cfg.batch:
            from kvid.train.recipes import Recipe

            cfg.recipe = Recipe.from_dict(cfg.recipe).with_batch(new_batch).to_dict()
            cfg.batch = new_batch
        if "recipe" in given:  # a named recipe replaces the stored one
            cfg.recipe = given.pop("recipe")
        for field, value in given.items():
            setattr(cfg, field, value)
        cfg.model_options.update(model_sets)
        cfg.recipe_changes.update(recipe_sets)
        if args.small:
            from kvid.models import get

            cfg.model_options = {**get(cfg.model).small, **cfg.model_options}
        return cfg
    missing = [f"--{k}" for k in ("model", "data", "out") if not given.get(k)]
    if missing:
        raise KvidError(f"train: {', '.join(missing)} required (or --config RUN/config.json)")
    return TrainConfig(**given, model_options=model_sets, recipe_changes=recipe_sets,
                       small=bool(args.small))


def run_train(args) -> int:
    if args.list_recipes:
        from kvid.train.recipes import recipes

        for r in recipes().values():
            print(r.describe())
            print(f"    source: {r.source}")
        return 0
    cfg = _config_from_args(args)
    from kvid.train.run import train_run

    verbose = args.verbose if args.verbose is not None else (1 if sys.stdout.isatty() else 2)
    train_run(cfg, resume=bool(args.resume), verbose=verbose)
    return 0


# -- evaluate -----------------------------------------------------------------------------------
def run_evaluate(args) -> int:
    from kvid.train.evaluation import dumps, evaluate, format_result, public

    if args.out and len(args.sources) > 1:
        raise KvidError("--out: give one source (each source writes its own report)")
    results = []
    for source in args.sources:
        result = evaluate(source, args.data, split=args.split, clips=args.clips, crops=args.crops,
                          batch_size=args.batch, out_dir=args.out, layout=args.layout,
                          scheme=args.scheme, stride=args.stride, threads=args.threads,
                          verbose=not args.quiet and not args.json)
        results.append(result)
        if not args.json:
            print(format_result(result))
    if args.plot:
        from kvid.analysis.plots import accuracy_vs_gmacs

        points = [{"label": os.path.basename(os.path.normpath(r["source"])), "family": r.get("family")
                   or r["model"], "gmacs": r.get("gmacs"), "params": r.get("params"),
                   "top1": r["top1"]} for r in results]
        left_out = [p["label"] for p in points if not p["gmacs"] or p["top1"] is None]
        written = accuracy_vs_gmacs(points, args.plot)
        if not args.json:
            print(f"wrote {written}" if written else "no plot (matplotlib missing or no GMACs)")
            if left_out:
                print(f"  not in the plot (GMACs unknown): {', '.join(left_out)}")
    if args.json:
        out = [public(r) for r in results]
        print(dumps(out[0] if len(out) == 1 else out))
    return 0
