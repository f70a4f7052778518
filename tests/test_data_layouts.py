"""kvid.data.layouts: the dataset layouts users have, auto-detected; problems reported."""

import json
import os

import pytest

from kvid import KvidError
from kvid.data.layouts import detect_layout, load_dataset


def touch(path, data=b"x"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def rel_items(ds):
    return sorted((os.path.relpath(p, ds.root).replace(os.sep, "/"), y) for p, y in ds.items)


def test_list_files_with_video_paths_frame_folders_spaces_and_problems(tmp_path):
    root = str(tmp_path / "lists")
    touch(f"{root}/videos/a clip é.mp4")
    touch(f"{root}/videos/b.avi")
    for i in range(1, 4):
        touch(f"{root}/frames/run 1/img_{i:05d}.jpg")
    write(f"{root}/labels.txt", "walk\nrun\n")
    write(
        f"{root}/train.txt",
        "videos/a clip é.mp4 0\n"  # a space and a non-ASCII letter in the path
        "frames/run 1 3 1\n"  # dir total_frames label
        "videos/b.avi run\n"  # label by name
        "videos/missing.mp4 0\n"
        "videos/b.avi 5\n"  # no such label index
        "# a comment\n\n"
        "lonely\n",
    )
    write(f"{root}/val.txt", "videos/b.avi 1\n")
    assert detect_layout(root) == "lists"
    ds = load_dataset(root, "train")
    assert ds.labels == ["walk", "run"] and ds.layout == "lists"
    assert rel_items(ds) == [("frames/run 1", 1), ("videos/a clip é.mp4", 0), ("videos/b.avi", 1)]
    reasons = sorted(p.reason.split(" (")[0] for p in ds.problems)
    assert reasons[0].startswith("label '5'") and reasons[1] == "malformed line 'lonely'" and reasons[2] == "missing file"
    assert all(p.severity == "error" for p in ds.problems)
    assert len(load_dataset(root, "val")) == 1
    test = load_dataset(root, "test")  # no test list: falls back to val, says so
    assert len(test) == 1 and any("using val" in n for n in test.notes)
    assert len(load_dataset(os.path.join(root, "val.txt"), "test")) == 1  # one list file given directly


def test_list_files_without_a_label_list_agree_across_splits(tmp_path):
    root = str(tmp_path)
    for name in ("x.mp4", "y.mp4", "z.mp4"):
        touch(f"{root}/v/{name}")
    touch(f"{root}/videos/w/q.mp4")
    write(f"{root}/train.txt", "v/x.mp4 cat\nv/y.mp4 dog\nw/q.mp4 dog\n")  # w/q.mp4: under videos/
    write(f"{root}/test.txt", "v/z.mp4 emu\n")
    train, test = load_dataset(root, "train"), load_dataset(root, "test")
    assert train.labels == test.labels == ["cat", "dog", "emu"]
    assert test.items[0][1] == 2
    assert rel_items(train)[-1] == ("videos/w/q.mp4", 1) and not train.problems


def test_ucf101_as_distributed(tmp_path):
    root = str(tmp_path / "ucf")
    classes = ["ApplyEyeMakeup", "HandstandPushups", "YoYo"]
    write(f"{root}/ucfTrainTestlist/classInd.txt", "".join(f"{i + 1} {c}\n" for i, c in enumerate(classes)))
    touch(f"{root}/UCF-101/ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi")
    touch(f"{root}/UCF-101/HandstandPushups/v_HandStandPushups_g01_c01.avi")
    touch(f"{root}/UCF-101/YoYo/v_YoYo_g01_c01.avi")
    write(
        f"{root}/ucfTrainTestlist/trainlist01.txt",
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\nYoYo/v_YoYo_g09_c01.avi 3\n",
    )
    # the real list spells the folder differently from the disk: matched case-insensitively
    write(
        f"{root}/ucfTrainTestlist/testlist01.txt",
        "HandStandPushups/v_HandStandPushups_g01_c01.avi\nYoYo/v_YoYo_g01_c01.avi\n",
    )
    write(f"{root}/ucfTrainTestlist/trainlist02.txt", "YoYo/v_YoYo_g01_c01.avi 3\n")
    assert detect_layout(root) == "ucf101"
    train = load_dataset(root, "train")
    assert train.labels == classes
    assert rel_items(train) == [("UCF-101/ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi", 0)]
    assert [p.reason.split(" (")[0] for p in train.problems] == ["missing file"]
    test = load_dataset(root, "test")
    assert rel_items(test) == [
        ("UCF-101/HandstandPushups/v_HandStandPushups_g01_c01.avi", 1),
        ("UCF-101/YoYo/v_YoYo_g01_c01.avi", 2),
    ]
    assert rel_items(load_dataset(root, "train2")) == [("UCF-101/YoYo/v_YoYo_g01_c01.avi", 2)]
    with pytest.raises(KvidError, match="testlist03"):
        load_dataset(root, "test3")


def test_hmdb51_split_files(tmp_path):
    root = str(tmp_path / "hmdb")
    splits = f"{root}/testTrainMulti_7030_splits"
    write(f"{splits}/brush_hair_test_split1.txt", "a.avi 1\nb.avi 2\nc.avi 0\n")
    write(f"{splits}/wave_test_split1.txt", "d.avi 2\ne.avi 1\n")
    for c, v in [("brush_hair", "a"), ("brush_hair", "b"), ("brush_hair", "c"), ("wave", "d"), ("wave", "e")]:
        touch(f"{root}/hmdb51_org/{c}/{v}.avi")
    assert detect_layout(root) == "hmdb51"
    train = load_dataset(root, "train")
    assert train.labels == ["brush_hair", "wave"]
    assert rel_items(train) == [("hmdb51_org/brush_hair/a.avi", 0), ("hmdb51_org/wave/e.avi", 1)]
    assert rel_items(load_dataset(root, "test")) == [("hmdb51_org/brush_hair/b.avi", 0), ("hmdb51_org/wave/d.avi", 1)]


def test_kinetics_csv_both_file_namings(tmp_path):
    root = str(tmp_path / "k400")
    header = "label,youtube_id,time_start,time_end,split\n"
    write(
        f"{root}/annotations/train.csv",
        header + '"passing American football (in game)",abc,12,22,train\nabseiling,def,0,10,train\n',
    )
    write(f"{root}/annotations/validate.csv", header + "abseiling,ghi,5,15,val\nabseiling,nope,1,11,val\nzumba,jkl,0,10,val\n")
    touch(f"{root}/train/passing American football (in game)/abc_000012_000022.mp4")
    touch(f"{root}/train/abseiling/def.mp4")  # named by id only
    touch(f"{root}/val/ghi_000005_000015.mp4")
    touch(f"{root}/val/jkl_000000_000010.mp4")
    assert detect_layout(root) == "kinetics"
    train = load_dataset(root, "train")
    assert train.labels == ["abseiling", "passing American football (in game)"]
    assert [(os.path.basename(p), y) for p, y in train.items] == [("abc_000012_000022.mp4", 1), ("def.mp4", 0)]
    val = load_dataset(root, "val")
    assert [(os.path.basename(p), y) for p, y in val.items] == [("ghi_000005_000015.mp4", 0)]
    reasons = sorted(p.reason.split(" (")[0] for p in val.problems)
    assert reasons == ["label 'zumba' not in the label list", "missing file"]
    assert len(load_dataset(root, "test")) == 1  # no test csv: validation
    write(f"{root}/all.csv", header + "abseiling,def,0,10,train\nabseiling,ghi,5,15,val\n")
    one = os.path.join(root, "all.csv")  # one CSV with every split: rows picked by its split column
    assert [os.path.basename(p) for p, _ in load_dataset(one, "val").items] == ["ghi_000005_000015.mp4"]
    assert len(load_dataset(one, "all")) == 2


def test_something_something_v2_json(tmp_path):
    root = str(tmp_path / "ssv2")
    labels = {"Pushing something from left to right": "1", "Pushing something from right to left": "0"}
    write(f"{root}/labels.json", json.dumps(labels))
    write(
        f"{root}/train.json",
        json.dumps([
            {"id": "11", "label": "pushing a cup from left to right", "template": "Pushing [something] from left to right"},
            {"id": "12", "label": "x", "template": "Pushing [something] from right to left"},
        ]),
    )
    write(f"{root}/validation.json", json.dumps([{"id": "13", "template": "Pushing [something] from right to left"}]))
    touch(f"{root}/20bn-something-something-v2/11.webm")
    touch(f"{root}/20bn-something-something-v2/12.mp4")
    touch(f"{root}/20bn-something-something-v2/13.webm")
    assert detect_layout(root) == "ssv2"
    train = load_dataset(root, "train")
    assert train.labels == ["Pushing something from right to left", "Pushing something from left to right"]
    assert [(os.path.basename(p), y) for p, y in train.items] == [("11.webm", 1), ("12.mp4", 0)]
    test = load_dataset(root, "test")
    assert [(os.path.basename(p), y) for p, y in test.items] == [("13.webm", 0)]
    assert any("validation" in n for n in test.notes)


def test_class_folders_with_and_without_split_folders(tmp_path):
    split_root = str(tmp_path / "splits")
    for s, c, v in [("train", "cat", "1.mp4"), ("train", "dog", "2.avi"), ("val", "dog", "3.mp4")]:
        touch(f"{split_root}/{s}/{c}/{v}")
    for i in range(1, 3):
        touch(f"{split_root}/train/cat/frames_4/img_{i:05d}.jpg")
    assert detect_layout(split_root) == "folders"
    train = load_dataset(split_root, "train")
    assert train.labels == ["cat", "dog"]
    assert rel_items(train) == [("train/cat/1.mp4", 0), ("train/cat/frames_4", 0), ("train/dog/2.avi", 1)]
    assert rel_items(load_dataset(split_root, "test")) == [("val/dog/3.mp4", 1)]

    flat = str(tmp_path / "flat")
    for c in ("a", "b"):
        for i in range(30):
            touch(f"{flat}/{c}/{c}{i}.mp4")
    touch(f"{flat}/a/readme.txt")
    parts = {s: load_dataset(flat, s) for s in ("train", "val", "test", "all")}
    assert len(parts["all"]) == 60
    assert sorted(parts["train"].items + parts["val"].items + parts["test"].items) == sorted(parts["all"].items)
    assert 36 <= len(parts["train"]) <= 56 and len(parts["val"]) > 0 and len(parts["test"]) > 0
    assert parts["train"].items == load_dataset(flat, "train").items  # the same every time


def test_unrecognised_roots_and_splits(tmp_path):
    with pytest.raises(KvidError, match="not found"):
        load_dataset(tmp_path / "nothing")
    touch(str(tmp_path / "empty" / "readme.txt"))
    with pytest.raises(KvidError, match="no dataset layout recognised"):
        load_dataset(tmp_path / "empty")
    touch(str(tmp_path / "d" / "c" / "v.mp4"))
    with pytest.raises(KvidError, match="split='bogus'"):
        load_dataset(tmp_path / "d", "bogus")
    with pytest.raises(KvidError, match="layout='weird'"):
        load_dataset(tmp_path / "d", layout="weird")
