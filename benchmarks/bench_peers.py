"""kvid's int8 models side by side with MoViNet-A0/A1 (TF Model Garden), in one run.

    python benchmarks/bench_peers.py [--clips 8x112 16x172] [--threads 1 2] [--repeats 10]
        [--kvid sevnet_g6 sevnet_g8 mfnet3d r2d_26 ctnet_r50] [--movinet a0 a1]
        [--venv ~/.cache/kvid/peers-venv] [--out DIR] [--markdown benchmarks/results/peers.md]
        [--rounds 3] [--reuse] [--export-only]

MoViNet comes from tf-models-official, which kvid does not depend on: the script creates a
virtual environment of its own (``--venv``, reused when it is there) with
``--system-site-packages`` - so it uses this machine's TensorFlow 2.21 and tf-keras 2.21 - and
installs ``tf-models-official==2.20.0`` without its declared dependencies (it pins
``tensorflow~=2.20``; MoViNet builds and converts with 2.21) plus the three modules its import
chain needs (``gin-config``, ``tensorflow-datasets``, ``pycocotools``, pinned below). Nothing
enters kvid's own environment.

MoViNet is built in the settings that convert to TFLite builtins (conv_type "2plus1d",
se_type "2plus3d", hard-swish, hard-sigmoid gating; the default 3-D MoViNet does not convert:
Conv3D / AvgPool3D), non-causal, 600 classes, random weights (speed only), and converted as its
users would: float32, and post-training int8 (``Optimize.DEFAULT`` with a representative
dataset of random clips; float input/output, ops that do not quantize stay float). kvid's
presets are exported as ``bench_latency.py`` does (random weights, non-zero residual branches,
QAT-wrapped and calibrated, fully int8). Every file is then timed by
``kvid.runtime.bench.bench_one`` (its own process, XNNPACK, median and p90 of ``--repeats``
invokes), at every thread count, in ``--rounds`` round-robin passes over all files and thread
counts so that they share the machine's changing load (median over the rounds); GMACs
and weights are counted on each float32 TFLite graph by the same counter
(``kvid.runtime.profile_graph``; BN folded into the convs), and every file is audited (fully
int8? max rank?). ``--reuse`` takes the exports already in ``--out`` (this script's MoViNet
files, ``bench_latency.py --out`` rows of kvid's presets) instead of making them again;
``--export-only`` makes the files and stops, so that the slow exports (MoViNet's post-training
int8 conversion takes minutes per file) can run while the machine is busy and the timing later.

Target (issue 18): ``sevnet_g8`` and ``mfnet3d`` int8 faster than MoViNet-A1 int8 at the same
input and thread count.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_latency import export_pair, load_average, time_jobs  # noqa: E402

KVID_MODELS = ("sevnet_g6", "sevnet_g8", "mfnet3d", "r2d_26", "ctnet_r50")
MOVINETS = ("a0", "a1")
PEER_PACKAGES = (["--no-deps", "tf-models-official==2.20.0"],
                 ["gin-config==0.5.0", "tensorflow-datasets==4.9.10", "pycocotools==2.0.11"])
DEFAULT_VENV = os.path.join(os.path.expanduser("~"), ".cache", "kvid", "peers-venv")
TARGET_MODELS, TARGET_PEER = ("sevnet_g8", "mfnet3d"), "movinet_a1"

# Runs inside the peers' venv: build MoViNet, write float32 and PTQ int8 TFLite files.
_MOVINET_CHILD = r'''
import json, sys, time
import numpy as np
import tensorflow as tf
from official.projects.movinet.modeling import movinet, movinet_model

model_id, frames, size, out_dir = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
tf.keras.utils.set_random_seed(0)
backbone = movinet.Movinet(model_id=model_id, causal=False, conv_type="2plus1d",
                           se_type="2plus3d", activation="hard_swish",
                           gating_activation="hard_sigmoid", use_external_states=False)
model = movinet_model.MovinetClassifier(backbone, num_classes=600, output_states=False)
shape = [1, frames, size, size, 3]
model.build(shape)
fn = tf.function(lambda x: model(x, training=False),
                 input_signature=[tf.TensorSpec(shape, tf.float32, name="image")])
concrete = fn.get_concrete_function()
holder = tf.Module()  # the variables only: handed the Keras model, the converter saves it first
holder.model_variables = list(model.variables)
rng = np.random.default_rng(0)
out = {"model": f"movinet_{model_id}", "clip": f"{frames}x{size}x{size}",
       "params_m": model.count_params() / 1e6, "tf": tf.__version__}
for mode in ("float32", "int8"):
    t0 = time.time()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], holder)
    if mode == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: (
            [rng.uniform(0, 1, shape).astype(np.float32)] for _ in range(4))
    path = f"{out_dir}/movinet_{model_id}_{frames}x{size}_{mode}.tflite"
    with open(path, "wb") as fh:
        fh.write(converter.convert())
    out[mode] = {"path": path, "export_s": time.time() - t0}
print("MOVINET " + json.dumps(out))
'''


def ensure_venv(venv) -> str:
    """The peers' venv's python, creating the venv and installing MoViNet there if needed."""
    python = os.path.join(venv, "bin", "python")
    probe = [python, "-c", "import official.projects.movinet.modeling.movinet"]
    if os.path.exists(python) and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"creating the peers' venv {venv} (tf-models-official, outside kvid's environment)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", venv], check=True)
    for packages in PEER_PACKAGES:
        subprocess.run([python, "-m", "pip", "install", "-q", *packages], check=True)
    proc = subprocess.run(probe, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{venv}: MoViNet does not import: {proc.stderr.strip().splitlines()[-1:]}")
    return python


def export_movinet(python, model_id, frames, size, out_dir, reuse=False) -> dict:
    stem = os.path.join(out_dir, f"movinet_{model_id}_{frames}x{size}")
    if reuse and all(os.path.exists(f"{stem}_{m}.tflite") for m in ("float32", "int8")):
        return {"model": f"movinet_{model_id}", "clip": f"{frames}x{size}x{size}", "family": "movinet",
                "source": "tf-models-official 2.20.0 (reused export)",
                "float32": {"path": f"{stem}_float32.tflite"}, "int8": {"path": f"{stem}_int8.tflite"}}
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(_MOVINET_CHILD)
    proc = subprocess.run([python, fh.name, model_id, str(frames), str(size), out_dir],
                          capture_output=True, text=True)
    os.unlink(fh.name)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("MOVINET ")]
    if proc.returncode or not lines:
        raise SystemExit(f"movinet_{model_id}: export failed: {proc.stderr.strip().splitlines()[-3:]}")
    row = json.loads(lines[-1][len("MOVINET "):])
    row["family"], row["source"] = "movinet", f"tf-models-official 2.20.0 (TF {row.pop('tf')})"
    return row


def describe_file(row, mode) -> None:
    """Size, audit (fully int8? max rank) and GMACs of one file of a row, in place."""
    from kvid.export.audit import audit
    from kvid.runtime.profile_graph import Graph

    f = row[mode]
    report = audit(f["path"], expect="int8" if mode == "int8" else "float")
    f["mb"] = os.path.getsize(f["path"]) / 2**20
    f["max_rank"] = report["max_rank"]
    f["float_ops"] = len(report["float_ops"])
    f["fully_int8"] = mode == "int8" and report["ok"]
    f["problems"] = report["problems"]
    f["ops"] = report["ops"]
    if mode == "float32":  # one counter for every model: the float32 TFLite graph's
        graph = Graph(f["path"])
        row["tflite_gmacs"], row["tflite_params_m"] = graph.macs / 1e9, graph.params / 1e6


def time_all(rows, threads_list, repeats, rounds=3) -> None:
    """Every file of every row at every thread count, in ``rounds`` round-robin passes over all
    of them (``bench_latency.time_jobs``: a burst of load on the shared machine hits every model
    alike; medians over the rounds), into ``row[mode]["timing"][threads]``."""
    jobs = [(row[mode]["path"], threads) for threads in threads_list for row in rows
            for mode in ("float32", "int8")]
    names = {row[mode]["path"]: f"{row['model']:<12} {row['clip']:<10} {mode:<7}" for row in rows
             for mode in ("float32", "int8")}

    def report(r, job, t):
        print(f"round {r + 1}/{rounds} {names[job[0]]} {job[1]}t {t['median_ms']:8.1f} ms "
              f"(p90 {t['p90_ms']:.1f})", flush=True)

    timings = time_jobs(jobs, repeats, rounds, warmup=2, report=report)
    for row in rows:
        for mode in ("float32", "int8"):
            row[mode]["timing"] = {str(t): timings[(row[mode]["path"], t)] for t in threads_list}


def markdown(rows, threads_list, repeats, command, env, load, rounds=1) -> str:
    lines = [env, "",
             f"Latency per clip (median / p90 of {repeats} invokes, XNNPACK, each file in its own "
             f"process; median over {rounds} round-robin pass(es) over all files and thread counts), "
             f"random weights (speed only), one run. Command: `{command}`"]
    if load:
        lines.append(f"Load average (1 min) of the shared 2-core machine: {load[0]:.1f} at the start, "
                     f"{load[1]:.1f} at the end.")
    thr = " | ".join(f"float32 ms {t}t | int8 ms {t}t (p90)" for t in threads_list)
    lines += ["", f"| model | clip | weights (M) | GMACs | {thr} | int8 / float32 ({threads_list[-1]}t) "
              "| MB float32 / int8 | int8 file: fully int8? | max rank |",
              "|---|---|---:|---:|" + "---:|---:|" * len(threads_list) + "---:|---:|---|---:|"]
    last = str(threads_list[-1])
    for r in rows:
        f, q = r["float32"], r["int8"]
        cells = " | ".join(f"{f['timing'][str(t)]['ms']:.1f} | {q['timing'][str(t)]['ms']:.1f} "
                           f"({q['timing'][str(t)]['p90_ms']:.1f})" for t in threads_list)
        ratio = q["timing"][last]["ms"] / f["timing"][last]["ms"]
        fully = "yes" if q["fully_int8"] else "no: " + "; ".join(q.get("problems") or ["?"])
        name = f"`{r['model']}`" if r["family"] != "movinet" else f"MoViNet-{r['model'][-2:].upper()}"
        lines.append(f"| {name} | {r['clip']} | {r['tflite_params_m']:.2f} | {r['tflite_gmacs']:.2f} | {cells} | "
                     f"{ratio:.2f} | {f['mb']:.1f} / {q['mb']:.1f} | {fully} | {q['max_rank']} |")
    return "\n".join(lines)


def targets(rows, threads_list) -> list[str]:
    out = []
    for clip in dict.fromkeys(r["clip"] for r in rows):
        peer = next((r for r in rows if r["clip"] == clip and r["model"] == TARGET_PEER), None)
        if peer is None:
            continue
        for r in rows:
            if r["clip"] != clip or r["model"] not in TARGET_MODELS:
                continue
            for t in map(str, threads_list):
                ms, peer_ms = r["int8"]["timing"][t]["ms"], peer["int8"]["timing"][t]["ms"]
                out.append(f"{'held' if ms < peer_ms else 'NOT held'}: {r['model']} {clip} int8 "
                           f"{ms:.1f} ms vs MoViNet-A1 int8 {peer_ms:.1f} ms at {t} thread(s) "
                           f"({ms / peer_ms:.2f}x)")
    return out


def main(argv=None):
    from kvid import environment

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", nargs="+", default=["8x112", "16x172"], help="TxS clip sizes")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3,
                        help="round-robin timing passes over all files and thread counts (median over the rounds)")
    parser.add_argument("--kvid", nargs="+", default=list(KVID_MODELS))
    parser.add_argument("--movinet", nargs="+", default=list(MOVINETS))
    parser.add_argument("--venv", default=os.environ.get("KVID_PEERS_VENV", DEFAULT_VENV))
    parser.add_argument("--out", help="folder for the .tflite files (default: a temporary one)")
    parser.add_argument("--markdown", help="also write the table (and a .json beside it) here")
    parser.add_argument("--reuse", action="store_true",
                        help="take the exports found in --out (MoViNet's, and bench_latency's of kvid) as they are")
    parser.add_argument("--export-only", action="store_true",
                        help="make the files in --out and stop (time them later with --reuse, on a quiet machine)")
    args = parser.parse_args(argv)
    if args.export_only and not args.out:
        parser.error("--export-only needs --out (the folder a later --reuse run reads)")

    out_dir = args.out or tempfile.mkdtemp(prefix="kvid_bench_peers_")
    os.makedirs(out_dir, exist_ok=True)
    env = environment.line()
    print(env, flush=True)
    python = ensure_venv(args.venv)
    rows = []
    for clip in args.clips:
        frames, size = (int(v) for v in clip.split("x"))
        for model_id in args.movinet:
            rows.append(export_movinet(python, model_id, frames, size, out_dir, args.reuse))
            print(f"exported movinet_{model_id} {clip}", flush=True)
        for name in args.kvid:
            row = export_pair(name, frames, size, out_dir, reuse=args.reuse)
            row["source"] = "kvid"
            rows.append(row)
            print(f"exported {name} {clip}", flush=True)
    if args.export_only:
        print(f"exports in {out_dir}; time them with the same --out and --reuse", flush=True)
        return 0
    for row in rows:
        for mode in ("float32", "int8"):
            describe_file(row, mode)
    load_start = load_average()
    time_all(rows, args.threads, args.repeats, args.rounds)
    load = (load_start, load_average()) if load_start is not None else None
    command = ("python benchmarks/bench_peers.py " + " ".join(argv if argv is not None else sys.argv[1:])).strip()
    table = markdown(rows, args.threads, args.repeats, command, env, load, args.rounds)
    goals = targets(rows, args.threads)
    print("\n" + table + "\n\n" + "\n".join(goals))
    if args.markdown:
        os.makedirs(os.path.dirname(os.path.abspath(args.markdown)), exist_ok=True)
        with open(args.markdown, "w", encoding="utf-8") as fh:
            fh.write(table + "\n\n" + "\n".join(goals) + "\n")
        with open(os.path.splitext(args.markdown)[0] + ".json", "w", encoding="utf-8") as fh:
            json.dump({"env": env, "command": command, "load_average": load, "rows": rows,
                       "targets": goals, "peer_packages": PEER_PACKAGES}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
