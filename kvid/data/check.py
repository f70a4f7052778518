"""``kvid data check D``: every problem of a dataset, without training (no TensorFlow).

For each split the layout has (train, val, test), the annotation problems of
``kvid.data.layouts`` (missing files, unknown labels, malformed lines) and, per video, what
decoding finds: files that do not open, have no frames, or break partway (first, middle and
last frames are decoded, and every frame of a file whose container lies about its length),
videos shorter than a clip (looped or stretched), and frame images that are grayscale,
4-channel or 16-bit (converted). Errors mean the video is skipped in training and evaluation;
warnings mean it is used as adapted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kvid.data import layouts
from kvid.contract import ClipSpec
from kvid.data.clips import ProblemLog, open_video, safely
from kvid.data.layouts import Problem


@dataclass
class CheckReport:
    root: str
    layout: str = ""
    labels: int = 0
    videos: dict[str, int] = field(default_factory=dict)  # split -> videos listed
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def lines(self) -> list[str]:
        out = [f"error: {p}" for p in self.errors] + [f"warning: {p}" for p in self.warnings]
        splits = ", ".join(f"{s} {n}" for s, n in self.videos.items())
        out.append(
            f"{self.root} [{self.layout}]: {self.labels} classes; videos {splits}; "
            f"{len(self.errors)} errors (skipped), {len(self.warnings)} warnings (used, adapted)"
        )
        return out


def check_dataset(root, splits=None, spec: ClipSpec | None = None, layout: str = "auto") -> CheckReport:
    """Load every split of ``root`` (or ``splits``) and decode every video it lists."""
    spec = spec or ClipSpec()
    report = CheckReport(str(root))
    log = ProblemLog(echo=False)  # the report prints them
    checked, seen = set(), []
    for split in splits or ("train", "val", "test"):
        try:
            ds = layouts.load_dataset(root, split, layout=layout)
        except layouts.SplitNotFound:
            if splits:
                raise
            continue  # a split the layout does not have
        if ds.items in seen:
            continue  # "test" falling back to "val", already checked
        seen.append(ds.items)
        report.layout, report.labels = ds.layout, len(ds.labels)
        report.videos[ds.split] = len(ds.items) + sum(p.severity == "error" for p in ds.problems)
        log.extend(ds.problems)
        for path, _ in ds.items:
            if path not in checked:
                checked.add(path)
                safely(log, path, _check_video, path, spec, log)
    report.problems = log.problems
    return report


def _check_video(path: str, spec: ClipSpec, log: ProblemLog) -> None:
    with open_video(path, spec, log) as reader:
        n = reader.num_frames
        if reader.reported_frames > n:
            log.add(path, f"container says {reader.reported_frames} frames, {n} decode (truncated?)", "warning")
        reader.read(sorted({0, n // 2, n - 1}))
        if reader.source_format not in (None, "colour"):
            log.add(path, f"{reader.source_format} frames (converted to RGB)", "warning")
