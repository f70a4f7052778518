"""The tf.data pipeline: videos -> batches of ``(clip, label)`` that Keras ``fit`` takes as is.

``make_dataset(...)`` gives ``(clip float32 (B, T, S, S, 3) in 0..255, label int32 (B,))``:

- training: the item list is shuffled every epoch, each video is decoded and augmented in
  parallel (``num_parallel_calls=AUTOTUNE``; OpenCV releases the GIL while it decodes and
  resizes), batched and prefetched. Each element's randomness comes from a
  ``tf.data.Dataset.random`` stream, so with ``seed`` set two runs give the same batches
  (and every epoch new ones); without a seed the map runs non-deterministically (faster).
- evaluation (``training=False``): videos in order, the exact test views of
  ``kvid.data.transforms``; with ``clips * crops = V > 1`` each video contributes ``V``
  consecutive elements (clip-major), so predictions reshape to ``(-1, V, classes)``.
  ``make_eval_views(...)`` instead yields one video per element:
  ``(views (V, T, S, S, 3), label, video index)``, ready for ``model.predict(views).mean(0)``.
- ``cache``: ``True`` (memory) or a file prefix (``tf.data`` file cache). Evaluation caches
  the finished clips; training caches every decoded frame of each video, shrunk to the
  largest training short side, and samples and augments after the cache - so only for
  datasets that fit (the synthetic one does easily).

Bad videos (``kvid.data.clips.ProblemLog``) are skipped, each logged once with file and
reason; the log is ``ds.kvid_problems`` (also the ``problems=`` argument), and layout
problems (missing files, unknown labels) are in it from the start. The returned dataset also
carries ``ds.kvid_dataset`` (the ``layouts.Dataset``: items, labels) and ``ds.kvid_spec`` (the
``ClipSpec``); ``with_options`` and friends return new objects without them.
"""

from __future__ import annotations

import numpy as np

from kvid import KvidError
from kvid.data import clips as clipmod
from kvid.data.clips import ClipSpec, ProblemLog
from kvid.data.layouts import Dataset, load_dataset
from kvid.data.sampling import clip_indices
from kvid.data.transforms import train_view
from kvid.keras import tf

AUTOTUNE = tf.data.AUTOTUNE


def make_dataset(
    dataset_or_root,
    split: str = "train",
    frames: int | None = None,
    size: int | None = None,
    batch_size: int = 8,
    training: bool = True,
    scheme: str | None = None,
    stride: int | None = None,
    clips: int | None = None,
    crops: int | None = None,
    seed: int | None = None,
    cache: bool | str = False,
    *,
    clip: ClipSpec | None = None,
    window: int | None = None,
    scale: tuple[int, int] | None = None,
    resize: int | None = None,
    flip: bool | None = None,
    shuffle: bool | None = None,
    drop_remainder: bool = False,
    problems: ProblemLog | None = None,
    layout: str = "auto",
) -> tf.data.Dataset:
    """Batches of ``(clip, label)`` from a dataset (a ``Dataset``, or a root for ``load_dataset``).

    The clip is ``clip`` (a :class:`ClipSpec`; default ``ClipSpec()``) with the fields given
    here replacing its own (``size`` is the crop).
    """
    ds_info = _as_dataset(dataset_or_root, split, layout)
    spec = clip_spec(clip, frames=frames, crop=size, scheme=scheme, stride=stride, window=window,
                     clips=clips, crops=crops, resize=resize, scale=scale, flip=flip)
    problems = problems if problems is not None else ProblemLog()
    problems.extend(ds_info.problems)
    if training:
        data = _training_clips(ds_info, spec, seed, cache, shuffle is not False, problems)
    else:
        data = _eval_views(ds_info, spec, problems)
        if cache is not False:
            data = data.cache("" if cache is True else str(cache))
        data = data.map(lambda v, y, i: (v, tf.fill([spec.views], y))).unbatch()
    data = data.batch(batch_size, drop_remainder=drop_remainder).prefetch(AUTOTUNE)
    return _attach(data, ds_info, problems, spec)


def make_eval_views(
    dataset_or_root,
    split: str = "test",
    frames: int | None = None,
    size: int | None = None,
    scheme: str | None = None,
    stride: int | None = None,
    clips: int | None = None,
    crops: int | None = None,
    *,
    clip: ClipSpec | None = None,
    window: int | None = None,
    resize: int | None = None,
    cache: bool | str = False,
    problems: ProblemLog | None = None,
    layout: str = "auto",
) -> tf.data.Dataset:
    """One element per usable video: ``(views float32 (V, T, S, S, 3), label int32, index int32)``.

    ``V = clips * crops`` (clip-major); ``index`` is the video's position in ``dataset.items``,
    so skipped videos show as gaps. The caller averages the ``V`` predictions.
    """
    ds_info = _as_dataset(dataset_or_root, split, layout)
    spec = clip_spec(clip, frames=frames, crop=size, scheme=scheme, stride=stride, window=window,
                     clips=clips, crops=crops, resize=resize)
    problems = problems if problems is not None else ProblemLog()
    problems.extend(ds_info.problems)
    data = _eval_views(ds_info, spec, problems)
    if cache is not False:
        data = data.cache("" if cache is True else str(cache))
    return _attach(data.prefetch(AUTOTUNE), ds_info, problems, spec)


# -- building blocks ---------------------------------------------------------------------------
def clip_spec(clip: ClipSpec | None = None, **fields) -> ClipSpec:
    """``clip`` (default ``ClipSpec()``) with the given (not None) ``fields`` replaced."""
    return (clip if clip is not None else ClipSpec()).replace(**fields)


def _as_dataset(dataset_or_root, split: str, layout: str) -> Dataset:
    ds = dataset_or_root
    if not isinstance(ds, Dataset):
        ds = load_dataset(dataset_or_root, split, layout=layout)
    if not ds.items:
        first = f" (first problem: {ds.problems[0]})" if ds.problems else ""
        raise KvidError(f"{ds.root}: split {ds.split} lists no usable videos{first}")
    return ds


def _attach(data, ds_info: Dataset, problems: ProblemLog, spec: ClipSpec):
    data.kvid_problems = problems
    data.kvid_dataset = ds_info
    data.kvid_spec = spec
    return data


def _items(ds_info: Dataset):
    paths = [p for p, _ in ds_info.items]
    labels = np.array([y for _, y in ds_info.items], np.int32)
    return paths, labels


def _training_clips(ds_info: Dataset, spec: ClipSpec, seed, cache, shuffle: bool, problems: ProblemLog):
    paths, labels = _items(ds_info)
    t, s = spec.frames, spec.crop
    n = len(paths)
    deterministic = seed is not None
    index = tf.data.Dataset.range(n)

    def load(i, r):
        i = int(i)
        rng = np.random.default_rng([int(r) & 0xFFFFFFFF, i])
        clip = clipmod.safely(problems, paths[i], clipmod.load_clip, paths[i], spec, rng, problems)
        return _result(clip, (t, s, s, 3), np.float32, labels[i])

    if cache is not False:
        short = max(spec.train_scale[1], s)

        def decode(i):
            i = int(i)
            video = clipmod.safely(problems, paths[i], clipmod.load_video, paths[i], short)
            if video is not None and len(video) < spec.span:
                clipmod.note_short(problems, paths[i], len(video), spec)
            return _result(video, (1, 1, 1, 3), np.uint8, labels[i])

        def augment(video, r):
            rng = np.random.default_rng([int(r) & 0xFFFFFFFF])
            idx = clip_indices(spec, len(video), rng=rng)
            return train_view(video[idx], s, rng, scale=spec.scale, flip=spec.flip)

        videos = index.map(
            lambda i: _numpy_call(decode, [i], tf.uint8, (None, None, None, 3)),
            num_parallel_calls=AUTOTUNE, deterministic=True,
        ).filter(_ok)
        videos = videos.map(_strip_ok).cache("" if cache is True else str(cache))
        if shuffle:
            videos = videos.shuffle(min(max(n, 1), 1024), seed=seed, reshuffle_each_iteration=True)
        zipped = tf.data.Dataset.zip((videos, _random(seed)))
        return zipped.map(
            lambda vy, r: (
                tf.ensure_shape(tf.numpy_function(augment, [vy[0], r], tf.float32), (t, s, s, 3)),
                vy[1],
            ),
            num_parallel_calls=AUTOTUNE, deterministic=deterministic,
        )
    if shuffle:
        index = index.shuffle(max(n, 1), seed=seed, reshuffle_each_iteration=True)
    zipped = tf.data.Dataset.zip((index, _random(seed)))
    data = zipped.map(
        lambda i, r: _numpy_call(load, [i, r], tf.float32, (t, s, s, 3)),
        num_parallel_calls=AUTOTUNE, deterministic=deterministic,
    )
    return data.filter(_ok).map(_strip_ok)


def _eval_views(ds_info: Dataset, spec: ClipSpec, problems: ProblemLog):
    paths, labels = _items(ds_info)
    shape = (spec.views, spec.frames, spec.crop, spec.crop, 3)

    def load(i):
        i = int(i)
        views = clipmod.safely(problems, paths[i], clipmod.load_views, paths[i], spec, problems)
        return _result(views, shape, np.float32, labels[i])

    data = tf.data.Dataset.range(len(paths)).map(
        lambda i: _numpy_call(load, [i], tf.float32, shape) + (tf.cast(i, tf.int32),),
        num_parallel_calls=AUTOTUNE, deterministic=True,
    )
    return data.filter(_ok).map(_strip_ok)


def _result(array, fallback_shape, dtype, label):
    """(array, label, ok) for tf.numpy_function; a zero array with ok=False after a failure."""
    if array is None:
        return np.zeros(fallback_shape, dtype), np.int32(label), np.bool_(False)
    return array, np.int32(label), np.bool_(True)


def _ok(*element):
    return element[2]


def _strip_ok(*element):
    return element[:2] + element[3:]


def _numpy_call(fn, args, dtype, shape):
    x, y, ok = tf.numpy_function(fn, args, [dtype, tf.int32, tf.bool], stateful=False)
    x.set_shape(shape)
    y.set_shape(())
    ok.set_shape(())
    return x, y, ok


def _random(seed):
    return tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
