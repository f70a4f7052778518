"""``kvid train``: one training run of a model preset on a dataset, from a config.

:class:`TrainConfig` holds every choice (model and options, data and clip sampling, batch,
recipe, seed, strategy, precision); :func:`train_run` carries it out and writes it, fully
resolved, as ``RUN/config.json`` - which ``kvid train --config RUN/config.json`` (or
``TrainConfig.from_config``) runs again as is. ``--resume`` continues ``RUN`` from its last
checkpoint with the config stored there.

Defaults worth knowing:

- ``recipe="auto"``: the protocol's paper recipe, or ``cpu`` with ``small=True`` (the
  preset's CPU-trainable overrides); a warm-up longer than a short run's epochs is shortened
  to fit, and the run's header says so;
- the recipe's dropout goes to a builder that takes ``dropout`` unless the small config or
  ``model_options`` set it;
- clips: the preset's paper protocol (``kvid.models.get(M).protocol``: sampler, frames, crop,
  short-side jitter, test views; ``protocol`` names an alternative such as ``kinetics``) with
  the fields given here (``frames``, ``size``, ``scheme``, ``stride``, ...) replacing its own;
  ``config.json`` stores the resolved :class:`kvid.contract.ClipSpec` under ``"clip"``;
- ``cache="auto"``: decoded videos are cached in memory when a sample of the training videos
  says they fit in 1 GiB (the synthetic dataset does), else nothing is cached;
- ``strategy``: ``default`` (one device), ``mirrored`` (all local GPUs; without GPUs, all
  logical CPU devices), ``multiworker`` (``TF_CONFIG``); ``batch`` is the global batch, which
  the replicas split so that they train as one device would (:mod:`kvid.train.distribute`);
  ``mixed_precision`` only where a GPU is present (else a warning, float32).
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import sys
import time

from kvid import KvidError, __version__
from kvid.contract import ClipSpec, rundir
from kvid.train.recipes import Recipe, get_recipe

STRATEGIES = ("default", "mirrored", "multiworker")
CACHE_LIMIT_BYTES = 1 << 30


@dataclasses.dataclass
class TrainConfig:
    model: str
    data: str
    out: str
    frames: int | None = None
    size: int | None = None
    batch: int = 16
    epochs: int | None = None
    lr: float | None = None
    recipe: str | dict = "auto"
    recipe_changes: dict = dataclasses.field(default_factory=dict)
    model_options: dict = dataclasses.field(default_factory=dict)
    small: bool = False
    seed: int = 0
    layout: str = "auto"
    train_split: str = "train"
    val_split: str | None = "val"
    protocol: str | None = None
    # clip fields that replace the protocol's (None: the protocol's)
    scheme: str | None = None
    stride: int | None = None
    window: int | None = None
    scale: tuple | None = None
    flip: bool | None = None
    clips: int | None = None
    crops: int | None = None
    resize: int | None = None
    cache: str = "auto"
    strategy: str = "default"
    mixed_precision: bool = False
    keep_checkpoints: int = 3

    # -- resolution -------------------------------------------------------------------------
    def preset(self):
        from kvid.models import get

        return get(self.model)

    def resolved_protocol(self):
        """The preset's data protocol (``protocol``: an alternative's name) at this run's input."""
        return self.preset().data_protocol(self.protocol, frames=self.frames, size=self.size,
                                           small=self.small)

    def resolved_clip(self) -> ClipSpec:
        """The clip spec of the run: the protocol's, with the fields given here replacing it."""
        clip = self.resolved_protocol().clip
        return clip.replace(scheme=self.scheme, stride=self.stride, window=self.window,
                            scale=tuple(self.scale) if self.scale else None, flip=self.flip,
                            clips=self.clips, crops=self.crops, resize=self.resize).resolved()

    def resolved_recipe(self) -> Recipe:
        """The recipe with the batch's learning rate and the explicit changes; a warm-up
        longer than the run is shortened to fit (``recipe.notes`` says so)."""
        if isinstance(self.recipe, dict):
            recipe = Recipe.from_dict(self.recipe)
        else:
            name = self.recipe
            if name == "auto":
                name = "cpu" if self.small else self.resolved_protocol().recipe
            recipe = get_recipe(name)
        recipe = recipe.with_batch(self.batch)
        changes = dict(self.recipe_changes)
        if self.epochs is not None:
            changes["epochs"] = int(self.epochs)
        if self.lr is not None:
            changes["lr"] = float(self.lr)
        return recipe.replace(**changes) if changes else recipe

    def resolved_options(self, recipe: Recipe) -> dict:
        """Model overrides: small config, then the recipe's dropout, then model_options."""
        preset = self.preset()
        options = dict(preset.small) if self.small else {}
        if recipe.dropout is not None and "dropout" not in options and "dropout" not in self.model_options:
            params = inspect.signature(preset.builder).parameters
            if "dropout" in params:
                options["dropout"] = recipe.dropout
        options.update(self.model_options)
        return options

    def to_config(self, recipe: Recipe, options: dict, extra: dict) -> dict:
        """The JSON config of a run: resolved so that it re-runs exactly."""
        return {
            "format": rundir.FORMAT, "version": 1, "kvid_version": __version__,
            "source": "kvid train", "rerunnable": True,
            "command": " ".join(["kvid"] + sys.argv[1:]) if sys.argv and sys.argv[0].endswith("kvid") else None,
            "model": self.model, "family": self.preset().family, "model_options": _jsonable(options),
            "data": {"root": os.path.abspath(self.data), "layout": self.layout,
                     "train_split": self.train_split, "val_split": self.val_split,
                     "cache": self.cache},
            "clip": self.resolved_clip().to_dict(),
            "protocol": _protocol_record(self.resolved_protocol(), self.protocol),
            "batch": self.batch, "seed": self.seed, "recipe": recipe.to_dict(),
            "strategy": self.strategy, "mixed_precision": self.mixed_precision,
            "keep_checkpoints": self.keep_checkpoints, "out": os.path.abspath(self.out),
            **extra,
        }

    @classmethod
    def from_config(cls, config: dict) -> "TrainConfig":
        if config.get("format") != rundir.FORMAT:
            raise KvidError(f"config: not a kvid run config (format={config.get('format')!r})")
        if not config.get("rerunnable", False):
            raise KvidError("config: this run was started from Python with a model and datasets "
                            "kvid cannot rebuild; re-run it from Python")
        data = config["data"]
        clip = rundir.clip_spec(config)
        return cls(
            model=config["model"], data=data["root"], out=config["out"],
            frames=clip.frames, size=clip.crop, batch=int(config["batch"]),
            recipe=dict(config["recipe"]), model_options=dict(config.get("model_options") or {}),
            seed=int(config.get("seed", 0)), layout=data.get("layout", "auto"),
            train_split=data.get("train_split", "train"), val_split=data.get("val_split", "val"),
            protocol=(config.get("protocol") or {}).get("name"),
            scheme=clip.scheme, stride=clip.stride, window=clip.window, scale=clip.scale,
            flip=clip.flip, clips=clip.clips, crops=clip.crops, resize=clip.resize,
            cache=data.get("cache", "auto"),
            strategy=config.get("strategy", "default"),
            mixed_precision=bool(config.get("mixed_precision", False)),
            keep_checkpoints=int(config.get("keep_checkpoints", 3)),
        )

    def check(self) -> None:
        if self.strategy not in STRATEGIES:
            raise KvidError(f"strategy={self.strategy!r}: choose from {', '.join(STRATEGIES)}")
        for name in ("batch", "keep_checkpoints"):
            if int(getattr(self, name)) < 1:
                raise KvidError(f"{name}={getattr(self, name)}: must be at least 1")
        self.resolved_clip()  # validates the clip fields
        if not os.path.exists(self.data):
            raise KvidError(f"{self.data}: dataset not found")


def _protocol_record(protocol, name) -> dict:
    """What config.json says of the protocol behind the clip spec and recipe."""
    return {"name": name or "default", "dataset": protocol.dataset, "source": protocol.source,
            "recipe": protocol.recipe, "notes": protocol.notes}


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


# -- strategy and precision ---------------------------------------------------------------------
def make_strategy(name: str):
    from kvid.keras import tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        if gpus:
            return tf.distribute.MirroredStrategy([d.name for d in gpus])
        cpus = tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in cpus])
    if name == "multiworker":
        from kvid.train.distribute import multiworker_strategy

        return multiworker_strategy()
    raise KvidError(f"strategy={name!r}: choose from {', '.join(STRATEGIES)}")


def set_precision(mixed: bool) -> bool:
    """Set the global Keras policy; returns whether mixed precision is on."""
    from kvid.keras import keras, tf

    if mixed and not tf.config.list_physical_devices("GPU"):
        print("kvid: warning: --mixed-precision needs a GPU; training in float32", file=sys.stderr)
        mixed = False
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
    return mixed


# -- data ----------------------------------------------------------------------------------------
def estimate_cache_bytes(dataset, frames_short: int, sample: int = 8) -> int:
    """Decoded size of the training videos after the pipeline's shrink, from a sample."""
    from kvid.data.video import video_info

    items = dataset.items
    if not items:
        return 0
    step = max(1, len(items) // sample)
    sizes = []
    for path, _ in items[::step][:sample]:
        try:
            info = video_info(path)
        except KvidError:
            continue
        h, w = info["height"], info["width"]
        scale = min(1.0, frames_short / max(min(h, w), 1))
        sizes.append(info["frames"] * (h * scale) * (w * scale) * 3)
    if not sizes:
        return 0
    return int(sum(sizes) / len(sizes) * len(items))


def _cache_value(cfg: TrainConfig, train_info):
    if cfg.cache in ("off", "none", "false", False, None):
        return False
    if cfg.cache in ("memory", True):
        return True
    if cfg.cache == "auto":
        clip = cfg.resolved_clip()
        short = max(clip.train_scale[1], clip.crop)
        return estimate_cache_bytes(train_info, short) <= CACHE_LIMIT_BYTES
    return str(cfg.cache)  # a file prefix


def load_splits(cfg: TrainConfig):
    from kvid.data.layouts import SplitNotFound, load_dataset

    train_info = load_dataset(cfg.data, cfg.train_split, layout=cfg.layout)
    if not train_info.items:
        raise KvidError(f"{cfg.data}: the {cfg.train_split} split has no usable videos")
    val_info = None
    if cfg.val_split:
        try:
            val_info = load_dataset(cfg.data, cfg.val_split, layout=cfg.layout)
        except SplitNotFound:
            print(f"kvid: {cfg.data} has no {cfg.val_split} split: training without validation")
    return train_info, val_info, len(train_info.items)


def make_datasets(cfg: TrainConfig, train_info, val_info):
    from kvid.data.pipeline import make_dataset

    cache = _cache_value(cfg, train_info)
    clip = cfg.resolved_clip()
    train = make_dataset(train_info, cfg.train_split, batch_size=cfg.batch, training=True,
                         seed=cfg.seed, cache=cache, clip=clip)
    val = None
    if val_info is not None and val_info.items:
        # validation during training: one centre view per video (the full test views are
        # kvid evaluate's)
        val = make_dataset(val_info, cfg.val_split, batch_size=cfg.batch, training=False,
                           cache=cache is True, clip=clip.replace(clips=1, crops=1))
    return train, val, cache


# -- the run ------------------------------------------------------------------------------------
def train_run(cfg: TrainConfig, resume: bool = False, verbose: int = 1):
    """Train as ``cfg`` says (``resume``: continue ``cfg.out``); returns the Keras History."""
    from kvid import models
    from kvid.keras import keras
    from kvid.train.distribute import steps_per_pass
    from kvid.train.trainer import fit

    cfg.check()
    if resume and not rundir.has_progress(cfg.out):
        raise KvidError(f"{cfg.out}: nothing to resume (no checkpoints)")
    if not resume and rundir.has_progress(cfg.out):
        raise KvidError(f"{cfg.out}: already holds a run; resume it (--resume) or choose "
                        f"another --out")
    recipe = cfg.resolved_recipe()
    clip = cfg.resolved_clip()
    cfg.frames, cfg.size = clip.frames, clip.crop
    options = cfg.resolved_options(recipe)
    keras.utils.set_random_seed(int(cfg.seed))
    mixed = set_precision(cfg.mixed_precision)
    strategy = make_strategy(cfg.strategy)
    train_info, val_info, total = load_splits(cfg)
    labels = list(train_info.labels)
    with strategy.scope():
        model = models.build(cfg.model, num_classes=len(labels), frames=cfg.frames,
                             size=cfg.size, **options)
    from kvid.analysis.count import count

    counted = count(model)
    train, val, cache = make_datasets(cfg, train_info, val_info)
    # global batches per pass; every worker reads all of them (kvid.train.distribute)
    steps = steps_per_pass(total, cfg.batch, strategy.num_replicas_in_sync)
    extra = {
        "model_build": _jsonable(getattr(model, "_kvid_build", {})), "labels": labels,
        "num_classes": len(labels),
        "summary": {"params": counted["params"], "gmacs": counted["gmacs"],
                    "train_videos": total,
                    "val_videos": len(val_info.items) if val_info else 0,
                    "steps_per_epoch": steps, "replicas": strategy.num_replicas_in_sync,
                    "mixed_precision": mixed, "cache": cache if isinstance(cache, bool) else str(cache)},
    }
    config = cfg.to_config(recipe, options, extra)
    if verbose:
        print(f"kvid train: {cfg.model} {cfg.frames}x{cfg.size}x{cfg.size} {options or ''} "
              f"({counted['params']:,} params, {counted['gmacs']:.4g} GMACs)")
        print(f"  data: {cfg.data}: {total} train / "
              f"{len(val_info.items) if val_info else 0} val videos, {len(labels)} classes, "
              f"cache {'on' if cache else 'off'}")
        protocol = cfg.resolved_protocol()
        print(f"  clips: {clip.describe()} ({protocol.dataset or 'generic'} protocol"
              f"{', ' + protocol.source if protocol.source else ''})")
        print(f"  recipe {recipe.describe()}; batch {cfg.batch} "
              f"({strategy.num_replicas_in_sync} replica(s)), {steps} steps/epoch")
        if recipe.notes:
            print(f"  note: {recipe.notes}")
        print(f"  run: {cfg.out}")
    t0 = time.time()
    with strategy.scope():
        history = fit(model, train, val, recipe=recipe, run_dir=cfg.out, resume=resume,
                      steps_per_epoch=steps, keep_checkpoints=cfg.keep_checkpoints,
                      config=config, verbose=verbose)
    problems = train.kvid_problems
    if verbose:
        state = rundir.read_state(cfg.out)
        best = state.get("best") or {}
        if best:
            print(f"kvid train: best {best['monitor']} {best['value']:.4f} at epoch {best['epoch']}"
                  f" ({time.time() - t0:.0f} s); model {rundir.path(cfg.out, rundir.BEST)}")
        if problems.errors or problems.warnings:
            print(f"kvid train: {problems.summary()}")
    return history
