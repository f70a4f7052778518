"""kvid.data.pipeline: tf.data batches for Keras fit; determinism; eval views; bad inputs."""

import logging
import os

import numpy as np
import pytest

from kvid import KvidError
from kvid.data.clips import ClipSpec
from kvid.data.layouts import load_dataset
from kvid.data.pipeline import make_dataset, make_eval_views
from kvid.data.sampling import sample_indices
from kvid.data.synth import write_synthetic
from kvid.data.transforms import center_view, eval_views
from kvid.data.video import read_frames
from kvid.keras import keras, tf

T, S = 4, 24


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("pipe") / "synth")
    write_synthetic(root, classes=3, videos_per_class=4, frames=8, size=32, seed=1)
    with open(os.path.join(root, "move_left", "broken.mp4"), "wb") as f:
        f.write(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 40)
    open(os.path.join(root, "move_left", "empty.avi"), "wb").close()
    with open(os.path.join(root, "train.txt"), "a", encoding="utf-8") as f:
        f.write("move_left/broken.mp4 0\nmove_left/empty.avi 1\nmove_left/gone.mp4 2\n")
    with open(os.path.join(root, "test.txt"), "a", encoding="utf-8") as f:
        f.write("move_left/broken.mp4 0\n")
    return root


def collect(ds):
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    return np.concatenate(xs), np.concatenate(ys)


def test_training_batches_skip_bad_videos_and_log_each_once(data, caplog):
    caplog.set_level(logging.WARNING, logger="kvid.data")
    ds = make_dataset(data, "train", frames=T, size=S, batch_size=3, training=True, seed=0)
    assert ds.element_spec[0].shape.as_list() == [None, T, S, S, 3]
    assert ds.element_spec[0].dtype == tf.float32 and ds.element_spec[1].dtype == tf.int32
    for _ in range(2):  # two epochs
        x, y = collect(ds)
        assert x.shape == (6, T, S, S, 3) and x.min() >= 0 and x.max() <= 255 and x.std() > 1
        assert sorted(y.tolist()) == [0, 0, 1, 1, 2, 2]
    problems = ds.kvid_problems
    assert problems.errors == 3
    reasons = {os.path.basename(p.path): p.reason for p in problems.problems}
    assert "cannot open" in reasons["broken.mp4"] and "empty" in reasons["empty.avi"] and "missing" in reasons["gone.mp4"]
    logged = [r.getMessage() for r in caplog.records if r.name == "kvid.data"]
    assert sum("broken.mp4" in m for m in logged) == 1  # once, although read in both epochs


def test_seeded_pipelines_repeat_and_epochs_differ(data):
    def run(seed):
        ds = make_dataset(data, "train", frames=T, size=S, batch_size=4, training=True, seed=seed, scheme="segments", flip=True)
        return collect(ds), collect(ds)

    (a1, a2), (b1, b2) = run(7), run(7)
    assert np.array_equal(a1[0], b1[0]) and np.array_equal(a1[1], b1[1])
    assert np.array_equal(a2[0], b2[0])
    assert not np.array_equal(a1[0], a2[0])  # new shuffle and augmentation every epoch


def test_eval_clips_are_the_exact_center_views(data):
    ds = load_dataset(data, "val")
    x, y = collect(make_dataset(ds, frames=T, size=S, batch_size=2, training=False, scheme="dense", stride=2))
    assert y.tolist() == [label for _, label in ds.items]
    path = ds.items[1][0]
    frames = read_frames(path, sample_indices(8, T, "dense", stride=2))
    assert np.array_equal(x[1], center_view(frames, S))


def test_multi_view_evaluation(data):
    views = make_eval_views(data, "test", frames=T, size=S, scheme="segments", clips=2, crops=3)
    got = [(v.numpy(), int(y), int(i)) for v, y, i in views]
    ds = views.kvid_dataset
    assert [i for _, _, i in got] == list(range(len(ds.items) - 1))  # the broken video (last) is skipped
    assert views.kvid_problems.errors == 1
    v0, y0, i0 = got[0]
    assert v0.shape == (6, T, S, S, 3) and y0 == ds.items[i0][1]
    frames = read_frames(ds.items[i0][0], sample_indices(8, T, "segments", clips=2, clip_index=1))
    assert np.array_equal(v0[3:], eval_views(frames, S, crops=3))  # clip-major: clip 1 = views 3..5
    flat_x, flat_y = collect(make_dataset(data, "test", T, S, 4, False, scheme="segments", clips=2, crops=3))
    assert np.array_equal(flat_x[:6], v0) and flat_y.tolist() == [y for _, y, _ in got for _ in range(6)]


def test_model_fit_takes_the_dataset_directly_with_cache(data):
    ds = make_dataset(data, "train", frames=T, size=S, batch_size=4, training=True, seed=1, cache=True)
    model = keras.Sequential([
        keras.layers.Input((T, S, S, 3)),
        keras.layers.Rescaling(1 / 255.0),
        keras.layers.GlobalAveragePooling3D(),
        keras.layers.Dense(3),
    ])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    history = model.fit(ds, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    x, y = collect(ds)
    assert x.shape == (6, T, S, S, 3) and sorted(y.tolist()) == [0, 0, 1, 1, 2, 2]
    assert ds.kvid_problems.errors == 3 and ds.kvid_problems.warnings == 0
    short = make_dataset(data, "train", frames=T, size=S, batch_size=4, training=True, seed=1, cache=True, stride=3)
    collect(short)  # span 10 > 8 frames: every video is looped, and says so once
    assert short.kvid_problems.warnings == 6
    val = make_dataset(data, "val", frames=T, size=S, batch_size=4, training=False, cache=True)
    assert len(model.evaluate(val, verbose=0)) == 2


def test_configuration_errors_are_raised_not_logged_per_video(data, tmp_path):
    with pytest.raises(KvidError, match="resize=20"):
        make_dataset(data, "val", frames=T, size=S, training=False, resize=20)
    with pytest.raises(KvidError, match="scheme='tsn'"):
        ClipSpec(frames=T, crop=S, scheme="tsn")
    with pytest.raises(KvidError, match="scale"):
        make_dataset(data, "train", frames=T, size=S, training=True, scale=(40, 30))
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "train.txt").write_text("nothing.mp4 0\n")
    with pytest.raises(KvidError, match="no usable videos .first problem: .*nothing.mp4: missing file"):
        make_dataset(str(only_bad), "train", frames=T, size=S)
