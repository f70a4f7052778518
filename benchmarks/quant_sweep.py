"""The quantization sweep (``kvid quant sweep``) for small ``sevnet_g8`` and ``ctnet_r50`` on the
demo's dataset: train (small CPU config), QAT, then every default recipe plus a mixed
int8/int16 variant and a float-fallback variant at the blocks that the PTQ int8 file's
per-layer table found worst.

    python benchmarks/quant_sweep.py [--work /tmp/kvid_quant] [--models sevnet_g8 ctnet_r50]
        [--data DIR] [--epochs 20] [--qat-epochs 2] [--results benchmarks/results]

``--data``: the demo's dataset (``kvid demo`` writes it to ``kvid_demo/data``); without it the
same dataset is written to ``WORK/data`` (``kvid synth``, 10 classes x 100 videos of 24 frames,
64x64, seed 0: what ``kvid demo`` writes). Runs that exist in ``--work`` are reused (delete
them to retrain); their training and QAT times are read from the run (``state.json``) and
from ``WORK/<model>/qat.json``. Every variant is evaluated on one centre view per video of the
test split.

Writes ``RESULTS/quant_sweep.md`` (both matrices), ``quant_sweep.json`` (every row with its
recipe), ``quant_sweep_<model>.csv`` and ``quant_sweep_<model>_pareto_{latency,size}.png``, each
with the command and ``kvid.environment.line()``. Checks, reported and exit status 1 when one
fails: every variant file passes the audit for its declared mode, and every int16x8 file holds
int16 activation tensors and no int8 ones (read from the file, kvid.quant.graph.dtype_summary).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

SPLIT = "test"


def train(model, data, out, epochs, frames, size, qat_epochs) -> dict:
    """Train and QAT the run (each only when missing); the seconds each took."""
    from kvid.contract import rundir
    from kvid.export.run import QAT_MODEL, qat_run
    from kvid.train.run import TrainConfig, train_run

    if not os.path.isfile(os.path.join(out, rundir.BEST)):
        cfg = TrainConfig(model=model, data=data, out=out, frames=frames, size=size, batch=16, epochs=epochs,
                          small=True, seed=0, scheme="segments", val_split="val")
        train_run(cfg, resume=rundir.has_progress(out), verbose=2)
    qat_json = os.path.join(os.path.dirname(out), "qat.json")
    if not os.path.isfile(os.path.join(out, QAT_MODEL)):
        t0 = time.perf_counter()
        qat_run(out, epochs=qat_epochs, verbose=2)
        with open(qat_json, "w", encoding="utf-8") as fh:
            json.dump({"epochs": qat_epochs, "seconds": round(time.perf_counter() - t0, 1)}, fh)
    qat = json.load(open(qat_json, encoding="utf-8")) if os.path.isfile(qat_json) else {}
    return {"train_seconds": rundir.read_state(out).get("train_seconds"), "qat_seconds": qat.get("seconds")}


def worst_blocks(layers_csv, n=2) -> str:
    """A layer pattern naming the blocks of the ``n`` layers adding the most error."""
    import csv
    import re

    with open(layers_csv, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["added_steps"]]
    rows.sort(key=lambda r: -float(r["added_steps"]))
    blocks = list(dict.fromkeys(r["block"] for r in rows))[:n]
    return "|".join(re.escape(b) + "(__.*)?" for b in blocks)


def checks(result) -> list[str]:
    """What fails: a variant file that does not pass the audit for its declared mode, an
    int16x8 file without int16 activations (or with int8 ones)."""
    from kvid.export.audit import audit
    from kvid.quant.graph import dtype_summary
    from kvid.quant.variants import EXPECT

    failures = []
    for row in result["rows"]:
        if not row.get("path"):
            if row["kind"] not in ("keras", "qat-sim"):
                failures.append(f"{result['model']} {row['variant']}: no file ({row.get('audit')})")
            continue
        report = audit(row["path"], expect=EXPECT[row["mode"]])
        if not report["ok"]:
            failures.append(f"{result['model']} {row['variant']}: audit for {row['mode']}: {report['problems']}")
        if row["mode"] == "int16x8":
            types = dtype_summary(row["path"])
            row["activation_types"] = types
            if not types.get("int16") or types.get("int8"):
                failures.append(f"{result['model']} {row['variant']}: int16x8 file with activation types {types}")
    return failures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="/tmp/kvid_quant")
    parser.add_argument("--data")
    parser.add_argument("--models", nargs="+", default=["sevnet_g8", "ctnet_r50"])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--qat-epochs", type=int, default=2)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="latency rounds over all files (kvid quant sweep --rounds)")
    parser.add_argument("--results", default=os.path.join(ROOT, "benchmarks", "results"))
    args = parser.parse_args(argv)
    t_start = time.perf_counter()

    from kvid import environment
    from kvid.keras import tf  # noqa: F401 - imported before the environment line (its oneDNN answer)
    from kvid.quant.sweep import matrix_markdown, sweep
    from kvid.quant.variants import Recipe, default_recipes

    data = args.data
    if not data:
        from kvid.data.synth import write_synthetic

        data = os.path.join(args.work, "data")
        if not os.path.isdir(data):
            write_synthetic(data, classes=10, videos_per_class=100, frames=24, size=64, seed=0)
    command = ("python benchmarks/quant_sweep.py " + " ".join(argv if argv is not None else sys.argv[1:])).strip()
    env = environment.line()
    results = {"command": command, "environment": env, "environment_detail": environment.describe(),
               "data": data, "split": SPLIT, "models": {}}
    sections = [
        "# Quantization sweep", "",
        f"Command: `{command}`", "", env, "",
        f"Dataset `{data}` (the demo's: `kvid synth`, 10 classes, 100 videos per class, 24 frames, 64x64, "
        f"seed 0); each model in its preset's small CPU configuration, {args.frames}x{args.size}x{args.size} "
        f"clips (TSN segments), {args.epochs} epochs + {args.qat_epochs} QAT epochs (`kvid qat`). Every "
        f"variant is evaluated on one centre view per video of the {SPLIT} split; top-1, argmax agreement and "
        f"logits SQNR are against the float Keras model. Latency: median per clip, XNNPACK, 1 and 2 threads, the "
        f"median of {args.rounds} rounds over all files of 10 runs each, on this 2-core CPU shared with other work "
        "(compare within a table; the load average is given). Each "
        "variant's recipe is in quant_sweep.json.", ""]
    failures = []
    for model in args.models:
        t0 = time.perf_counter()
        run = os.path.join(args.work, model, "run")
        times = train(model, data, run, args.epochs, args.frames, args.size, args.qat_epochs)
        out = os.path.join(args.work, model, "sweep")
        probe = sweep(run, os.path.join(args.work, model, "probe"), [Recipe("ptq_int8", "convert", "int8")],
                      layer_views=8, split=SPLIT, verbose=True)
        pattern = worst_blocks(os.path.join(args.work, model, "probe", "ptq_int8", "layers", "layers.csv"))
        recipes = default_recipes(pattern)
        recipes.append(Recipe("aeq_float_at_worst", "aeq", "mixed", float_layers=pattern, note=f"float at {pattern}"))
        load = os.getloadavg()
        result = sweep(run, out, recipes, layer_views=4, split=SPLIT, repeats=10, rounds=args.rounds, verbose=True)
        load = [round(max(a, b), 1) for a, b in zip(load, os.getloadavg())]
        failures += checks(result)
        minutes = (time.perf_counter() - t0) / 60
        print(matrix_markdown(result))
        stem = os.path.join(args.results, f"quant_sweep_{model}")
        csv_path = _csv(result, stem + ".csv", command, env)
        plots = _plots(result, stem, f"{command}\n{env}")
        train_min = f"{times['train_seconds'] / 60:.1f}" if times["train_seconds"] else "?"
        qat_min = f"{times['qat_seconds'] / 60:.1f}" if times["qat_seconds"] else "not recorded"
        sections += [
            f"## `{model}`", "",
            f"Training {train_min} min, QAT {qat_min} min (as recorded when the run was made); the sweep "
            f"{result['seconds'] / 60:.1f} min for {len(recipes)} variants (+{probe['seconds'] / 60:.1f} min for "
            f"the PTQ int8 per-layer table that picked the mixed / float-fallback blocks `{pattern}`); "
            f"{minutes:.1f} min in this invocation. {result['views']} views of the {result['split']} split, "
            f"{result['calibration_clips']} calibration clips; load average during the sweep up to {load[0]} "
            f"(1 min).", "",
            matrix_markdown(result), "",
            f"CSV: `{os.path.basename(csv_path)}`; Pareto plots: "
            + ", ".join(f"![{os.path.basename(p)}]({os.path.basename(p)})" for p in plots), ""]
        results["models"][model] = {"train_seconds": times["train_seconds"], "qat_seconds": times["qat_seconds"],
                                    "probe_seconds": probe["seconds"], "mixed_pattern": pattern,
                                    "load_average": load, **{k: v for k, v in result.items() if k != "paths"}}
    sections += ["## Checks", "",
                 "Every variant file passes `kvid audit --expect <its declared mode>`; every int16x8 file holds "
                 "int16 activation tensors and no int8 ones (tensor types read from the file): "
                 + ("all hold." if not failures else "FAILED:\n\n" + "\n".join(f"- {f}" for f in failures)), "",
                 f"Whole command: {(time.perf_counter() - t_start) / 60:.1f} min.", ""]
    results["failures"] = failures
    results["seconds"] = round(time.perf_counter() - t_start, 1)
    os.makedirs(args.results, exist_ok=True)
    with open(os.path.join(args.results, "quant_sweep.md"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(sections))
    with open(os.path.join(args.results, "quant_sweep.json"), "w", encoding="utf-8") as fh:
        json.dump(results, fh, indent=1, default=float)
    print(f"wrote {args.results}/quant_sweep.md, .json, per-model CSV and plots"
          + ("" if not failures else "\nFAILED checks:\n" + "\n".join(failures)))
    return 1 if failures else 0


def _csv(result, path, command, env) -> str:
    from kvid.quant.layers import write_rows_csv
    from kvid.quant.sweep import MATRIX_COLUMNS

    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_rows_csv(result["rows"], path + ".partial", list(MATRIX_COLUMNS) + ["qat_keras_top1", "seconds"])
    with open(path + ".partial", encoding="utf-8") as fh:
        body = fh.read()
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"# {command}\n# {env}\n" + body)
    os.remove(path + ".partial")
    return path


def _plots(result, stem, footer) -> list[str]:
    from kvid.quant.plots import pareto

    last = max(result["bench_threads"])
    out = []
    for key, label, name in ((f"ms_{last}t", f"latency per clip, {last} threads (ms)", "latency"),
                             ("size_kib", "size (KiB)", "size")):
        png = pareto(result["rows"], f"{stem}_pareto_{name}.png", key, "top1",
                     title=f"{result['model']}: top-1 ({result['split']} split) vs {label}", xlabel=label,
                     footer=footer)
        if png:
            out.append(png)
    return out


if __name__ == "__main__":
    sys.exit(main())
