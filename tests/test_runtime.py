"""The TensorFlow-free runtime: predict a real video file with TensorFlow blocked, bench."""

import json
import os
import subprocess
import sys

import pytest

from kvid.export.preset import export_preset
from kvid.data.synth import write_synthetic
from tensorflow_blocked import BLOCK_TF

pytestmark = pytest.mark.e2e  # .ci/run runs these once more with oneDNN on


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("rt")
    model = root / "ops.tflite"
    export_preset("opscheck", model, frames=8, size=32, num_classes=3,
                  overrides={"width": 4}, parity_clips=0)
    data = write_synthetic(root / "synth", classes=3, videos_per_class=2, frames=12, size=40, seed=0)
    videos = sorted(p for p in (root / "synth").rglob("*") if p.suffix in (".mp4", ".avi"))
    return model, videos, data


def test_predict_works_with_tensorflow_blocked(exported):
    model, videos, _ = exported
    proc = subprocess.run([sys.executable, "-c", BLOCK_TF, "predict", str(model), str(videos[0]), "--json"],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert len(result["top"]) == 3  # 3 classes -> top-3
    scores = [row["score"] for row in result["top"]]
    assert scores == sorted(scores, reverse=True) and abs(sum(scores) - 1) < 1e-4
    assert result["latency_ms"]["model"] > 0


def test_predict_bad_inputs_are_clear(exported, tmp_path):
    model, videos, _ = exported
    from kvid.cli import main

    assert main(["predict", str(tmp_path / "none.tflite"), str(videos[0])]) == 2
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    assert main(["predict", str(model), str(bad)]) == 2


def test_bench_reports_latency_size_and_memory(exported, tmp_path, capsys):
    model, _, _ = exported
    from kvid.cli import main

    png = tmp_path / "bench.png"
    assert main(["bench", str(model), "--threads", "1,2", "--xnnpack", "both", "--repeats", "3",
                 "--warmup", "1", "--json", "--png", str(png)]) == 0
    rows = json.loads(capsys.readouterr().out.split("\nwrote")[0])
    assert len(rows) == 4 and all(r["median_ms"] > 0 and r["peak_rss_mb"] > 0 and r["size_mb"] > 0 for r in rows)
    assert png.exists()
