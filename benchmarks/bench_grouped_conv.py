"""Grouped conv training speed: kvid's fast gradient vs a dense Conv2D vs TensorFlow's own.

Forward + backward of a 3x3 conv, 64 -> 64 channels, groups 8, batch 64 x 28 x 28, measured in
one run and printed as ratios to the dense conv (the target: kvid grouped <= 2x dense; TF's own
grouped gradient is ~70x on CPU, PLATFORM_NOTES.md).

    python benchmarks/bench_grouped_conv.py [--repeats 20]
"""

import argparse
import time

import numpy as np

from kvid import environment, ops
from kvid.keras import keras, tf


def step_time(layer, x, repeats, warmup=3):
    layer(x)  # build

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(y * y)
        return tape.gradient(loss, [x, *layer.trainable_variables])

    for _ in range(warmup):
        step(x)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = step(x)
        _ = [o.numpy() for o in out[:1]]
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--tf-repeats", type=int, default=3, help="repeats for TF's slow path")
    args = parser.parse_args()
    print(environment.line())  # after TensorFlow's import: its own oneDNN answer

    x = tf.constant(np.random.default_rng(0).normal(size=(64, 28, 28, 64)).astype(np.float32))
    dense = step_time(keras.layers.Conv2D(64, 3, padding="same", use_bias=False), x, args.repeats)
    kvid = step_time(keras.layers.Conv2D(64, 3, padding="same", groups=8, use_bias=False), x, args.repeats)
    with ops.grouped.plain_grouped_gradient():
        native = step_time(keras.layers.Conv2D(64, 3, padding="same", groups=8, use_bias=False), x,
                           args.tf_repeats, warmup=1)
    print("forward+backward, 3x3, 64->64, batch 64x28x28, median of repeats")
    print(f"{'conv':<34} {'ms':>9} {'x dense':>9}")
    for name, t in [("dense Conv2D", dense), ("kvid grouped Conv2D (groups=8)", kvid),
                    ("TensorFlow grouped Conv2D (XLA)", native)]:
        print(f"{name:<34} {t * 1e3:>9.1f} {t / dense:>9.2f}")
    ratio = kvid / dense
    print(f"kvid grouped / dense = {ratio:.2f} (target <= 2.0: {'met' if ratio <= 2 else 'NOT met'})")


if __name__ == "__main__":
    main()
