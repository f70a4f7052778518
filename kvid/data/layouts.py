"""Dataset layouts: from a dataset root (as users have UCF101, Kinetics, SSv2 ...) to a list
of ``(video path, label index)`` items and the label list. No TensorFlow, no decoding.

``load_dataset(root, split="train", layout="auto")`` recognises, in this order:

``lists``     list files in ``root``: ``<split>.txt`` / ``<split>list.txt`` / ``<split>_list.txt``
              / ``<split>_videofolder.txt`` with lines ``path label`` (a video file) or
              ``dir total_frames label`` (a frame folder of ``img_00001.jpg`` ...), ``label`` an
              index or a class name; the label list in ``labels.txt`` / ``classes.txt`` /
              ``classInd.txt`` / ``label_map.txt`` (``name`` or ``index name`` per line; without
              one, the sorted names, or indices, found in all list files). Paths are absolute or
              relative to the list file's folder, the root, or ``root/videos`` / ``rawframes`` /
              ``frames``, and may contain spaces. ``kvid synth`` writes this.
``ucf101``    ``ucfTrainTestlist/`` (``classInd.txt``, ``trainlist0N.txt``, ``testlist0N.txt``)
              beside ``UCF-101/<Class>/v_*.avi``; split ``train``/``test`` = split 1,
              ``train2``/``test3`` ... pick another.
``hmdb51``    ``testTrainMulti_7030_splits/<class>_test_split<N>.txt`` (``video.avi 1|2|0`` =
              train|test|unused) beside ``hmdb51_org/<class>/*.avi`` (or ``<class>/`` in root).
``kinetics``  CSV files ``train.csv`` / ``validate.csv`` (or ``val.csv``) / ``test.csv`` with
              ``label,youtube_id,time_start,time_end,split`` (one CSV given as the root: its rows are
              picked by the ``split`` column); videos anywhere below root named
              ``<youtube_id>_<start:06d>_<end:06d>.<ext>`` or ``<youtube_id>.<ext>``; labels from a
              label list file, else the sorted labels of the training CSV.
``ssv2``      Something-Something v2: ``labels.json`` (``{"template": "index"}``), ``train.json``,
              ``validation.json`` (``id``, ``template`` with ``[something]``); videos
              ``<id>.webm`` or ``<id>.mp4`` anywhere below root. SSv2's test set has no labels, so
              ``test`` means the validation set.
``folders``   one folder per class, ``root/<class>/<video file or frame folder>``; with split
              folders ``root/train/<class>/...``, ``root/val/...``, ``root/test/...`` when present.
              Without them, a fixed 80/10/10 split by a hash of the relative path (``all`` = every
              video), the same on every machine.

Splits are ``train``, ``val`` (``validation``/``valid``/``validate``), ``test`` or ``all``, with an
optional split number (``train2``); ``test`` falls back to ``val`` and back when a dataset has only
one of them (said in ``Dataset.notes``). Nothing is dropped silently: missing files, unknown
labels and malformed lines become ``Dataset.problems`` (the item is left out).
"""

from __future__ import annotations

import csv
import json
import os
import re
import zlib
from dataclasses import dataclass, field

from kvid import KvidError
from kvid.data.video import VIDEO_EXTENSIONS, is_frame_folder, is_video_file

LAYOUTS = ("lists", "ucf101", "hmdb51", "kinetics", "ssv2", "folders")
MEDIA_DIRS = ("videos", "rawframes", "frames")  # list paths may be relative to these too
LABEL_FILES = ("labels.txt", "classes.txt", "classInd.txt", "label_map.txt", "labels.csv")
SPLIT_ALIASES = {
    "train": ("train", "training"),
    "val": ("val", "validation", "valid", "validate"),
    "test": ("test", "testing"),
}


class SplitNotFound(KvidError):
    """The dataset has no such split."""


@dataclass
class Problem:
    """One bad input: ``path`` (file, or ``list:line``) and ``reason``.

    ``severity`` is ``"error"`` (the video is left out) or ``"warning"`` (it is used, adapted:
    looped because short, a frame count that was wrong ...).
    """

    path: str
    reason: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class Dataset:
    """The videos of one split: ``items`` = ``[(path, label_index)]``, ``labels`` = class names."""

    root: str
    split: str
    layout: str
    labels: list[str]
    items: list[tuple[str, int]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def __len__(self) -> int:
        return len(self.items)

    def describe(self) -> str:
        text = (
            f"{self.root} [{self.layout}] split {self.split}: {len(self.items)} videos, "
            f"{len(self.labels)} classes, {len(self.problems)} problems"
        )
        return "\n".join([text] + [f"  note: {n}" for n in self.notes])


def load_dataset(root, split: str = "train", layout: str = "auto") -> Dataset:
    """The ``split`` of the dataset at ``root`` (a folder, or one list / CSV / JSON file)."""
    root = os.fspath(root)
    if not os.path.exists(root):
        raise KvidError(f"{root}: dataset not found")
    name, number = _parse_split(split)
    if layout == "auto":
        layout = detect_layout(root)
    loader = _LOADERS.get(layout)
    if loader is None:
        raise KvidError(f"layout={layout!r}: unknown (choose from auto, {', '.join(LAYOUTS)})")
    ds = loader(root, name, number)
    if ds.split == name:  # not replaced by a fallback ("test" served by "val")
        ds.split = str(split)
    if not ds.labels:
        raise KvidError(f"{root}: no class labels found")
    return ds


def detect_layout(root: str) -> str:
    """The layout name of ``root`` (see the module docstring), or KvidError."""
    if os.path.isfile(root):
        ext = os.path.splitext(root)[1].lower()
        return {".csv": "kinetics", ".json": "ssv2"}.get(ext, "lists")
    names = set(os.listdir(root))
    if _find_ucf_lists(root):
        return "ucf101"
    if _find_hmdb_splits(root):
        return "hmdb51"
    if _ssv2_dir(root):
        return "ssv2"
    if _kinetics_csvs(root):
        return "kinetics"
    if any(_list_file(root, s) for s in SPLIT_ALIASES):
        return "lists"
    if _class_folders(root) or any(_class_folders(os.path.join(root, s)) for s in names):
        return "folders"
    raise KvidError(
        f"{root}: no dataset layout recognised (expected class folders, list files, "
        f"UCF101/HMDB51 split files, a Kinetics CSV or SSv2 JSON; see kvid.data.layouts)"
    )


# -- splits -----------------------------------------------------------------------------------
def _parse_split(split: str) -> tuple[str, int]:
    m = re.fullmatch(r"([a-z]+?)[-_]?(\d*)", str(split).lower())
    if m:
        for name, aliases in SPLIT_ALIASES.items():
            if m.group(1) in aliases:
                return name, int(m.group(2) or 1)
        if m.group(1) == "all":
            return "all", 1
    raise KvidError(f"split={split!r}: expected train, val, test or all (optionally numbered, e.g. test2)")


def _other(name: str) -> str | None:
    return {"test": "val", "val": "test"}.get(name)


# -- list files -------------------------------------------------------------------------------
def _list_file(root: str, name: str) -> str | None:
    for alias in SPLIT_ALIASES.get(name, (name,)):
        for pattern in ("{}.txt", "{}list.txt", "{}_list.txt", "{}_videofolder.txt", "{}list01.txt"):
            path = os.path.join(root, pattern.format(alias))
            if os.path.isfile(path):
                return path
    return None


def _load_lists(root: str, name: str, number: int) -> Dataset:
    if os.path.isfile(root):  # one list file given directly
        files = {name: root}
        base = os.path.dirname(root) or "."
    else:
        base = root
        files = {s: _list_file(root, s) for s in SPLIT_ALIASES}
        files = {s: f for s, f in files.items() if f}
    ds = Dataset(base, name, "lists", [])
    wanted = _pick_split(files, name, ds, base)
    parsed = {s: _parse_list(f) for s, f in files.items()}
    label_file = _label_file(base)
    if label_file:
        ds.labels = _read_label_list(label_file)
    else:
        found = {lab for rows in parsed.values() for _, _, lab in rows if lab is not None}
        ds.labels = _derive_labels(found)
        ds.notes.append("no label list file: labels are the sorted names/indices of the list files")
    index = {lab: i for i, lab in enumerate(ds.labels)}
    for s in wanted:
        list_dir = os.path.dirname(files[s]) or "."
        for where, rel, label in parsed[s]:
            if rel is None:
                ds.problems.append(Problem(where, label))
                continue
            path = _resolve(rel, (list_dir, base) + tuple(os.path.join(base, d) for d in MEDIA_DIRS))
            _add_item(ds, path, label, index, where)
    return ds


def _pick_split(files: dict, name: str, ds: Dataset, root: str) -> list[str]:
    if name == "all":
        return list(files)
    if name in files:
        return [name]
    other = _other(name)
    if other in files:
        ds.notes.append(f"no {name} split: using {other}")
        ds.split = other
        return [other]
    raise SplitNotFound(f"{root}: no {name} split (found: {', '.join(sorted(files)) or 'none'})")


def _parse_list(path: str) -> list[tuple[str, str | None, str | None]]:
    """Rows ``(file:line, relative path, label token)``; a bad line gives ``(where, None, reason)``."""
    rows = []
    base = os.path.dirname(path) or "."
    for n, line in enumerate(_read_lines(path), 1):
        where = f"{path}:{n}"
        parts = line.rsplit(None, 2)
        if len(parts) == 3 and parts[1].isdigit() and os.path.isdir(_resolve(parts[0], (base,))):
            rows.append((where, parts[0], parts[2]))  # dir total_frames label
            continue
        parts = line.rsplit(None, 1)
        if len(parts) != 2:
            rows.append((where, None, f"malformed line {line!r} (expected 'path label')"))
            continue
        rows.append((where, parts[0], parts[1]))
    return rows


def _derive_labels(found: set[str]) -> list[str]:
    if found and all(f.lstrip("-").isdigit() for f in found):
        return [str(i) for i in range(max(int(f) for f in found) + 1)]
    return sorted(found)


def _add_item(ds: Dataset, path: str, label: str | int, index: dict, where: str) -> None:
    """Append (path, label index) to ds, or a Problem when the file or the label is bad."""
    if isinstance(label, str) and label not in index and label.lstrip("-").isdigit():
        i = int(label)
        label_index = i if 0 <= i < len(ds.labels) else None
    else:
        label_index = index.get(label)
    if label_index is None:
        ds.problems.append(Problem(path, f"label {label!r} not in the label list ({where})"))
    elif not os.path.exists(path):
        ds.problems.append(Problem(path, f"missing file ({where})"))
    else:
        ds.items.append((path, label_index))


# -- label lists ------------------------------------------------------------------------------
def _label_file(*dirs: str) -> str | None:
    for d in dirs:
        for name in LABEL_FILES:
            path = os.path.join(d, name)
            if os.path.isfile(path):
                return path
    return None


def _read_label_list(path: str) -> list[str]:
    """``name`` per line, or ``index name`` (``classInd.txt``: 1-based) ordered by index."""
    lines = _read_lines(path)
    pairs = [line.replace(",", " ", 1).split(None, 1) for line in lines]
    if lines and all(len(p) == 2 and p[0].isdigit() for p in pairs):
        pairs.sort(key=lambda p: int(p[0]))
        return [p[1].strip() for p in pairs]
    return [line.strip() for line in lines]


def _read_lines(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8-sig") as f:
            text = f.read()
    except UnicodeDecodeError:
        with open(path, encoding="latin-1") as f:
            text = f.read()
    except OSError as exc:
        raise KvidError(f"{path}: cannot read ({exc.strerror})") from None
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def _resolve(rel: str, bases) -> str:
    if os.path.isabs(rel):
        return rel
    for b in bases:
        path = os.path.join(b, rel)
        if os.path.exists(path):
            return path
    return os.path.join(bases[0], rel)


# -- UCF101 -----------------------------------------------------------------------------------
def _find_ucf_lists(root: str) -> str | None:
    for d in (os.path.join(root, "ucfTrainTestlist"), root):
        if os.path.isfile(os.path.join(d, "classInd.txt")) and os.path.isfile(os.path.join(d, "trainlist01.txt")):
            return d
    return None


def _load_ucf101(root: str, name: str, number: int) -> Dataset:
    lists = _find_ucf_lists(root)
    if lists is None:
        raise KvidError(f"{root}: no ucfTrainTestlist/ with classInd.txt and trainlist01.txt")
    ds = Dataset(root, name, "ucf101", _read_label_list(os.path.join(lists, "classInd.txt")))
    videos = _first_dir(root, ("UCF-101", "UCF101", "videos")) or root
    index = {lab.lower(): i for i, lab in enumerate(ds.labels)}
    names = ["train", "test"] if name == "all" else ["test" if name == "val" else name]
    for s in names:
        list_file = os.path.join(lists, f"{s}list{number:02d}.txt")
        if not os.path.isfile(list_file):
            raise SplitNotFound(f"{list_file}: UCF101 split file not found")
        for n, line in enumerate(_read_lines(list_file), 1):
            rel = line.split()[0]
            label = rel.replace("\\", "/").split("/")[0].lower()  # the class folder
            _add_item(ds, _case_insensitive(videos, rel), label, index, f"{list_file}:{n}")
    return ds


# -- HMDB51 -----------------------------------------------------------------------------------
_HMDB_RE = re.compile(r"(.+)_test_split(\d)\.txt$")


def _find_hmdb_splits(root: str) -> str | None:
    for d in (os.path.join(root, "testTrainMulti_7030_splits"), os.path.join(root, "splits"), root):
        if os.path.isdir(d) and any(_HMDB_RE.match(n) for n in os.listdir(d)):
            return d
    return None


def _load_hmdb51(root: str, name: str, number: int) -> Dataset:
    splits = _find_hmdb_splits(root)
    if splits is None:
        raise KvidError(f"{root}: no HMDB51 split files (<class>_test_split1.txt)")
    files = {}
    for n in os.listdir(splits):
        m = _HMDB_RE.match(n)
        if m and int(m.group(2)) == number:
            files[m.group(1)] = os.path.join(splits, n)
    if not files:
        raise SplitNotFound(f"{splits}: no HMDB51 split {number} files")
    ds = Dataset(root, name, "hmdb51", sorted(files))
    videos = _first_dir(root, ("hmdb51_org", "HMDB51", "hmdb51", "videos")) or root
    keep = {"train": {"1"}, "val": {"2"}, "test": {"2"}, "all": {"1", "2"}}[name]
    index = {lab: i for i, lab in enumerate(ds.labels)}
    for label in ds.labels:
        for n, line in enumerate(_read_lines(files[label]), 1):
            parts = line.rsplit(None, 1)
            if len(parts) == 2 and parts[1] in keep:
                path = _case_insensitive(videos, os.path.join(label, parts[0]))
                _add_item(ds, path, label, index, f"{files[label]}:{n}")
    return ds


# -- Kinetics ---------------------------------------------------------------------------------
def _kinetics_csvs(root: str) -> dict[str, str]:
    if os.path.isfile(root):
        return {"file": root}
    found = {}
    for d in (root, os.path.join(root, "annotations"), os.path.join(root, "kinetics400")):
        if not os.path.isdir(d):
            continue
        for n in sorted(os.listdir(d)):
            stem, ext = os.path.splitext(n.lower())
            if ext != ".csv":
                continue
            for s, aliases in SPLIT_ALIASES.items():
                path = os.path.join(d, n)
                if any(a in re.split(r"[^a-z]+", stem) for a in aliases) and s not in found and _is_kinetics_csv(path):
                    found[s] = path
    return found


def _is_kinetics_csv(path: str) -> bool:
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        return "youtube_id" in f.readline()


def _load_kinetics(root: str, name: str, number: int) -> Dataset:
    csvs = _kinetics_csvs(root)
    base = os.path.dirname(root) if os.path.isfile(root) else root
    one_file = "file" in csvs  # a CSV given directly may hold every split: filter on its column
    if one_file:
        csvs = {name if name != "all" else "train": csvs.pop("file")}
    if not csvs:
        raise KvidError(f"{root}: no Kinetics CSV (label,youtube_id,time_start,time_end,split)")
    ds = Dataset(base, name, "kinetics", [])
    wanted = _pick_split(csvs, name, ds, root)
    rows = {s: _read_csv(csvs[s]) for s in set(wanted) | ({"train"} & set(csvs))}
    label_file = _label_file(base, os.path.dirname(csvs[wanted[0]]))
    if label_file:
        ds.labels = _read_label_list(label_file)
    else:
        source = "train" if "train" in rows else wanted[0]
        ds.labels = sorted({r["label"] for r in rows[source] if r.get("label")})
        ds.notes.append(f"labels: the sorted labels of {os.path.basename(csvs[source])}")
    index = {lab: i for i, lab in enumerate(ds.labels)}
    videos = _VideoIndex(base)
    for s in wanted:
        for n, row in enumerate(rows[s], 2):
            where = f"{csvs[s]}:{n}"
            if one_file and name != "all" and row.get("split", "").strip().lower() not in SPLIT_ALIASES[name] + ("",):
                continue
            yid = (row.get("youtube_id") or "").strip()
            try:
                start, end = int(float(row.get("time_start", 0))), int(float(row.get("time_end", 0)))
            except ValueError:
                ds.problems.append(Problem(where, "malformed time_start/time_end"))
                continue
            stem = f"{yid}_{start:06d}_{end:06d}"
            path = videos.find(stem) or videos.find(yid) or os.path.join(base, stem + ".mp4")
            _add_item(ds, path, (row.get("label") or "").strip(), index, where)
    return ds


def _read_csv(path: str) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return [{k.strip(): (v or "") for k, v in r.items() if k} for r in csv.DictReader(f)]


# -- Something-Something v2 ------------------------------------------------------------------
def _ssv2_dir(root: str) -> str | None:
    for d in (root, os.path.join(root, "annotations"), os.path.join(root, "labels")):
        if os.path.isfile(os.path.join(d, "labels.json")) and (
            os.path.isfile(os.path.join(d, "train.json")) or os.path.isfile(os.path.join(d, "validation.json"))
        ):
            return d
    return None


def _load_ssv2(root: str, name: str, number: int) -> Dataset:
    base = os.path.dirname(root) if os.path.isfile(root) else root
    ann = _ssv2_dir(base)
    if ann is None:
        raise KvidError(f"{root}: no SSv2 labels.json with train.json / validation.json")
    with open(os.path.join(ann, "labels.json"), encoding="utf-8") as f:
        mapping = json.load(f)
    labels = [""] * len(mapping)
    for template, i in mapping.items():
        labels[int(i)] = template
    ds = Dataset(base, name, "ssv2", labels)
    files = {s: os.path.join(ann, f"{f}.json") for s, f in (("train", "train"), ("val", "validation"))}
    files = {s: f for s, f in files.items() if os.path.isfile(f)}
    if name == "test":
        ds.notes.append("SSv2's test set has no labels: using the validation set")
        ds.split = "val"
    wanted = _pick_split(files, "val" if name == "test" else name, ds, root)
    index = {lab: i for i, lab in enumerate(labels)}
    videos = _VideoIndex(base)
    for s in wanted:
        with open(files[s], encoding="utf-8") as f:
            entries = json.load(f)
        for n, e in enumerate(entries):
            vid = str(e.get("id", ""))
            label = str(e.get("template", "")).replace("[", "").replace("]", "")
            path = videos.find(vid) or os.path.join(base, vid + ".webm")
            _add_item(ds, path, label, index, f"{files[s]}[{n}]")
    return ds


# -- folder per class ------------------------------------------------------------------------
def _class_folders(root: str) -> list[str]:
    """Sorted names of the subfolders of root that hold videos (files or frame folders)."""
    if not os.path.isdir(root):
        return []
    out = []
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if entry.is_dir() and any(_video_entries(entry.path)):
            out.append(entry.name)
    return out


def _video_entries(folder: str):
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if (entry.is_file() and is_video_file(entry.name)) or (entry.is_dir() and is_frame_folder(entry.path)):
            yield entry.path


def _load_folders(root: str, name: str, number: int) -> Dataset:
    split_dirs = {}
    for s, aliases in SPLIT_ALIASES.items():
        d = _first_dir(root, aliases)
        if d and _class_folders(d):
            split_dirs[s] = d
    ds = Dataset(root, name, "folders", [])
    if split_dirs:
        wanted = _pick_split(split_dirs, name, ds, root)
        ds.labels = sorted({c for d in split_dirs.values() for c in _class_folders(d)})
        for s in wanted:
            for i, label in enumerate(ds.labels):
                folder = os.path.join(split_dirs[s], label)
                if os.path.isdir(folder):
                    ds.items.extend((p, i) for p in _video_entries(folder))
        return ds
    ds.labels = _class_folders(root)
    if name != "all":
        ds.notes.append("no split folders: a fixed 80/10/10 train/val/test split by path hash")
    for i, label in enumerate(ds.labels):
        for p in _video_entries(os.path.join(root, label)):
            if name == "all" or _hash_split(os.path.relpath(p, root)) == name:
                ds.items.append((p, i))
    return ds


def _hash_split(rel: str) -> str:
    bucket = zlib.crc32(rel.replace(os.sep, "/").encode("utf-8")) % 10
    return "train" if bucket < 8 else ("val" if bucket == 8 else "test")


# -- file lookup ------------------------------------------------------------------------------
def _first_dir(root: str, names) -> str | None:
    for n in names:
        d = os.path.join(root, n)
        if os.path.isdir(d):
            return d
    return None


def _case_insensitive(base: str, rel: str) -> str:
    """``base/rel``, matching each path component case-insensitively if the exact one is absent."""
    path = os.path.join(base, rel)
    if os.path.exists(path):
        return path
    current = base
    for part in rel.replace("\\", "/").split("/"):
        nxt = os.path.join(current, part)
        if not os.path.exists(nxt) and os.path.isdir(current):
            match = [n for n in os.listdir(current) if n.lower() == part.lower()]
            nxt = os.path.join(current, match[0]) if match else nxt
        current = nxt
    return current if os.path.exists(current) else path


class _VideoIndex:
    """Video files (and frame folders) below a root, looked up by file stem."""

    def __init__(self, root: str):
        self.root = root
        self._by_stem = None

    def find(self, stem: str) -> str | None:
        if not stem:
            return None
        if self._by_stem is None:
            self._by_stem = {}
            for dirpath, dirnames, filenames in os.walk(self.root):
                dirnames.sort()
                for n in sorted(filenames):
                    s, ext = os.path.splitext(n)
                    if ext.lower() in VIDEO_EXTENSIONS:
                        self._by_stem.setdefault(s, os.path.join(dirpath, n))
                for n in dirnames:
                    self._by_stem.setdefault(n, os.path.join(dirpath, n))
        path = self._by_stem.get(stem)
        if path and os.path.isdir(path) and not is_frame_folder(path):
            return None
        return path


_LOADERS = {
    "lists": _load_lists,
    "ucf101": _load_ucf101,
    "hmdb51": _load_hmdb51,
    "kinetics": _load_kinetics,
    "ssv2": _load_ssv2,
    "folders": _load_folders,
}
