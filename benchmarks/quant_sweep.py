"""The quantization sweep (``kvid quant sweep``) for small ``sevnet_g8`` and ``ctnet_r50`` on the
demo's dataset: train (small CPU config), QAT, then every default recipe plus a mixed
int8/int16 variant at the layers the int8 file's per-layer table found worst.

    python benchmarks/quant_sweep.py --work /tmp/kvid_quant [--models sevnet_g8 ctnet_r50]
        [--data DIR] [--epochs 20] [--markdown benchmarks/results/quant_sweep.md]

``--data``: the demo's dataset (``kvid demo`` writes it to ``kvid_demo/data``); without it the
same dataset is written (``kvid synth``, 10 classes x 100 videos of 24 frames, 64x64, seed 0).
Runs that exist in ``--work`` are reused (delete them to retrain). Prints the matrices and the
wall time of each step.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def train(model, data, out, epochs, frames, size):
    from kvid.contract import rundir
    from kvid.export.run import QAT_MODEL, qat_run
    from kvid.train.run import TrainConfig, train_run

    if not os.path.isfile(os.path.join(out, rundir.BEST)):
        cfg = TrainConfig(model=model, data=data, out=out, frames=frames, size=size, batch=16, epochs=epochs,
                          small=True, seed=0, scheme="segments", val_split="val")
        train_run(cfg, resume=rundir.has_progress(out), verbose=2)
    if not os.path.isfile(os.path.join(out, QAT_MODEL)):
        qat_run(out, epochs=2, verbose=2)


def worst_blocks(layers_csv, n=2) -> str:
    """A layer pattern naming the blocks of the ``n`` layers adding the most error."""
    import csv
    import re

    with open(layers_csv, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["added_steps"]]
    rows.sort(key=lambda r: -float(r["added_steps"]))
    blocks = list(dict.fromkeys(r["block"] for r in rows))[:n]
    return "|".join(re.escape(b) + "(__.*)?" for b in blocks)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="/tmp/kvid_quant")
    parser.add_argument("--data")
    parser.add_argument("--models", nargs="+", default=["sevnet_g8", "ctnet_r50"])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--markdown", default="benchmarks/results/quant_sweep.md")
    args = parser.parse_args(argv)

    from kvid.quant.sweep import matrix_markdown, sweep
    from kvid.quant.variants import Recipe, default_recipes

    data = args.data
    if not data:
        from kvid.data.synth import write_synthetic

        data = os.path.join(args.work, "data")
        if not os.path.isdir(data):
            write_synthetic(data, classes=10, videos_per_class=100, frames=24, size=64, seed=0)
    command = "python benchmarks/quant_sweep.py " + " ".join(argv if argv is not None else sys.argv[1:])
    sections = [f"# Quantization sweep\n\nCommand: `{command}`. Dataset `{data}` (the demo's: `kvid synth`, "
                "10 classes, 100 videos per class, 24 frames, 64x64, seed 0); each model in its preset's small "
                f"CPU configuration, {args.frames}x{args.size}x{args.size} clips, {args.epochs} epochs + 2 QAT "
                "epochs. Latency on this 2-core CPU under whatever else ran (compare within a table).\n"]
    for model in args.models:
        t0 = time.perf_counter()
        run = os.path.join(args.work, model, "run")
        train(model, data, run, args.epochs, args.frames, args.size)
        t_train = time.perf_counter() - t0
        out = os.path.join(args.work, model, "sweep")
        first = sweep(run, out, [Recipe("ptq_int8", "convert", "int8")], layer_views=8, verbose=True)
        pattern = worst_blocks(os.path.join(out, "ptq_int8", "layers", "layers.csv"))
        recipes = default_recipes(pattern)
        recipes.append(Recipe("aeq_float_at_worst", "aeq", "mixed", float_layers=pattern,
                              note=f"float at {pattern}"))
        result = sweep(run, out, recipes, layer_views=4, verbose=True)
        minutes = (time.perf_counter() - t0) / 60
        print(matrix_markdown(result))
        sections.append(f"## `{model}`\n\nTraining + QAT {t_train / 60:.1f} min (0 when reused); the sweep "
                        f"{result['seconds'] / 60:.1f} min (+{first['seconds'] / 60:.1f} min for the first per-layer "
                        f"table that picked the mixed layers `{pattern}`); {minutes:.1f} min in all.\n\n"
                        + matrix_markdown(result) + "\n\nPer-variant files, recipes and per-layer tables: "
                        f"`{out}/<variant>/`; Pareto plots `{out}/pareto_latency.png`, `pareto_size.png`.\n")
    if args.markdown:
        os.makedirs(os.path.dirname(os.path.abspath(args.markdown)), exist_ok=True)
        with open(args.markdown, "w", encoding="utf-8") as fh:
            fh.write("\n".join(sections))
        print(f"wrote {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
