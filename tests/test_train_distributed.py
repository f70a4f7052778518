"""kvid train under tf.distribute (MirroredStrategy on two logical CPU devices, two
MultiWorkerMirroredStrategy workers on localhost) and mixed precision (the float16 code path
runs on CPU too, slowly; the CLI asks for a GPU)."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from kvid import KvidError
from kvid.data.synth import write_synthetic
from kvid.contract import rundir
from test_train import KILLER  # kvid train that SIGKILLs itself in the third epoch

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
    from kvid.train.distribute import cluster_config
    from kvid.train.run import make_strategy

    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(KvidError, match="TF_CONFIG: not set"):
        make_strategy("multiworker")
    good = {"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]},
            "task": {"type": "worker", "index": 1}}
    assert cluster_config(json.dumps(good)) == good
    one = {"worker": ["a:1"]}
    for bad, problem in [("{", "not JSON"), ({"task": {}}, "no cluster"),
                         ({"cluster": {"worker": ["nohost"]}}, "host:port"),
                         ({"cluster": one, "task": {"type": "ps"}}, "task.type"),
                         ({"cluster": one, "task": {"type": "worker", "index": 1}}, "task.index=1")]:
        with pytest.raises(KvidError, match=problem):
            cluster_config(bad if isinstance(bad, str) else json.dumps(bad))


def test_replica_parts_split_every_global_batch():
    """Replica r of R gets the r-th consecutive part of each global batch, whichever worker
    feeds it; a batch smaller than R is left out (and not counted by steps_per_pass)."""
    from kvid.keras import tf
    from kvid.train.distribute import replica_batches, replica_parts, steps_per_pass

    ds = tf.data.Dataset.range(12).map(lambda i: (i, -i)).batch(5)  # 5, 5 and then 2 < 3

    def parts(first, local):
        return [(x.numpy().tolist(), y.numpy().tolist())
                for x, y in replica_parts(ds, 3, first, local)]

    assert parts(0, 3) == [([0], [0]), ([1, 2], [-1, -2]), ([3, 4], [-3, -4]),
                           ([5], [-5]), ([6, 7], [-6, -7]), ([8, 9], [-8, -9])]
    assert [x for x, _ in parts(1, 2)] == [[1, 2], [3, 4], [6, 7], [8, 9]]  # a worker's 2 of 3
    assert [x for x, _ in parts(2, 1)] == [[3, 4], [8, 9]]
    assert steps_per_pass(12, 5, 3) == 2 and steps_per_pass(13, 5, 3) == 3
    assert steps_per_pass(12, 5, 2) == 3 and steps_per_pass(12, 4, 2) == 3
    assert replica_batches(ds, tf.distribute.get_strategy()) is ds


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


# -- two workers on localhost --------------------------------------------------------------------
KVID = "import sys; from kvid.cli import main; sys.exit(main(sys.argv[1:]))"
WORKER_SECONDS = 300  # per phase: a bound for a loaded machine (5 processes, ~110 CPU-s in all)


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@pytest.fixture
def start():
    """``start(args, log, script, env)``: a `kvid` process (``script``, default the CLI) writing
    to ``log``; any still running when the test ends (passed or failed) is killed."""
    started = []

    def run(args, log, script=KVID, env=None):
        with open(log, "w") as out:  # files, not pipes: TensorFlow's logs would fill a pipe
            started.append(subprocess.Popen([sys.executable, "-c", script, *args], stdout=out,
                                            stderr=subprocess.STDOUT,
                                            env={**os.environ, **(env or {})}))
        return started[-1]

    yield run
    for p in started:
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            p.wait()


def _start_workers(start, args, tmp_path, name, script=KVID):
    """Two `kvid train` processes of one cluster (TF_CONFIG); worker 0 is the chief."""
    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    procs, logs = [], []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        logs.append(tmp_path / f"{name}.worker{index}.log")
        procs.append(start(args, logs[-1], script,
                           {"TF_CONFIG": json.dumps(tf_config), "TMPDIR": str(tmp_path / "tmp")}))
    return procs, logs


def _worker_folders(folder):
    return {name for name in os.listdir(folder) if name.startswith("kvid_worker_")}


def _tail(log, n=3000):
    return f"--- {log.name}:\n" + log.read_text(errors="replace")[-n:]


def _wait(procs, logs, expect=0):
    """Wait until all of ``procs`` exit with ``expect``; one that exits otherwise fails the
    test at once. No process of ``procs`` is left running on any way out."""
    deadline = time.monotonic() + WORKER_SECONDS
    try:
        while time.monotonic() < deadline:
            codes = [p.poll() for p in procs]
            failed = [log for code, log in zip(codes, logs) if code not in (None, expect)]
            assert not failed, "a worker failed:\n" + "\n".join(_tail(log) for log in failed)
            if all(code == expect for code in codes):
                return
            time.sleep(0.05)
        pytest.fail(f"workers still running after {WORKER_SECONDS} s:\n"
                    + "\n".join(_tail(log) for log in logs))
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait()


def test_two_workers_train_as_one_and_resume(tmp_path, start):
    """Two workers (TF_CONFIG, 127.0.0.1) train the same global batches as one process: the
    chief writes the run directory, and a run killed in its third epoch resumes on both
    workers; its per-epoch losses equal a single-worker run's."""
    data = write_synthetic(tmp_path / "synth", classes=3, videos_per_class=8, frames=8, size=32,
                           seed=2)  # 18 training videos: batches of 4, 4, 4, 4, 2
    (tmp_path / "tmp").mkdir()
    common = ["train", "--model", "opscheck", "--set", "width=4", "--data", str(data),
              "--frames", "4", "--size", "32", "--batch", "4", "--epochs", "3", "--verbose", "2"]
    single_run, multi_run = tmp_path / "single", tmp_path / "multi"
    single = start([*common, "--out", str(single_run)], tmp_path / "single.log")
    # both workers SIGKILL themselves after the second step of the third epoch
    procs, logs = _start_workers(start, [*common, "--out", str(multi_run), "--strategy",
                                         "multiworker"], tmp_path, "killed", script=KILLER)
    _wait(procs, logs, expect=-signal.SIGKILL)
    killed = rundir.read_state(multi_run)
    assert killed["epoch"] == 2 and not killed["finished"]
    _wait([single], [tmp_path / "single.log"])

    resume = ["train", "--resume", "--out", str(multi_run), "--verbose", "2"]  # config: multiworker
    procs, logs = _start_workers(start, resume, tmp_path, "resumed")  # new ports
    leftovers = _worker_folders(tmp_path / "tmp")  # the killed run's throw-away folders
    _wait(procs, logs)
    for log in logs:
        assert "after epoch 2/3" in log.read_text(), _tail(log)
    assert _worker_folders(tmp_path / "tmp") == leftovers  # the non-chief cleaned up after itself

    config, state = rundir.read_config(multi_run), rundir.read_state(multi_run)
    assert config["strategy"] == "multiworker" and config["summary"]["replicas"] == 2
    assert state["finished"] and state["epoch"] == 3
    for name in (rundir.BEST, rundir.FINAL, rundir.LOG, rundir.CURVES, rundir.CHECKPOINTS):
        assert (multi_run / name).exists(), name
    multi_rows, single_rows = rundir.read_log(multi_run), rundir.read_log(single_run)
    assert [r["epoch"] for r in multi_rows] == [r["epoch"] for r in single_rows] == [0, 1, 2]
    for key in ("loss", "top1", "val_top1", "lr"):  # epochs 1-2 as run, 3 after the resume
        np.testing.assert_allclose([r[key] for r in multi_rows], [r[key] for r in single_rows],
                                   rtol=1e-4, err_msg=key)
    # The single process's fused BatchNormalization kernel updates the moving variance with
    # Bessel's correction, synchronised BatchNormalization without: ~0.1% in the statistics.
    np.testing.assert_allclose([r["val_loss"] for r in multi_rows],
                               [r["val_loss"] for r in single_rows], rtol=2e-3)
