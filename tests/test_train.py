"""kvid.train: recipes, schedule, weight decay, loss, run directories, and resume after a kill."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from kvid import KvidError
from kvid.data.synth import write_synthetic
from kvid.contract import rundir
from kvid.train.recipes import Recipe, get_recipe

TINY = ["--model", "opscheck", "--frames", "4", "--size", "32", "--batch", "4", "--set", "width=4",
        "--verbose", "0"]


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("train_data") / "synth"
    return str(write_synthetic(root, classes=4, videos_per_class=6, frames=8, size=32, seed=0))


# -- recipes (no TensorFlow) --------------------------------------------------------------------
def test_recipes_carry_the_papers_numbers():
    sev, ct, ct2, eac = (get_recipe(n) for n in ("sevnet", "ctnet", "ctnet_ssv2", "eacnet"))
    assert (sev.epochs, sev.warmup_epochs, sev.weight_decay, sev.momentum, sev.schedule) == (64, 4, 1e-4, 0.9, "cosine")
    assert sev.scaled_lr(8) == pytest.approx(0.01)  # "0.01 per GPU", 8 clips per GPU
    assert sev.dropout == 0.5 and get_recipe("sevnet_k400").dropout == 0.2
    assert (ct.epochs, ct.lr, ct.batch, ct.warmup_epochs, ct.weight_decay, ct.dropout) == (110, 0.01, 64, 10, 1e-4, 0.5)
    assert (ct2.epochs, ct2.lr, ct2.weight_decay, ct2.dropout) == (45, 0.02, 5e-4, 0.3)
    assert (eac.lr, eac.schedule, eac.steps, eac.epochs, eac.weight_decay) == (0.001, "step", (30, 50), 60, 5e-4)
    assert eac.lr_at(29.9) == pytest.approx(1e-3) and eac.lr_at(30) == pytest.approx(1e-4)
    assert eac.lr_at(50) == pytest.approx(1e-5)
    # warm-up is linear from 0, cosine ends at 0
    assert sev.lr_at(2) == pytest.approx(0.04) and sev.lr_at(4) == pytest.approx(0.08)
    assert sev.lr_at(34) == pytest.approx(0.04) and sev.lr_at(64) == pytest.approx(0.0, abs=1e-12)
    # linear scaling rule; an explicit change is used as given
    assert sev.with_batch(16).lr == pytest.approx(0.02) and sev.with_batch(16).batch == 16
    assert get_recipe("sevnet", lr=0.3).lr == 0.3
    assert Recipe.from_dict(sev.to_dict()) == sev


@pytest.mark.parametrize("changes, message", [
    ({"schedule": "poly"}, "schedule"), ({"epochs": 0}, "epochs"), ({"lr": -1}, "lr"),
    ({"warmup_epochs": 100}, "warmup_epochs"), ({"label_smoothing": 1.0}, "label_smoothing"),
    ({"steps": (50, 30)}, "steps"), ({"nonsense": 1}, "unknown field"),
])
def test_bad_recipe_values_are_user_errors(changes, message):
    with pytest.raises(KvidError, match=message):
        get_recipe("eacnet", **changes)


def test_unknown_recipe_is_a_user_error():
    with pytest.raises(KvidError, match="unknown"):
        get_recipe("sgdr")


# -- schedule, optimiser, loss ------------------------------------------------------------------
def test_schedule_follows_the_recipe_per_step():
    from kvid.train.schedules import RecipeSchedule

    spe = 7
    for name in ("sevnet", "eacnet", "cpu"):
        recipe = get_recipe(name, epochs=12, warmup_epochs=0 if name == "eacnet" else 2,
                            steps=(5, 9) if name == "eacnet" else ())
        schedule = RecipeSchedule.from_recipe(recipe, spe)
        steps = np.arange(12 * spe)
        got = schedule(steps).numpy()  # element-wise over a vector of steps
        want = np.array([recipe.lr_at((i + 0.5) / spe) for i in steps])
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-12)
        again = RecipeSchedule.from_config(schedule.get_config())
        assert float(again(30)) == float(schedule(30))
    # step boundaries fall exactly on epoch boundaries
    eac = RecipeSchedule.from_recipe(get_recipe("eacnet"), 10)
    assert float(eac(299)) == pytest.approx(1e-3) and float(eac(300)) == pytest.approx(1e-4)


def test_weight_decay_touches_kernels_not_bn_or_bias():
    from kvid.keras import keras, tf
    from kvid.train.optim import SGD

    inputs = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(4, 3, use_bias=True, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(2, name="fc")(x)
    model = keras.Model(inputs, out)
    for v in model.trainable_variables:  # non-zero everything, so decay would show
        v.assign(tf.random.normal(v.shape, seed=1) + 0.5)
    before = {v.name: v.numpy().copy() for v in model.trainable_variables}
    opt = SGD(0.1, momentum=0.0, l2=0.01)
    opt.apply_gradients([(tf.zeros_like(v), v) for v in model.trainable_variables])
    for v in model.trainable_variables:
        if v.shape.rank >= 2:  # conv and dense kernels: w -= lr * l2 * w
            np.testing.assert_allclose(v.numpy(), before[v.name] * (1 - 0.1 * 0.01), rtol=1e-6)
        else:  # conv bias, dense bias, BN gamma and beta
            np.testing.assert_array_equal(v.numpy(), before[v.name])
    assert {v.name.split("/")[0] for v in model.trainable_variables if v.shape.rank < 2} == {"conv", "bn", "fc"}


def test_loss_with_label_smoothing_matches_the_formula():
    from kvid.train.optim import ClassificationLoss

    logits = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]], np.float32)
    labels = np.array([0, 1])
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    for eps in (0.0, 0.1):
        target = np.eye(3)[labels] * (1 - eps) + eps / 3
        want = -(target * logp).sum(1).mean()
        got = float(ClassificationLoss(eps)(labels, logits))
        assert got == pytest.approx(want, rel=1e-5)


# -- runs ---------------------------------------------------------------------------------------
KILLER = r"""
import os, signal, sys
from kvid.keras import keras
import kvid.train.callbacks as cb
import kvid.train.trainer as trainer

class Kill(keras.callbacks.Callback):  # SIGKILL in the middle of the third epoch
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 2 and batch == 1:
            os.kill(os.getpid(), signal.SIGKILL)

standard = cb.standard
trainer.cbmod.standard = lambda *a, **k: standard(*a, **k) + [Kill()]
from kvid.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _weights(path):
    from kvid.ops import load_model

    return load_model(path).get_weights()


def test_resume_after_a_kill_matches_an_uninterrupted_run(tiny_data, tmp_path):
    from kvid.cli import main

    full, killed = str(tmp_path / "full"), str(tmp_path / "killed")
    args = TINY + ["--data", tiny_data, "--epochs", "4", "--seed", "3", "--val-split", "none"]
    proc = subprocess.run([sys.executable, "-c", KILLER, "train", *args, "--out", killed],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert proc.returncode == -9, proc.stderr[-3000:]  # killed, not finished
    state = rundir.read_state(killed)
    assert state["epoch"] == 2 and not state["finished"]
    assert len(rundir.read_log(killed)) == 2
    assert not os.path.exists(os.path.join(killed, rundir.FINAL))

    assert main(["train", *args, "--out", full]) == 0
    assert main(["train", "--resume", "--config", os.path.join(killed, "config.json"), "--verbose", "0"]) == 0

    resumed, straight = rundir.read_log(killed), rundir.read_log(full)
    assert [r["epoch"] for r in resumed] == [0, 1, 2, 3]
    # the schedule continues where it stopped: same learning rate, epoch by epoch
    np.testing.assert_allclose([r["lr"] for r in resumed], [r["lr"] for r in straight], rtol=1e-6)
    np.testing.assert_allclose([r["loss"] for r in resumed], [r["loss"] for r in straight], rtol=1e-4)
    for a, b in zip(_weights(os.path.join(killed, "final.keras")), _weights(os.path.join(full, "final.keras"))):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    state = rundir.read_state(killed)
    assert state["finished"] and state["epoch"] == 4

    # what the run directory holds
    names = set(os.listdir(full))
    assert {"config.json", "state.json", "checkpoints", "best.keras", "final.keras", "log.csv",
            "tensorboard", "curves.png"} <= names
    ckpts = [n for n in os.listdir(os.path.join(full, "checkpoints")) if n.endswith(".index")]
    assert sorted(ckpts) == ["epoch-2.index", "epoch-3.index", "epoch-4.index"]  # keep 3
    with open(os.path.join(full, "curves.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    events = [os.path.join(d, n) for d, _, ns in os.walk(os.path.join(full, "tensorboard")) for n in ns]
    assert any(os.sep + "train" + os.sep in e for e in events)
    best = rundir.read_state(full)["best"]
    assert best["monitor"] == "top1" and 1 <= best["epoch"] <= 4  # no validation split
    from kvid.ops import load_model

    assert load_model(os.path.join(full, "best.keras")).output_shape == (None, 4)


def test_config_is_complete_and_reruns_as_is(tiny_data, tmp_path):
    from kvid.train.cli import _config_from_args
    from kvid.train.run import TrainConfig

    cfg = TrainConfig(model="opscheck", data=tiny_data, out=str(tmp_path / "a"), frames=4, size=32,
                      batch=4, epochs=2, recipe="cpu", model_options={"width": 4},
                      recipe_changes={"label_smoothing": 0.1}, seed=7, scheme="dense", stride=2)
    recipe = cfg.resolved_recipe()
    assert recipe.lr == pytest.approx(0.05 * 4 / 16) and recipe.label_smoothing == 0.1
    config = cfg.to_config(recipe, cfg.resolved_options(recipe), {})
    json.dumps(config)  # JSON-clean
    again = TrainConfig.from_config(json.loads(json.dumps(config)))
    assert again.to_config(again.resolved_recipe(), again.resolved_options(again.resolved_recipe()), {}) == config
    # `kvid train --config RUN/config.json --out NEW`: the same run elsewhere
    os.makedirs(cfg.out)
    rundir.write_json(os.path.join(cfg.out, "config.json"), config)
    from kvid.cli import build_parser

    args = build_parser().parse_args(["train", "--config", os.path.join(cfg.out, "config.json"),
                                      "--out", str(tmp_path / "b")])
    rerun = _config_from_args(args)
    assert rerun.to_config(rerun.resolved_recipe(), rerun.resolved_options(rerun.resolved_recipe()), {}) == {
        **config, "out": str(tmp_path / "b")}
    # a new batch size rescales the stored learning rate
    args = build_parser().parse_args(["train", "--config", os.path.join(cfg.out, "config.json"),
                                      "--batch", "8", "--out", str(tmp_path / "c")])
    assert _config_from_args(args).resolved_recipe().lr == pytest.approx(recipe.lr * 2)


def test_train_command_refuses_what_would_lose_work(tiny_data, tmp_path, capsys):
    from kvid.cli import main

    run = tmp_path / "run"
    os.makedirs(run / "checkpoints")
    rundir.write_json(run / "state.json", {"epoch": 1})
    base = TINY + ["--data", tiny_data]
    assert main(["train", *base, "--out", str(run)]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "nothing"), "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    assert main(["train", "--resume", "--out", str(run), "--epochs", "9"]) == 2
    assert "drop epochs" in capsys.readouterr().err
    assert main(["train", *base, "--out", str(tmp_path / "x"), "--recipe", "nope"]) == 2
    assert "unknown" in capsys.readouterr().err
    assert main(["train", "--model", "opscheck", "--out", str(tmp_path / "y")]) == 2
    assert "--data" in capsys.readouterr().err
    assert main(["train", "--list-recipes"]) == 0
    assert "eacnet" in capsys.readouterr().out


def test_plain_model_fit_with_kvid_callbacks_and_restore(tmp_path):
    """The documented route without kvid.train.fit: compile_model + callbacks.standard."""
    from kvid import models
    from kvid.keras import keras, tf
    from kvid.train import callbacks, compile_model

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (12, 4, 32, 32, 3)).astype(np.float32)
    y = rng.integers(0, 3, 12).astype(np.int32)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    model = models.build("opscheck", num_classes=3, frames=4, size=32, width=4)
    recipe = get_recipe("cpu", epochs=3)
    compile_model(model, recipe, steps_per_epoch=3)
    run = str(tmp_path / "plain")
    assert callbacks.restore(model, run) == 0
    model.fit(ds.repeat(), steps_per_epoch=3, epochs=2, validation_data=ds, verbose=0,
              callbacks=callbacks.standard(run, epochs=3, steps_per_epoch=3))
    assert [r["epoch"] for r in rundir.read_log(run)] == [0, 1]
    assert os.path.isfile(os.path.join(run, "best.keras"))

    again = models.build("opscheck", num_classes=3, frames=4, size=32, width=4)
    compile_model(again, recipe, steps_per_epoch=3)
    assert callbacks.restore(again, run) == 2
    assert int(again.optimizer.iterations.numpy()) == 6  # the schedule position came back
    for a, b in zip(again.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(again.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())  # momentum slots too
    assert math.isfinite(rundir.read_log(run)[-1]["lr"])
    # TensorBoard scalars, train and validation, one per epoch
    tags = {}
    for split in ("train", "validation"):
        folder = os.path.join(run, "tensorboard", split)
        for name in os.listdir(folder):
            for event in tf.compat.v1.train.summary_iterator(os.path.join(folder, name)):
                for value in event.summary.value:
                    tags.setdefault((split, value.tag), []).append(event.step)
    assert tags[("train", "epoch_loss")] == [0, 1] and tags[("validation", "epoch_top1")] == [0, 1]
    assert ("train", "epoch_lr") in tags
