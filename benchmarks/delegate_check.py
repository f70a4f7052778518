"""Every preset's int8 export against what the delegates need: the audit (fully int8, TFLite
builtins, every tensor at most 4-D), the GPU delegate's own per-op rules (kvid.export.gpu) and
the same file on XNNPACK vs the reference kernels (kvid.runtime.agreement).

    python benchmarks/delegate_check.py [--models NAME ...] [--full] [--markdown benchmarks/results/delegates.md]

Clip models are exported as ``kvid export --model`` does (random weights, calibrated on random
clips) in their preset's small CPU configuration (``kvid info M --small``: the paper's blocks,
narrower and shallower) at 8 x 64 x 64, or at full width with ``--full``; FASTER's aggregator
presets as the int8 step ``kvid.export.faster`` writes, calibrated on random feature
sequences. What this cannot show: that a phone's GPU or NNAPI driver runs the file - no device
here (the GPU rules are the delegate's static per-op checks; NNAPI has no static check).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FRAMES, SIZE, CLASSES = 8, 64, 5


def export_step(kind, path, channels):
    """The int8 step of aggregator ``kind`` on random feature sequences (8 frames -> l = 1)."""
    from kvid.export import audit as audit_mod
    from kvid.export import convert as convert_mod
    from kvid.export.faster import calibrate_step, convert_step, quantize_step
    from kvid.models import faster

    step = faster.build_aggregator(CLASSES, FRAMES, SIZE, kind=kind, channels=channels)
    l, hw, c = faster.feature_shape(FRAMES, SIZE, channels)
    rng = np.random.default_rng(0)
    batches = [({"features": rng.uniform(0, 4, (4, 4, l, hw, c)).astype(np.float32),
                 "expensive": np.array([[1.0, 0.0, 0.0, 0.0]] * 4, np.float32)},
                np.zeros(4, np.int64)) for _ in range(2)]
    q = calibrate_step(quantize_step(step), batches)
    path = convert_mod.write(convert_step(q), path)
    return {"path": path, "audit": audit_mod.audit(path, expect="int8"), "kernels": None}


def check(name, out_dir, full):
    from kvid import models
    from kvid.export.preset import export_preset
    from kvid.runtime.agreement import kernel_agreement

    preset = models.get(name)
    path = os.path.join(out_dir, f"{name}.tflite")
    if preset.family == "faster" and name in ("fastgru", "gru", "lstm", "concat", "avgpool"):
        channels = preset.defaults.get("channels", 2048) if full else preset.small.get("channels", 32)
        result = export_step(name, path, channels)
        result["config"] = f"step, {channels} channels"
    else:
        overrides = {} if full else dict(preset.small)
        result = export_preset(name, path, frames=FRAMES, size=SIZE, num_classes=CLASSES,
                               overrides=overrides, calibration_clips=4, parity_clips=0)
        result["kernels"] = kernel_agreement(path, n=2)
        result["config"] = "full width" if full else "small"
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", help="presets (default: all)")
    parser.add_argument("--full", action="store_true", help="full-width presets (slow) instead of the small configs")
    parser.add_argument("--out", help="folder for the .tflite files (default: a temporary one)")
    parser.add_argument("--markdown", help="also write the table here")
    args = parser.parse_args(argv)
    from kvid import environment, models
    from kvid.keras import keras

    names = args.models or [n for n in models.presets() if n != "opscheck"]
    out_dir = args.out or tempfile.mkdtemp(prefix="kvid_delegates_")
    command = "python benchmarks/delegate_check.py " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = [f"Command: `{command.strip()}`; clips {FRAMES}x{SIZE}x{SIZE}, {CLASSES} classes, random weights.", "",
             environment.line(2), "",
             "| preset | config | int8 ops | max rank | audit (fully int8 builtins, rank <= 4) | GPU delegate rules "
             "| XNNPACK vs reference | seconds |", "|---|---|---:|---:|---|---|---|---:|"]
    print("\n".join(lines), flush=True)
    failed = []
    for name in names:
        t0 = time.perf_counter()
        try:
            r = check(name, out_dir, args.full)
        except Exception as exc:  # noqa: BLE001 - one row per preset, whatever happens
            failed.append(name)
            lines.append(f"| `{name}` | | | | NOT EXPORTED: {type(exc).__name__}: {str(exc).splitlines()[0][:120]} | | | |")
            print(lines[-1], flush=True)
            continue
        finally:
            keras.backend.clear_session()
        a, k = r["audit"], r["kernels"]
        gpu = "accepts every op" if a["gpu"]["ok"] else "; ".join(a["gpu"]["problems"][:4])
        kern = ("-" if k is None else
                f"{'ok' if k['ok'] else 'MISMATCH'}: {k['sqnr_db']:.1f} dB, max {k['max_diff_steps']:.0f} steps")
        if not (a["ok"] and a["gpu"]["ok"] and (k is None or k["ok"])):
            failed.append(name)
        lines.append(f"| `{name}` | {r['config']} | {sum(a['ops'].values())} | {a['max_rank']} | "
                     f"{'ok' if a['ok'] else 'NOT OK: ' + '; '.join(a['problems'])} | {gpu} | {kern} | "
                     f"{time.perf_counter() - t0:.0f} |")
        print(lines[-1], flush=True)
    verdict = (f"NOT every preset passes: {', '.join(failed)}" if failed else
               f"All {len(names)} presets: fully int8 builtins of rank <= 4, every op accepted by the GPU "
               "delegate's rules" + ("" if args.full else " (small configs)") + ".")
    lines += ["", verdict]
    print("\n" + verdict)
    if args.markdown:
        os.makedirs(os.path.dirname(os.path.abspath(args.markdown)), exist_ok=True)
        with open(args.markdown, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
