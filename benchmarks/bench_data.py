"""How fast does kvid.data turn video files into batches, against how fast sevnet_g8 trains?

    python benchmarks/bench_data.py [--batches 12] [--videos 16] [--model-steps 2] [--no-model]

For each clip shape (8x112x112 and 16x224x224) it writes a small synthetic dataset at a
realistic source resolution (170x128 for 112 crops, 340x256 for 224 crops; 64 frames per
video, MPEG-4 and MJPEG files), then measures clips per second of

- the training pipeline (``make_dataset(training=True)``: decode, dense stride-2 sampling,
  random scale + crop, batches of 8, prefetch) and
- the evaluation pipeline (exact integer centre views),

using every core of the machine, and the training step rate of ``sevnet_g8`` at the same
clip shape (``train_on_batch``, batch 8, after one warm-up step). The ratio
pipeline / model says how many times faster the input pipeline is than training: above 1
it is not what limits training.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from kvid.data.pipeline import make_dataset  # noqa: E402
from kvid.data.synth import write_synthetic  # noqa: E402
from kvid.keras import keras  # noqa: E402

CONFIGS = (  # (T, S, source width, source height)
    (8, 112, 170, 128),
    (16, 224, 340, 256),
)
BATCH = 8


def rate(ds, batches: int) -> float:
    """Clips per second over ``batches`` batches, after two warm-up batches."""
    it = iter(ds.repeat())
    for _ in range(2):
        next(it)
    start = time.perf_counter()
    clips = sum(int(next(it)[0].shape[0]) for _ in range(batches))
    return clips / (time.perf_counter() - start)


def model_rate(frames: int, size: int, steps: int) -> tuple[float | None, str]:
    try:
        from kvid.models import build

        model = build("sevnet_g8", num_classes=10, frames=frames, size=size)
    except Exception as exc:  # noqa: BLE001 - any failure means: not available yet
        return None, f"sevnet_g8: model not there yet ({type(exc).__name__}: {exc})".splitlines()[0]
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (BATCH, frames, size, size, 3)).astype(np.float32)
    y = rng.integers(0, 10, BATCH).astype(np.int32)
    model.train_on_batch(x, y)  # warm-up: tracing
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    seconds = (time.perf_counter() - start) / steps
    return BATCH / seconds, f"sevnet_g8 training: {seconds:.2f} s per step of {BATCH}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=12, help="timed batches per pipeline (default 12)")
    parser.add_argument("--videos", type=int, default=16, help="videos written per clip shape (default 16)")
    parser.add_argument("--model-steps", type=int, default=2, help="timed sevnet_g8 steps (default 2)")
    parser.add_argument("--no-model", action="store_true", help="skip the sevnet_g8 step rate")
    parser.add_argument("--workdir", help="where to write the videos (default: a temporary folder)")
    args = parser.parse_args(argv)

    from kvid import environment

    print(environment.line())
    print(f"kvid.data benchmark: {os.cpu_count()} CPUs, batch {BATCH}")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or tmp
        for frames, size, width, height in CONFIGS:
            root = os.path.join(work, f"synth_{width}x{height}")
            start = time.perf_counter()
            write_synthetic(root, classes=2, videos_per_class=max(1, args.videos // 2), frames=64, size=(width, height), seed=0)
            print(f"\n{frames}x{size}x{size} from {width}x{height} videos, 64 frames "
                  f"(wrote {args.videos} in {time.perf_counter() - start:.1f} s)")
            common = dict(frames=frames, size=size, batch_size=BATCH, scheme="dense", stride=2)
            train = rate(make_dataset(root, "all", training=True, seed=0, **common), args.batches)
            evaluate = rate(make_dataset(root, "all", training=False, **common), args.batches)
            print(f"  training pipeline:   {train:8.1f} clips/s")
            print(f"  evaluation pipeline: {evaluate:8.1f} clips/s (exact centre view)")
            if args.no_model:
                continue
            model, text = model_rate(frames, size, args.model_steps)
            print(f"  {text}")
            if model is not None:
                print(f"  sevnet_g8 training:  {model:8.2f} clips/s -> pipeline / model = {train / model:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
