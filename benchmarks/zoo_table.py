"""The zoo table: parameters and multiply-adds of every preset against its paper's figures.

    python benchmarks/zoo_table.py [--markdown benchmarks/results/zoo_table.md]

For every preset and every published row it must reproduce (``Preset.references``, from
REFERENCE_NUMBERS.md), the preset is built at that row's clip and class count and counted by
``kvid.analysis.count`` (what ``kvid info`` prints): parameters as PyTorch counts them
(learnable tensors; BN moving statistics and the frozen input normalisation excluded), MACs of
convolutions and dense layers, batch 1, one clip. The relative difference to the paper is printed beside
each figure; the tests hold params within 3% and GMACs within 5% (one test per row in tests/test_sevnet.py,
test_mfnet.py, test_eacnet.py, test_ctnet.py, test_resnet.py, test_faster_reference.py).
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def rows():
    from kvid.analysis.count import count
    from kvid.keras import keras
    from kvid.models import build, presets

    for preset in presets().values():
        for ref in preset.references:
            result = count(build(preset.name, ref.num_classes, ref.frames, ref.size))
            keras.backend.clear_session()
            yield preset, ref, result


def delta(ours, paper):
    return "" if paper is None else f" ({ours / paper - 1:+.1%})"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markdown", help="also write the table here")
    args = parser.parse_args(argv)
    from kvid import environment
    import kvid.keras  # noqa: F401 - TensorFlow first, so the line has its own oneDNN answer

    env = environment.line()
    print(env)
    lines = ["| family | preset | clip | classes | params (M): kvid (vs paper) | paper | "
             "GMACs: kvid (vs paper) | paper | source |",
             "|---|---|---|---:|---:|---:|---:|---:|---|"]
    for preset, ref, result in rows():
        params, gmacs = result["params"] / 1e6, result["gmacs"]
        lines.append(
            f"| {preset.family} | `{preset.name}` | {ref.frames}x{ref.size}x{ref.size} | "
            f"{ref.num_classes} | {params:.2f}{delta(params, ref.params_m)} | "
            f"{'-' if ref.params_m is None else ref.params_m} | {gmacs:.2f}{delta(gmacs, ref.gmacs)} | "
            f"{'-' if ref.gmacs is None else ref.gmacs} | {ref.source} |")
        print(lines[-1], flush=True)
    if args.markdown:
        os.makedirs(os.path.dirname(os.path.abspath(args.markdown)), exist_ok=True)
        with open(args.markdown, "w", encoding="utf-8") as fh:
            fh.write(f"Command: `python benchmarks/zoo_table.py`\n\n{env}\n\n" + "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
