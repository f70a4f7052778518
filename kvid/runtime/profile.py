"""Where the time of an int8 (or any) TFLite graph goes: per kvid block and per op kind.

``kvid bench --profile F.tflite`` prints it. TF-free.

Why not the runtime's op profiler: ai-edge-litert 2.3's Python ``Interpreter`` has no hook to
attach one (TFLite's C++ ``SetProfiler`` is not wrapped), and its ``CompiledModel`` takes no
runtime options in Python; the C API in ``libLiteRt.so`` has ``LiteRtCompiledModelGetProfiler``,
but turning profiling on needs a runtime-options payload whose setter is not exported. So kvid
times the graph cut into pieces, each run by the same interpreter, XNNPACK on, at the same
thread count (:meth:`kvid.runtime.profile_graph.Graph.submodel`):

* the whole file;
* every block alone - the run of consecutive ops of one ``<block>__*`` layer prefix, its
  inputs random int8 tensors - which keeps what XNNPACK fuses inside a block (a PAD into the
  conv after it);
* every op alone, for the per-kind table (CONV_2D dense / grouped / 1x1 / temporal, the data
  movement ops, element-wise ops, pooling), and whether XNNPACK runs it at all (an op it does
  not take runs on TFLite's builtin kernel and splits the delegated graph).

The pieces run with warm caches and without the whole graph's memory traffic between them,
so their sum differs from the whole graph; the report prints both sums beside the whole.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict

import numpy as np

from kvid.runtime.profile_graph import Graph

MOVE_KINDS = ("RESHAPE", "TRANSPOSE", "CONCATENATION", "PAD", "STRIDED_SLICE", "SLICE", "SPLIT",
              "SPLIT_V", "TILE", "GATHER", "SPACE_TO_DEPTH", "DEPTH_TO_SPACE", "SQUEEZE",
              "EXPAND_DIMS", "PACK", "UNPACK", "BROADCAST_TO")
ELEMENTWISE_KINDS = ("ADD", "SUB", "MUL", "DIV", "ABS", "NEG", "MAXIMUM", "MINIMUM", "LOGISTIC",
                     "TANH", "RELU", "RELU6", "HARD_SWISH", "SQUARED_DIFFERENCE")
POOL_KINDS = ("MAX_POOL_2D", "AVERAGE_POOL_2D", "MEAN", "SUM", "REDUCE_MAX")
GROUPS = ("dense conv", "grouped / depthwise conv", "data movement", "element-wise",
          "pooling / mean", "other")


def kind_group(kind: str) -> str:
    """One of :data:`GROUPS` for an op kind (see :func:`kvid.runtime.profile_graph.op_kind`)."""
    if kind.startswith(("CONV_2D grouped", "DEPTHWISE_CONV_2D")):
        return "grouped / depthwise conv"
    if kind.startswith(("CONV_2D", "FULLY_CONNECTED", "CONV_3D", "TRANSPOSE_CONV", "BATCH_MATMUL")):
        return "dense conv"
    if kind in MOVE_KINDS:
        return "data movement"
    if kind in ELEMENTWISE_KINDS:
        return "element-wise"
    if kind in POOL_KINDS:
        return "pooling / mean"
    return "other"


def group_shares(report) -> dict:
    """Share of the summed op time per :data:`GROUPS` entry."""
    total = report["ops_sum_ms"] or 1.0
    shares = dict.fromkeys(GROUPS, 0.0)
    for k in report["kinds"]:
        shares[kind_group(k["kind"])] += k["ms"] / total
    return shares


def _interpreter(content: bytes, threads: int, xnnpack: bool = True):
    from kvid.runtime.interpreter import _interpreter_class

    cls, _ = _interpreter_class()
    kwargs = {"model_content": content, "num_threads": threads}
    if not xnnpack:
        from ai_edge_litert.interpreter import OpResolverType

        kwargs["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interpreter = cls(**kwargs)
    interpreter.allocate_tensors()
    return interpreter


def _fill_inputs(interpreter, rng):
    for detail in interpreter.get_input_details():
        dtype, shape = np.dtype(detail["dtype"]), detail["shape"]
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            value = rng.integers(max(info.min, -128), min(info.max, 127) + 1, shape).astype(dtype)
        else:
            value = rng.uniform(0, 1, shape).astype(dtype)
        interpreter.set_tensor(detail["index"], value)


def time_model(content: bytes, threads: int = 2, warmup: int = 2, repeats: int = 10,
               n_ops: int | None = None, seed: int = 0) -> dict:
    """Median / p10 / p90 ms of ``invoke`` on random inputs; with ``n_ops`` (the model's op
    count) also ``delegated_nodes``: how many delegate kernels XNNPACK put in place of its ops
    (0: XNNPACK took none of them)."""
    interpreter = _interpreter(content, threads)
    _fill_inputs(interpreter, np.random.default_rng(seed))
    for _ in range(warmup):
        interpreter.invoke()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        interpreter.invoke()
        times.append(time.perf_counter() - t0)
    t = np.asarray(times) * 1e3
    row = {"ms": float(np.median(t)), "p10_ms": float(np.percentile(t, 10)),
           "p90_ms": float(np.percentile(t, 90))}
    if n_ops is not None:
        # A delegate adds one node per delegated partition after the model's own nodes.
        row["delegated_nodes"] = int(interpreter._interpreter.NumNodes()) - int(n_ops)
    return row


def profile(path, threads: int = 2, warmup: int = 2, repeats: int = 10, ops: bool = True) -> dict:
    """The profile of ``path`` (module docstring) as a dict (see :func:`format_profile`)."""
    graph = Graph(path)
    with open(graph.path, "rb") as fh:
        whole = time_model(fh.read(), threads, warmup, repeats, n_ops=len(graph.ops))
    report = {"model": graph.path, "threads": threads, "repeats": repeats,
              "ops": len(graph.ops), "gmacs": graph.macs / 1e9, "whole_ms": whole["ms"],
              "xnnpack_partitions": whole.pop("delegated_nodes"),
              "whole": whole, "blocks": [], "kinds": [], "op_rows": []}
    for block, indices in graph.segments():
        timing = time_model(graph.submodel(indices), threads, warmup, repeats)
        report["blocks"].append({
            "block": block, "ops": len(indices), "first_op": indices[0],
            "gmacs": sum(graph.ops[i].macs for i in indices) / 1e9, **timing})
    if ops:
        for op in graph.ops:
            timing = time_model(graph.submodel([op.index]), threads, 1, max(3, repeats // 2), n_ops=1)
            report["op_rows"].append({
                "index": op.index, "op": op.type, "kind": op.kind, "block": op.block,
                "layer": op.layer, "shape": op.shape, "gmacs": op.macs / 1e9,
                "xnnpack": timing.pop("delegated_nodes") > 0, **timing})
        kinds = defaultdict(lambda: {"count": 0, "ms": 0.0, "gmacs": 0.0, "not_xnnpack": 0})
        for row in report["op_rows"]:
            k = kinds[row["kind"]]
            k["count"] += 1
            k["ms"] += row["ms"]
            k["gmacs"] += row["gmacs"]
            k["not_xnnpack"] += 0 if row["xnnpack"] else 1
        report["kinds"] = sorted(({"kind": name, **v} for name, v in kinds.items()),
                                 key=lambda r: -r["ms"])
    report["blocks_sum_ms"] = sum(b["ms"] for b in report["blocks"])
    report["ops_sum_ms"] = sum(r["ms"] for r in report["op_rows"])
    report["not_xnnpack"] = sorted({r["op"] for r in report["op_rows"] if not r["xnnpack"]})
    return report


def _block_totals(report):
    """Blocks merged by name (a block's ops can come in several runs), in first-seen order."""
    totals = {}
    for b in report["blocks"]:
        t = totals.setdefault(b["block"], {"block": b["block"], "ops": 0, "ms": 0.0, "gmacs": 0.0})
        t["ops"] += b["ops"]
        t["ms"] += b["ms"]
        t["gmacs"] += b["gmacs"]
    return list(totals.values())


def _gmac_s(gmacs, ms):
    return gmacs / (ms / 1e3) if ms > 0 and gmacs > 0 else 0.0


def format_profile(report, markdown: bool = False, top: int = 12) -> str:
    """The profile as two tables (per block, per op kind) and the slowest ops."""
    whole = report["whole_ms"]
    head = (f"{os.path.basename(report['model'])}: {report['ops']} ops, {report['gmacs']:.2f} GMACs, "
            f"whole graph {whole:.2f} ms ({_gmac_s(report['gmacs'], whole):.1f} GMAC/s), "
            f"{report['threads']} threads, XNNPACK in {report['xnnpack_partitions']} partition(s); "
            f"blocks alone sum to {report['blocks_sum_ms']:.2f} ms")
    if report["op_rows"]:
        head += f", ops alone to {report['ops_sum_ms']:.2f} ms"
        head += (f"; ops XNNPACK does not run: {', '.join(report['not_xnnpack'])}"
                 if report["not_xnnpack"] else "; XNNPACK runs every op")
    blocks = _block_totals(report)
    block_rows = [(b["block"], b["ops"], f"{b['gmacs']:.3f}", f"{b['ms']:.2f}",
                   f"{100 * b['ms'] / whole:.1f}%", f"{_gmac_s(b['gmacs'], b['ms']):.1f}")
                  for b in blocks]
    tables = [head, _table(("block", "ops", "GMACs", "ms", "of whole", "GMAC/s"), block_rows, markdown)]
    if report["kinds"]:
        shares = group_shares(report)
        tables.append("ops alone, share of their summed time: " + ", ".join(
            f"{name} {share:.1%}" for name, share in shares.items() if share))
        total = report["ops_sum_ms"] or 1.0
        kind_rows = [(k["kind"], k["count"], f"{k['gmacs']:.3f}", f"{k['ms']:.2f}",
                      f"{100 * k['ms'] / total:.1f}%", f"{_gmac_s(k['gmacs'], k['ms']):.1f}",
                      k["not_xnnpack"] or "")
                     for k in report["kinds"]]
        tables.append(_table(("op kind", "ops", "GMACs", "ms (alone)", "of ops", "GMAC/s",
                              "not XNNPACK"), kind_rows, markdown))
        slow = sorted(report["op_rows"], key=lambda r: -r["ms"])[:top]
        tables.append(_table(("slowest op", "kind", "output", "ms", "GMAC/s"),
                             [(f"#{r['index']} {r['layer']}", r["kind"], "x".join(map(str, r["shape"])),
                               f"{r['ms']:.2f}", f"{_gmac_s(r['gmacs'], r['ms']):.1f}") for r in slow],
                             markdown))
    return "\n\n".join(tables)


def _table(header, rows, markdown):
    if markdown:
        lines = ["| " + " | ".join(header) + " |",
                 "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
        lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join(fmt.format(*[str(c) for c in row]) for row in (header, *rows))


__all__ = ["profile", "format_profile", "time_model", "kind_group", "group_shares", "GROUPS",
           "MOVE_KINDS"]
