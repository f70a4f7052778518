"""``kvid doctor``: what a bug report needs, then a self-check of a few seconds.

It prints the versions (kvid, Python, TensorFlow, tf_keras, tfmot, ai-edge-litert /
tflite-runtime), whether TensorFlow runs its oneDNN or its Eigen kernels, the CPU and the
instruction sets that decide kvid's speed (AVX2, AVX-512, VNNI; NEON, dotprod on ARM), whether
XNNPACK is there, and the threads; then it runs the checks below and names each one that
fails, with exit status 1. Every check is one that a real machine has failed or could fail:

1. grouped conv forward + gradient: kvid's grouped ``Conv2D`` (kvid/ops/grouped.py) inside a
   ``tf.function`` against the same convolution split into groups;
2. grouped conv + BN + ReLU inference, BN folded: the pattern TensorFlow 2.21's Eigen path
   fused into a kernel that refuses groups (issue 14), run by ``predict`` and after
   ``kvid.ops.fold.fold_batch_norm``, against the eager call;
3. int8 export of ``opscheck`` (every kvid.ops layer, tiny): fully int8, rank <= 4, builtin ops
   only (``kvid.export.audit``), and the GPU delegate's per-op rules (``kvid.export.gpu``);
4. the TF-free runtime on that file: its logits against the QAT Keras model, and XNNPACK
   against the reference kernels (``kvid.runtime.agreement``);
5. the TF-free runtime on a grouped int8 conv it writes itself (``kvid.runtime.selfcheck``)
   against integer arithmetic, on XNNPACK and the reference kernels.

Without TensorFlow (a runtime-only install) checks 1-4 are reported as skipped and check 5
still runs. Nothing is downloaded; the files live in a temporary folder.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

from kvid import KvidError, environment


def add_parsers(sub):
    p = sub.add_parser("doctor", help="versions, CPU, kernels and a self-check of a few seconds (for bug reports)")
    p.add_argument("--threads", type=int, default=2, help="TFLite threads for the runtime checks (default 2)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_doctor)


# -- facts ------------------------------------------------------------------------------------
def _threads(tflite_threads: int) -> dict:
    out = {"cores": os.cpu_count() or 1, "tflite": tflite_threads}
    if hasattr(os, "sched_getaffinity"):
        out["usable_cores"] = len(os.sched_getaffinity(0))
    for name in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        if os.environ.get(name):
            out[name] = os.environ[name]
    tf = sys.modules.get("tensorflow")
    if tf is not None:  # 0: TensorFlow picks (one per core)
        out["tensorflow_intra_op"] = tf.config.threading.get_intra_op_parallelism_threads()
        out["tensorflow_inter_op"] = tf.config.threading.get_inter_op_parallelism_threads()
    return out


def facts(tflite_threads: int = 2) -> dict:
    """Everything the report's first part prints (TensorFlow imported first, when installed,
    so the kernel family is TensorFlow's own answer)."""
    has_tf = not environment.missing("train")
    if has_tf:
        import kvid.keras  # noqa: F401 - TF through the one place that selects tf_keras
    d = environment.describe(tflite_threads)
    d["tensorflow_usable"] = has_tf
    d["threads"] = _threads(tflite_threads)
    d["int8_warning"] = environment.int8_warning(d["cpu"])
    try:
        from kvid.runtime.selfcheck import xnnpack_available

        d["xnnpack"] = xnnpack_available(tflite_threads)
    except KvidError as exc:  # no interpreter, no schema
        d["xnnpack"], d["xnnpack_why"] = None, str(exc)
    return d


def format_facts(d: dict) -> list[str]:
    v, c = d["versions"], d["cpu"]

    def ver(name):
        return v.get(name) or "not installed"

    lines = [
        f"kvid {v['kvid']}, Python {v['python']} ({d['platform']})",
        f"TensorFlow {ver('tensorflow')}, tf_keras {ver('tf-keras')}, tensorflow-model-optimization "
        f"{ver('tensorflow-model-optimization')}"
        + ("" if d["tensorflow_usable"] else
           f" -> training, QAT and export unavailable ({environment.install_command('train')})"),
        f"TFLite runtime: ai-edge-litert {ver('ai-edge-litert')}, tflite-runtime {ver('tflite-runtime')}",
        f"TensorFlow kernels: oneDNN {d['onednn']} ({d['onednn_why']})",
        f"CPU: {c['model']} ({c['arch']}, {c['cores']} cores); {', '.join(c['features']) or 'no ISA flags read'}; "
        f"int8 dot product: {c['int8_dot']}",
    ]
    if d["int8_warning"]:
        lines.append(d["int8_warning"])
    xnnpack = {True: "available (it takes a grouped int8 conv)",
               False: "NOT available: TFLite runs the builtin kernels, grouped convs ~50x slower",
               None: d.get("xnnpack_why") or "unknown (this runtime does not list its nodes)"}
    lines.append(f"XNNPACK: {xnnpack[d['xnnpack']]}")
    t = d["threads"]
    extra = "".join(f", {k}={v}" for k, v in t.items() if k.isupper())
    tf_threads = (f"; TensorFlow intra-op {t['tensorflow_intra_op'] or 'auto'}, inter-op {t['tensorflow_inter_op'] or 'auto'}"
                  if "tensorflow_intra_op" in t else "")
    lines.append(f"threads: {t['cores']} cores ({t.get('usable_cores', t['cores'])} usable){extra}{tf_threads}; "
                 f"TFLite checks with {t['tflite']}")
    return lines


# -- checks -----------------------------------------------------------------------------------
def check_grouped_conv(ctx) -> str:
    import numpy as np

    from kvid.keras import tf
    from kvid.ops import grouped

    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(2, 9, 9, 8)).astype(np.float32))
    k = tf.constant(rng.normal(size=(3, 3, 2, 8)).astype(np.float32))  # 4 groups

    @tf.function
    def both(x, k):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch([x, k])
            fast = grouped.grouped_conv2d(x, k, [1, 2, 2, 1], "SAME", [1, 1, 1, 1])
            split = tf.concat([tf.nn.conv2d(a, b, [1, 2, 2, 1], "SAME")
                               for a, b in zip(tf.split(x, 4, -1), tf.split(k, 4, -1))], -1)
            loss_fast, loss_split = tf.reduce_sum(fast * tf.sin(fast)), tf.reduce_sum(split * tf.sin(split))
        return fast, split, tape.gradient(loss_fast, [x, k]), tape.gradient(loss_split, [x, k])

    fast, split, g_fast, g_split = both(x, k)
    forward = float(np.max(np.abs(fast.numpy() - split.numpy())))
    gradient = max(float(np.max(np.abs(a.numpy() - b.numpy())) / (1 + np.max(np.abs(b.numpy()))))
                   for a, b in zip(g_fast, g_split))
    if forward > 1e-4 or gradient > 1e-4:
        raise AssertionError(f"differs from the split reference: forward {forward:.2g}, gradient {gradient:.2g} (relative)")
    return f"max |diff| forward {forward:.1g}, gradient {gradient:.1g} (relative)"


def check_folded_inference(ctx) -> str:
    import numpy as np

    from kvid.keras import keras
    from kvid.ops.fold import fold_batch_norm

    rng = np.random.default_rng(0)
    inp = keras.Input((12, 12, 16))
    y = keras.layers.Conv2D(16, 3, padding="same", groups=4, use_bias=False, name="gconv")(inp)
    y = keras.layers.BatchNormalization(name="gconv_bn")(y)
    y = keras.layers.ReLU()(y)
    model = keras.Model(inp, y)
    bn = model.get_layer("gconv_bn")
    bn.set_weights([rng.uniform(0.5, 1.5, 16), rng.normal(0, 0.5, 16), rng.normal(0, 0.5, 16),
                    rng.uniform(0.5, 2.0, 16)])
    x = rng.normal(size=(2, 12, 12, 16)).astype(np.float32)
    eager = model(x, training=False).numpy()
    graph = model.predict(x, verbose=0)  # grappler's path: where Eigen fused the grouped conv
    folded = fold_batch_norm(model).predict(x, verbose=0)
    scale = 1 + float(np.max(np.abs(eager)))
    d_graph, d_fold = float(np.max(np.abs(graph - eager))) / scale, float(np.max(np.abs(folded - eager))) / scale
    if d_graph > 1e-4 or d_fold > 1e-3:
        raise AssertionError(f"inference differs from the eager call: predict {d_graph:.2g}, BN folded {d_fold:.2g}")
    return f"predict and BN-folded predict match the eager call ({max(d_graph, d_fold):.1g} relative)"


def check_int8_export(ctx) -> str:
    from kvid.export.preset import export_preset

    path = os.path.join(ctx["tmp"], "opscheck_int8.tflite")
    result = export_preset("opscheck", path, frames=4, size=16, overrides={"width": 4},
                           calibration_clips=2, parity_clips=4)
    ctx["export"] = result
    report = result["audit"]
    if not report["ok"]:
        raise AssertionError("audit: " + "; ".join(report["problems"]))
    if not report["gpu"]["ok"]:
        raise AssertionError("GPU delegate rules: " + "; ".join(report["gpu"]["problems"]))
    return (f"audit ok ({sum(report['ops'].values())} int8 builtin ops, max rank {report['max_rank']}), "
            f"GPU delegate rules accept every op")


def check_runtime_on_export(ctx) -> str:
    from kvid.runtime.agreement import format_kernel_agreement

    result = ctx.get("export")
    if result is None:
        raise AssertionError("no int8 file (the export check failed)")
    kernels = result["kernels"]
    parity = f"int8 vs QAT Keras on {result['clips']} clips: SQNR {result['sqnr_db']:.1f} dB"
    if not kernels["ok"]:
        raise AssertionError(f"{parity}; {kernels['problem']}")
    if result["sqnr_db"] < 20:
        raise AssertionError(f"{parity} < 20 dB")
    return f"{parity}; {format_kernel_agreement(kernels)}"


def check_runtime_selfcheck(ctx) -> str:
    from kvid.runtime.selfcheck import check_runtime

    r = check_runtime(threads=ctx["threads"])
    if not r["ok"]:
        raise AssertionError(r["problem"])
    xnn = {True: "XNNPACK took it", False: "XNNPACK NOT available", None: "XNNPACK: the runtime does not say"}
    return (f"{r['runtime']}: grouped int8 CONV_2D = integer arithmetic (max {r['max_steps']['xnnpack']} step on "
            f"XNNPACK, {r['max_steps']['reference']} on the reference kernels; {xnn[r['xnnpack']]})")


CHECKS = (  # name, needs TensorFlow, check(ctx) -> detail (raises on failure)
    ("grouped conv forward + gradient vs split reference", True, check_grouped_conv),
    ("grouped conv + BN + ReLU inference, BN folded", True, check_folded_inference),
    ("int8 export of opscheck + audit", True, check_int8_export),
    ("TF-free runtime on the int8 export", True, check_runtime_on_export),
    ("TF-free runtime on its own grouped int8 conv", False, check_runtime_selfcheck),
)


def run_checks(threads: int = 2, tensorflow: bool = True) -> list[dict]:
    """Each check of :data:`CHECKS`: ``{"name", "status": "ok"|"FAIL"|"skipped", "detail",
    "seconds"}``."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="kvid_doctor_") as tmp:
        ctx = {"tmp": tmp, "threads": threads}
        for name, needs_tf, check in CHECKS:
            if needs_tf and not tensorflow:
                rows.append({"name": name, "status": "skipped", "detail": "no TensorFlow", "seconds": 0.0})
                continue
            t0 = time.perf_counter()
            try:
                status, detail = "ok", check(ctx)
            except Exception as exc:  # noqa: BLE001 - the report names the part that failed and why
                text = str(exc).strip().splitlines()
                status, detail = "FAIL", f"{type(exc).__name__}: {text[0] if text else ''}"
            rows.append({"name": name, "status": status, "detail": detail,
                         "seconds": round(time.perf_counter() - t0, 2)})
    return rows


def run_doctor(args) -> int:
    t0 = time.perf_counter()
    d = facts(args.threads)
    if not args.json:
        print("kvid doctor")
        for line in format_facts(d):
            print(f"  {line}")
        print("self-check:", flush=True)
    rows = run_checks(args.threads, tensorflow=d["tensorflow_usable"])
    failed = [r["name"] for r in rows if r["status"] == "FAIL"]
    if args.json:
        print(json.dumps({**d, "checks": rows, "ok": not failed}, indent=2, default=str))
    else:
        for r in rows:
            print(f"  [{r['status']:>4}] {r['name']}: {r['detail']}" + (f" ({r['seconds']:.1f} s)" if r["seconds"] else ""))
        skipped = sum(r["status"] == "skipped" for r in rows)
        verdict = (f"FAILED: {'; '.join(failed)}" if failed else f"{len(rows) - skipped} of {len(rows)} checks "
                   f"passed" + (f", {skipped} skipped (no TensorFlow)" if skipped else ""))
        print(f"doctor: {verdict} ({time.perf_counter() - t0:.0f} s)")
    return 1 if failed else 0


__all__ = ["CHECKS", "facts", "format_facts", "run_checks", "run_doctor"]
