"""`kvid synth` and `kvid data check|info` through kvid.cli.main (no TensorFlow needed)."""

import os

import cv2
import numpy as np

from kvid.cli import main
from kvid.data.check import check_dataset
from kvid.data.clips import ClipSpec


def test_synth_command_writes_a_dataset_data_info_reads_it(tmp_path, capsys):
    out = str(tmp_path / "s")
    assert main(["synth", out, "--classes", "2", "--videos-per-class", "3", "--frames", "6", "--size", "40x32", "--seed", "5"]) == 0
    assert "wrote 6 videos" in capsys.readouterr().out
    assert sorted(os.listdir(os.path.join(out, "move_right"))) == ["move_right_0001.mp4", "move_right_0002.avi", "move_right_0003.mp4"]
    assert main(["data", "info", out]) == 0
    text = capsys.readouterr().out
    assert "split train: 2 videos, 2 classes" in text and "split test: 2 videos" in text
    assert main(["data", "check", out, "--frames", "4"]) == 0
    assert "0 errors" in capsys.readouterr().out


def test_synth_bad_option_is_a_one_line_error(tmp_path, capsys):
    assert main(["synth", str(tmp_path / "x"), "--classes", "99"]) == 2
    assert capsys.readouterr().err.strip() == "kvid: error: classes=99: must be 1..14"


def test_data_check_lists_every_problem(tmp_path, capsys):
    root = tmp_path / "d"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    good = str(root / "a" / "good.avi")
    writer = cv2.VideoWriter(good, cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (32, 24))
    for i in range(30):
        writer.write(np.full((24, 32, 3), i * 8, np.uint8))
    writer.release()
    data = open(good, "rb").read()
    (root / "a" / "short.avi").write_bytes(data)
    (root / "a" / "cut.avi").write_bytes(data[: len(data) // 2])  # truncated download
    (root / "b" / "zero.mp4").write_bytes(b"")
    (root / "b" / "junk.mp4").write_bytes(b"not a video at all" * 20)
    gray = root / "b" / "gray frames"
    gray.mkdir()
    for i in range(1, 41):
        cv2.imwrite(str(gray / f"img_{i:05d}.png"), np.full((24, 32), i * 5, np.uint8))
    lines = [
        "a/good.avi a", "a/short.avi a", "a/cut.avi a", "b/zero.mp4 b", "b/junk.mp4 b",
        "b/gray frames 40 b", "a/missing.avi a", "a/good.avi zebra",
    ]
    (root / "train.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "test.txt").write_text("a/good.avi a\n", encoding="utf-8")
    (root / "labels.txt").write_text("a\nb\n", encoding="utf-8")

    report = check_dataset(str(root), spec=ClipSpec(frames=16, crop=8, stride=2))
    found = {}
    for p in report.problems:
        key = (os.path.basename(p.path), p.severity)
        found[key] = found.get(key, "") + p.reason + "; "
    assert "does not" in found[("zero.mp4", "error")] or "empty" in found[("zero.mp4", "error")]
    assert "cannot open" in found[("junk.mp4", "error")]
    assert "missing file" in found[("missing.avi", "error")]
    assert "zebra" in found[("good.avi", "error")]
    assert "truncated" in found[("cut.avi", "warning")]
    assert "container says 30 frames" in found[("cut.avi", "warning")] and "looped" in found[("cut.avi", "warning")]
    assert "grayscale" in found[("gray frames", "warning")]
    assert "30 frames, shorter than a clip (31): looped" in found[("short.avi", "warning")]
    assert len(report.errors) == 4 and report.videos == {"train": 8, "test": 1}

    assert main(["data", "check", str(root), "--frames", "16", "--stride", "2"]) == 1
    text = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("error: ") for line in text) == 4
    # warnings: cut.avi twice, gray frames, and good.avi + short.avi (30 frames < span 31)
    assert text[-1].endswith("4 errors (skipped), 5 warnings (used, adapted)")
