"""kvid.data.sampling: the test-time formulas are a contract (docs/INTERFACES.md)."""

import numpy as np
import pytest

from kvid import KvidError
from kvid.data.sampling import clip_span, sample_indices


def contract_segments(n, t):
    seg = n / t
    return [min(int(seg * i + seg / 2), n - 1) for i in range(t)]


def contract_dense(n, t, stride, clips, k):
    span = (t - 1) * stride + 1
    if n < span:
        return [(i * stride) % n for i in range(t)]
    start = (n - span) // 2 if clips == 1 else int(round(k * (n - span) / (clips - 1)))
    return [start + i * stride for i in range(t)]


@pytest.mark.parametrize("n", [1, 3, 7, 8, 9, 16, 37, 300])
@pytest.mark.parametrize("t", [1, 4, 8, 16])
def test_segments_test_time_follows_the_contract(n, t):
    assert sample_indices(n, t, "segments").tolist() == contract_segments(n, t)


@pytest.mark.parametrize("n,t,stride,clips", [(100, 8, 2, 1), (100, 8, 2, 5), (64, 16, 4, 10), (15, 8, 2, 3), (3, 8, 1, 2), (31, 16, 2, 4)])
def test_dense_test_time_follows_the_contract(n, t, stride, clips):
    for k in range(clips):
        got = sample_indices(n, t, "dense", stride=stride, clips=clips, clip_index=k)
        assert got.tolist() == contract_dense(n, t, stride, clips, k)


def test_dense_clips_cover_the_video_uniformly():
    starts = [sample_indices(300, 8, "dense", stride=8, clips=10, clip_index=k)[0] for k in range(10)]
    assert starts[0] == 0 and starts[-1] == 300 - 57  # span 57: last clip ends on the last frame
    assert np.all(np.diff(starts) > 0)


def test_dense_short_video_loops_from_frame_zero():
    assert sample_indices(5, 8, "dense", stride=2).tolist() == [0, 2, 4, 1, 3, 0, 2, 4]
    rng = np.random.default_rng(0)
    assert sample_indices(5, 8, "dense", stride=2, training=True, rng=rng).tolist() == [0, 2, 4, 1, 3, 0, 2, 4]


def test_segments_training_takes_one_frame_per_segment():
    rng = np.random.default_rng(1)
    seen = set()
    for _ in range(200):
        idx = sample_indices(80, 8, "segments", training=True, rng=rng)
        assert np.all(idx // 10 == np.arange(8))  # segment i is frames 10i .. 10i+9
        seen.update(idx.tolist())
    assert len(seen) == 80  # every frame can be drawn


def test_segments_short_video_repeats_frames_in_order():
    idx = sample_indices(3, 8, "segments")
    assert idx.tolist() == sorted(idx.tolist()) and set(idx.tolist()) == {0, 1, 2}
    rng = np.random.default_rng(2)
    for _ in range(20):
        tr = sample_indices(3, 8, "segments", training=True, rng=rng)
        assert np.all(np.diff(tr) >= 0) and tr.max() <= 2


def test_segments_several_clips_shift_inside_each_segment():
    a = sample_indices(80, 8, "segments", clips=2, clip_index=0)
    b = sample_indices(80, 8, "segments", clips=2, clip_index=1)
    assert a.tolist() == [2 + 10 * i for i in range(8)] and b.tolist() == [7 + 10 * i for i in range(8)]


def test_dense_training_start_is_random_and_in_range():
    rng = np.random.default_rng(3)
    starts = {int(sample_indices(40, 8, "dense", stride=2, training=True, rng=rng)[0]) for _ in range(300)}
    assert starts == set(range(0, 40 - 15 + 1))


def test_consecutive_takes_t_frames_from_a_window_of_k():
    idx = sample_indices(64, 16, "consecutive", window=64)
    assert idx.tolist() == [2 + 4 * i for i in range(16)]
    clips = [sample_indices(300, 16, "consecutive", window=64, clips=10, clip_index=k) for k in range(10)]
    assert clips[0][0] == 2 and clips[-1][-1] == 300 - 64 + 62
    assert all(np.ptp(c) < 64 for c in clips)
    rng = np.random.default_rng(4)
    for _ in range(50):
        tr = sample_indices(300, 16, "consecutive", window=64, training=True, rng=rng)
        assert np.all(np.diff(tr) == 4) and tr[0] >= 2 and tr[-1] <= 299


def test_consecutive_short_video_uses_the_whole_video():
    idx = sample_indices(10, 4, "consecutive", window=64)
    assert idx.tolist() == [1, 3, 6, 8]
    assert sample_indices(2, 4, "consecutive").tolist() == [0, 0, 1, 1]


@pytest.mark.parametrize("scheme", ["segments", "dense", "consecutive"])
def test_indices_always_in_range_and_seeded_runs_repeat(scheme):
    for n in (1, 2, 5, 17, 64, 301):
        for t in (1, 3, 8, 16):
            for training in (False, True):
                a = sample_indices(n, t, scheme, stride=3, clips=3, clip_index=2, training=training, rng=np.random.default_rng(n))
                b = sample_indices(n, t, scheme, stride=3, clips=3, clip_index=2, training=training, rng=np.random.default_rng(n))
                assert a.dtype == np.int64 and a.shape == (t,)
                assert a.min() >= 0 and a.max() < n
                assert np.array_equal(a, b)


def test_clip_span():
    assert clip_span(8, "dense", stride=2) == 15
    assert clip_span(16, "consecutive", window=64) == 64
    assert clip_span(16, "segments", stride=4) == 16


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(num_frames=0, frames=8, scheme="dense"),
        dict(num_frames=10, frames=0, scheme="dense"),
        dict(num_frames=10, frames=8, scheme="tsn"),
        dict(num_frames=10, frames=8, scheme="dense", clips=2, clip_index=2),
        dict(num_frames=10, frames=8, scheme="dense", stride=0),
        dict(num_frames=10.0, frames=8, scheme="dense"),
    ],
)
def test_bad_arguments_raise_kvid_error(kwargs):
    with pytest.raises(KvidError):
        sample_indices(**kwargs)
