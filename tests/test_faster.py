"""FASTER mechanics on tiny configs: pattern/control, the aggregator steps against the paper's
equations, offline == online, two-stage training with the on-disk feature cache, and the
three-model int8 export streamed by the TensorFlow-free runtime."""

import json
import os

import numpy as np
import pytest

from kvid import KvidError, models
from kvid.blocks import fast_gru
from kvid.keras import keras, tf
from kvid.models import faster
from kvid.runtime.faster import (CONTROL_FIELDS, FasterModels, FasterStream, control_vector,
                                 parse_pattern, predict_video, schedule)

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
    assert schedule(8, "1:3").tolist() == [True, False, False, False] * 2
    assert schedule(32, "1:31").sum() == 1 and schedule(32, "1:0").all()
    assert schedule(16, (1, 7)).sum() == 2 and not schedule(4, "0:1").any()
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
    flags = np.tile(schedule(5, "1:1").astype(np.float32), (2, 1))
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
        history[name] = faster.train_clip_model(model, videos, labels, L, epochs=3, batch_size=6,
                                                lr=3e-3).history["loss"]
    starts = faster.clip_starts(videos.shape[1], L, 2)
    caches = {name: np.array(faster.cache_features(faster.feature_model(m), videos, L, starts,
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
    again = faster.cache_features(extractor, videos, L, trained["starts"], str(work / "feat_e.npy"))
    assert os.stat(work / "feat_e.npy").st_mtime_ns == mtime
    np.testing.assert_array_equal(again, caches["e"])
    other = faster.cache_features(extractor, videos[:2], L, [0], str(work / "feat_e.npy"))
    assert other.shape[:2] == (2, 1) and os.stat(work / "feat_e.npy").st_mtime_ns != mtime
    # one cached entry is the extractor's map of that clip
    clip = videos[1, trained["starts"][2]:trained["starts"][2] + L][None].astype(np.float32)
    np.testing.assert_allclose(caches["e"][1, 2], extractor(clip).numpy().reshape(1, 4, 128), atol=1e-4)
    # random clip sampling: N distinct cached clips per video, in time order, E/C by pattern
    seq = faster.FeatureSequences(caches["e"], caches["c"], labels, 4, "1:3", batch_size=5, seed=0)
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
    fixed = faster.FeatureSequences(caches["e"], caches["c"], labels, 4, "1:3", batch_size=12,
                                    training=False, positions=[0, 1, 3, 4])

    def xent(logits):
        logp = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True)) \
            - logits.max(-1, keepdims=True)
        return -logp[np.arange(len(labels)), labels].mean()

    before = xent(faster.predict_sequences(step, fixed))
    faster.train_aggregator(step, fixed, epochs=60, lr=3e-3, weight_decay=0)
    after = faster.predict_sequences(step, fixed)
    assert xent(after) < 0.6 * before and np.mean(after.argmax(-1) == labels) >= 0.75


@pytest.mark.slow
def test_export_audit_and_streaming_agreement(trained, tmp_path):
    """QAT pieces -> three int8 TFLite files that pass the audit; the streaming runtime and the
    step-by-step tf.lite reference give identical logits; QAT Keras vs int8 SQNR."""
    from kvid.export.faster import export_faster, tflite_logits
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
    test = faster.test_starts(videos.shape[1], L, n)
    qfe, qfc = faster.feature_model(qe), faster.feature_model(qc)
    qcache = {k: faster.cache_features(m, videos, L, test, str(tmp_path / f"q_{k}.npy"))
              for k, m in (("e", qfe), ("c", qfc))}
    data = faster.FeatureSequences(qcache["e"], qcache["c"], labels, n, pattern, batch_size=6,
                                   training=False)
    faster.train_aggregator(step, data, epochs=2, lr=1e-3)
    qs = faster.calibrate_step(faster.quantize_step(step), data)
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
    keras_logits = faster.predict_sequences(qs, data, every_clip=True)
    got, ref = [], []
    for v, video in enumerate(videos):  # whole videos: N uniform clips each
        logits, history = predict_video(runtime, video)
        assert [h["expensive"] for h in history] == schedule(n, pattern).tolist()
        video_clips = np.stack([video[s:s + L] for s in test]).astype(np.float32)
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
