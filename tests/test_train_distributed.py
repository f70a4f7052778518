"""kvid train under tf.distribute (MirroredStrategy on two logical CPU devices) and mixed
precision (the float16 code path runs on CPU too, slowly; the CLI asks for a GPU)."""

import os
import subprocess
import sys

import numpy as np
import pytest

from kvid import KvidError
from kvid.data.synth import write_synthetic
from kvid.contract import rundir

TWO_CPUS = (
    "import sys\n"
    "from kvid.keras import tf\n"
    "cpu = tf.config.list_physical_devices('CPU')[0]\n"
    "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)\n"
    "from kvid.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    data = write_synthetic(tmp_path / "synth", classes=3, videos_per_class=6, frames=8, size=32, seed=2)
    run = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-c", TWO_CPUS, "train", "--model", "opscheck", "--set", "width=4",
         "--data", str(data), "--out", str(run), "--frames", "4", "--size", "32", "--batch", "4",
         "--epochs", "1", "--strategy", "mirrored", "--verbose", "2"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "batch 4 (2 replica(s))" in proc.stdout
    config = rundir.read_config(run)
    assert config["strategy"] == "mirrored" and config["summary"]["replicas"] == 2
    state = rundir.read_state(run)
    assert state["finished"] and state["epoch"] == 1
    rows = rundir.read_log(run)
    assert len(rows) == 1 and all(np.isfinite(r["loss"]) and "val_top1" in r for r in rows)
    from kvid.ops import load_model

    model = load_model(run / "best.keras")  # a plain single-device model again
    clip = np.zeros((1, 4, 32, 32, 3), np.float32)
    assert model.predict(clip, verbose=0).shape == (1, 3)


def test_multiworker_needs_tf_config(monkeypatch):
    from kvid.train.run import make_strategy

    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(KvidError, match="TF_CONFIG"):
        make_strategy("multiworker")


def test_mixed_precision_trains_and_saves_a_float32_model(tmp_path):
    from kvid import models
    from kvid.keras import keras, tf
    from kvid.ops import load_model
    from kvid.train import fit
    from kvid.train.run import set_precision

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (8, 4, 32, 32, 3)).astype(np.float32)
    y = (np.arange(8) % 3).astype(np.int32)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = models.build("opscheck", num_classes=3, frames=4, size=32, width=4)
        assert model.output.dtype == tf.float16
        fit(model, ds, None, recipe="cpu", epochs=1, run_dir=tmp_path / "run", verbose=0,
            tensorboard=False)
        assert type(model.optimizer).__name__.startswith("LossScaleOptimizer")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert np.isfinite(rundir.read_log(tmp_path / "run")[0]["loss"])
    best = load_model(tmp_path / "run" / "best.keras")
    assert best.output.dtype == tf.float32 and best.dtype_policy.name == "float32"
    np.testing.assert_allclose(best.predict(x, verbose=0),
                               model.predict(x, verbose=0).astype(np.float32), atol=0.05)
    if not tf.config.list_physical_devices("GPU"):  # the CLI's choice without a GPU
        assert set_precision(True) is False
        assert keras.mixed_precision.global_policy().name == "float32"
