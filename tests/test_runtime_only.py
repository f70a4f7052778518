"""A runtime-only install (``pip install -e ".[runtime]"``, no TensorFlow), simulated by blocking
TensorFlow's imports: every command that needs the train extra says so in one line with the pip
command and exit status 2; ``kvid predict`` of a file without a sidecar says what it assumed;
``kvid doctor`` checks the runtime part."""

import json
import shutil

import pytest

from tensorflow_blocked import kvid_without_tensorflow

TRAIN_COMMANDS = {
    "models": ["models"],
    "info": ["info", "sevnet_g8"],
    "train": ["train", "--model", "sevnet_g8", "--data", "{data}", "--out", "{tmp}/run"],
    "qat": ["qat", "{tmp}/run"],
    "export": ["export", "--model", "opscheck", "--out", "{tmp}/o.tflite"],
    "evaluate": ["evaluate", "{tmp}/m.keras", "--data", "{data}"],  # a Keras model needs TensorFlow
    "demo": ["demo", "--out", "{tmp}/demo"],
}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    from kvid.data.synth import write_synthetic

    return write_synthetic(tmp_path_factory.mktemp("rt_only") / "synth", classes=2, videos_per_class=2,
                           frames=8, size=32, seed=0)


@pytest.mark.parametrize("command", sorted(TRAIN_COMMANDS))
def test_train_commands_name_the_extra_in_one_line(command, synthetic, tmp_path):
    (tmp_path / "m.keras").write_bytes(b"")
    args = [a.format(data=synthetic, tmp=tmp_path) for a in TRAIN_COMMANDS[command]]
    proc = kvid_without_tensorflow(*args)
    err = proc.stderr.strip()
    assert proc.returncode == 2, (proc.returncode, proc.stdout, err)
    assert "Traceback" not in err and err.count("\n") == 0, err
    assert err.startswith(f"kvid: error: kvid {command} needs the train extra") and "pip install" in err, err
    assert "[train]" in err and "tensorflow" in err, err
    assert not (tmp_path / "demo").exists() and not (tmp_path / "run").exists()  # refused before any work


def test_predict_without_sidecar_says_what_it_assumed(tmp_path):
    """The file and the video: the tests' tiny opscheck export (TensorFlow only to make it)."""
    from kvid.data.synth import write_synthetic
    from kvid.export.preset import export_preset

    model = tmp_path / "ops.tflite"
    export_preset("opscheck", model, frames=8, size=32, num_classes=3, overrides={"width": 4}, parity_clips=0)
    bare = tmp_path / "bare.tflite"
    shutil.copy(model, bare)  # no bare.json beside it
    write_synthetic(tmp_path / "synth", classes=3, videos_per_class=1, frames=12, size=40, seed=0)
    video = sorted(p for p in (tmp_path / "synth").rglob("*") if p.suffix in (".mp4", ".avi"))[0]

    proc = kvid_without_tensorflow("predict", bare, video, "--json")
    assert proc.returncode == 0, proc.stderr
    notes = [line for line in proc.stderr.splitlines() if line.startswith("kvid: note:")]
    assert len(notes) == 1, proc.stderr
    assert "no sidecar" in notes[0] and "class_0..class_2" in notes[0] and "dense sampling of 8 frames" in notes[0]
    assert [row["label"] for row in json.loads(proc.stdout)["top"]] != []
    proc = kvid_without_tensorflow("predict", model, video, "--json")  # with its sidecar: nothing to say
    assert proc.returncode == 0 and "kvid: note:" not in proc.stderr, proc.stderr


def test_doctor_checks_the_runtime_without_tensorflow():
    proc = kvid_without_tensorflow("doctor", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] and not report["tensorflow_usable"]
    status = {row["name"]: row["status"] for row in report["checks"]}
    assert status.pop("TF-free runtime on its own grouped int8 conv") == "ok"
    assert set(status.values()) == {"skipped"}
    proc = kvid_without_tensorflow("doctor")
    assert proc.returncode == 0 and "training, QAT and export unavailable" in proc.stdout, proc.stdout
    assert "1 of 5 checks passed, 4 skipped (no TensorFlow)" in proc.stdout, proc.stdout


def test_only_the_extras_missing_modules_become_one_line(monkeypatch, capsys):
    """A module of an optional extra missing where a command first imports it: one line, exit 2.
    A module kvid itself lacks is a bug, and keeps its traceback."""
    import kvid.doctor
    from kvid.cli import main

    def needs_tfmot(args):
        raise ModuleNotFoundError("No module named 'tensorflow_model_optimization'",
                                  name="tensorflow_model_optimization")

    monkeypatch.setattr(kvid.doctor, "run_doctor", needs_tfmot)
    assert main(["doctor"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kvid: error: kvid doctor needs the train extra") and err.count("\n") == 1, err
    assert "missing here: tensorflow_model_optimization" in err

    def broken(args):
        import kvid_no_such_module  # noqa: F401

    monkeypatch.setattr(kvid.doctor, "run_doctor", broken)
    with pytest.raises(ModuleNotFoundError):
        main(["doctor"])
