"""SEVNet-G8 and MF-Net training speed: Keras training throughput against a dense 2-D
ResNet-18 of similar MACs (their TFLite int8 vs float32 latency: benchmarks/bench_latency.py).

    python benchmarks/bench_sevnet_mfnet.py [--models sevnet_g8 mfnet3d] [--batch 8] [--steps 5]

Each preset at 8 x 112 x 112 (full width, preset class count),
SGD with momentum, ``train_on_batch`` on a fixed random batch, median step time over
``--steps`` steps after one warm-up step; clips/s = batch / step time, and the CPU time of
a step per clip (all threads; what a step costs on a shared machine). The baseline is the
C2D ResNet-18 of kvid.models.resnet (``c2d_r50`` with ``depth=18``: per-frame ResNet-18,
global pool over T, H, W) on the same clips, its stem width chosen so that its MACs are
closest to the net's. "x dense per MAC" = (baseline MAC/s) / (net MAC/s): how much slower a
MAC of the grouped-conv net trains than a MAC of the dense net (target <= 3).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

MODELS = ("sevnet_g8", "mfnet3d")


def train_rate(model, batch, steps, seed=0):
    """Training on a fixed random batch: ``(clips/s, CPU seconds per clip)``, each from the
    median step (wall clock, and CPU time of this process over all its threads - the latter
    is what a step costs, whatever else shares the cores)."""
    from kvid.keras import keras

    model.compile(keras.optimizers.SGD(0.01, momentum=0.9),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 255, (batch, *model.input_shape[1:])).astype(np.float32)
    y = rng.integers(0, model.output_shape[-1], batch).astype(np.int32)
    model.train_on_batch(x, y)  # tracing
    wall, cpu = [], []
    for _ in range(steps):
        start, start_cpu = time.perf_counter(), time.process_time()
        model.train_on_batch(x, y)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return batch / float(np.median(wall)), float(np.median(cpu)) / batch


def matched_resnet18(gmacs, frames, size, num_classes):
    """The C2D ResNet-18 whose stem width (a multiple of 4) gives MACs closest to ``gmacs``
    (MACs grow about as width squared)."""
    from kvid import models
    from kvid.analysis.count import count

    def build(width):
        return models.build("c2d_r50", depth=18, width=width, frames=frames, size=size,
                            num_classes=num_classes, dropout=0.0)

    full = count(build(64))["gmacs"]
    width = max(4, int(round(64 * (gmacs / full) ** 0.5 / 4)) * 4)
    model = build(width)
    return model, width, count(model)["gmacs"]


def training(names, batch, steps):
    from kvid import models
    from kvid.analysis.count import count

    from kvid import environment

    frames, size = 8, 112
    print(environment.line())
    print(f"training, {frames}x{size}x{size}, batch {batch}, SGD momentum, median of {steps} "
          f"steps (Keras, CPU); 'x dense per MAC' = dense net's rate per MAC / this net's, "
          f"from wall clock and from CPU time", flush=True)
    lines = [f"{'model':<26} {'GMACs':>6} {'clips/s':>8} {'CPU s/clip':>10} "
             f"{'x dense per MAC (wall, CPU)':>28}"]
    for name in names:
        net = models.build(name, frames=frames, size=size)
        gmacs = count(net)["gmacs"]
        rate, cpu = train_rate(net, batch, steps)
        base, width, base_gmacs = matched_resnet18(gmacs, frames, size, net.output_shape[-1])
        base_rate, base_cpu = train_rate(base, batch, steps)
        wall_ratio = (base_rate * base_gmacs) / (rate * gmacs)
        cpu_ratio = (cpu / gmacs) / (base_cpu / base_gmacs)
        lines.append(f"{name:<26} {gmacs:>6.2f} {rate:>8.2f} {cpu:>10.3f} "
                     f"{wall_ratio:>19.2f}, {cpu_ratio:>6.2f}")
        lines.append(f"{'  ResNet-18 C2D, width ' + str(width):<26} {base_gmacs:>6.2f} "
                     f"{base_rate:>8.2f} {base_cpu:>10.3f} {'1':>19}, {'1':>6}")
        print(lines[-2], "\n" + lines[-1], flush=True)
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args(argv)
    print(training(args.models, args.batch, args.steps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
