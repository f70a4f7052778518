"""FASTER mechanics on tiny configs: pattern/control, the aggregator steps against the paper's
equations, offline == online, two-stage training with the on-disk feature cache, run
directories and resume, and the three-model int8 export streamed by the TensorFlow-free runtime
(against the tf.lite replay of tests/faster_reference.py)."""

import json
import os

import numpy as np
import pytest

from kvid import KvidError, models
from kvid.blocks import fast_gru
from kvid.contract.faster import CONTROL_FIELDS, control_vector, parse_pattern, schedule
from kvid.keras import keras, tf
from kvid.models import faster
from kvid.runtime.faster import FasterModels, FasterStream, predict_video
from kvid.train import faster as faster_train

K, L, SIZE = 3, 8, 64
TINY = {"width": 4, "stages": (1, 1, 1, 1)}  # res5: 1 x 2 x 2 x 128 at 8x64x64


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def _conv(x, model, name, bias=True):
    w = model.get_layer(name).get_weights()
    y = x @ w[0][0, 0]
    return y + w[1] if bias else y


# ----------------------------------------------------------------------- pattern and control

def test_schedule_patterns_and_control():
    assert schedule(8, "1:3") == [True, False, False, False] * 2
    assert sum(schedule(32, "1:31")) == 1 and all(schedule(32, "1:0"))
    assert sum(schedule(16, (1, 7))) == 2 and not any(schedule(4, "0:1"))
    assert parse_pattern([1, 15]) == (1, 15)
    for bad in ("1-3", "0:0", "a:b", "1:2:3"):
        with pytest.raises(KvidError):
            parse_pattern(bad)
    v = dict(zip(CONTROL_FIELDS, control_vector(0, True)))
    assert (v["first"], v["keep"], v["expensive"], v["cheap"], v["weight"], v["decay"]) == (1, 0, 1, 0, 1, 0)
    v = dict(zip(CONTROL_FIELDS, control_vector(3, False)))
    assert (v["first"], v["keep"], v["cheap"], v["weight"], v["decay"]) == (0, 1, 1, 0.25, 0.75)
    # the Keras control tensor is the runtime's control vector
    got = faster.control_tensor(3, np.array([0.0, 1.0])).numpy()[:, 0, 0]
    np.testing.assert_array_equal(got, np.stack([control_vector(3, False), control_vector(3, True)]))


def test_runtime_imports_no_tensorflow():
    import subprocess
    import sys

    code = "import sys, kvid.runtime.faster; assert 'tensorflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_custom_layers_match_tf():
    rng = np.random.default_rng(0)
    control = rng.uniform(size=(2, 1, 1, 6)).astype(np.float32)
    x = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)
    for i, field in enumerate(CONTROL_FIELDS):
        np.testing.assert_array_equal(fast_gru.ControlField(field)(control).numpy(), control[..., i:i + 1])
    np.testing.assert_allclose(fast_gru.Select()([x, control[..., :1]]).numpy(), x * control[..., :1])
    np.testing.assert_allclose(fast_gru.OneMinus()(tf.sigmoid(x)).numpy(), 1 - tf.sigmoid(x).numpy(), atol=1e-6)
    with pytest.raises(KvidError):
        fast_gru.ControlField("later")
    layer = fast_gru.ControlField.from_config(fast_gru.ControlField("weight").get_config())
    assert layer.field == "weight"


# ------------------------------------------------------------------------- the step models

def _features(rng, n, shape=(2, 3, 16)):
    return rng.normal(size=(n, *shape)).astype(np.float32) + 0.5


def _step(kind, **kw):
    keras.utils.set_random_seed(1)
    return fast_gru.build_step(kind, (2, 3, 16), K, **kw)


def _run(step, x, states, t, expensive=True):
    control = np.stack([control_vector(t, expensive)] * len(x)).reshape(len(x), 1, 1, 6)
    out = step([x, *states, control])
    return [o.numpy() for o in out[:-1]], out[-1].numpy()


def test_fastgru_step_is_eq4():
    """o_0 = x_0 (Eq. 1); then Eq. 4 gates, Eq. 3 update; logits = FC(GAP(o))."""
    rng = np.random.default_rng(0)
    step = _step("fastgru", reduction=4)
    assert step.get_layer("fastgru__u_rx").filters == 4  # C / r
    x0, x1 = _features(rng, 2), _features(rng, 2)
    (o0,), logits0 = _run(step, x0, [np.zeros_like(x0)], 0)
    np.testing.assert_allclose(o0, x0, atol=1e-6)
    (o1,), logits1 = _run(step, x1, [o0], 1, expensive=False)
    relu = lambda v: np.maximum(v, 0)  # noqa: E731
    r = _sigmoid(_conv(relu(_conv(x1, step, "fastgru__u_rx") + _conv(o0, step, "fastgru__u_ro", False)), step, "fastgru__w_r"))
    z = _sigmoid(_conv(relu(_conv(x1, step, "fastgru__u_zx") + _conv(o0, step, "fastgru__u_zo", False)), step, "fastgru__w_z"))
    cand = np.tanh(_conv(x1, step, "fastgru__v_x") + _conv(r * o0, step, "fastgru__v_o", False))
    expect = (1 - z) * o0 + z * cand
    np.testing.assert_allclose(o1, expect, atol=1e-5)
    kernel, bias = step.get_layer("classifier").get_weights()
    np.testing.assert_allclose(logits1, expect.mean(axis=(1, 2)) @ kernel + bias, atol=1e-5)
    np.testing.assert_allclose(logits0, x0.mean(axis=(1, 2)) @ kernel + bias, atol=1e-5)


@pytest.mark.parametrize("kind", ["gru", "lstm", "concat", "avgpool"])
def test_baseline_steps_start_from_the_first_clip(kind):
    rng = np.random.default_rng(1)
    step = _step(kind)
    x0, x1 = _features(rng, 2), _features(rng, 2)
    zeros = [np.zeros((2, *t.shape[1:]), np.float32) for t in step.inputs[1:-1]]
    states, _ = _run(step, x0, zeros, 0)
    pooled = x0.mean(axis=(1, 2), keepdims=True)
    if kind == "avgpool":  # the mean of one score: the expensive classifier's
        np.testing.assert_allclose(states[0], _conv(pooled, step, "classifier_expensive"), atol=1e-5)
        s1 = _conv(x1.mean(axis=(1, 2), keepdims=True), step, "classifier_cheap")
        states1, logits = _run(step, x1, states, 1, expensive=False)
        np.testing.assert_allclose(logits, ((states[0] + s1) / 2).reshape(2, K), atol=1e-5)
        return
    init = {"gru": pooled, "lstm": pooled, "concat": x0}[kind]
    np.testing.assert_allclose(states[0], init, atol=1e-5)
    if kind == "lstm":
        np.testing.assert_array_equal(states[1], 0)
    states1, _ = _run(step, x1, states, 1)
    assert not np.allclose(states1[0], states[0])
    if kind == "concat":  # Eq. 5 (BN at its initial statistics: x / sqrt(1 + eps))
        w = step.get_layer("concat__proj").get_weights()[0][0, 0]
        expect = np.maximum(np.concatenate([states[0], x1], -1) @ w / np.sqrt(1 + 1e-5), 0)
        np.testing.assert_allclose(states1[0], expect, atol=1e-4)


def test_offline_sequence_equals_online_steps():
    """The same step over N clips offline (batched FasterSequence) and one clip at a time."""
    rng = np.random.default_rng(2)
    step = _step("fastgru")
    feats = _features(rng, 2 * 5).reshape(2, 5, 2, 3, 16)
    flags = np.tile(np.asarray(schedule(5, "1:1"), np.float32), (2, 1))
    offline = faster.FasterSequence(step, every_clip=True)({"features": feats, "expensive": flags}).numpy()
    for b in range(2):
        state = [np.zeros((1, 2, 3, 16), np.float32)]
        for t in range(5):
            state, logits = _run(step, feats[b, t:t + 1], state, t, bool(flags[b, t]))
            np.testing.assert_allclose(offline[b, t], logits[0], atol=1e-5)


# --------------------------------------------------------------- presets and the framework

def test_presets_build_small():
    e = models.build("r2plus1d_50", num_classes=K, frames=L, size=SIZE, **TINY)
    c = models.build("r2d_26", num_classes=K, frames=L, size=SIZE, **TINY)
    assert e.output.shape[-1] == K and e.input.name.startswith("clip")
    assert faster.feature_model(e).output.shape[1:] == faster.feature_model(c).output.shape[1:] == (2, 2, 128)
    for kind in fast_gru.KINDS:
        step = models.build(kind, num_classes=K, frames=L, size=SIZE, channels=128)
        names = [t.name.split(":")[0] for t in step.inputs]
        assert (names[0], names[-1]) == ("feature", "control")
        assert tuple(step.inputs[0].shape[1:]) == (1, 4, 128) and step.outputs[-1].shape[-1] == K
    with pytest.raises(KvidError):
        models.build("r2d_26", num_classes=K, frames=12, size=SIZE, **TINY)  # temporal stride 8


def _moving_squares(n_per_class, frames=16, size=SIZE, seed=0):
    """3 classes: a bright square moving right, moving left, or going right and back."""
    rng = np.random.default_rng(seed)
    videos, labels = [], []
    for label in range(3):
        for _ in range(n_per_class):
            v = rng.uniform(0, 60, (frames, size, size, 3)).astype(np.uint8)
            x0, y0 = rng.integers(4, 24), rng.integers(4, size - 14)
            for t in range(frames):
                pos = {0: t, 1: frames - 1 - t, 2: min(t, frames - 1 - t)}[label]
                v[t, y0:y0 + 10, x0 + 2 * pos:x0 + 2 * pos + 10] = 230
            videos.append(v)
            labels.append(label)
    return np.stack(videos), np.array(labels)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Tiny expensive/cheap backbones trained for a few epochs on moving squares (stage 1),
    and their features cached on disk (stage 2)."""
    work = tmp_path_factory.mktemp("faster")
    videos, labels = _moving_squares(4)
    keras.utils.set_random_seed(0)
    e = models.build("r2plus1d_50", num_classes=K, frames=L, size=SIZE, **TINY)
    c = models.build("r2d_26", num_classes=K, frames=L, size=SIZE, **TINY)
    history = {}
    for name, model in (("e", e), ("c", c)):
        history[name] = faster_train.train_clip_model(model, videos, labels, L, epochs=3, batch_size=6,
                                                      lr=3e-3, weight_decay=0.0,
                                                      optimizer="adam").history["loss"]
    starts = faster_train.dense_clips(videos.shape[1], L, 5)[:, 0]  # every 2nd start: 0, 2, ..., 8
    caches = {name: np.array(faster_train.cache_features(faster.feature_model(m), videos, L, len(starts),
                                                         str(work / f"feat_{name}.npy")))
              for name, m in (("e", e), ("c", c))}
    return {"work": work, "videos": videos, "labels": labels, "e": e, "c": c,
            "history": history, "starts": starts, "caches": caches}


def test_two_stage_training(trained):
    videos, labels, caches, work = trained["videos"], trained["labels"], trained["caches"], trained["work"]
    assert all(np.isfinite(h).all() for h in trained["history"].values())
    assert caches["e"].shape == (len(videos), len(trained["starts"]), 1, 4, 128)
    # the cache is on disk and reused (the file is not rewritten); other clips -> recomputed
    mtime = os.stat(work / "feat_e.npy").st_mtime_ns
    extractor = faster.feature_model(trained["e"])
    again = faster_train.cache_features(extractor, videos, L, len(trained["starts"]), str(work / "feat_e.npy"))
    assert os.stat(work / "feat_e.npy").st_mtime_ns == mtime
    np.testing.assert_array_equal(again, caches["e"])
    other = faster_train.cache_features(extractor, videos[:2], L, 1, str(work / "feat_e.npy"))
    assert other.shape[:2] == (2, 1) and os.stat(work / "feat_e.npy").st_mtime_ns != mtime
    # one cached entry is the extractor's map of that clip
    clip = videos[1, trained["starts"][2]:trained["starts"][2] + L][None].astype(np.float32)
    np.testing.assert_allclose(caches["e"][1, 2], extractor(clip).numpy().reshape(1, 4, 128), atol=1e-4)
    # random clip sampling: N distinct cached clips per video, in time order, E/C by pattern
    seq = faster_train.FeatureSequences(caches["e"], caches["c"], labels, 4, "1:3", batch_size=5, seed=0)
    x, y = seq[0]
    assert x["features"].shape == (5, 4, 1, 4, 128) and x["expensive"][0].tolist() == [1, 0, 0, 0]
    v = seq.order[0]
    matches = [[p for p in range(len(trained["starts"])) if np.array_equal(
        x["features"][0, t], (caches["e"] if t == 0 else caches["c"])[v, p])] for t in range(4)]
    positions = [m[0] for m in matches]
    assert positions == sorted(set(positions))
    # stage 2 fits a fixed batch of cached sequences
    keras.utils.set_random_seed(0)
    step = faster.build_aggregator(K, L, SIZE, kind="fastgru", channels=128)
    fixed = faster_train.FeatureSequences(caches["e"], caches["c"], labels, 4, "1:3", batch_size=12,
                                          training=False, positions=[0, 1, 3, 4])

    def xent(logits):
        logp = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True)) \
            - logits.max(-1, keepdims=True)
        return -logp[np.arange(len(labels)), labels].mean()

    before = xent(faster_train.predict_sequences(step, fixed))
    faster_train.train_aggregator(step, fixed, epochs=60, lr=3e-3, weight_decay=0)
    after = faster_train.predict_sequences(step, fixed)
    assert xent(after) < 0.6 * before and np.mean(after.argmax(-1) == labels) >= 0.75


@pytest.mark.slow
def test_export_audit_and_streaming_agreement(trained, tmp_path):
    """QAT pieces -> three int8 TFLite files that pass the audit; the streaming runtime and the
    step-by-step tf.lite reference give identical logits; QAT Keras vs int8 SQNR."""
    from faster_reference import tflite_logits
    from kvid.export.faster import calibrate_step, export_faster, quantize_step
    from kvid.runtime.agreement import sqnr_db
    from kvid import ops

    videos, labels, caches = trained["videos"], trained["labels"], trained["caches"]
    qe, qc = ops.quantize_model(trained["e"]), ops.quantize_model(trained["c"])
    clips = np.stack([v[s:s + L] for v in videos[::2] for s in (0, 4, 8)]).astype(np.float32)
    for q in (qe, qc):
        for i in range(0, len(clips), 6):
            q(clips[i:i + 6], training=True)
    keras.utils.set_random_seed(0)
    step = faster.build_aggregator(K, L, SIZE, kind="fastgru", channels=128)
    pattern, n = "1:1", 3
    test = faster_train.dense_clips(videos.shape[1], L, n)
    qfe, qfc = faster.feature_model(qe), faster.feature_model(qc)
    qcache = {k: faster_train.cache_features(m, videos, L, n, str(tmp_path / f"q_{k}.npy"))
              for k, m in (("e", qfe), ("c", qfc))}
    data = faster_train.FeatureSequences(qcache["e"], qcache["c"], labels, n, pattern, batch_size=6,
                                         training=False)
    faster_train.train_aggregator(step, data, epochs=2, lr=1e-3)
    qs = calibrate_step(quantize_step(step), data)
    result = export_faster(str(tmp_path / "f.tflite"), qe, qc, qs, clip_frames=L, clips=n,
                           pattern=pattern, labels=["right", "left", "back"])
    for name, report in result["audits"].items():
        assert report["ok"], (name, report["problems"])
        assert report["max_rank"] <= 4 and not report["float_ops"]
        assert report["gpu"]["ok"], (name, report["gpu"]["problems"])  # the GPU delegate's per-op rules
    meta = json.load(open(result["sidecar"]))
    spec = meta["faster"]
    assert (spec["clip_frames"], spec["clips"], spec["pattern"]) == (L, n, [1, 1])
    assert spec["state_shape"] == [1, 1, 4, 128] and meta["labels"][0] == "right"
    # a stream of frames and a whole video through the runtime vs the tf.lite reference
    runtime = FasterModels(result["sidecar"])
    state_in, state_out = runtime.step.inputs["state"], runtime.step.outputs["state"]
    assert state_in["quantization"] == state_out["quantization"]  # tied: int8 state passes as is
    assert state_in["dtype"] == runtime.step.inputs["control"]["dtype"] == np.int8
    keras_logits = faster_train.predict_sequences(qs, data, every_clip=True)
    got, ref = [], []
    for v, video in enumerate(videos):  # whole videos: N uniform clips each
        logits, history = predict_video(runtime, video)
        assert [h["expensive"] for h in history] == schedule(n, pattern)
        video_clips = video[test].astype(np.float32)
        np.testing.assert_array_equal(logits, tflite_logits(result["sidecar"], video_clips))
        got.append(logits)
        ref.append(keras_logits[v])
    stream = FasterStream(runtime)
    frames = np.concatenate([videos[0], videos[1]])[:2 * L + 3]  # a live stream, frame by frame
    streamed = stream.push_frames(frames)
    assert len(streamed) == 2 and len(stream.buffer) == 3 and stream.t == 2
    clips0 = frames[:2 * L].reshape(2, L, SIZE, SIZE, 3).astype(np.float32)
    np.testing.assert_array_equal(np.stack(streamed), tflite_logits(result["sidecar"], clips0))
    assert sqnr_db(np.stack(ref), np.stack(got)) > 15


def test_a_resumed_sampler_replays_the_finished_epochs():
    """as_dataset(sequence, skip_epochs=2) yields the batches of the third epoch of an
    uninterrupted stream (random clips, shifts and feature-sequence draws alike)."""
    import itertools

    rng = np.random.default_rng(0)
    videos, labels = rng.integers(0, 256, (5, 12, 8, 8, 3), dtype=np.uint8), np.arange(5) % 3
    cache = rng.normal(size=(5, 6, 1, 2, 4)).astype(np.float32)
    make = {"clips": lambda: faster_train.ClipBatches(videos, labels, 4, batch_size=2, seed=3, shift=1),
            "features": lambda: faster_train.FeatureSequences(cache, cache + 1, labels, 3, "1:1", batch_size=2, seed=3)}
    for kind, sequence in make.items():
        steps = len(sequence())

        def batches(skip, n):
            data = faster_train.as_dataset(sequence(), skip_epochs=skip)
            return [tf.nest.flatten(b) for b in itertools.islice(data.as_numpy_iterator(), n)]

        straight, resumed = batches(0, 3 * steps), batches(2, steps)
        for a, b in zip(straight[2 * steps:], resumed):
            for x, y in zip(a, b):
                np.testing.assert_array_equal(x, y, err_msg=kind)
        assert not all(map(np.array_equal, straight[0], straight[steps])), kind  # every epoch draws anew


class _Stop(Exception):
    pass


def _stop_in_epoch(epoch):
    """A callback that breaks training off at the first batch of ``epoch`` (a kill, in-process:
    the checkpoint of the epochs before is on disk, nothing after it)."""

    class Stop(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if self._epoch == epoch:
                raise _Stop()

        def on_epoch_begin(self, e, logs=None):
            self._epoch = e

    return Stop()


def test_stages_write_a_run_directory_and_resume(trained, tmp_path, monkeypatch):
    """Both stages write a run directory (config, state, checkpoints, best/final, log); a run
    broken off in its second epoch and resumed matches an uninterrupted one - the sampler replays
    the random draws of the finished epoch, the schedule continues."""
    from kvid.contract import rundir
    from kvid.ops import load_model

    videos, labels, caches = trained["videos"], trained["labels"], trained["caches"]

    def clip_stage(run, resume=False):
        keras.utils.set_random_seed(0)
        model = models.build("r2d_26", num_classes=K, frames=L, size=SIZE, **TINY)
        # the paper's clip-backbone recipe by default: SGD momentum 0.9, lr 0.01, weight decay 1e-4
        return faster_train.train_clip_model(model, videos, labels, L, epochs=2, batch_size=6, seed=4, shift=2,
                                             run_dir=run, resume=resume)

    def aggregator_stage(run, resume=False):
        keras.utils.set_random_seed(0)
        step = faster.build_aggregator(K, L, SIZE, kind="fastgru", channels=128)
        data = faster_train.FeatureSequences(caches["e"], caches["c"], labels, 3, "1:3", batch_size=4, seed=5)
        return faster_train.train_aggregator(step, data, epochs=2, lr=3e-3, run_dir=run, resume=resume)

    standard = faster_train.cbmod.standard
    for name, stage in (("clip", clip_stage), ("aggregator", aggregator_stage)):
        full, broken = str(tmp_path / f"{name}_full"), str(tmp_path / f"{name}_broken")
        straight = stage(full).history["loss"]
        monkeypatch.setattr(faster_train.cbmod, "standard", lambda *a, **k: standard(*a, **k) + [_stop_in_epoch(1)])
        with pytest.raises(_Stop):
            stage(broken)
        monkeypatch.setattr(faster_train.cbmod, "standard", standard)
        state = rundir.read_state(broken)
        assert state["epoch"] == 1 and not state["finished"] and len(rundir.read_log(broken)) == 1
        assert not os.path.exists(os.path.join(broken, rundir.FINAL))
        with pytest.raises(KvidError, match="already holds a run"):
            stage(broken)
        resumed = stage(broken, resume=True).history["loss"]
        assert len(resumed) == 2
        np.testing.assert_allclose(resumed, straight, rtol=1e-4)
        for run in (full, broken):
            config, state = rundir.read_config(run), rundir.read_state(run)
            assert config["faster"]["stage"] == ("clip_model" if name == "clip" else "aggregator")
            assert config["optimizer"]["name"] == ("sgd" if name == "clip" else "adamw"), config["optimizer"]
            assert state["finished"] and state["epoch"] == 2
            assert [r["epoch"] for r in rundir.read_log(run)] == [0, 1]
            assert os.path.isdir(os.path.join(run, rundir.CHECKPOINTS))
        final = load_model(os.path.join(broken, rundir.FINAL))
        if name == "clip":
            assert config["optimizer"]["lr"] == 0.01 and config["optimizer"]["weight_decay"] == 1e-4
        names = [t.name.split(":")[0] for t in final.inputs]
        assert names == (["clip"] if name == "clip" else ["feature", "state", "control"])
        assert os.path.isfile(os.path.join(broken, rundir.BEST))
    with pytest.raises(KvidError, match="nothing to resume"):
        clip_stage(str(tmp_path / "empty"), resume=True)


def test_compile_faster_names_its_optimizers():
    from kvid.keras import keras as k

    model = k.Sequential([k.Input((4,)), k.layers.Dense(3)])
    faster_train.compile_faster(model, 0.01, 10, 1e-4, "sgd")
    assert isinstance(model.optimizer, k.optimizers.SGD) and model.optimizer.momentum == 0.9
    with pytest.raises(KvidError, match="optimizer='rmsprop'"):
        faster_train.compile_faster(model, 0.01, 10, optimizer="rmsprop")
