"""Which int8 TFLite ops XNNPACK runs, and what each costs alone: the facts behind kvid's
int8 graph choices (kvid.ops.TemporalMean, MGTE's |a - b|, TemporalNeighbours' taps).

    python benchmarks/xnnpack_int8_ops.py [--threads 2] [--repeats 20]
        [--markdown benchmarks/results/xnnpack_int8_ops.md]

Each case is a one- or few-op function of a random float input, converted by TensorFlow's
converter to a fully int8 TFLite model (representative data: random normal clips; int8
input and output), then timed by ``kvid.runtime.profile.time_model`` (XNNPACK on, median of
``--repeats`` invokes); "XNNPACK partitions" is the number of delegate nodes XNNPACK put in
place of the ops (0: it runs none of them; the ops then run on TFLite's builtin kernels).
Pairs of cases compute the same function two ways, e.g. an average pool over T against a
MEAN over T.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MAP = (8, 28, 28, 64)  # (B*T, H, W, C)
SPLIT = (1, 8, 784, 64)  # (B, T, H*W, C)


def cases(tf):
    """``{name: (function, input shape, what it stands for)}``."""
    return {
        "AVERAGE_POOL_2D over T (T x 1, valid)": (
            lambda x: tf.nn.avg_pool2d(x, (8, 1), 1, "VALID"), SPLIT, "temporal mean before"),
        "MEAN over T (axis 1)": (
            lambda x: tf.reduce_mean(x, axis=1, keepdims=True), SPLIT, "kvid.ops.TemporalMean"),
        "AVERAGE_POOL_2D 3x3 / 2 SAME": (
            lambda x: tf.nn.avg_pool2d(x, 3, 2, "SAME"), MAP, "SEVNet downsample shortcut"),
        "SUB + ABS of channel halves": (
            lambda x: tf.abs(x[..., :32] - x[..., 32:]), MAP, "MGTE |a - b| before"),
        "relu(a - b) + relu(b - a)": (
            lambda x: tf.nn.relu(x[..., :32] - x[..., 32:]) + tf.nn.relu(x[..., 32:] - x[..., :32]),
            MAP, "MGTE |a - b| (absolute_pair_difference)"),
        "STRIDED_SLICE over T, stride 2": (
            lambda x: x[:, 0:8:2], SPLIT, "temporal taps with a stride before"),
        "phase reshape + unit-stride slice": (
            lambda x: tf.reshape(tf.reshape(x, (1, 4, 2, 784 * 64))[:, :, 0:1, :], (1, 4, 784, 64)),
            SPLIT, "TemporalNeighbours taps with a stride"),
        "TILE x4 over T": (
            lambda x: tf.tile(x, (1, 4, 1, 1)), (1, 1, 784, 64), "EAC-Net BroadcastTime"),
        "CONCATENATION of 4": (
            lambda x: tf.concat([x] * 4, axis=1), (1, 1, 784, 64), "the same by concatenation"),
        "CONCATENATION of 8": (
            lambda x: tf.concat([x] * 8, axis=1), (1, 1, 784, 64), "R2D-26 conv1 taps (8)"),
        "TRANSPOSE (N, k, g, C/g) -> (N, g, k, C/g)": (
            lambda x: tf.reshape(tf.transpose(tf.reshape(x, (-1, 3, 16, 4)), (0, 2, 1, 3)), (8, 28, 28, 192)),
            (8, 28, 28, 192), "grouped TemporalNeighbours (MF-Net)"),
        "RELU alone (after a CONCATENATION)": (
            lambda x: tf.nn.relu(tf.concat([x, x * 0.5], -1)), MAP, "SEVNet downsample output"),
    }


def probe(threads, repeats):
    from kvid.keras import tf
    from kvid.runtime.profile import time_model
    from kvid.runtime.profile_graph import Graph

    rng = np.random.default_rng(0)
    rows = []
    for name, (fn, shape, what) in cases(tf).items():
        concrete = tf.function(fn, input_signature=[tf.TensorSpec(shape, tf.float32)]).get_concrete_function()
        converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete])
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([rng.normal(0, 1, shape).astype(np.float32)]
                                                     for _ in range(3))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.int8
        data = converter.convert()
        graph = Graph(data)
        timing = time_model(data, threads, warmup=2, repeats=repeats, n_ops=len(graph.ops))
        rows.append({"case": name, "stands for": what, "ops": [op.type for op in graph.ops],
                     "partitions": timing["delegated_nodes"], "ms": timing["ms"]})
        print(f"{name:<45} {timing['ms']:8.3f} ms  partitions {timing['delegated_nodes']}  "
              f"{' '.join(op.type for op in graph.ops)}", flush=True)
    return rows


def main(argv=None):
    from kvid import environment

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--markdown", help="also write the table here")
    args = parser.parse_args(argv)
    env = environment.line(args.threads)
    print(env)
    rows = probe(args.threads, args.repeats)
    command = "python benchmarks/xnnpack_int8_ops.py " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = [env, "", f"Command: `{command.strip()}`; load average (1 min) at the end "
             f"{os.getloadavg()[0]:.1f} (shared 2-core machine).", "",
             "| case | stands for | int8 TFLite ops | XNNPACK partitions | ms |", "|---|---|---|---:|---:|"]
    lines += [f"| {r['case']} | {r['stands for']} | {' '.join(r['ops'])} | {r['partitions']} | {r['ms']:.3f} |"
              for r in rows]
    table = "\n".join(lines)
    print("\n" + table)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as fh:
            fh.write(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
