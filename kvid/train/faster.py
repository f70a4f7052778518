"""FASTER's two-stage training (Zhu et al., FASTER, ../shared/papers/002_*.txt, Sec.
"Experimental Setups"), on videos held in memory, with run directories and resume.

Stage 1 - clip backbones: :func:`train_clip_model` trains a backbone classifier
(kvid.models.faster) on random clips of ``L`` consecutive frames (:class:`ClipBatches`: the
``dense`` training scheme of kvid.data.sampling, one clip per video per epoch).

Stage 2 - the aggregator, backbones frozen: :func:`cache_features` runs a frozen feature
extractor over the ``P`` uniformly placed clips of every video (the ``dense`` test scheme with
``P`` clips, :func:`dense_clips`) once and stores the res5 maps on disk (``.npy``, reused across
epochs and runs); :class:`FeatureSequences` draws ``N`` random cached clips per video per epoch
(sorted in time; expensive or cheap by the pattern, kvid.contract.faster.schedule) - or the
same ``N`` every time, for testing; :func:`train_aggregator` fits the step over them through
kvid.models.faster.FasterSequence, and :func:`predict_sequences` runs it.

Both stages follow a cosine schedule over all steps (:func:`compile_faster`; Sec.: "we adopt
the cosine learning rate schedule"). Stage 1 optimises by default as the paper's clip-backbone
recipe (kvid.train.recipes ``faster``: R(2+1)D's SGD with momentum 0.9, lr 0.01, weight decay
1e-4); ``optimizer="adam"`` is the choice for tiny models on a CPU (benchmarks/faster_synth.py,
the tests). Stage 2 defaults to Adam (AdamW with ``weight_decay``): the paper gives no separate
recipe for the aggregator.
With ``run_dir`` a stage writes a run directory as ``kvid train`` does (kvid.contract.rundir:
``config.json``, ``state.json``, ``checkpoints/``, ``best.keras``, ``final.keras``, ``log.csv``,
TensorBoard, ``curves.png``; the aggregator stage saves its step model) and ``resume=True``
continues it from the last checkpoint: the sampler replays the finished epochs' random draws, so
a resumed run sees the batches an uninterrupted one would.
"""

from __future__ import annotations

import hashlib
import json
import math
import os

import numpy as np

from kvid import KvidError, __version__, ops
from kvid.contract import ClipSpec, rundir
from kvid.contract.faster import pattern_name, schedule
from kvid.data.sampling import sample_indices, test_clips
from kvid.keras import keras, tf
from kvid.models.faster import FEATURE_STRIDE, FasterSequence
from kvid.train import callbacks as cbmod
from kvid.train.optim import metrics


# ------------------------------------------------------------------------------- sampling

def dense_clips(num_frames: int, clip_frames: int, clips: int) -> np.ndarray:
    """Frame indices ``(clips, clip_frames)`` of the ``clips`` clips of ``clip_frames``
    consecutive frames that cover a video uniformly (the ``dense`` test scheme of
    kvid.data.sampling)."""
    return np.stack(test_clips(ClipSpec(scheme="dense", frames=clip_frames, clips=clips), num_frames))


class ClipBatches(keras.utils.Sequence):
    """Batches of random L-frame clips (one per video per epoch) from in-memory videos
    ``(V, T, H, W, 3)`` uint8 - the backbones' training input (Sec. "Setups for clip-level
    backbones": L consecutive frames sampled at random; the ``dense`` training scheme).
    ``shift`` > 0 also translates each clip by up to ``shift`` pixels (edge padding; no flips:
    they would change direction labels)."""

    def __init__(self, videos, labels, clip_frames, batch_size=8, seed=0, shift=0):
        super().__init__()
        self.videos, self.labels = videos, np.asarray(labels, np.int64)
        self.clip_frames, self.batch_size = int(clip_frames), int(batch_size)
        self.shift = int(shift)
        self.rng = np.random.default_rng(seed)
        self.on_epoch_end()

    def __len__(self):
        return math.ceil(len(self.videos) / self.batch_size)

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.videos))

    def __getitem__(self, i):
        idx = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        clips = []
        for v in idx:
            frames = sample_indices(len(self.videos[v]), self.clip_frames, "dense", training=True,
                                    rng=self.rng)
            clip = self.videos[v][frames]
            if self.shift:
                s = self.shift
                h, w = clip.shape[1:3]
                dy, dx = self.rng.integers(0, 2 * s + 1, 2)
                clip = np.pad(clip, ((0, 0), (s, s), (s, s), (0, 0)), mode="edge")[:, dy:dy + h, dx:dx + w]
            clips.append(clip)
        return np.asarray(clips, np.float32), self.labels[idx]


class FeatureSequences(keras.utils.Sequence):
    """Batches of clip-feature sequences for the aggregator, from the two feature caches
    (:func:`cache_features`, ``(V, P, l, h*w, C)``).

    ``training=True``: for every video, ``clips`` distinct cached clip positions drawn at random
    each epoch and sorted in time (Sec. "Setups for learning to aggregate": N random clips);
    ``training=False``: positions ``positions`` (default: the first ``clips`` cached ones, e.g.
    a cache of the uniform test clips). Clip ``i`` comes from the expensive cache where
    ``schedule(clips, pattern)[i]``, else from the cheap one. Yields
    ``({"features": (B, N, l, h*w, C), "expensive": (B, N)}, labels)``.
    """

    def __init__(self, expensive, cheap, labels, clips, pattern, *, batch_size=16,
                 training=True, positions=None, seed=0):
        super().__init__()
        self.expensive, self.cheap = expensive, cheap
        self.labels = np.asarray(labels, np.int64)
        self.clips, self.batch_size, self.training = int(clips), int(batch_size), training
        self.pattern = pattern_name(pattern)
        self.which = np.asarray(schedule(self.clips, pattern), bool)
        if cheap is None and not self.which.all():
            raise KvidError(f"pattern {self.pattern}: needs the cheap model's features")
        available = (expensive if expensive is not None else cheap).shape[1]
        if available < self.clips and training:
            raise KvidError(f"{available} cached clips per video: cannot draw {self.clips} distinct ones")
        self.positions = np.arange(self.clips) if positions is None else np.asarray(positions)
        self.rng = np.random.default_rng(seed)
        self.on_epoch_end()

    def __len__(self):
        return math.ceil(len(self.labels) / self.batch_size)

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.labels)) if self.training else np.arange(len(self.labels))

    def _positions(self):
        available = (self.expensive if self.expensive is not None else self.cheap).shape[1]
        if not self.training:
            return self.positions
        return np.sort(self.rng.choice(available, self.clips, replace=False))

    def __getitem__(self, i):
        idx = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        feats = []
        for v in idx:
            pos = self._positions()
            feats.append(np.stack([(self.expensive if e else self.cheap)[v, p]
                                   for e, p in zip(self.which, pos)]))
        flags = np.broadcast_to(self.which.astype(np.float32), (len(idx), self.clips))
        return ({"features": np.asarray(feats, np.float32), "expensive": np.array(flags)},
                self.labels[idx])


def as_dataset(sequence, skip_epochs: int = 0):
    """A repeating ``tf.data.Dataset`` over the batches of a ``keras.utils.Sequence`` (static
    shapes except the batch, so kvid's folding layers see their T, H, W); ``on_epoch_end``
    after each pass, so every epoch draws new random clips. Fit it with
    ``steps_per_epoch=len(sequence)``. ``skip_epochs``: passes drawn and dropped first (a
    resumed run replays the random draws of the epochs it has done)."""

    def spec(a):
        a = np.asarray(a)
        return tf.TensorSpec((None, *a.shape[1:]), tf.as_dtype(a.dtype))

    def generate():
        for _ in range(int(skip_epochs)):
            for i in range(len(sequence)):
                sequence[i]
            sequence.on_epoch_end()
        while True:
            for i in range(len(sequence)):
                yield sequence[i]
            sequence.on_epoch_end()

    signature = tf.nest.map_structure(spec, sequence[0])
    return tf.data.Dataset.from_generator(generate, output_signature=signature)


# ------------------------------------------------------------------------------ training

OPTIMIZERS = ("sgd", "adam")


def compile_faster(model, lr, steps, weight_decay=0.0, optimizer="adam"):
    """Compile for a FASTER stage on a cosine schedule over ``steps`` (Sec.: "we adopt the
    cosine learning rate schedule"): ``optimizer`` ``"sgd"`` (momentum 0.9, decoupled weight
    decay ``weight_decay``: the R(2+1)D recipe) or ``"adam"`` (AdamW with ``weight_decay``);
    softmax cross-entropy, top-1/top-5."""
    if optimizer not in OPTIMIZERS:
        raise KvidError(f"optimizer={optimizer!r}: must be one of {', '.join(OPTIMIZERS)}")
    schedule_ = keras.optimizers.schedules.CosineDecay(lr, max(1, steps))
    if optimizer == "sgd":
        optimizer = keras.optimizers.SGD(schedule_, momentum=0.9, weight_decay=weight_decay or None)
    elif weight_decay:
        optimizer = keras.optimizers.AdamW(schedule_, weight_decay=weight_decay)
    else:
        optimizer = keras.optimizers.Adam(schedule_)
    model.compile(optimizer=optimizer,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=metrics(getattr(model, "num_classes", None) or int(model.output_shape[-1])))


def _fit(model, sequence, *, epochs, lr, weight_decay, optimizer, verbose, run_dir, resume, config,
         saved=lambda model: model):
    """``model.fit`` over ``sequence`` for ``epochs``, in ``run_dir`` when given (module
    text); ``saved(model)`` is what best.keras / final.keras hold."""
    steps = len(sequence)
    compile_faster(model, lr, epochs * steps, weight_decay, optimizer)
    start, callbacks = 0, []
    if run_dir is not None:
        run_dir = os.fspath(run_dir)
        if resume and not rundir.has_progress(run_dir):
            raise KvidError(f"{run_dir}: nothing to resume (no checkpoints)")
        if not resume and rundir.has_progress(run_dir):
            raise KvidError(f"{run_dir}: already holds a run; resume it (resume=True) or choose another folder")
        os.makedirs(run_dir, exist_ok=True)
        if resume:
            start = cbmod.restore(model, run_dir)
            rundir.truncate_log(run_dir, start)
        else:
            rundir.write_json(rundir.path(run_dir, rundir.CONFIG), {
                "format": rundir.FORMAT, "version": 1, "kvid_version": __version__,
                "source": "python", "rerunnable": False, "model_name": model.name, **config,
                "optimizer": {"name": "adamw" if optimizer == "adam" and weight_decay else optimizer,
                              "lr": float(lr),
                              "schedule": "cosine", "weight_decay": float(weight_decay),
                              "epochs": int(epochs), "steps_per_epoch": steps}})
        callbacks = cbmod.standard(run_dir, monitor="top1", resume=resume, epochs=epochs,
                                   steps_per_epoch=steps, saved=saved)
    elif resume:
        raise KvidError("resume=True needs the run_dir to resume")
    history = model.fit(as_dataset(sequence, skip_epochs=start), epochs=epochs, steps_per_epoch=steps,
                        initial_epoch=min(start, epochs), callbacks=callbacks, verbose=verbose)
    if run_dir is not None:
        cbmod.finish_run(saved(model), run_dir, history)
    return history


def train_clip_model(model, videos, labels, clip_frames, *, epochs, batch_size=8, lr=0.01,
                     weight_decay=1e-4, optimizer="sgd", seed=0, shift=0, verbose=0, run_dir=None,
                     resume=False):
    """Stage 1: train a backbone classifier on random clips (:class:`ClipBatches`); returns
    the Keras history (the whole run's, when resumed). The defaults are the paper's
    clip-backbone recipe (``faster`` in kvid.train.recipes: SGD, lr 0.01, weight decay 1e-4,
    cosine); ``optimizer="adam"`` for tiny models on a CPU."""
    data = ClipBatches(videos, labels, clip_frames, batch_size, seed, shift)
    config = {"faster": {"stage": "clip_model", "videos": len(videos), "clip_frames": int(clip_frames),
                         "scheme": "dense", "batch_size": int(batch_size), "seed": int(seed),
                         "shift": int(shift)}}
    return _fit(model, data, epochs=epochs, lr=lr, weight_decay=weight_decay, optimizer=optimizer,
                verbose=verbose, run_dir=run_dir, resume=resume, config=config)


def train_aggregator(step, data, *, epochs, lr=1e-3, weight_decay=1e-4, optimizer="adam", verbose=0,
                     run_dir=None, resume=False):
    """Stage 2: fit the step over cached feature sequences (:class:`FeatureSequences`); a run
    directory holds the step (``best.keras``, ``final.keras``)."""
    config = {"faster": {"stage": "aggregator", "step": step.name, "videos": len(data.labels),
                         "clips": data.clips, "pattern": data.pattern, "training": bool(data.training),
                         "batch_size": data.batch_size}}
    return _fit(FasterSequence(step), data, epochs=epochs, lr=lr, weight_decay=weight_decay,
                optimizer=optimizer, verbose=verbose, run_dir=run_dir, resume=resume, config=config,
                saved=lambda model: model.step)


def predict_sequences(step, data, every_clip=False) -> np.ndarray:
    """Logits of the aggregator over every batch of ``data`` (in order): ``(V, K)``, or
    ``(V, N, K)`` after every clip."""
    model = FasterSequence(step, every_clip=every_clip)
    return np.concatenate([model(x, training=False).numpy() for x, _ in
                           (data[i] for i in range(len(data)))])


# ------------------------------------------------------------------------- feature cache

def cache_features(extractor, videos, clip_frames, clips, path, *, batch_size=16):
    """Run a frozen feature extractor over the ``clips`` uniformly placed clips of every video
    (:func:`dense_clips`) and store ``(V, clips, l, h*w, C)`` float32 in ``path`` (``.npy``) -
    once: an existing cache with the same extractor weights, clips and shape is reused.
    Returns the array (memory-mapped)."""
    indices = [dense_clips(len(v), clip_frames, clips) for v in videos]
    out_shape = extractor.outputs[0].shape
    h, w, c = int(out_shape[1]), int(out_shape[2]), int(out_shape[3])
    l = ops.out_frames(clip_frames, FEATURE_STRIDE[0])
    meta = {"extractor": extractor.name, "weights": _weights_digest(extractor),
            "clip_frames": int(clip_frames), "clips": int(clips),
            "indices": [i.tolist() for i in indices], "shape": [len(videos), int(clips), l, h * w, c]}
    meta_path = f"{path}.json"
    if os.path.exists(path) and os.path.exists(meta_path):
        with open(meta_path, encoding="utf-8") as fh:
            if json.load(fh) == meta:
                return np.load(path, mmap_mode="r")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    cache = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=tuple(meta["shape"]))
    jobs = [(v, p) for v in range(len(videos)) for p in range(int(clips))]
    for i in range(0, len(jobs), batch_size):
        chunk = jobs[i:i + batch_size]
        batch = np.stack([videos[v][indices[v][p]] for v, p in chunk]).astype(np.float32)
        maps = extractor(batch, training=False).numpy().reshape(len(chunk), l, h * w, c)
        for (v, p), m in zip(chunk, maps):
            cache[v, p] = m
    cache.flush()
    del cache
    with open(meta_path, "w", encoding="utf-8") as fh:
        json.dump(meta, fh)
    return np.load(path, mmap_mode="r")


def _weights_digest(model) -> str:
    digest = hashlib.sha1()
    for w in model.weights:
        digest.update(np.ascontiguousarray(w.numpy()).tobytes())
    return digest.hexdigest()


__all__ = ["ClipBatches", "FeatureSequences", "as_dataset", "cache_features", "compile_faster",
           "dense_clips", "predict_sequences", "train_aggregator", "train_clip_model"]
