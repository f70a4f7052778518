"""The run directory of ``kvid train``: its files, config and state (no TensorFlow: evaluation,
export and plots read it too; part of the contract, docs/INTERFACES.md).

::

    RUN/
      config.json       what produced the run; `kvid train --config RUN/config.json` re-runs it
      state.json        progress: epochs done, latest checkpoint, best value and epoch, finished
      checkpoints/      tf.train checkpoints (model + optimizer + epoch), one per epoch, the
                        last `keep_checkpoints` kept
      best.keras        the best model so far (by `monitor`, default val_top1), kvid.ops.save_model
      final.keras       the model after the last epoch
      log.csv           one row per epoch: loss, top1, top5, val_*, lr
      tensorboard/      TensorBoard logs (`tensorboard --logdir RUN/tensorboard`)
      curves.png        training curves, redrawn after every epoch
      eval-*/           what `kvid evaluate RUN` writes (metrics.json, per_class.csv, confusion.png)
"""

from __future__ import annotations

import csv
import json
import os

from kvid import KvidError
from kvid.contract.clip import ClipSpec

CONFIG = "config.json"
STATE = "state.json"
CHECKPOINTS = "checkpoints"
BEST = "best.keras"
FINAL = "final.keras"
LOG = "log.csv"
TENSORBOARD = "tensorboard"
CURVES = "curves.png"
FORMAT = "kvid-run"


def path(run_dir, name: str) -> str:
    return os.path.join(os.fspath(run_dir), name)


def is_run(run_dir) -> bool:
    return os.path.isdir(run_dir) and os.path.isfile(path(run_dir, CONFIG))


def has_progress(run_dir) -> bool:
    """Whether a run was started here (a state file or checkpoints exist)."""
    return os.path.isfile(path(run_dir, STATE)) or os.path.isdir(path(run_dir, CHECKPOINTS))


def read_json(file) -> dict:
    try:
        with open(file, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise KvidError(f"{file}: no such file") from None
    except (OSError, ValueError) as exc:
        raise KvidError(f"{file}: unreadable ({exc})") from None


def write_json(file, data: dict) -> str:
    """Write atomically (a crash never leaves half a file)."""
    tmp = f"{file}.partial"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, ensure_ascii=False, default=_jsonable)
        f.write("\n")
    os.replace(tmp, file)
    return file


def _jsonable(obj):
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    return str(obj)


def read_config(run_dir) -> dict:
    file = path(run_dir, CONFIG)
    config = read_json(file)
    if config.get("format") != FORMAT:
        raise KvidError(f"{file}: not a kvid run config (format={config.get('format')!r})")
    return config


def read_state(run_dir) -> dict:
    file = path(run_dir, STATE)
    return read_json(file) if os.path.isfile(file) else {}


def read_log(run_dir_or_csv) -> list[dict]:
    """The rows of ``log.csv`` as dicts of floats (``epoch`` as int)."""
    file = run_dir_or_csv
    if os.path.isdir(file):
        file = path(file, LOG)
    if not os.path.isfile(file):
        return []
    rows = []
    with open(file, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            out = {}
            for k, v in row.items():
                try:
                    out[k] = int(v) if k == "epoch" else float(v)
                except (TypeError, ValueError):
                    continue
            rows.append(out)
    return rows


def truncate_log(run_dir, epochs: int) -> None:
    """Keep only the rows of epochs ``< epochs`` (an interrupted epoch is trained again)."""
    file = path(run_dir, LOG)
    if not os.path.isfile(file):
        return
    with open(file, newline="", encoding="utf-8") as f:
        lines = list(csv.reader(f))
    if not lines:
        return
    header, rows = lines[0], lines[1:]
    col = header.index("epoch") if "epoch" in header else None
    keep = [r for r in rows if col is None or (r and int(float(r[col])) < epochs)]
    tmp = file + ".partial"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(keep)
    os.replace(tmp, file)


def model_file(run_dir) -> str:
    """The model a run stands for: best.keras, else final.keras."""
    for name in (BEST, FINAL):
        file = path(run_dir, name)
        if os.path.isfile(file):
            return file
    raise KvidError(f"{run_dir}: the run has no model yet (no {BEST} or {FINAL})")


def clip_spec(config: dict, where: str = CONFIG) -> ClipSpec:
    """The clip spec a run trained with (``config["clip"]``). Runs written before the contract
    stored ``{"frames", "size", "scheme", "stride", "window", "scale", "flip"}``; they read the
    same (``size`` is the crop, the test views were one centre crop)."""
    clip = dict(config.get("clip") or {})
    if "size" in clip and "crop" not in clip:
        clip["crop"] = clip.pop("size")
        clip.setdefault("scheme", "segments")  # the TrainConfig default of that version
    return ClipSpec.from_dict({k: v for k, v in clip.items() if v is not None or k == "window"},
                              f"{where}: clip")
