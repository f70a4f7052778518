"""kvid's Keras callbacks; they work with plain ``model.fit`` as well as :func:`kvid.train.fit`.

- :class:`LearningRateLogger`: adds ``lr`` (the rate of the epoch's last step) to the logs,
  so ``log.csv``, TensorBoard and the curves show the schedule;
- :class:`BestModel`: saves the model with :func:`kvid.ops.save_model` whenever ``monitor``
  improves (a mixed-precision model is saved as its float32 twin, ready for QAT/export);
- :class:`RunCheckpoint`: a ``tf.train`` checkpoint of model, optimiser (momentum, step
  counter, hence the learning-rate position) and epoch after every epoch, plus ``state.json``;
  :func:`restore` puts a model back to the last one and returns the epoch to continue from;
- :class:`TensorBoardScalars`: per-epoch TensorBoard scalars (no ``tensorboard`` package needed);
- :class:`TrainingCurves`: redraws ``curves.png`` from ``log.csv`` after every epoch;
- :func:`standard` : the list ``kvid train`` uses for a run directory (see :mod:`kvid.contract.rundir`);
  :func:`finish_run` writes the end of a run (``final.keras``, state, curves).

With ``model.fit`` directly::

    recipe = kvid.train.get_recipe("sevnet").with_batch(16)
    kvid.train.compile_model(model, recipe, steps_per_epoch=steps)
    start = kvid.train.callbacks.restore(model, "runs/a")     # 0 for a new run
    model.fit(train_ds.repeat(), steps_per_epoch=steps, epochs=recipe.epochs,
              initial_epoch=start, validation_data=val_ds,
              callbacks=kvid.train.callbacks.standard("runs/a", resume=start > 0))
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time

from kvid.keras import keras, tf
from kvid.contract import rundir
from kvid.train.optim import learning_rate


def is_chief(strategy=None) -> bool:
    """Whether this process writes the run's files (always, except on non-chief workers of a
    multi-worker strategy, which write to a temporary folder as Keras requires)."""
    strategy = strategy or tf.distribute.get_strategy()
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return True
    cluster = resolver.cluster_spec().as_dict()
    if not cluster:
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type == "chief":
        return True
    return task_type == "worker" and task_id == 0 and "chief" not in cluster


class _WriteDir:
    """``run_dir`` on the chief; a throw-away folder on the other workers."""

    def __init__(self, run_dir, strategy):
        self.chief = is_chief(strategy)
        self.path = os.fspath(run_dir) if self.chief else tempfile.mkdtemp(prefix="kvid_worker_")

    def cleanup(self):
        if not self.chief:
            shutil.rmtree(self.path, ignore_errors=True)


class LearningRateLogger(keras.callbacks.Callback):
    """``logs["lr"]``: the learning rate of the last step of the epoch. Put it before the
    callbacks that write logs (CSVLogger, TensorBoard)."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            opt = self.model.optimizer
            inner = getattr(opt, "inner_optimizer", opt)
            logs["lr"] = learning_rate(opt, max(int(inner.iterations.numpy()) - 1, 0))


def float32_twin(model):
    """``model`` itself, or for a mixed-precision model a float32 copy with the same weights
    (what QAT, export and evaluation want)."""
    policy = getattr(model, "dtype_policy", None)
    if policy is None or getattr(policy, "compute_dtype", "float32") == "float32":
        return model
    from kvid.ops.rebuild import rebuild

    def fix(obj):
        if isinstance(obj, dict):
            out = {}
            for k, v in obj.items():
                if k == "dtype" and (isinstance(v, dict) and v.get("class_name") == "Policy"
                                     or isinstance(v, str) and v.startswith("mixed_")):
                    out[k] = "float32"
                else:
                    out[k] = fix(v)
            return out
        if isinstance(obj, list):
            return [fix(v) for v in obj]
        return obj

    twin = rebuild(model, fix, weights=False)
    twin.set_weights(model.get_weights())
    if hasattr(model, "_kvid_build"):
        twin._kvid_build = model._kvid_build
    return twin


class BestModel(keras.callbacks.Callback):
    """Save the model to ``path`` (``.keras``, via :func:`kvid.ops.save_model`) whenever
    ``logs[monitor]`` improves; ``mode`` ``"max"``, ``"min"`` or ``"auto"`` (min for losses).
    ``best`` / ``best_epoch`` carry over a resumed run's record. ``saved(model)`` is what is
    written (default :func:`float32_twin`; FASTER's aggregator stage trains its step inside
    ``kvid.models.faster.FasterSequence`` and writes the step)."""

    def __init__(self, path, monitor="val_top1", mode="auto", best=None, best_epoch=None,
                 saved=None):
        super().__init__()
        self.path = os.fspath(path)
        self.saved = saved or float32_twin
        self.monitor = monitor
        if mode == "auto":
            mode = "min" if "loss" in monitor else "max"
        if mode not in ("min", "max"):
            raise ValueError(f"mode={mode!r}: choose min, max or auto")
        self.mode = mode
        self.best = best
        self.best_epoch = best_epoch
        self._write = None

    def _better(self, value) -> bool:
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def on_train_begin(self, logs=None):
        folder = os.path.dirname(os.path.abspath(self.path))
        self._write = _WriteDir(folder, self.model.distribute_strategy)

    def on_epoch_end(self, epoch, logs=None):
        from kvid.ops import save_model

        value = (logs or {}).get(self.monitor)
        if value is None or value != value:  # missing or NaN
            return
        if self._better(float(value)):
            self.best, self.best_epoch = float(value), int(epoch) + 1
            target = os.path.join(self._write.path, os.path.basename(self.path))
            save_model(self.saved(self.model), target)

    def on_train_end(self, logs=None):
        if self._write is not None:
            self._write.cleanup()


class Checkpointer:
    """Model + optimiser + epoch in ``tf.train`` checkpoints under ``directory``."""

    def __init__(self, model, directory, keep=3):
        self.model = model
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="kvid_epoch")
        if model.optimizer is None:
            raise ValueError("compile the model before checkpointing it")
        self.checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer, epoch=self.epoch)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, os.fspath(directory), max_to_keep=keep, checkpoint_name="epoch")

    def save(self, epoch: int) -> str:
        self.epoch.assign(int(epoch))
        return self.manager.save(checkpoint_number=int(epoch))

    def restore(self, path=None) -> int:
        """Restore ``path`` (default: the latest checkpoint); returns its epoch (0 if none)."""
        path = path or self.manager.latest_checkpoint
        if not path:
            return 0
        build_optimizer(self.model)
        self.checkpoint.restore(path).assert_existing_objects_matched()
        return int(self.epoch.numpy())


def build_optimizer(model) -> None:
    """Create the optimiser's slot variables now (so a checkpoint restores into them)."""
    opt = model.optimizer
    inner = getattr(opt, "inner_optimizer", opt)
    with model.distribute_strategy.scope():
        inner.build(model.trainable_variables)


class RunCheckpoint(keras.callbacks.Callback):
    """After every epoch: checkpoint (model, optimiser, epoch) into ``RUN/checkpoints`` and
    update ``RUN/state.json`` (epochs done, checkpoint, best so far from ``best_model``)."""

    def __init__(self, run_dir, keep=3, best_model: BestModel | None = None, epochs=None,
                 steps_per_epoch=None):
        super().__init__()
        self.run_dir = os.fspath(run_dir)
        self.keep = keep
        self.best_model = best_model
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch
        self._checkpointer = None
        self._write = None
        self._t0 = None

    def on_train_begin(self, logs=None):
        self._write = _WriteDir(self.run_dir, self.model.distribute_strategy)
        self._checkpointer = Checkpointer(self.model, os.path.join(self._write.path, rundir.CHECKPOINTS),
                                          keep=self.keep)
        self._t0 = time.time()

    def on_epoch_end(self, epoch, logs=None):
        ckpt = self._checkpointer.save(epoch + 1)
        if not self._write.chief:
            return
        state = rundir.read_state(self.run_dir)
        state.update({
            "epoch": int(epoch) + 1,
            "epochs": self.epochs if self.epochs is not None else self.params.get("epochs"),
            "steps_per_epoch": self.steps_per_epoch or self.params.get("steps"),
            "checkpoint": os.path.relpath(ckpt, self.run_dir),
            "finished": False,
            "train_seconds": float(state.get("train_seconds", 0.0)) + time.time() - self._t0,
        })
        self._t0 = time.time()
        if self.best_model is not None and self.best_model.best is not None:
            state["best"] = {"monitor": self.best_model.monitor, "value": self.best_model.best,
                             "epoch": self.best_model.best_epoch}
        state["last"] = {k: float(v) for k, v in (logs or {}).items()}
        rundir.write_json(rundir.path(self.run_dir, rundir.STATE), state)

    def on_train_end(self, logs=None):
        if self._write is not None:
            self._write.cleanup()


def restore(model, run_dir, keep=3) -> int:
    """Restore ``model`` (compiled, with the run's recipe) from the run's latest checkpoint;
    returns the number of finished epochs (0 when the run has no checkpoint yet)."""
    directory = rundir.path(run_dir, rundir.CHECKPOINTS)
    if not os.path.isdir(directory):
        return 0
    return Checkpointer(model, directory, keep=keep).restore()


class TensorBoardScalars(keras.callbacks.Callback):
    """Per-epoch scalars as TensorBoard event files: ``log_dir/train`` (loss, top1, top5,
    lr) and ``log_dir/validation`` (the ``val_*`` logs), tags ``epoch_<name>`` as Keras'
    TensorBoard callback names them. Written with TensorFlow's own summary ops, so it works
    without the ``tensorboard`` package (Keras' callback needs it); view them with
    ``tensorboard --logdir RUN/tensorboard`` wherever TensorBoard is installed."""

    def __init__(self, log_dir):
        super().__init__()
        self.log_dir = os.fspath(log_dir)
        self._writers = {}
        self._metadata = None

    def _writer(self, split):
        if split not in self._writers:
            self._writers[split] = tf.summary.create_file_writer(os.path.join(self.log_dir, split))
        return self._writers[split]

    def on_epoch_end(self, epoch, logs=None):
        if not logs or not is_chief(self.model.distribute_strategy):
            return
        from tensorflow.core.framework import summary_pb2
        from tensorflow.python.ops import summary_ops_v2

        if self._metadata is None:
            md = summary_pb2.SummaryMetadata()
            md.plugin_data.plugin_name = "scalars"
            md.data_class = summary_pb2.DATA_CLASS_SCALAR
            self._metadata = md
        for key, value in logs.items():
            split, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
            with self._writer(split).as_default():
                summary_ops_v2.write(f"epoch_{name}", tf.constant(float(value), tf.float32),
                                     step=int(epoch), metadata=self._metadata)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


class TrainingCurves(keras.callbacks.Callback):
    """Redraw ``png`` from the CSV log ``csv`` after every epoch (put it after CSVLogger)."""

    def __init__(self, csv, png):
        super().__init__()
        self.csv, self.png = os.fspath(csv), os.fspath(png)

    def on_epoch_end(self, epoch, logs=None):
        if is_chief(self.model.distribute_strategy):
            from kvid.analysis.plots import training_curves

            training_curves(self.csv, self.png)


def standard(run_dir, monitor="val_top1", resume=False, keep_checkpoints=3, epochs=None,
             steps_per_epoch=None, tensorboard=True, strategy=None, saved=None) -> list:
    """The callbacks of a run directory, in the order they must run (``strategy``: the one
    the model was built under, for multi-worker runs; ``saved``: see :class:`BestModel`)."""
    run_dir = os.fspath(run_dir)
    os.makedirs(run_dir, exist_ok=True)
    state = rundir.read_state(run_dir) if resume else {}
    best = state.get("best") or {}
    best_model = BestModel(rundir.path(run_dir, rundir.BEST), monitor=monitor,
                           best=best.get("value") if best.get("monitor") == monitor else None,
                           best_epoch=best.get("epoch"), saved=saved)
    cbs = [LearningRateLogger(), keras.callbacks.TerminateOnNaN()]
    if is_chief(strategy):
        cbs.append(keras.callbacks.CSVLogger(rundir.path(run_dir, rundir.LOG), append=resume))
    if tensorboard:
        cbs.append(TensorBoardScalars(rundir.path(run_dir, rundir.TENSORBOARD)))
    cbs += [
        best_model,
        RunCheckpoint(run_dir, keep=keep_checkpoints, best_model=best_model, epochs=epochs,
                      steps_per_epoch=steps_per_epoch),
        TrainingCurves(rundir.path(run_dir, rundir.LOG), rundir.path(run_dir, rundir.CURVES)),
    ]
    return cbs


def finish_run(saved_model, run_dir, history, strategy=None) -> None:
    """The end of a run: ``final.keras`` (``saved_model``), state finished, ``curves.png``, and
    the whole run's rows in ``history.history`` (a resumed run's too). Only the chief writes
    the run; every worker saves the model (reading BatchNormalization's moving statistics of
    a multi-worker model is a collective op), the others into a throw-away folder."""
    from kvid.analysis.plots import training_curves
    from kvid.ops import save_model

    write = _WriteDir(run_dir, strategy)
    save_model(saved_model, os.path.join(write.path, rundir.FINAL))
    write.cleanup()
    if not write.chief:
        return
    state = rundir.read_state(run_dir)
    state["finished"] = True
    rundir.write_json(rundir.path(run_dir, rundir.STATE), state)
    rows = rundir.read_log(run_dir)
    if rows:
        keys = [k for k in rows[0] if k != "epoch"]
        history.history = {k: [r.get(k) for r in rows] for k in keys}
        history.epoch = [r["epoch"] for r in rows]
    training_curves(rundir.path(run_dir, rundir.LOG), rundir.path(run_dir, rundir.CURVES))
