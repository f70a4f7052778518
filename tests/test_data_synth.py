"""kvid.data.synth: real video files, list files, determinism, temporal-order classes."""

import hashlib
import json
import os

import numpy as np
import pytest

from kvid import KvidError
from kvid.data.synth import CLASSES, _trajectory, render_video, write_synthetic
from kvid.data.video import read_frames, video_info


def digest(root):
    h = hashlib.sha256()
    for dirpath, dirnames, files in os.walk(root):
        dirnames.sort()
        for f in sorted(files):
            h.update(f.encode())
            h.update(open(os.path.join(dirpath, f), "rb").read())
    return h.hexdigest()


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "a"
    write_synthetic(out, classes=4, videos_per_class=4, frames=10, size=(40, 32), fps=10, seed=3)
    return str(out)


def test_writes_mp4_and_avi_in_class_folders_with_lists(synth):
    labels = open(os.path.join(synth, "labels.txt")).read().split()
    assert labels == list(CLASSES[:4])
    files = sorted(os.listdir(os.path.join(synth, "move_left")))
    assert files == ["move_left_0001.mp4", "move_left_0002.avi", "move_left_0003.mp4", "move_left_0004.avi"]
    info = video_info(os.path.join(synth, "move_up", "move_up_0002.avi"))
    assert (info["frames"], info["height"], info["width"]) == (10, 32, 40) and info["fps"] == pytest.approx(10)
    lines = {s: open(os.path.join(synth, f"{s}.txt")).read().splitlines() for s in ("train", "val", "test")}
    assert [len(v) for v in lines.values()] == [8, 4, 4]  # per class 2 / 1 / 1
    listed = [line.rsplit(" ", 1) for v in lines.values() for line in v]
    assert len({p for p, _ in listed}) == 16
    for path, label in listed:
        assert path.split("/")[0] == labels[int(label)] and os.path.isfile(os.path.join(synth, path))
    meta = json.load(open(os.path.join(synth, "synth.json")))
    assert meta["seed"] == 3 and meta["frames"] == 10


def test_same_seed_same_bytes_other_seed_other_videos(synth, tmp_path):
    again = write_synthetic(tmp_path / "b", classes=4, videos_per_class=4, frames=10, size=(40, 32), fps=10, seed=3)
    assert digest(again) == digest(synth)
    other = write_synthetic(tmp_path / "c", classes=4, videos_per_class=4, frames=10, size=(40, 32), fps=10, seed=4)
    assert digest(other) != digest(synth)


def test_decoded_video_is_close_to_the_rendered_one(synth):
    rendered = render_video("move_left", 10, 40, 32, np.random.default_rng([3, 0, 0]))
    another = render_video("move_left", 10, 40, 32, np.random.default_rng([3, 0, 1]))
    decoded = read_frames(os.path.join(synth, "move_left", "move_left_0001.mp4"), range(10))
    assert decoded.shape == rendered.shape
    error = np.abs(decoded.astype(int) - rendered).mean()  # lossy codec, same picture
    assert error < 0.5 * np.abs(decoded.astype(int) - another).mean()


def test_trajectories_are_decided_by_temporal_order():
    t = np.linspace(0, 1, 16)
    for seed in range(20):
        def run(name):
            return _trajectory(name, t, 5.0, 64, 48, np.random.default_rng(seed))

        cx, cy, *_ = run("move_left")
        assert cx[-1] < cx[0] - 0.3 * 48
        cx, cy, *_ = run("move_down")
        assert cy[-1] > cy[0] + 0.3 * 48
        cx, cy, *_ = run("pretend_right")
        assert cx.max() > cx[0] + 0.3 * 48 and abs(cx[-1] - cx[0]) < 1e-6  # goes and comes back
        _, _, angle_cw, _, _ = run("rotate_cw")
        _, _, angle_ccw, _, _ = run("rotate_ccw")
        assert angle_cw[-1] - angle_cw[0] > 60 and angle_ccw[-1] - angle_ccw[0] < -60
        *_, scale, _ = run("grow")
        assert scale[-1] > 1.7 * scale[0]
        *_, alpha = run("disappear")
        assert alpha[0] == 1 and alpha[-1] == 0
        cx_l, *_ = run("move_left")
        assert np.all(np.diff(cx_l) <= 1e-9)  # leftwards at every step


def test_bad_options_raise_kvid_error(tmp_path):
    with pytest.raises(KvidError):
        write_synthetic(tmp_path, classes=15)
    with pytest.raises(KvidError):
        write_synthetic(tmp_path, frames=2)
    with pytest.raises(KvidError):
        write_synthetic(tmp_path, size="big")
