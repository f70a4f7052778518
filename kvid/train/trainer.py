"""``kvid.train.fit`` (this module: ``kvid.train.trainer``): Keras ``fit`` with a recipe, a run directory and resume.

::

    from kvid import models, data, train
    ds = data.pipeline.make_dataset("synth", "train", frames=8, size=64, batch_size=16, seed=0)
    val = data.pipeline.make_dataset("synth", "val", frames=8, size=64, batch_size=16,
                                     training=False)
    model = models.build("sevnet_g8", num_classes=10, frames=8, size=64, group_width=2)
    train.fit(model, ds, val, recipe="cpu", run_dir="runs/sev")           # new run
    train.fit(model, ds, val, recipe="cpu", run_dir="runs/sev", resume=True)  # after a crash

What :func:`fit` adds to ``model.fit``: it compiles the model with the recipe (optimiser,
schedule, loss, top-1/top-5), feeds ``train_ds.repeat()`` with ``steps_per_epoch`` fixed so
the schedule knows the epoch length, and with ``run_dir`` writes everything of
:mod:`kvid.contract.rundir` through :func:`kvid.train.callbacks.standard`.

Resume restores weights, optimiser slots and step counter (hence the learning-rate position)
and the epoch from the last checkpoint, and fast-forwards the training data: kvid.data's
training pipeline draws its shuffling and augmentation from seeded streams that advance once
per pass, so creating (not reading) ``epoch`` iterators puts the stream where an
uninterrupted run would be. With the same seed and no skipped videos, a resumed run sees the
same batches as an uninterrupted one.
"""

from __future__ import annotations

import math
import os

from kvid import KvidError
from kvid.keras import keras, tf
from kvid.train import callbacks as cbmod
from kvid.contract import rundir
from kvid.train.distribute import replica_batches, synchronize_batchnorm, validation_batches
from kvid.train.optim import compile_model
from kvid.train.recipes import get_recipe


def count_steps(train_ds) -> int:
    """Batches per pass over ``train_ds``: its cardinality when known, else the number of
    videos of a kvid.data dataset over its batch size, else counted by one pass."""
    n = int(train_ds.cardinality().numpy())
    if n >= 0:
        if n == 0:
            raise KvidError("training data: the dataset is empty")
        return n
    info = getattr(train_ds, "kvid_dataset", None)
    batch, drop = _batch_of(train_ds)
    if info is not None and batch:
        items = len(info.items)
        steps = items // batch if drop else math.ceil(items / batch)
        if steps < 1:
            raise KvidError(f"{info.root}: {items} training videos, fewer than one batch of {batch}")
        return steps
    if n == tf.data.INFINITE_CARDINALITY:
        raise KvidError("training data: an infinite dataset needs steps_per_epoch")
    print("kvid: counting the batches of the training data (pass steps_per_epoch to skip this)")
    steps = sum(1 for _ in train_ds)
    if steps == 0:
        raise KvidError("training data: the dataset is empty")
    return steps


def _batch_of(ds):
    """(batch size, drop_remainder) of the last ``batch`` in a dataset chain, or (None, False)."""
    seen = 0
    while ds is not None and seen < 32:
        size = getattr(ds, "_batch_size", None)
        if size is not None:
            drop = getattr(ds, "_drop_remainder", False)
            try:
                return int(size.numpy() if hasattr(size, "numpy") else size), bool(
                    drop.numpy() if hasattr(drop, "numpy") else drop)
            except (TypeError, ValueError):
                return None, False
        ds = getattr(ds, "_input_dataset", None)
        seen += 1
    return None, False


def fast_forward(train_ds, passes: int) -> None:
    """Advance the seeded shuffle / augmentation streams of ``train_ds`` by ``passes`` passes
    without reading data (iterator creation draws the next pass's seeds)."""
    for _ in range(int(passes)):
        it = iter(train_ds)
        del it


def fit(model, train_ds, val_ds=None, *, recipe="cpu", epochs=None, run_dir=None, resume=False,
        steps_per_epoch=None, monitor=None, keep_checkpoints=3, callbacks=(), verbose=1,
        config=None, tensorboard=True):
    """Train ``model`` on ``train_ds`` (batches of ``(clip, label)``) with ``recipe``.

    ``recipe``: a name of :mod:`kvid.train.recipes`, a ``Recipe`` or a dict; ``epochs``
    overrides its epoch count; its learning rate is scaled to the batch size of ``train_ds``
    (``lr * batch / recipe.batch``, see :mod:`kvid.train.recipes`). ``run_dir``: write checkpoints, best/final model, logs and
    curves there (see :mod:`kvid.contract.rundir`); a folder that already holds a run needs
    ``resume=True``. ``monitor``: what "best" means (default ``val_top1``, or ``top1``
    without validation data). ``config``: the dict written as ``RUN/config.json`` (``kvid
    train`` passes its own; otherwise a description of the Python call is written).
    Under a strategy with several replicas (``mirrored``, ``multiworker``), each global batch
    of ``train_ds`` is split among them and BatchNormalization is synchronised, so the run
    trains as one device would (:mod:`kvid.train.distribute`).
    Returns the Keras ``History`` (with the whole run's rows when resumed).
    """
    recipe = get_recipe(recipe, epochs=epochs)
    batch, _ = _batch_of(train_ds)
    if batch:
        recipe = recipe.with_batch(batch)  # the linear scaling rule (recipes docstring)
    steps = int(steps_per_epoch or count_steps(train_ds))
    monitor = monitor or ("val_top1" if val_ds is not None else "top1")
    compile_model(model, recipe, steps)
    initial_epoch = 0
    cbs = list(callbacks)
    strategy = model.distribute_strategy
    if strategy.num_replicas_in_sync > 1:  # the replicas train what one device would
        synchronize_batchnorm(model)
    if run_dir is not None:
        run_dir = os.fspath(run_dir)
        if resume and not rundir.has_progress(run_dir):
            raise KvidError(f"{run_dir}: nothing to resume (no checkpoints)")
        if not resume and rundir.has_progress(run_dir):
            raise KvidError(f"{run_dir}: already holds a run; resume it (--resume) or choose "
                            f"another output folder")
        os.makedirs(run_dir, exist_ok=True)
        if cbmod.is_chief(strategy) and (config is not None or not resume):
            rundir.write_json(rundir.path(run_dir, rundir.CONFIG),
                              config if config is not None else _describe(model, recipe, train_ds))
        if resume:
            initial_epoch = cbmod.restore(model, run_dir, keep=keep_checkpoints)
            if cbmod.is_chief(strategy):
                rundir.truncate_log(run_dir, initial_epoch)
            if verbose:
                print(f"kvid: resuming {run_dir} after epoch {initial_epoch}/{recipe.epochs}")
        cbs = cbmod.standard(run_dir, monitor=monitor, resume=resume, epochs=recipe.epochs,
                             keep_checkpoints=keep_checkpoints, steps_per_epoch=steps,
                             tensorboard=tensorboard, strategy=strategy) + cbs
    elif resume:
        raise KvidError("resume=True needs the run_dir to resume")
    if initial_epoch < recipe.epochs:
        fast_forward(train_ds, initial_epoch)
        history = model.fit(replica_batches(train_ds.repeat(), strategy), steps_per_epoch=steps,
                            epochs=recipe.epochs, initial_epoch=initial_epoch,
                            validation_data=validation_batches(val_ds, strategy), callbacks=cbs,
                            verbose=verbose)
    else:
        history = keras.callbacks.History()
        history.set_model(model)
        history.epoch, history.history = [], {}
        if verbose:
            print(f"kvid: {run_dir} has finished all {recipe.epochs} epochs")
    if run_dir is not None:
        _finish(model, run_dir, history, strategy)
    return history


def _finish(model, run_dir, history, strategy) -> None:
    """final.keras (the float32 twin of a mixed-precision model), state finished, the whole
    run's rows in ``history.history`` (:func:`kvid.train.callbacks.finish_run`)."""
    cbmod.finish_run(cbmod.float32_twin(model), run_dir, history, strategy)


def _describe(model, recipe, train_ds) -> dict:
    """config.json of a run started from Python: what can be known about it."""
    from kvid import __version__

    build = dict(getattr(model, "_kvid_build", {}) or {})
    info = getattr(train_ds, "kvid_dataset", None)
    spec = getattr(train_ds, "kvid_spec", None)
    config = {
        "format": rundir.FORMAT, "version": 1, "kvid_version": __version__,
        "source": "python", "rerunnable": False, "recipe": recipe.to_dict(),
        "model_build": build or None, "model_name": model.name,
    }
    if info is not None:
        config["data"] = {"root": os.path.abspath(info.root), "layout": info.layout,
                          "train_split": info.split}
        config["labels"] = list(info.labels)
    if spec is not None:
        config["clip"] = spec.to_dict()
    try:
        from kvid.analysis.count import count

        counted = count(model)
        config["summary"] = {"params": counted["params"], "gmacs": counted["gmacs"]}
    except Exception:  # noqa: BLE001 - a model kvid cannot count still trains
        pass
    return config
