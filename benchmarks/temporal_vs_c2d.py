"""Does temporal modelling matter? A small SEVNet against C2D at similar cost, on kvid synth data.

    python benchmarks/temporal_vs_c2d.py [--data D] [--videos-per-class 100] [--epochs 20]
                                         [--out DIR] [--seed 0]

The synthetic dataset's ten classes come in five pairs that differ only in the direction of
time (move_left/move_right and move_up/move_down are each other's reversal, and so are
rotate_cw/ccw, grow/shrink, appear/disappear): any single frame fits both classes of a pair.
C2D (a 2-D ResNet on every frame, features averaged over time) cannot tell a video from its
reversal; SEVNet's temporal convolutions can.

Both networks are trained from scratch with the same recipe (``cpu``: SGD momentum 0.9,
cosine, 1 warm-up epoch), batch 16, 8x64x64 clips (TSN ``segments`` sampling over the whole
video), same seed, via ``kvid.train.run.train_run`` - exactly what ``kvid train`` runs:

- ``sevnet_g8`` with its ``small`` config (group width 2, one module per stage), and
- ``c2d_r50`` with its ``small`` config at width 8 (ResNet-18-style, one unit per stage),
  chosen so its GMACs per clip match SEVNet's.

Without ``--data`` it first writes the dataset (``kvid synth``, 10 classes, 32 frames of
64x64, ``--videos-per-class`` each: 70/15/15 train/val/test). It prints one row per model:
params, GMACs, training time, best validation top-1, test top-1 and mean class accuracy, the
accuracy on each direction pair, and the share of errors that pick the time-reversed class.
Also written to ``DIR/results.json`` and ``DIR/accuracy_vs_gmacs.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PAIRS = (("move_left", "move_right"), ("move_up", "move_down"), ("rotate_cw", "rotate_ccw"),
         ("grow", "shrink"), ("appear", "disappear"))
MODELS = (("sevnet_g8", {}), ("c2d_r50", {"width": 8}))


def pair_stats(labels: list[str], predictions_file: str) -> dict:
    """Accuracy on each direction pair and the share of errors that are the reversed class."""
    import numpy as np

    with np.load(predictions_file) as f:
        scores, y = f["scores"], f["labels"]
    pred = scores.mean(axis=1).argmax(axis=1)
    index = {name: i for i, name in enumerate(labels)}
    partner = {}
    out = {}
    for a, b in PAIRS:
        if a in index and b in index:
            partner[index[a]], partner[index[b]] = index[b], index[a]
            mask = np.isin(y, [index[a], index[b]])
            out[f"{a}/{b.split('_')[-1]}"] = (
                float(np.mean(pred[mask] == y[mask])) if mask.any() else None)
    wrong = pred != y
    reversed_ = np.array([partner.get(int(t)) == int(p) for t, p in zip(y, pred)])
    out["errors_to_reversed"] = float(reversed_[wrong].mean()) if wrong.any() else 0.0
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", help="a kvid synth dataset (default: write one into --out)")
    ap.add_argument("--videos-per-class", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="output folder (default: a new temporary folder)")
    args = ap.parse_args(argv)

    from kvid.analysis.plots import accuracy_vs_gmacs
    from kvid.data.synth import write_synthetic
    from kvid.contract import rundir
    from kvid.train.evaluation import evaluate
    from kvid.train.run import TrainConfig, train_run

    from kvid import environment

    env = environment.describe()
    print(environment.line())
    out = args.out or tempfile.mkdtemp(prefix="kvid_temporal_vs_c2d_")
    os.makedirs(out, exist_ok=True)
    data = args.data
    if data is None:
        data = os.path.join(out, "synth")
        t0 = time.perf_counter()
        write_synthetic(data, classes=10, videos_per_class=args.videos_per_class, frames=32,
                        size=64, seed=args.seed)
        print(f"wrote {10 * args.videos_per_class} synthetic videos to {data} "
              f"in {time.perf_counter() - t0:.0f} s")
    rows = []
    for name, options in MODELS:
        run = os.path.join(out, name)
        cfg = TrainConfig(model=name, data=data, out=run, frames=8, size=64, batch=args.batch,
                          epochs=args.epochs, recipe="cpu", small=True, model_options=dict(options),
                          seed=args.seed)
        t0 = time.perf_counter()
        train_run(cfg, verbose=2)
        seconds = time.perf_counter() - t0
        config, state = rundir.read_config(run), rundir.read_state(run)
        test = evaluate(run, split="test", verbose=False)
        row = {
            "model": name, "options": config["model_options"], "params": config["summary"]["params"],
            "gmacs": config["summary"]["gmacs"], "train_s": round(seconds, 1),
            "best_val_top1": state["best"]["value"], "best_epoch": state["best"]["epoch"],
            "test_top1": test["top1"], "test_mean_class_acc": test["mean_class_acc"],
            "test_videos": test["videos"],
            **pair_stats(config["labels"], os.path.join(test["out_dir"], "predictions.npz")),
        }
        rows.append(row)
    with open(os.path.join(out, "results.json"), "w", encoding="utf-8") as f:
        json.dump({"environment": env, "rows": rows}, f, indent=2)
    accuracy_vs_gmacs([{"label": r["model"], "gmacs": r["gmacs"], "params": r["params"],
                        "top1": r["test_top1"]} for r in rows],
                      os.path.join(out, "accuracy_vs_gmacs.png"), title="synthetic, test top-1")
    pair_keys = [k for k in rows[0] if "/" in k]
    print(f"\n{environment.line()}")
    print(f"kvid synth, 10 classes, 8x64x64 clips, {args.epochs} epochs, batch {args.batch}, "
          f"seed {args.seed}; test split {rows[0]['test_videos']} videos")
    head = ["model", "params", "GMACs", "train s", "best val top-1", "test top-1",
            "mean class"] + pair_keys + ["errors to reversed"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        cells = [f"{r['model']} {r['options']}", f"{r['params']:,}", f"{r['gmacs']:.4f}",
                 f"{r['train_s']:.0f}", f"{100 * r['best_val_top1']:.1f}%",
                 f"{100 * r['test_top1']:.1f}%", f"{100 * r['test_mean_class_acc']:.1f}%"]
        cells += [("n/a" if r[k] is None else f"{100 * r[k]:.0f}%") for k in pair_keys]
        cells.append(f"{100 * r['errors_to_reversed']:.0f}%")
        print("| " + " | ".join(cells) + " |")
    print(f"\nruns, results.json and accuracy_vs_gmacs.png in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
