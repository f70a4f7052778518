"""FASTER end to end on the synthetic dataset: does learning to aggregate beat average pooling?

Two-stage training as in the paper (kvid.train.faster), at a CPU-sized config:

1. clip backbones - expensive R(2+1)D and cheap R2D (small: width 16, one bottleneck per
   stage; 8x64x64 clips) - trained on random 8-frame clips of the training videos;
2. their frozen res5 maps cached on disk for every 8-frame window of every video, then each
   aggregator trained on sequences of N = 8 random windows (sorted in time) drawn per epoch;
3. evaluation on the val + test videos with N = 8 uniformly spaced clips, for the patterns
   all-E (1:0), 1:1, 1:3, 1:7 and all-C (0:1), every aggregator; GMACs per video from
   ``kvid.analysis.faster.pattern_gmacs`` at this config;
4. the FAST-GRU 1:3 run quantized (QAT backbones and step), exported to three int8 TFLite
   files, audited, streamed through kvid.runtime.faster and compared with the QAT Keras
   pipeline (SQNR, argmax agreement) and with the step-by-step tf.lite reference of
   tests/faster_reference.py (identical).

Data: ``kvid.data.synth.write_synthetic`` (14 classes, 80 videos each, 32 frames, 64x64). Its
classes are defined by temporal order over the whole video (move vs pretend: out-and-back),
so one 8-frame clip is ambiguous - exactly where aggregating clips in order should beat
averaging their scores.

Usage: ``python benchmarks/faster_synth.py [--work DIR] [--out FILE.md] [--seeds 2]
[--backbone-epochs 30] [--aggregator-epochs 20] [--qat-epochs 2]``. Everything is cached under
``--work`` (videos, weights, features).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from kvid import environment  # noqa: E402 - TensorFlow-free

CLASSES, VIDEOS_PER_CLASS, FRAMES, SIZE, L, N = 14, 80, 32, 64, 8, 8
SMALL = {"width": 16, "stages": (1, 1, 1, 1)}
PATTERNS = ("1:0", "1:1", "1:3", "1:7", "0:1")
# every pattern: avgpool and FAST-GRU; the 1:3 pattern also the other learned aggregators
AGGREGATORS = {"1:3": ("avgpool", "concat", "lstm", "gru", "fastgru")}
DEFAULT_AGGREGATORS = ("avgpool", "fastgru")


def log(*args):
    print(f"[{time.strftime('%H:%M:%S')}]", *args, flush=True)


def load_videos(root, splits):
    from kvid.data.layouts import load_dataset
    from kvid.data.video import read_frames

    videos, labels = [], []
    for split in splits:
        ds = load_dataset(root, split)
        for path, label in ds.items:
            videos.append(read_frames(path, range(FRAMES)))
            labels.append(label)
    return np.stack(videos), np.array(labels), ds.labels


def data(work):
    from kvid.data.synth import write_synthetic

    root = os.path.join(work, "synth")
    if not os.path.exists(os.path.join(root, "synth.json")):
        write_synthetic(root, classes=CLASSES, videos_per_class=VIDEOS_PER_CLASS, frames=FRAMES,
                        size=SIZE, fps=12, seed=0)
    cache = os.path.join(work, "videos.npz")
    if not os.path.exists(cache):
        tr, ytr, names = load_videos(root, ["train"])
        ev, yev, _ = load_videos(root, ["val", "test"])
        np.savez(cache, tr=tr, ytr=ytr, ev=ev, yev=yev, names=np.array(names))
    z = np.load(cache)
    return z["tr"], z["ytr"], z["ev"], z["yev"], [str(n) for n in z["names"]]


def backbone(work, name, tr, ytr, epochs, seed=0):
    from kvid import models
    from kvid.keras import keras
    from kvid.train import faster as faster_train

    path = os.path.join(work, f"{name}.weights.h5")
    keras.utils.set_random_seed(seed)
    model = models.build(name, num_classes=CLASSES, frames=L, size=SIZE, **SMALL)
    if os.path.exists(path):
        model.load_weights(path)
    else:
        t0 = time.time()
        faster_train.train_clip_model(model, tr, ytr, L, epochs=epochs, batch_size=16, lr=3e-3,
                                      weight_decay=1e-4, optimizer="adam", seed=seed, shift=4)
        model.save_weights(path)
        log(f"trained {name}: {time.time() - t0:.0f} s")
    return model


def clip_accuracy(model, ev, yev):
    from kvid.train.faster import dense_clips

    clips = np.stack([ev[:, idx] for idx in dense_clips(FRAMES, L, N)], 1).reshape(-1, L, SIZE, SIZE, 3)
    logits = np.concatenate([model(clips[i:i + 64], training=False).numpy()
                             for i in range(0, len(clips), 64)]).reshape(len(ev), N, -1)
    return float(np.mean(logits.argmax(-1) == yev[:, None]))


def run(args):
    from kvid.analysis.faster import pattern_gmacs
    from kvid.keras import keras
    from kvid.models import faster
    from kvid.train import faster as faster_train

    os.makedirs(args.work, exist_ok=True)
    tr, ytr, ev, yev, names = data(args.work)
    log(f"videos: train {len(tr)}, eval {len(ev)}, {len(names)} classes")
    results = {"config": {"classes": CLASSES, "videos_per_class": VIDEOS_PER_CLASS, "frames": FRAMES,
                          "size": SIZE, "clip_frames": L, "clips": N, "small": {k: list(v) if isinstance(v, tuple) else v for k, v in SMALL.items()},
                          "train_videos": int(len(tr)), "eval_videos": int(len(ev))}}

    # ---- stage 1: clip backbones
    e_model = backbone(args.work, "r2plus1d_50", tr, ytr, args.backbone_epochs)
    c_model = backbone(args.work, "r2d_26", tr, ytr, args.backbone_epochs)
    results["clip_accuracy"] = {"expensive": clip_accuracy(e_model, ev, yev),
                                "cheap": clip_accuracy(c_model, ev, yev)}
    log("clip accuracy", results["clip_accuracy"])

    # ---- stage 2: cached features (float backbones), every window for training, uniform for eval
    windows = FRAMES - L + 1  # every start: the dense scheme with one clip per start
    fe, fc = faster.feature_model(e_model), faster.feature_model(c_model)
    caches = {}
    for tag, model in (("e", fe), ("c", fc)):
        t0 = time.time()
        caches[f"{tag}_train"] = faster_train.cache_features(model, tr, L, windows, os.path.join(args.work, f"feat_{tag}_train.npy"))
        caches[f"{tag}_eval"] = faster_train.cache_features(model, ev, L, N, os.path.join(args.work, f"feat_{tag}_eval.npy"))
        log(f"features {tag}: {caches[f'{tag}_train'].shape} {time.time() - t0:.0f} s")

    channels = caches["e_train"].shape[-1]
    rows = []
    steps = {}
    for pattern in PATTERNS:
        for kind in AGGREGATORS.get(pattern, DEFAULT_AGGREGATORS):
            accs = []
            for seed in range(args.seeds if kind != "avgpool" else 1):
                keras.utils.set_random_seed(100 + seed)
                step = faster.build_aggregator(CLASSES, L, SIZE, kind=kind, channels=channels, dropout=0.2)
                train = faster_train.FeatureSequences(caches["e_train"], caches["c_train"], ytr, N, pattern,
                                                      batch_size=16, training=True, seed=seed)
                evald = faster_train.FeatureSequences(caches["e_eval"], caches["c_eval"], yev, N, pattern,
                                                      batch_size=64, training=False)
                if kind == "avgpool":
                    faster.load_avgpool_heads(step, e_model, c_model)
                else:
                    faster_train.train_aggregator(step, train, epochs=args.aggregator_epochs, lr=1e-3)
                logits = faster_train.predict_sequences(step, evald)
                accs.append(float(np.mean(logits.argmax(-1) == yev)))
                steps[(pattern, kind, seed)] = step
            cost = pattern_gmacs("r2plus1d_50", "r2d_26", kind, L, N, pattern, SIZE, CLASSES,
                                 expensive_overrides=SMALL, cheap_overrides=SMALL,
                                 aggregator_overrides={"channels": int(channels)})
            rows.append({"pattern": pattern, "aggregator": kind, "acc": accs,
                         "acc_mean": float(np.mean(accs)), "acc_std": float(np.std(accs)),
                         "gmacs": cost["total_gmacs"], "expensive_clips": cost["expensive_clips"],
                         "cheap_clips": cost["cheap_clips"]})
            log(f"{pattern:>4} {kind:<8} acc {np.mean(accs):.3f} +- {np.std(accs):.3f} {cost['total_gmacs'] * 1000:.1f} MMACs")
    results["table"] = rows

    # ---- the int8 pipeline for FAST-GRU 1:3
    results["int8"] = int8_pipeline(args, e_model, c_model, steps[("1:3", "fastgru", 0)], tr, ytr, ev, yev, names)
    return results


def int8_pipeline(args, e_model, c_model, step, tr, ytr, ev, yev, names):
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from faster_reference import tflite_logits  # the step-by-step tf.lite reference (a test helper)

    from kvid.export import faster as export_faster
    from kvid.runtime.agreement import sqnr_db
    from kvid import ops
    from kvid.models import faster
    from kvid.runtime.faster import FasterModels, predict_video
    from kvid.train import faster as faster_train

    t0 = time.time()
    qe, qc = ops.quantize_model(e_model), ops.quantize_model(c_model)
    for q in (qe, qc):  # QAT fine-tuning of the backbones (also settles the ranges)
        faster_train.train_clip_model(q, tr, ytr, L, epochs=args.qat_epochs, batch_size=16, lr=2e-4,
                                      weight_decay=0.0, optimizer="adam", seed=7, shift=4)
    test = faster_train.dense_clips(FRAMES, L, N)
    qfe, qfc = faster.feature_model(qe), faster.feature_model(qc)
    feats = {}
    for tag, model in (("e", qfe), ("c", qfc)):
        for split, videos in (("train", tr), ("eval", ev)):
            feats[f"{tag}_{split}"] = faster_train.cache_features(
                model, videos, L, N, os.path.join(args.work, f"qat_feat_{tag}_{split}.npy"))
    train = faster_train.FeatureSequences(feats["e_train"], feats["c_train"], ytr, N, "1:3", batch_size=16,
                                          training=False)
    evald = faster_train.FeatureSequences(feats["e_eval"], feats["c_eval"], yev, N, "1:3", batch_size=64,
                                          training=False)
    qs = export_faster.quantize_step(step)
    export_faster.calibrate_step(qs, train)
    faster_train.train_aggregator(qs, train, epochs=args.qat_epochs, lr=1e-4)
    export_faster.tie_state_ranges(qs)
    keras_logits = faster_train.predict_sequences(qs, evald, every_clip=True)  # (V, N, K)
    log(f"QAT done: {time.time() - t0:.0f} s")

    out = os.path.join(args.work, "export", "faster_fastgru_1x3.tflite")
    exp = export_faster.export_faster(out, qe, qc, qs, clip_frames=L, clips=N, pattern="1:3",
                                      labels=names, aggregator="fastgru")
    models = FasterModels(exp["sidecar"])
    tfl, same = [], []
    for i, video in enumerate(ev):
        logits, _ = predict_video(models, video.astype(np.float32))
        tfl.append(logits)
        if i < args.reference_videos:
            clips = video[test].astype(np.float32)
            same.append(bool(np.array_equal(tflite_logits(exp["sidecar"], clips), logits)))
    tfl = np.stack(tfl)
    result = {
        "audit_ok": {k: a["ok"] for k, a in exp["audits"].items()},
        "audit_ops": {k: a["ops"] for k, a in exp["audits"].items()},
        "max_rank": {k: a["max_rank"] for k, a in exp["audits"].items()},
        "bytes": {k: os.path.getsize(p) for k, p in exp["paths"].items()},
        "sqnr_db_final": sqnr_db(keras_logits[:, -1], tfl[:, -1]),
        "sqnr_db_every_clip": sqnr_db(keras_logits, tfl),
        "argmax_agreement_final": float(np.mean(keras_logits[:, -1].argmax(-1) == tfl[:, -1].argmax(-1))),
        "argmax_agreement_every_clip": float(np.mean(keras_logits.argmax(-1) == tfl.argmax(-1))),
        "qat_keras_acc": float(np.mean(keras_logits[:, -1].argmax(-1) == yev)),
        "int8_tflite_acc": float(np.mean(tfl[:, -1].argmax(-1) == yev)),
        "runtime_identical_to_tflite_reference": f"{sum(same)}/{len(same)} videos",
        "sidecar": json.load(open(exp["sidecar"], encoding="utf-8"))["faster"],
    }
    log("int8", {k: v for k, v in result.items() if k not in ("audit_ops", "sidecar")})
    return result


def report(results, path, command, seconds):
    rows = results["table"]
    lines = [
        "# FASTER on the synthetic dataset (benchmarks/faster_synth.py)", "",
        f"Command: `{command}` ({seconds / 60:.0f} min on the 2-core CI machine).", "",
        "Config: " + json.dumps(results["config"]), "",
        environment.line(), "",
        f"Clip-level accuracy (one 8-frame clip, eval videos x 8 clips): expensive R(2+1)D "
        f"{results['clip_accuracy']['expensive']:.3f}, cheap R2D {results['clip_accuracy']['cheap']:.3f}.", "",
        "Video accuracy (val+test videos, N = 8 uniform clips of L = 8 frames) and cost per video "
        "(MMACs: expensive + cheap feature extractors + aggregator, `pattern_gmacs`). "
        "Mean +- std over aggregator training seeds (avgpool has no training).", "",
        "| pattern #E:#C | E/C clips | aggregator | video@1 | MMACs / video |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['pattern']} | {r['expensive_clips']}/{r['cheap_clips']} | {r['aggregator']} | "
                     f"{r['acc_mean']:.3f} +- {r['acc_std']:.3f} | {r['gmacs'] * 1000:.1f} |")
    get = {(r["pattern"], r["aggregator"]): r for r in rows}
    fg, ap, alle = get[("1:3", "fastgru")], get[("1:3", "avgpool")], get[("1:0", "avgpool")]
    lines += ["", "Checks (issue 5): FAST-GRU 1:3 vs average pooling of the same clips: "
              f"{fg['acc_mean']:.3f} vs {ap['acc_mean']:.3f} "
              f"({'beats' if fg['acc_mean'] > ap['acc_mean'] else 'DOES NOT beat'}); cost "
              f"{fg['gmacs'] * 1000:.1f} vs all-expensive {alle['gmacs'] * 1000:.1f} MMACs "
              f"({'less' if fg['gmacs'] < alle['gmacs'] else 'NOT less'}).", ""]
    q = results["int8"]
    lines += ["## int8 export of FAST-GRU 1:3 (QAT backbones + QAT step)", "",
              f"- audits (fully int8, builtins, rank <= 4): {q['audit_ok']}, max rank {q['max_rank']}",
              f"- sizes (bytes): {q['bytes']}",
              f"- QAT Keras vs int8 TFLite (streaming runtime): SQNR final logits {q['sqnr_db_final']:.1f} dB, "
              f"every-clip logits {q['sqnr_db_every_clip']:.1f} dB; argmax agreement final "
              f"{q['argmax_agreement_final']:.3f}, every clip {q['argmax_agreement_every_clip']:.3f}",
              f"- video@1: QAT Keras {q['qat_keras_acc']:.3f}, int8 TFLite {q['int8_tflite_acc']:.3f}",
              f"- streaming runtime vs step-by-step tf.lite reference: identical logits on "
              f"{q['runtime_identical_to_tflite_reference']}",
              f"- step ops: {q['audit_ops']['step']}", ""]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
    with open(path.replace(".md", ".json"), "w", encoding="utf-8") as fh:
        json.dump(results, fh, indent=1, default=str)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", default="/tmp/kvid_faster_bench")
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                 "faster_synth_results.md"))
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--backbone-epochs", type=int, default=30)
    p.add_argument("--aggregator-epochs", type=int, default=20)
    p.add_argument("--qat-epochs", type=int, default=2)
    p.add_argument("--reference-videos", type=int, default=20)
    args = p.parse_args()
    print(environment.line(), flush=True)
    t0 = time.time()
    results = run(args)
    results["environment"] = environment.describe()
    command = "python benchmarks/faster_synth.py " + " ".join(sys.argv[1:])
    report(results, args.out, command.strip(), time.time() - t0)
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
