"""int8 vs float32 TFLite, every family of the zoo: latency per clip, file size, fidelity.

    python benchmarks/bench_latency.py [--models sevnet_g8 mfnet3d ...] [--clips 8x112 16x224]
        [--threads 2] [--repeats 5] [--out DIR] [--markdown benchmarks/results/latency.md]
        [--profile DIR] [--zero-init] [--reuse]
    python benchmarks/bench_latency.py --render RUN.json [--markdown OUT.md]

For every preset (one per family by default: SEVNet, MF-Net, EAC-Net, CT-Net, the C2D
baseline, and FASTER's expensive and cheap clip models) at every clip size, the full-width
preset (its own class count, random weights) is exported by ``kvid.export.preset.export_preset``
- exactly what ``kvid export --model`` does - to float32, and, QAT-wrapped and calibrated on
random clips, to int8. Both files are audited, the int8 file's logits are compared with the
QAT Keras model's on random clips (SQNR), and each file is timed by
``kvid.runtime.bench.bench_one`` (its own process, XNNPACK on, ``--threads`` threads, median
of ``--repeats`` invokes after a warm-up), all files in ``--rounds`` round-robin passes after
every export is done, so that they share the load of a shared machine (median over the
rounds). All ratios come from one run of this script.

Random weights are built under ``kvid.ops.no_zero_init()``: residual branches start non-zero,
as a trained network's are (a zero-initialised branch gets an int8 scale XNNPACK refuses, and
its residual ADD then runs on TFLite's reference kernel); ``--zero-init`` builds the presets
as they start training instead.

The roofline: in the same run, a large dense CONV_2D (3x3, 256 -> 256 channels on 56x56,
``kvid.runtime.profile_graph.conv_model``), int8 and float32, timed the same way at the same
thread count; each model's int8 GMAC/s is given as a fraction of the int8 conv's. The table's
header is ``kvid.environment.line()`` (CPU, int8 dot-product instructions, versions) and the
load average of the shared machine at the start and the end. ``--profile DIR`` also writes
``kvid bench --profile`` of every int8 file (Markdown + JSON) to DIR.

Checks (issue 8): for SEVNet and MF-Net, int8 >= 1.5x faster than float32 and <= 0.3x its
size. Exit status 1 if a check fails or a file does not pass its audit. Targets (issue 18),
printed as held or not, for every clip size with a C2D row: every family's int8 GMAC/s >= 60%
of C2D's, EAC-Net's int8 latency / C2D's <= 1.1x its MAC ratio, CT-Net's int8 latency <= C2D's.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MODELS = ("sevnet_g8", "mfnet3d", "eacnet_r50", "ctnet_r50", "c2d_r50", "r2plus1d_50", "r2d_26")
CHECKED_FAMILIES = ("sevnet", "mfnet")
MIN_SPEEDUP, MAX_SIZE_RATIO = 1.5, 0.3


def export_pair(name, frames, size, out_dir, zero_init=False, reuse=False) -> dict:
    """Preset ``name`` (random weights, non-zero residual branches unless ``zero_init``)
    exported to float32 and int8 in ``out_dir``: paths, sizes, audits, int8 SQNR. With
    ``reuse``, an export this function made before in ``out_dir`` (its ``.row.json``) is
    taken as it is."""
    from kvid.export.preset import export_preset
    from kvid import models, ops
    from kvid.analysis.count import count

    tag = f"{name}_{frames}x{size}" + ("_zero_init" if zero_init else "")
    cache = os.path.join(out_dir, tag + ".row.json")
    if reuse and os.path.exists(cache):
        with open(cache, encoding="utf-8") as fh:
            return json.load(fh)

    stats = count(models.build(name, frames=frames, size=size))
    row = {"model": name, "family": models.get(name).family, "clip": f"{frames}x{size}x{size}",
           "params_m": stats["params"] / 1e6, "gmacs": stats["gmacs"], "zero_init": zero_init}
    for mode in ("float32", "int8"):
        t0 = time.time()
        path = os.path.join(out_dir, f"{tag}_{mode}.tflite")
        with contextlib.nullcontext() if zero_init else ops.no_zero_init():
            result = export_preset(name, path, frames=frames, size=size, mode=mode,
                                   calibration_clips=4, parity_clips=2 if mode == "int8" else 0)
        row[mode] = {"mb": result["bytes"] / 2**20, "audit_ok": result["audit"]["ok"],
                     "max_rank": result["audit"]["max_rank"], "export_s": time.time() - t0,
                     "path": path}
        if mode == "int8":
            row[mode]["sqnr_db"] = result["sqnr_db"]
    row["size_ratio"] = row["int8"]["mb"] / row["float32"]["mb"]
    with open(cache, "w", encoding="utf-8") as fh:
        json.dump(row, fh, indent=1)
    return row


def time_jobs(jobs, repeats, rounds=3, warmup=1, report=None) -> dict:
    """Median / p10 / p90 ms of each ``(path, threads)`` job (``kvid.runtime.bench.bench_one``:
    its own process, XNNPACK), timed in ``rounds`` round-robin passes over all jobs so that every
    file sees the same changing load of a shared machine; each figure is the median over the
    rounds. ``report(round, job, timing)`` is called after each timing (progress)."""
    import numpy as np

    from kvid.runtime.bench import bench_one

    per_round = {job: [] for job in jobs}
    for r in range(rounds):
        for path, threads in jobs:
            t = bench_one(path, threads=threads, warmup=warmup, repeats=repeats)
            per_round[(path, threads)].append(t)
            if report:
                report(r, (path, threads), t)
    return {job: {"ms": float(np.median([t["median_ms"] for t in ts])),
                  "p10_ms": float(np.median([t["p10_ms"] for t in ts])),
                  "p90_ms": float(np.median([t["p90_ms"] for t in ts])),
                  "rounds_ms": [t["median_ms"] for t in ts]} for job, ts in per_round.items()}


def time_files(paths, threads, repeats, rounds=3) -> dict:
    """:func:`time_jobs` of ``paths`` at one thread count, by path."""
    timings = time_jobs([(p, threads) for p in paths], repeats, rounds)
    return {p: timings[(p, threads)] for p in paths}


def time_rows(rows, threads, repeats, rounds=3, extra=()) -> dict:
    """Time both files of every :func:`export_pair` row (and the ``extra`` paths) with
    :func:`time_files`; fills the rows in place and returns the timings of ``extra``."""
    paths = [r[m]["path"] for r in rows for m in ("float32", "int8")] + list(extra)
    timings = time_files(paths, threads, repeats, rounds)
    for row in rows:
        for mode in ("float32", "int8"):
            row[mode].update(timings[row[mode]["path"]])
        row["speedup"] = row["float32"]["ms"] / row["int8"]["ms"]
        row["int8_gmac_s"] = row["gmacs"] / (row["int8"]["ms"] / 1e3)
    return {p: timings[p] for p in extra}


ROOFLINE_CONV = {"height": 56, "width": 56, "cin": 256, "cout": 256, "kernel": 3}


def roofline_models(out_dir) -> dict:
    """Write the roofline convs (int8, float32) to ``out_dir``: ``{dtype: (path, GMACs)}``."""
    from kvid.runtime.profile_graph import Graph, conv_model

    files = {}
    for dtype in ("int8", "float32"):
        path = os.path.join(out_dir, f"roofline_conv_{dtype}.tflite")
        with open(path, "wb") as fh:
            fh.write(conv_model(**ROOFLINE_CONV, dtype=dtype))
        files[dtype] = (path, Graph(path).macs / 1e9)
    return files


def roofline(files, timings) -> dict:
    """GMAC/s of the roofline convs from their :func:`time_files` timings."""
    result = {"conv": dict(ROOFLINE_CONV)}
    for dtype, (path, gmacs) in files.items():
        ms = timings[path]["ms"]
        result[dtype] = {"gmacs": gmacs, "ms": ms, "gmac_s": gmacs / (ms / 1e3)}
    return result


def describe_roofline(peak) -> str:
    c = peak["conv"]
    return (f"roofline (same run, same threads): a dense {c['kernel']}x{c['kernel']} CONV_2D "
            f"{c['cin']}->{c['cout']} on {c['height']}x{c['width']} ({peak['int8']['gmacs']:.2f} GMACs) runs "
            f"{peak['int8']['gmac_s']:.1f} GMAC/s in int8 and {peak['float32']['gmac_s']:.1f} GMAC/s in "
            f"float32 (int8/float32 {peak['int8']['gmac_s'] / peak['float32']['gmac_s']:.2f}x)")


def load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def checks(rows) -> list[str]:
    failures = []
    for r in rows:
        where = f"{r['model']} {r['clip']}"
        for mode in ("float32", "int8"):
            if not r[mode]["audit_ok"]:
                failures.append(f"{where}: the {mode} file does not pass the audit")
        if r["family"] in CHECKED_FAMILIES:
            if r["speedup"] < MIN_SPEEDUP:
                failures.append(f"{where}: int8 only {r['speedup']:.2f}x faster than float32 "
                                f"(target >= {MIN_SPEEDUP})")
            if r["size_ratio"] > MAX_SIZE_RATIO:
                failures.append(f"{where}: int8 is {r['size_ratio']:.2f}x the float32 size "
                                f"(target <= {MAX_SIZE_RATIO})")
    return failures


def targets(rows) -> list[str]:
    """Issue 18's targets, each ``held: ...`` or ``NOT held: ...``, against C2D at each clip."""
    lines = []
    for clip in dict.fromkeys(r["clip"] for r in rows):
        base = next((r for r in rows if r["clip"] == clip and r["family"] == "c2d"), None)
        if base is None:
            continue
        for r in rows:
            if r["clip"] != clip or r is base:
                continue
            share = r["int8_gmac_s"] / base["int8_gmac_s"]
            lines.append(f"{'held' if share >= 0.6 else 'NOT held'}: {r['model']} {clip} int8 "
                         f"{r['int8_gmac_s']:.1f} GMAC/s = {share:.2f}x C2D's (target >= 0.60)")
            latency, macs = r["int8"]["ms"] / base["int8"]["ms"], r["gmacs"] / base["gmacs"]
            if r["family"] == "eacnet":
                lines.append(f"{'held' if latency <= 1.1 * macs else 'NOT held'}: {r['model']} {clip} "
                             f"int8 latency {latency:.2f}x C2D at {macs:.2f}x its MACs "
                             f"(target <= {1.1 * macs:.2f}x)")
            if r["family"] == "ctnet":
                lines.append(f"{'held' if latency <= 1.0 else 'NOT held'}: {r['model']} {clip} "
                             f"int8 latency {latency:.2f}x C2D (target <= 1.00x)")
    return lines


def c2d_ratios(rows) -> str:
    """Every model against C2D at its clip, from the same run: MACs, float32 and int8 latency
    (the papers' claims - EAC-Net cheaper than C2D, CT-Net about as costly - are in MACs)."""
    lines = ["| preset | clip | GMACs / C2D | float32 latency / C2D | int8 latency / C2D "
             "| int8 latency / MACs ratio |", "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        base = next((b for b in rows if b["family"] == "c2d" and b["clip"] == r["clip"]), None)
        if base is None or r is base:
            continue
        macs = r["gmacs"] / base["gmacs"]
        q = r["int8"]["ms"] / base["int8"]["ms"]
        lines.append(f"| `{r['model']}` | {r['clip']} | {macs:.2f} | "
                     f"{r['float32']['ms'] / base['float32']['ms']:.2f} | {q:.2f} | {q / macs:.2f} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def markdown(rows, threads, repeats, command, env=None, peak=None, load=None, rounds=1) -> str:
    init = ("presets as they start training (zero-initialised residual branches)"
            if rows and rows[0].get("zero_init") else
            "residual branches not zero-initialised (as after training)")
    lines = [env or "", "",
             f"TFLite latency per clip, {threads} threads, XNNPACK, median of {repeats} invokes "
             f"(median over {rounds} round-robin pass(es) over all files); "
             f"full-width presets, random weights, {init}. Command: `{command}`"]
    if load:
        lines.append(f"Load average (1 min) of the shared 2-core machine: {load[0]:.1f} at the start, "
                     f"{load[1]:.1f} at the end; ratios are within this one run.")
    if peak:
        lines.append(describe_roofline(peak) + ".")
    lines += [
        "",
        "| family | preset | clip | params (M) | GMACs | float32 ms | int8 ms | int8 speed-up "
        "| int8 GMAC/s | of int8 peak | float32 MB | int8 MB | int8/float32 size | int8 SQNR dB | audit |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        f, q = r["float32"], r["int8"]
        audit = "ok" if f["audit_ok"] and q["audit_ok"] else "FAIL"
        of_peak = f"{r['int8_gmac_s'] / peak['int8']['gmac_s']:.0%}" if peak else "-"
        lines.append(
            f"| {r['family']} | `{r['model']}` | {r['clip']} | {r['params_m']:.2f} | "
            f"{r['gmacs']:.2f} | {f['ms']:.1f} | {q['ms']:.1f} | {r['speedup']:.2f}x | "
            f"{r['int8_gmac_s']:.1f} | {of_peak} | "
            f"{f['mb']:.1f} | {q['mb']:.1f} | {r['size_ratio']:.2f} | {q['sqnr_db']:.1f} | {audit} |")
    ratios = c2d_ratios(rows)
    if ratios:
        lines += ["", "Against C2D at the same clip, same run:", "", ratios]
    return "\n".join(lines).lstrip("\n")


def write_profiles(rows, out_dir, threads, repeats) -> list:
    """``kvid bench --profile`` of every int8 file: Markdown + JSON per model in ``out_dir``."""
    from kvid import environment
    from kvid.runtime.profile import format_profile, group_shares, profile

    os.makedirs(out_dir, exist_ok=True)
    written = []
    for r in rows:
        report = profile(r["int8"]["path"], threads=threads, repeats=repeats)
        report["env"] = environment.line(threads)
        report["command"] = f"kvid bench --profile {os.path.basename(r['int8']['path'])} --threads {threads} --repeats {repeats}"
        stem = os.path.join(out_dir, f"profile_{r['model']}_{r['clip'].rsplit('x', 1)[0]}")
        with open(stem + ".md", "w", encoding="utf-8") as fh:
            fh.write(f"{report['env']}\n\nCommand: `{report['command']}` (int8 export of "
                     f"`bench_latency.py`)\n\n{format_profile(report, markdown=True)}\n")
        with open(stem + ".json", "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=1)
        r["profile"] = {"path": stem + ".md", "whole_ms": report["whole_ms"],
                        "ops_sum_ms": report["ops_sum_ms"], "kinds": report["kinds"],
                        "groups": group_shares(report), "not_xnnpack": report["not_xnnpack"],
                        "partitions": report["xnnpack_partitions"], "ops": report["ops"]}
        written.append(stem + ".md")
        print(f"profile: {stem}.md", flush=True)
    return written


def profile_summary(rows) -> str:
    """Where the int8 time goes, every profiled model in one table (shares of the ops' summed
    time when each runs alone; see kvid.runtime.profile)."""
    from kvid.runtime.profile import GROUPS

    lines = ["| preset | clip | int8 ms (whole) | ops | XNNPACK partitions | "
             + " | ".join(GROUPS) + " | ops XNNPACK does not run |",
             "|---|---|---:|---:|---:|" + "---:|" * len(GROUPS) + "---|"]
    for r in rows:
        p = r.get("profile")
        if not p:
            continue
        lines.append(f"| `{r['model']}` | {r['clip']} | {p['whole_ms']:.1f} | {p['ops']} | {p['partitions']} | "
                     + " | ".join(f"{p['groups'][g]:.0%}" for g in GROUPS)
                     + f" | {', '.join(p['not_xnnpack']) or '-'} |")
    return "\n".join(lines)


def main(argv=None):
    from kvid import environment

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--clips", nargs="+", default=["8x112", "16x224"], help="TxS clip sizes")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3,
                        help="round-robin timing passes over all files (median over the rounds)")
    parser.add_argument("--out", help="folder for the .tflite files (default: a temporary one)")
    parser.add_argument("--markdown", help="also write the table (and a .json beside it) here")
    parser.add_argument("--profile", metavar="DIR", help="also profile every int8 file into DIR")
    parser.add_argument("--zero-init", action="store_true",
                        help="build the presets as they start training (zero-initialised branches)")
    parser.add_argument("--reuse", action="store_true",
                        help="take exports this script made before in --out as they are")
    parser.add_argument("--render", metavar="JSON",
                        help="write the tables of a finished run again from its .json (no export, no timing)")
    args = parser.parse_args(argv)
    if args.render:
        return render(args.render, args.markdown, parser)

    out_dir = args.out or tempfile.mkdtemp(prefix="kvid_bench_latency_")
    os.makedirs(out_dir, exist_ok=True)
    env = environment.line(args.threads)
    print(env, flush=True)
    if environment.int8_warning():
        print(environment.int8_warning(), flush=True)
    rows = []
    for clip in args.clips:
        frames, size = (int(v) for v in clip.split("x"))
        for name in args.models:
            rows.append(export_pair(name, frames, size, out_dir, args.zero_init, args.reuse))
            print(f"exported {name} {clip}", flush=True)
    conv_files = roofline_models(out_dir)
    load_start = load_average()
    timings = time_rows(rows, args.threads, args.repeats, args.rounds,
                        extra=[path for path, _ in conv_files.values()])
    load = (load_start, load_average()) if load_start is not None else None
    peak = roofline(conv_files, timings)
    print(describe_roofline(peak), flush=True)
    for row in rows:
        print(f"{row['model']:<12} {row['clip']:<10} float32 {row['float32']['ms']:8.1f} ms  "
              f"int8 {row['int8']['ms']:8.1f} ms  speed-up {row['speedup']:.2f}x  "
              f"{row['int8_gmac_s']:.1f} GMAC/s  size {row['size_ratio']:.2f}  "
              f"SQNR {row['int8']['sqnr_db']:.1f} dB", flush=True)
    command = "python benchmarks/bench_latency.py " + " ".join(argv if argv is not None else sys.argv[1:])
    table = markdown(rows, args.threads, args.repeats, command.strip(), env, peak, load, args.rounds)
    failures = checks(rows)
    if failures and environment.cpu()["int8_dot"] == "none":
        failures = [f + " (this CPU has no int8 dot-product instructions)" for f in failures]
    goals = targets(rows)
    print("\n" + table + "\n")
    print("\n".join(goals))
    print("\n".join(f"CHECK FAILED: {f}" for f in failures) if failures else
          f"checks: SEVNet and MF-Net int8 >= {MIN_SPEEDUP}x faster and <= {MAX_SIZE_RATIO}x "
          f"the float32 size at every clip; every file passes its audit")
    if args.profile:
        write_profiles(rows, args.profile, args.threads, args.repeats)
        print(profile_summary(rows))
    result = {"env": env, "command": command.strip(), "load_average": load, "roofline": peak,
              "rows": rows, "targets": goals, "failures": failures, "profile_dir": args.profile}
    if args.markdown:
        write_markdown(result, table, args.markdown)
    return 1 if failures else 0


def write_markdown(result, table, path) -> None:
    """The run's Markdown (tables, targets, checks) at ``path`` and its JSON beside it."""
    if result.get("profile_dir"):
        table += ("\n\nWhere the int8 time goes (`kvid bench --profile`, files in "
                  + result["profile_dir"] + "):\n\n" + profile_summary(result["rows"]))
    goals, failures = result["targets"], result["failures"]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(table + "\n\n" + ("\n".join(goals) + "\n\n" if goals else "")
                 + ("\n".join(f"CHECK FAILED: {f}" for f in failures) or "All checks hold.") + "\n")
    with open(os.path.splitext(path)[0] + ".json", "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=1)


def render(json_path, markdown_path, parser) -> int:
    """``--render``: the tables of a finished run, from its JSON, with the settings of the
    command it records; to ``markdown_path`` (and its JSON) or to stdout."""
    with open(json_path, encoding="utf-8") as fh:
        result = json.load(fh)
    recorded = parser.parse_args(result["command"].split()[2:])
    result.setdefault("profile_dir", recorded.profile)
    table = markdown(result["rows"], recorded.threads, recorded.repeats, result["command"], result["env"],
                     result["roofline"], result["load_average"], recorded.rounds)
    if markdown_path:
        write_markdown(result, table, markdown_path)
    else:
        print(table)
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
