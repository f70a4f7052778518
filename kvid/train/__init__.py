"""kvid.train: the papers' training recipes, Keras ``fit`` with run directories and resume,
multi-view evaluation, distribution.

- :mod:`kvid.train.recipes` - named recipes (no TensorFlow): ``get_recipe("sevnet")``;
- :mod:`kvid.train.optim` - optimisers with kernel-only weight decay, loss, ``compile_model``;
- :mod:`kvid.train.schedules` - warm-up + cosine / step learning-rate schedule;
- :mod:`kvid.train.callbacks` - callbacks for plain ``model.fit`` (checkpoints, best model,
  curves, learning-rate log) and ``restore``;
- :mod:`kvid.train.trainer` - ``fit(model, train_ds, val_ds, recipe=..., run_dir=..., resume=...)``;
- :mod:`kvid.train.run` - ``kvid train``: a run from a config (model preset + dataset);
- :mod:`kvid.train.distribute` - several replicas or workers (``TF_CONFIG``) training as one
  device would: global batches split among replicas, synchronised BatchNormalization;
- :mod:`kvid.train.evaluation` - ``evaluate(...)``, ``kvid evaluate``: single/multi-view metrics of a run, a
  ``.keras`` or a ``.tflite`` (the latter without TensorFlow);
- :mod:`kvid.train.metrics` - top-k, mean class accuracy, mAP, confusion (numpy);
- :mod:`kvid.train.faster` - FASTER's two-stage training (clip backbones, then the aggregator
  on cached feature maps), with run directories and resume;
- :mod:`kvid.contract.rundir` - the run directory layout (the format lives in the contract).

Importing ``kvid.train`` imports no TensorFlow; the names below load their module on first use.
"""

import importlib

_LAZY = {
    "fit": "kvid.train.trainer",
    "count_steps": "kvid.train.trainer",
    "compile_model": "kvid.train.optim",
    "make_optimizer": "kvid.train.optim",
    "ClassificationLoss": "kvid.train.optim",
    "RecipeSchedule": "kvid.train.schedules",
    "Recipe": "kvid.train.recipes",
    "get_recipe": "kvid.train.recipes",
    "restore": "kvid.train.callbacks",
    "evaluate": "kvid.train.evaluation",
    "train_run": "kvid.train.run",
}


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        return getattr(module, name)
    raise AttributeError(f"module 'kvid.train' has no attribute {name!r}")


__all__ = sorted(_LAZY)
