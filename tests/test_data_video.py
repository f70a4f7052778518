"""kvid.data.video: frame-accurate OpenCV decoding, frame folders, bad files."""

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from kvid.data.video import VideoError, VideoReader, count_frames, list_frame_files, read_frames, video_info

N = 60  # frames; mp4v writes a key frame every 12, so seeks land between key frames


def frame_value(i):
    return (i * 37) % 200 + 20  # distinct for i < 200/gcd: every frame is recognisable


def write_video(path, fourcc, n=N, w=48, h=32):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 25.0, (w, h))
    assert writer.isOpened()
    for i in range(n):
        frame = np.zeros((h, w, 3), np.uint8)  # BGR
        frame[:, :, 2] = frame_value(i)  # red channel carries the frame number
        frame[:, :, 0] = 40  # a little blue
        writer.write(frame)
    writer.release()
    return str(path)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("videos")
    return {
        "mp4": write_video(d / "clip.mp4", "mp4v"),
        "avi": write_video(d / "clip.avi", "MJPG"),
        "webm": write_video(d / "clip.webm", "VP80"),
    }


@pytest.mark.parametrize("kind", ["mp4", "avi", "webm"])
def test_seeking_reads_the_same_frames_as_sequential_decoding(videos, kind):
    path = videos[kind]
    everything = read_frames(path, range(N), seek="never")
    assert everything.shape == (N, 32, 48, 3) and everything.dtype == np.uint8
    # RGB order and frame identity: red carries the frame number, blue is small
    red = everything[..., 0].mean(axis=(1, 2))
    assert np.allclose(red, [frame_value(i) for i in range(N)], atol=6)
    assert np.all(everything[..., 2].mean(axis=(1, 2)) < 60)
    wanted = [59, 0, 31, 30, 45, 1, 58, 13, 13, 40]  # backwards, far jumps, repeats
    with VideoReader(path) as reader:
        got = reader.read(wanted)
        again = reader.read([5, 50])
        assert reader._seekable  # these containers seek exactly
    assert np.array_equal(got, everything[wanted])
    assert np.array_equal(again, everything[[5, 50]])


def test_counts_and_info(videos):
    assert count_frames(videos["mp4"]) == N
    info = video_info(videos["avi"])
    assert info["frames"] == N and (info["height"], info["width"]) == (32, 48) and info["fps"] == pytest.approx(25)


def test_truncated_file_is_counted_by_decoding_and_read_sequentially(tmp_path, videos):
    data = open(videos["avi"], "rb").read()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    with VideoReader(cut) as reader:
        assert reader.reported_frames == N
        n = reader.num_frames
        assert 0 < n < N
        frames = reader.read([n - 1, 0, n // 2])
    full = read_frames(videos["avi"], [n - 1, 0, n // 2])
    assert np.array_equal(frames, full)


@pytest.mark.parametrize(
    "content,reason",
    [(None, "missing file"), (b"", "empty file"), (b"this is not a video" * 50, "cannot open")],
)
def test_bad_files_raise_video_error_with_path_and_reason(tmp_path, content, reason):
    path = tmp_path / "bad.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(VideoError) as err:
        read_frames(path, [0])
    assert reason in err.value.reason and str(path) in str(err.value)


def test_index_out_of_range(videos):
    with pytest.raises(VideoError, match="out of range"):
        read_frames(videos["mp4"], [N])


def test_non_ascii_and_space_paths(tmp_path, videos):
    folder = tmp_path / "vidéos à tester"
    folder.mkdir()
    target = folder / "clip ü 1.mp4"
    target.write_bytes(open(videos["mp4"], "rb").read())
    assert count_frames(target) == N
    assert np.array_equal(read_frames(target, [3, 40]), read_frames(videos["mp4"], [3, 40]))


def test_frame_folder_natural_order_and_odd_formats(tmp_path):
    folder = tmp_path / "frames ü"
    folder.mkdir()
    for i in range(1, 12):
        value = frame_value(i - 1)
        if i == 3:  # grayscale
            img = np.full((21, 33), value, np.uint8)
        elif i == 4:  # BGRA
            img = np.zeros((21, 33, 4), np.uint8)
            img[..., 2] = value
            img[..., 3] = 7
        elif i == 5:  # another size: resized to the first frame's
            img = np.zeros((42, 66, 3), np.uint8)
            img[..., 2] = value
        else:
            img = np.zeros((21, 33, 3), np.uint8)
            img[..., 2] = value
        ok, png = cv2.imencode(".png", img)
        (folder / f"img_{i}.png").write_bytes(png.tobytes())  # img_10 sorts after img_9
    (folder / "notes.txt").write_text("not a frame")
    assert [os.path.basename(f) for f in list_frame_files(folder)][:3] == ["img_1.png", "img_2.png", "img_3.png"]
    with VideoReader(folder) as reader:
        assert reader.num_frames == 11
        frames = reader.read(range(11))
    assert frames.shape == (11, 21, 33, 3)
    red = frames[..., 0].mean(axis=(1, 2))
    assert np.allclose(red, [frame_value(i) for i in range(11)], atol=1)
    assert np.all(frames[2, ..., 0] == frames[2, ..., 2])  # gray replicated to all channels


def test_corrupt_image_in_frame_folder(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    ok, png = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))
    (folder / "img_00001.jpg").write_bytes(png.tobytes())
    (folder / "img_00002.jpg").write_bytes(b"garbage")
    assert read_frames(folder, [0]).shape == (1, 8, 8, 3)
    with pytest.raises(VideoError, match="img_00002.jpg does not decode"):
        read_frames(folder, [1])


def test_data_modules_never_import_tensorflow():
    code = (
        "import sys; import kvid.data, kvid.data.video, kvid.data.sampling, kvid.data.transforms, "
        "kvid.data.layouts, kvid.data.clips, kvid.data.synth, kvid.data.check, kvid.data.cli; "
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
