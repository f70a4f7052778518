"""FASTER (Zhu et al., "FASTER Recurrent Networks for Efficient Video Classification", AAAI
2020; ../shared/papers/002_*.txt): an expensive and a cheap clip backbone, and a recurrent
aggregator that combines their res5 feature maps over the N clips of a video.

Presets
-------
* clip backbones (Table 1, Table 2, Table 6): ``r2plus1d_50`` (expensive), ``r3d_50`` (the
  expensive alternative of Table 6), ``r2d_26`` (cheap). Each is a clip classifier
  (``clip -> logits``); :func:`feature_model` (or the option ``output="features"``) gives the
  feature extractor returning the res5 map ``(B*L/8, 7, 7, 2048)`` at 224x224 (folded, rank 4).
* aggregators (Table 3, Eq. 1-5): ``fastgru``, ``gru``, ``lstm``, ``concat``, ``avgpool``.
  These build one aggregation *step* (kvid.blocks.fast_gru): inputs ``feature (B, L/8, h*w, C)``,
  the state(s) and ``control``, outputs the new state(s) and ``logits`` - not the registry's
  usual ``clip -> logits``. ``frames``/``size`` are the clip's, so ``kvid info fastgru``
  counts one step on a ``L/8 x 7 x 7 x 2048`` map (0.72 GMACs per temporal slice).

The framework
-------------
* :func:`pattern_gmacs` - total GMACs of N clips of L frames under a ``#E:#C`` pattern:
  expensive + cheap feature extractors + the aggregator (FASTER Table 4).
* Two-stage training (Sec. "Experimental Setups"): :func:`train_clip_model` trains a backbone
  on random L-frame clips; :func:`cache_features` runs the frozen extractor over every
  candidate clip of every video once and stores the maps on disk (``.npy``, reused across
  epochs and runs); :class:`FeatureSequences` draws N random clips per video per epoch from the
  cache (sorted in time, expensive/cheap by the pattern) and :class:`FasterSequence` runs the
  step over them; :func:`train_aggregator` fits it.
* QAT: :func:`quantize_step` wraps a step for quantization-aware training; export is
  ``kvid.export.faster.export_faster``; the TensorFlow-free streaming runtime is
  ``kvid.runtime.faster``.
"""

from __future__ import annotations

import functools
import json
import math
import os

import numpy as np

from kvid import KvidError, ops
from kvid.blocks import fast_gru
from kvid.blocks import r2plus1d as clip_blocks
from kvid.data.sampling import sample_indices
from kvid.keras import keras, tf
from kvid.models.registry import Reference, register
from kvid.runtime.faster import CONTROL_FIELDS, parse_pattern, pattern_name, schedule

FEATURE_STRIDE = (8, 32)  # res5 map: L/8 x H/32 x W/32 (Table 1)
FEATURE_LAYER = "global_pool_split"  # the layer that takes the res5 map (ops.global_video_pool)


# ----------------------------------------------------------------------------------- backbones

def build_backbone(num_classes, frames, size, *, block="2plus1d", stages=(3, 4, 6, 3), width=64,
                   dropout=0.0, output="logits", name=None):
    """A FASTER clip backbone (Table 1): stem (conv1 + pool1), bottleneck stages res2..res5
    with ``width * 2**s`` inner channels (4x expansion), spatial stride 2 from res3 on and, for
    3-D blocks, temporal stride 2 as well (T -> L/8). ``output="features"`` returns the res5
    map ``(B*L/8, H/32, W/32, 32*width)``; ``"logits"`` adds global pooling + FC."""
    if output not in ("logits", "features"):
        raise KvidError(f"output={output!r}: must be 'logits' or 'features'")
    inputs, x = ops.video_input(frames, size)
    x, t = clip_blocks.stem(x, frames, block, width=width)
    for s, count in enumerate(stages):
        for i in range(int(count)):
            stride = 2 if s > 0 and i == 0 else 1
            strides = (1 if block == "2d" else stride, stride, stride)
            x, t = clip_blocks.bottleneck(x, t, width * 2 ** s, block=block, strides=strides,
                                          name=f"res{s + 2}_{i + 1}")
    name = name or f"{block}_backbone"
    if output == "features":
        return keras.Model(inputs, x, name=f"{name}_features")
    x = ops.global_video_pool(x, t, name="global_pool")
    return keras.Model(inputs, ops.classifier(x, num_classes, dropout=dropout), name=name)


def feature_model(model):
    """The res5 feature extractor of a backbone classifier (float or QAT), sharing its
    weights: ``clip -> (B*L/8, h, w, C)``."""
    for layer in model.layers:
        if layer.name in (FEATURE_LAYER, f"quant_{FEATURE_LAYER}"):
            return keras.Model(model.inputs, layer.input, name=f"{model.name}_features")
    if model.outputs[0].shape.rank == 4:
        return model  # already a feature extractor
    raise KvidError(f"{model.name}: not a FASTER backbone (no layer {FEATURE_LAYER!r})")


def _backbone(block, stages):
    def builder(num_classes, frames, size, width=64, stages=stages, dropout=0.0, output="logits"):
        return build_backbone(num_classes, frames, size, block=block, stages=tuple(stages),
                              width=width, dropout=dropout, output=output,
                              name=f"{'r2d' if block == '2d' else 'r' + block}")
    return builder


_T2 = "FASTER Table 2"
register(
    "r2plus1d_50", _backbone("2plus1d", (3, 4, 6, 3)), family="faster",
    description="FASTER expensive clip model: R(2+1)D-50, bottlenecks, max-pool after conv1",
    references=[Reference(8, 224, 400, gmacs=30.0, params_m=46.9, source=_T2),
                Reference(16, 224, 400, gmacs=60.0, params_m=46.9, source=_T2),
                Reference(32, 224, 400, gmacs=119.9, params_m=46.9, source=_T2)],
    small={"width": 8, "stages": (1, 1, 1, 1)},
    num_classes=400, frames=8, size=224,
)
register(
    "r3d_50", _backbone("3d", (3, 4, 6, 3)), family="faster",
    description="FASTER expensive alternative (Table 6): R3D-50, full 3x3x3 bottlenecks",
    references=[Reference(32, 224, 400, gmacs=117.84,
                          source="FASTER Table 6: All-E avg. pool 942.7 GFLOPs / 8 clips")],
    small={"width": 8, "stages": (1, 1, 1, 1)},
    num_classes=400, frames=32, size=224,
)
register(
    "r2d_26", _backbone("2d", (2, 2, 2, 2)), family="faster",
    description="FASTER cheap clip model: R2D-26, conv1 8x7x7 with temporal stride 8",
    references=[Reference(8, 224, 400, gmacs=3.2, source=_T2),
                Reference(16, 224, 400, gmacs=6.33,
                          source="FASTER Table 2 says 6.0, inconsistent with 8/32 frames; "
                                 "REFERENCE_NUMBERS.md: trust 6.33"),
                Reference(32, 224, 400, gmacs=12.7, source=_T2)],
    small={"width": 8, "stages": (1, 1, 1, 1)},
    num_classes=400, frames=8, size=224,
)


# --------------------------------------------------------------------------------- aggregators

def feature_shape(frames, size, channels):
    """``(l, h*w, C)`` of the res5 map of an ``frames x size x size`` clip."""
    side = ops.out_frames(size, FEATURE_STRIDE[1])
    return (ops.out_frames(frames, FEATURE_STRIDE[0]), side * side, int(channels))


def build_aggregator(num_classes, frames, size, *, kind="fastgru", channels=2048, reduction=4,
                     dropout=0.0):
    """One step of aggregator ``kind`` for clips of ``frames x size x size``
    (kvid.blocks.fast_gru.build_step)."""
    return fast_gru.build_step(kind, feature_shape(frames, size, channels), num_classes,
                               reduction=reduction, dropout=dropout)


def _aggregator(kind):
    def builder(num_classes, frames, size, channels=2048, reduction=4, dropout=0.0):
        return build_aggregator(num_classes, frames, size, kind=kind, channels=channels,
                                reduction=reduction, dropout=dropout)
    return builder


_AGG_TEXT = {
    "fastgru": "FAST-GRU step (Eq. 4): bottleneck gates, spatio-temporal state",
    "gru": "GRU step on pooled features (Eq. 2-3 baseline)",
    "lstm": "LSTM step on pooled features (baseline)",
    "concat": "Concat step (Eq. 5 baseline)",
    "avgpool": "average of clip scores (running mean step)",
}
for _kind in fast_gru.KINDS:
    register(
        _kind, _aggregator(_kind), family="faster", description=f"FASTER aggregator: {_AGG_TEXT[_kind]}",
        references=[Reference(8, 224, 400, gmacs=0.72,
                              source="REFERENCE_NUMBERS.md: one FAST-GRU step on 1x7x7x2048")]
        if _kind == "fastgru" else [],
        small={"channels": 32},
        num_classes=400, frames=8, size=224,
    )


# ------------------------------------------------------------------------------ pattern totals

@functools.lru_cache(maxsize=64)
def count_preset(name, frames, size, num_classes, overrides=()) -> dict:
    """kvid.analysis.count of a preset (cached: full-size builds take seconds). ``overrides`` is
    a tuple of ``(key, value)`` pairs."""
    from kvid.analysis.count import count
    from kvid.models.registry import build

    model = build(name, num_classes=num_classes, frames=frames, size=size, **dict(overrides))
    return count(model)


def _frozen(overrides):
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                        for k, v in (overrides or {}).items()))


def _feature_gmacs(name, frames, size, num_classes, overrides):
    """GMACs and params of a backbone used as feature extractor (its classifier left out)."""
    result = count_preset(name, frames, size, num_classes, _frozen(overrides))
    head = [b for b in result["blocks"] if b["name"] == "classifier"]
    return (result["macs"] - sum(b["macs"] for b in head)) / 1e9, \
        result["params"] - sum(b["params"] for b in head)


def pattern_gmacs(expensive="r2plus1d_50", cheap="r2d_26", aggregator="fastgru", clip_frames=8,
                  clips=32, pattern="1:3", size=224, num_classes=400, *, expensive_overrides=None,
                  cheap_overrides=None, aggregator_overrides=None) -> dict:
    """Total multiply-adds of FASTER on one video: ``clips`` clips of ``clip_frames`` frames at
    ``size``, clip ``i`` through the expensive feature extractor if the pattern says so
    (:func:`kvid.runtime.faster.schedule`), else the cheap one, plus the aggregator.

    The aggregator is counted as the paper does (Table 4 "GFLOPs combine the costs of the
    cheap, expensive and FAST-GRU models"): N - 1 recurrent steps (``o_0 = x_0``; avgpool: one
    score per clip). ``deployed_gmacs`` counts what the exported step runs: one step per clip
    (a prediction after every clip). Backbones are counted without their FC (they are
    feature extractors here); the aggregator step includes its FC.
    """
    n = int(clips)
    which = schedule(n, pattern)
    e_over, c_over = dict(expensive_overrides or {}), dict(cheap_overrides or {})
    e_gmacs, e_params = _feature_gmacs(expensive, clip_frames, size, num_classes, e_over)
    c_gmacs, c_params = _feature_gmacs(cheap, clip_frames, size, num_classes, c_over)
    a_over = dict(aggregator_overrides or {})
    a_over.setdefault("channels", feature_channels(expensive, clip_frames, size, e_over))
    step = count_preset(aggregator, clip_frames, size, num_classes, _frozen(a_over))
    s_gmacs, s_params = step["gmacs"], step["params"]
    n_e, n_c = int(which.sum()), int(n - which.sum())
    steps = n if aggregator == "avgpool" else n - 1
    backbone = n_e * e_gmacs + n_c * c_gmacs
    return {
        "expensive": expensive, "cheap": cheap, "aggregator": aggregator,
        "clip_frames": int(clip_frames), "clips": n, "pattern": pattern_name(pattern),
        "size": int(size), "num_classes": int(num_classes),
        "expensive_clips": n_e, "cheap_clips": n_c,
        "expensive_gmacs_per_clip": e_gmacs, "cheap_gmacs_per_clip": c_gmacs,
        "step_gmacs": s_gmacs, "aggregator_steps": steps,
        "backbone_gmacs": backbone, "aggregator_gmacs": steps * s_gmacs,
        "total_gmacs": backbone + steps * s_gmacs,
        "deployed_gmacs": backbone + n * s_gmacs,
        "params": {"expensive": e_params if n_e else 0, "cheap": c_params if n_c else 0,
                   "aggregator": s_params},
    }


def feature_channels(name, frames, size, overrides=None) -> int:
    """Channels of a backbone preset's res5 map (``32 * width``), without building it."""
    from kvid.models.registry import options

    width = options(name, frames=frames, size=size, **(overrides or {})).get("width", 64)
    return 32 * int(width)


# -------------------------------------------------------------------------- stage 1: clips

def clip_starts(num_frames, clip_frames, stride=1) -> np.ndarray:
    """Every ``stride``-th start of an L-frame clip in a video (the candidates whose features
    are cached for the aggregator's random clip sampling)."""
    last = max(int(num_frames) - int(clip_frames), 0)
    return np.arange(0, last + 1, int(stride), dtype=np.int64)


def test_starts(num_frames, clip_frames, clips) -> np.ndarray:
    """Starts of the ``clips`` clips uniformly covering a video (``dense`` test scheme)."""
    return np.array([sample_indices(num_frames, clip_frames, "dense", clips=clips, clip_index=k)[0]
                     for k in range(int(clips))], np.int64)


class ClipBatches(keras.utils.Sequence):
    """Batches of random L-frame clips (one per video per epoch) from in-memory videos
    ``(V, T, H, W, 3)`` uint8 - the backbones' training input (Sec. "Setups for clip-level
    backbones": L consecutive frames sampled at random). ``shift`` > 0 also translates each
    clip by up to ``shift`` pixels (edge padding; no flips: they would change direction
    labels)."""

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


def as_dataset(sequence):
    """A repeating ``tf.data.Dataset`` over the batches of a ``keras.utils.Sequence`` (static
    shapes except the batch, so kvid's folding layers see their T, H, W); ``on_epoch_end``
    after each pass, so every epoch draws new random clips. Fit it with
    ``steps_per_epoch=len(sequence)``."""

    def spec(a):
        a = np.asarray(a)
        return tf.TensorSpec((None, *a.shape[1:]), tf.as_dtype(a.dtype))

    def generate():
        while True:
            for i in range(len(sequence)):
                yield sequence[i]
            sequence.on_epoch_end()

    signature = tf.nest.map_structure(spec, sequence[0])
    return tf.data.Dataset.from_generator(generate, output_signature=signature)


def _compile(model, lr, steps, weight_decay=0.0):
    schedule_ = keras.optimizers.schedules.CosineDecay(lr, max(1, steps))  # Sec.: cosine schedule
    if weight_decay:
        optimizer = keras.optimizers.AdamW(schedule_, weight_decay=weight_decay)
    else:
        optimizer = keras.optimizers.Adam(schedule_)
    model.compile(optimizer=optimizer,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])


def train_clip_model(model, videos, labels, clip_frames, *, epochs, batch_size=8, lr=2e-3,
                     weight_decay=0.0, seed=0, shift=0, verbose=0):
    """Stage 1: train a backbone classifier on random clips (:class:`ClipBatches`); returns
    the Keras history."""
    data = ClipBatches(videos, labels, clip_frames, batch_size, seed, shift)
    _compile(model, lr, epochs * len(data), weight_decay)
    return model.fit(as_dataset(data), epochs=epochs, steps_per_epoch=len(data), verbose=verbose)


# ------------------------------------------------------------------ stage 2: cached features

def cache_features(extractor, videos, clip_frames, starts, path, *, batch_size=16):
    """Run a frozen feature extractor over clip ``starts`` (``(P,)``, or ``(V, P)`` per video)
    of every video and store ``(V, P, l, h*w, C)`` float32 in ``path`` (``.npy``) - once: an
    existing cache with the same extractor, clips and shape is reused. Returns the array
    (memory-mapped)."""
    videos_n = len(videos)
    starts = np.asarray(starts, np.int64)
    if starts.ndim == 1:
        starts = np.broadcast_to(starts, (videos_n, len(starts)))
    out_shape = extractor.outputs[0].shape
    h, w, c = int(out_shape[1]), int(out_shape[2]), int(out_shape[3])
    l = ops.out_frames(clip_frames, FEATURE_STRIDE[0])
    meta = {"extractor": extractor.name, "weights": _weights_digest(extractor),
            "clip_frames": int(clip_frames), "starts": starts.tolist(),
            "shape": [videos_n, int(starts.shape[1]), l, h * w, c]}
    meta_path = f"{path}.json"
    if os.path.exists(path) and os.path.exists(meta_path):
        with open(meta_path, encoding="utf-8") as fh:
            if json.load(fh) == meta:
                return np.load(path, mmap_mode="r")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    cache = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=tuple(meta["shape"]))
    jobs = [(v, p) for v in range(videos_n) for p in range(starts.shape[1])]
    for i in range(0, len(jobs), batch_size):
        chunk = jobs[i:i + batch_size]
        clips = np.stack([videos[v][(starts[v, p] + np.arange(clip_frames)) % len(videos[v])]
                          for v, p in chunk]).astype(np.float32)
        maps = extractor(clips, training=False).numpy().reshape(len(chunk), l, h * w, c)
        for (v, p), m in zip(chunk, maps):
            cache[v, p] = m
    cache.flush()
    del cache
    with open(meta_path, "w", encoding="utf-8") as fh:
        json.dump(meta, fh)
    return np.load(path, mmap_mode="r")


def _weights_digest(model) -> str:
    import hashlib

    digest = hashlib.sha1()
    for w in model.weights:
        digest.update(np.ascontiguousarray(w.numpy()).tobytes())
    return digest.hexdigest()


class FeatureSequences(keras.utils.Sequence):
    """Batches of clip-feature sequences for the aggregator, from the two feature caches.

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
        self.which = schedule(self.clips, pattern)
        if cheap is None and not self.which.all():
            raise KvidError(f"pattern {pattern_name(pattern)}: needs the cheap model's features")
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


def control_tensor(t, expensive):
    """The control input of step ``t`` for a batch: kvid.runtime.faster.control_vector in TF
    (``expensive``: ``(B,)`` floats)."""
    e = tf.reshape(tf.cast(expensive, tf.float32), [-1, 1, 1, 1])
    ones = tf.ones_like(e)
    first = ones * (1.0 if t == 0 else 0.0)
    w = 1.0 / (t + 1)
    fields = {"first": first, "keep": ones - first, "expensive": e, "cheap": ones - e,
              "weight": ones * w, "decay": ones * (1.0 - w)}
    return tf.concat([fields[f] for f in CONTROL_FIELDS], axis=-1)


class FasterSequence(keras.Model):
    """The aggregator over a sequence of clip features: the step model applied clip after clip
    from zero states (step 0 sets ``o_0 = x_0``). Input ``{"features": (B, N, l, h*w, C),
    "expensive": (B, N)}``; output the logits after the last clip, or after every clip
    ``(B, N, K)`` with ``every_clip=True``."""

    def __init__(self, step, every_clip=False, **kwargs):
        super().__init__(**kwargs)
        self.step = step
        self.every_clip = every_clip
        self.state_shapes = [tuple(int(d) for d in t.shape[1:]) for t in step.inputs[1:-1]]

    def call(self, inputs, training=None):
        feats, expensive = inputs["features"], inputs["expensive"]
        batch = tf.shape(feats)[0]
        states = [tf.zeros(tf.concat([[batch], shape], 0)) for shape in self.state_shapes]
        outs = []
        for t in range(feats.shape[1]):
            result = self.step([feats[:, t], *states, control_tensor(t, expensive[:, t])],
                               training=training)
            states, logits = list(result[:-1]), result[-1]
            outs.append(logits)
        return tf.stack(outs, axis=1) if self.every_clip else logits


def train_aggregator(step, data, *, epochs, lr=1e-3, weight_decay=1e-4, verbose=0):
    """Stage 2: fit the step over cached feature sequences (:class:`FeatureSequences`)."""
    model = FasterSequence(step)
    _compile(model, lr, epochs * len(data), weight_decay)
    return model.fit(as_dataset(data), epochs=epochs, steps_per_epoch=len(data), verbose=verbose)


def predict_sequences(step, data, every_clip=False) -> np.ndarray:
    """Logits of the aggregator over every batch of ``data`` (in order)."""
    model = FasterSequence(step, every_clip=every_clip)
    return np.concatenate([model(x, training=False).numpy() for x, _ in
                           (data[i] for i in range(len(data)))])


def load_avgpool_heads(step, expensive_model, cheap_model):
    """Give an ``avgpool`` step the classifiers of the trained backbones (the paper averages
    the clip scores each backbone gives)."""
    for part, model in (("expensive", expensive_model), ("cheap", cheap_model)):
        kernel, bias = model.get_layer("classifier").get_weights()
        step.get_layer(f"classifier_{part}").set_weights([kernel[None, None], bias])


# ----------------------------------------------------------------------------------------- QAT

def _input_quantizers(q):
    """``{input name: QuantizeLayer}`` of a QAT model."""
    found = {}
    for layer in q.layers:
        if type(layer).__name__ == "QuantizeLayer":
            source = layer.inbound_nodes[0].inbound_layers
            found[source.name] = layer
    return found


def _set_range(layer, lo, hi):
    for w in layer.weights:
        if w.name.endswith("_min:0"):
            w.assign(float(lo))
        elif w.name.endswith("_max:0"):
            w.assign(float(hi))


def quantize_step(step):
    """QAT-wrap an aggregator step (kvid.ops.quantize_model) with input ranges fit for it:
    ``control`` on [0, 1], features and states learned from data (kvid.ops pins every input to
    raw pixels [0, 255], right only for clips)."""
    q = ops.quantize_model(step)
    for name, layer in _input_quantizers(q).items():
        _set_range(layer, 0.0, 1.0 if name == "control" else 0.0)
    return q


def _output_range(q, tensor):
    """min/max variables of the fake-quant that produced ``tensor``."""
    layer = tensor.node.layer
    lo = [w for w in layer.weights if w.name.endswith(("output_min:0", "_min:0")) and "kernel" not in w.name]
    hi = [w for w in layer.weights if w.name.endswith(("output_max:0", "_max:0")) and "kernel" not in w.name]
    if len(lo) != 1 or len(hi) != 1:
        raise KvidError(f"{layer.name}: cannot find its output range")
    return lo[0], hi[0]


def tie_state_ranges(q):
    """Give each state input the quantization range of the state output that feeds it back, so
    the int8 state passes from one step to the next unchanged (no requantization)."""
    quantizers = _input_quantizers(q)
    for name, tensor in zip(fast_gru.step_state_names(q), q.outputs[:-1]):
        lo, hi = _output_range(q, tensor)
        _set_range(quantizers[name], lo.numpy(), hi.numpy())


def calibrate_step(q, data, batches=None):
    """Run feature sequences through a QAT step in training mode (ranges, BN statistics), then
    tie the state ranges (:func:`tie_state_ranges`)."""
    model = FasterSequence(q)
    ops.calibrate(model, (data[i] for i in range(len(data) if batches is None else min(batches, len(data)))))
    tie_state_ranges(q)
    return q


__all__ = [
    "build_backbone", "feature_model", "feature_shape", "feature_channels", "build_aggregator",
    "count_preset", "pattern_gmacs",
    "clip_starts", "test_starts", "ClipBatches", "as_dataset", "train_clip_model", "cache_features",
    "FeatureSequences", "FasterSequence", "control_tensor", "train_aggregator",
    "predict_sequences", "load_avgpool_heads", "quantize_step", "tie_state_ranges",
    "calibrate_step", "parse_pattern", "schedule",
]
