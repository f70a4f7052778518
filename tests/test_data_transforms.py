"""kvid.data.transforms: exact integer test views, random training views."""

import numpy as np
import pytest

from kvid import KvidError
from kvid.data.transforms import (
    as_uint8,
    center_view,
    default_resize,
    reference_resize_crop,
    resized_shape,
    eval_views,
    train_view,
)


def random_clip(t, h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (t, h, w, 3), dtype=np.uint8)


def test_default_resize_is_round_of_8_over_7():
    for crop in range(1, 400):
        assert default_resize(crop) == round(crop * 8 / 7)
    assert (default_resize(224), default_resize(112), default_resize(56)) == (256, 128, 64)


def test_resized_shape_keeps_aspect_rounding_half_up():
    assert resized_shape(240, 320, 128) == (128, 171)  # 170.67
    assert resized_shape(320, 240, 128) == (171, 128)
    assert resized_shape(10, 15, 3) == (3, 5)  # 4.5 rounds up
    assert resized_shape(7, 7, 9) == (9, 9)


@pytest.mark.parametrize(
    "h,w,resize,crop",
    [
        (37, 53, 20, 16),  # shrink < 2x: bilinear only
        (48, 64, 18, 16),  # shrink >= 2x: box prefilter f=2
        (100, 47, 10, 10),  # portrait, f=4, crop = resize
        (31, 31, 36, 32),  # enlarge
        (9, 13, 9, 7),  # same short side
    ],
)
def test_center_view_matches_the_documented_integer_algorithm(h, w, resize, crop):
    clip = random_clip(2, h, w, seed=h)
    view = center_view(clip, crop, resize=resize)
    assert view.dtype == np.float32 and view.shape == (2, crop, crop, 3)
    for t in range(2):
        assert np.array_equal(view[t], reference_resize_crop(clip[t], resize, crop))


def test_golden_values_for_ports():
    """Fixed numbers a Java port can check against (4x6 image, resize 3, crop 2)."""
    img = (np.arange(4 * 6 * 3, dtype=np.int64).reshape(4, 6, 3) * 11 % 256).astype(np.uint8)
    got = center_view(img, 2, resize=3)[0].astype(int)
    assert resized_shape(4, 6, 3) == (3, 5)
    assert got[..., 0].tolist() == [[63, 73], [174, 124]]  # [0][0] worked by hand: 63.58 -> 63
    assert got[..., 2].tolist() == [[85, 95], [196, 82]]


def test_views_are_exact_for_constant_images_and_float_input():
    clip = np.full((3, 30, 50, 3), 77, np.uint8)
    assert np.all(center_view(clip, 16) == 77)
    noisy = random_clip(1, 30, 50)
    assert np.array_equal(center_view(noisy.astype(np.float32), 16), center_view(noisy, 16))
    assert np.array_equal(center_view(noisy[0], 16), center_view(noisy, 16))  # one frame


def test_gray_and_rgba_clips_become_rgb():
    gray = np.full((2, 20, 20, 1), 90, np.uint8)
    assert center_view(gray, 8).shape == (2, 8, 8, 3)
    rgba = np.concatenate([random_clip(1, 20, 20), np.zeros((1, 20, 20, 1), np.uint8)], axis=-1)
    assert np.array_equal(center_view(rgba, 8), center_view(rgba[..., :3], 8))
    with pytest.raises(KvidError):
        as_uint8(np.zeros((2, 20, 20, 2)))


def test_three_five_ten_crop_views():
    clip = random_clip(2, 40, 80)
    three = eval_views(clip, 24, crops=3)  # short side -> 24, crops along the long side
    assert three.shape == (3, 2, 24, 24, 3)
    full = reference_resize_crop(clip[0], 24, 24, top=0, left=0)
    right = reference_resize_crop(clip[0], 24, 24, top=0, left=48 - 24)
    assert np.array_equal(three[1, 0], full) and np.array_equal(three[2, 0], right)
    ten = eval_views(clip, 24, crops=10)
    assert ten.shape == (10, 2, 24, 24, 3)
    assert np.array_equal(ten[0], center_view(clip, 24))
    assert np.array_equal(ten[5:], ten[:5, :, :, ::-1])  # the mirrors
    assert np.array_equal(eval_views(clip, 24, crops=5), ten[:5])
    with pytest.raises(KvidError):
        eval_views(clip, 24, crops=4)
    with pytest.raises(KvidError):
        center_view(clip, 24, resize=20)


def direction(view):
    """+1 if brightness grows left to right in the view, -1 if it falls."""
    cols = view.mean(axis=(0, 1, 3))
    return np.sign(cols[-1] - cols[0])


def test_train_view_scale_crop_and_flip():
    ramp = np.tile(np.linspace(0, 255, 64, dtype=np.float32)[None, None, :, None], (4, 48, 1, 3))
    rng = np.random.default_rng(0)
    views = [train_view(ramp, 32, rng, scale=(32, 48)) for _ in range(40)]
    assert all(v.shape == (4, 32, 32, 3) and v.dtype == np.float32 for v in views)
    assert all(v.min() >= 0 and v.max() <= 255 for v in views)
    assert all(direction(v) == 1 for v in views)  # flip is off by default
    flipped = [direction(train_view(ramp, 32, rng, flip=True)) for _ in range(40)]
    assert 5 < flipped.count(-1) < 35
    means = {round(float(v.mean())) for v in views}
    assert len(means) > 5  # random scales and positions


def test_train_view_is_reproducible_with_the_same_generator():
    clip = random_clip(3, 40, 60)
    a = train_view(clip, 24, np.random.default_rng(5), scale=(24, 40), flip=True)
    b = train_view(clip, 24, np.random.default_rng(5), scale=(24, 40), flip=True)
    assert np.array_equal(a, b)
    with pytest.raises(KvidError):
        train_view(clip, 24, np.random.default_rng(0), scale=(40, 24))
